"""The command line as a user runs it: demo, fit, report, bad input, no convergence; and
the run it writes read back as the object a script holds."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib import resources

import pandas as pd
import pytest

import chemoshift
from chemoshift.cli import main

from conftest import REFERENCE

CHECK = REFERENCE.parent / "checks" / "dose_response_run.py"


DEMO_ASSAYS = ("dose-response", "qpcr", "luciferase", "western", "apoptosis", "expression")


@pytest.fixture(scope="module")
def demo_run(demo_folder):
    """The demo's dose-response run directory."""
    code, out = demo_folder
    return code, out / "dose-response"


@pytest.mark.slow
def test_demo_fits_every_assay_and_writes_one_report_over_them(demo_folder):
    code, out = demo_folder
    assert code == 0
    html = (out / "report.html").read_text()
    for assay in DEMO_ASSAYS:
        record = json.loads((out / assay / "run.json").read_text())
        assert record["assay"] == assay and record["diagnostics"]["passed"], assay
        assert (out / assay / "report.html").is_file() and f'id="{assay}"' in html
    assert "NO</td>" not in html  # the summary table marks no fit as unconverged
    checks = REFERENCE.parent / "checks" / "run_outputs.py"
    if checks.is_file():
        finished = subprocess.run([sys.executable, str(checks), str(out)],
                                  capture_output=True, text=True, check=False)
        assert finished.returncode == 0, finished.stdout


@pytest.mark.slow
def test_demo_answers_the_studys_claims(demo_folder):
    """The bundled study's claims: every laboratory claim is supported by its simulated
    data; the named hubs cannot be evaluated offline (the bundled STRING file is of other
    genes) and say why; the record says what was fitted."""
    _, out = demo_folder
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False)
    assert list(claims.columns[:9]) == ["claim", "assay", "estimate", "q2.5", "q97.5",
                                        "probability", "p_margin", "classical_p", "verdict"]
    lab = claims[~claims.kind.isin(["hubs", "pathways"])]
    assert set(lab.assay) == {"dose-response", "qpcr", "western", "luciferase", "apoptosis"}
    # "supported", with its caveats after a semicolon (a dose-response shift whose width
    # moves when the fixed curve scale is halved or doubled says "prior-sensitive")
    assert lab.verdict.str.fullmatch(r"supported(; .*)?").all(), lab[["claim", "verdict"]]
    assert not lab[lab.assay != "dose-response"].verdict.str.contains(";").any()
    assert (lab.probability.astype(float) >= 0.95).all()
    hubs = claims[claims.kind == "hubs"]
    assert len(hubs) == 4 and hubs.verdict.str.startswith("not evaluable: ").all()
    record = json.loads((out / "study.json").read_text())
    assert {fit["assay"] for fit in record["fits"]} == set(DEMO_ASSAYS)
    assert all(len(entry["sha256"]) == 64 for entry in record["inputs"])
    diagnostics = pd.read_csv(out / "diagnostics.csv")
    assert diagnostics.converged.all() and (diagnostics.max_rhat <= 1.01).all()


@pytest.mark.slow
def test_demo_report_renders_in_chromium_and_shows_the_csvs(study_folder, tmp_path):
    """The demo's study report in a real headless browser: no console error, every figure
    loads, the claims and diagnostics tables hold the numbers of claims.csv and
    diagnostics.csv (skips, saying why, where Chromium is absent)."""
    from test_report_browser import check_report_in_browser, chromium

    chromium()
    check_report_in_browser(study_folder, tmp_path / "browser")


@pytest.mark.slow
def test_demo_converges_and_writes_the_run_directory(demo_run):
    code, out = demo_run
    assert code == 0
    for name in ("posterior.nc", "summary.csv", "shifts.csv", "run.json", "report.html"):
        assert (out / name).is_file(), name
    record = json.loads((out / "run.json").read_text())
    assert record["diagnostics"]["passed"] and record["seed"] == 379  # the study seed
    assert len(record["inputs"][0]["sha256"]) == 64


@pytest.mark.slow
def test_demo_recovers_the_stored_true_shifts(demo_run):
    _, out = demo_run
    truth = json.loads((resources.files("chemoshift.data.example")
                        / "dose_response_truth.json").read_text())
    shifts = pd.read_csv(out / "shifts.csv", keep_default_na=False)
    pooled = shifts[(shifts.cell_line == "all") & (shifts.drug == "all")].set_index("treatment")
    for treatment, log10_shift in truth["shift_pooled"].items():
        row = pooled.loc[treatment]
        assert row["q2.5"] <= 10**log10_shift <= row["q97.5"], treatment
        assert row.p_sensitised > 0.95  # both arms were simulated to sensitise
    curves = shifts[(shifts.level == "curve") & (shifts.quantity == "ic50_relative")]
    true_curve = {(c["cell_line"], c["drug"], c["treatment"]): c["log10_shift"]
                  for c in truth["comparisons"]}
    inside = [r["q2.5"] <= 10 ** true_curve[r.cell_line, r.drug, r.treatment] <= r["q97.5"]
              for _, r in curves.iterrows()]
    assert sum(inside) >= 10, inside  # 12 comparisons at 95%: expect 11.4, allow 2 misses


@pytest.mark.slow
def test_demo_output_holds_the_users_contract(demo_run):
    _, out = demo_run
    if not CHECK.is_file():
        pytest.skip("shared/checks not beside the repository")
    finished = subprocess.run([sys.executable, str(CHECK), str(out)], capture_output=True,
                              text=True, check=False)
    assert finished.returncode == 0, finished.stdout


@pytest.mark.slow
def test_report_is_rewritten_from_saved_results(demo_run):
    _, out = demo_run
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "Diagnostics: converged" in html and html.count("<img") >= 5
    assert html.count("<table") >= 5 and "&lt;table" not in html  # tables render as tables
    assert "https://" not in html.split("<pre>")[0]  # self-contained


@pytest.mark.slow
def test_the_demo_run_loads_back_as_the_object_a_script_holds(demo_run):
    _, out = demo_run
    fit = chemoshift.load(out)
    record = json.loads((out / "run.json").read_text())
    assert fit.diagnostics.verdict == record["diagnostics"]["verdict"]
    for table, name in ((fit.shifts(), "shifts.csv"), (fit.ic50(), "summary.csv")):
        as_saved = pd.read_csv(io.StringIO(table.to_csv(index=False, float_format="%.6g")))
        pd.testing.assert_frame_equal(as_saved, pd.read_csv(out / name))
    assert "pooled fold shifts" in repr(fit) and "miR-379 vs miR-NC" in repr(fit)


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("concentration,response\n1,0.5\nabc,0.4\n")
    out = tmp_path / "run"
    assert main(["fit", "dose-response", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    assert f"{bad}:3:concentration: 'abc'" in capsys.readouterr().err


def test_report_of_a_folder_that_is_no_run_exits_2(tmp_path):
    assert main(["report", str(tmp_path)]) == 2


@pytest.mark.slow
def test_a_run_that_does_not_converge_exits_3_and_says_so(reference, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["fit", "dose-response", str(reference / "doseresponse" / "ryegrass.csv"),
                 "--out", str(out), "--columns", "concentration=conc,response=rootl",
                 "--draws", "30", "--tune", "30", "--chains", "2", "--no-progress"])
    assert code == 3  # 60 draws cannot give a bulk ESS of 400
    assert "NOT CONVERGED" in capsys.readouterr().err
    assert "NOT CONVERGED" in (out / "report.html").read_text()
    assert json.loads((out / "run.json").read_text())["diagnostics"]["passed"] is False


def test_a_folder_of_other_files_is_not_overwritten(tmp_path, capsys, study_wells):
    data = tmp_path / "wells.csv"
    study_wells.to_csv(data, index=False)
    keep = tmp_path / "thesis"
    keep.mkdir()
    (keep / "chapter1.docx").write_text("precious")
    assert main(["fit", "dose-response", str(data), "--out", str(keep)]) == 2
    assert (keep / "chapter1.docx").read_text() == "precious"
    assert "not a chemoshift run directory" in capsys.readouterr().err


def test_malformed_options_exit_2(tmp_path, capsys, study_wells):
    data = tmp_path / "wells.csv"
    study_wells.to_csv(data, index=False)
    out = str(tmp_path / "run")
    assert main(["fit", "dose-response", str(data), "--out", out, "--control", "miR-379"]) == 2
    assert main(["fit", "dose-response", str(data), "--out", out, "--prior", "curve_sd=x"]) == 2
    assert main(["fit", "dose-response", str(data), "--out", out, "--margin", "0.5"]) == 2
    assert not (tmp_path / "run").exists()


def test_wide_replicate_columns_are_read_as_wells_from_the_command_line(tmp_path):
    from chemoshift.data import read_dose_response
    from chemoshift.fit_command import mapping as _mapping

    wide = tmp_path / "wide.csv"
    wide.write_text("conc;rep1;rep2;rep3\n0;1,20;1,18;1,25\n1;1,10;1,05;\n"
                    "10;0,60;0,62;0,58\n100;0,15;0,18;0,16\n", encoding="utf-8")
    data = read_dose_response(wide, columns=_mapping("concentration=conc,response=rep1+rep2+rep3"))
    assert len(data.wells) == 11  # 4 rows x 3 replicates, one empty cell: a missing well
    assert any("decimal comma" in note for note in data.notes)


def test_an_early_stop_says_where_the_chains_stopped_and_the_cap():
    from chemoshift.cli import _parser
    from chemoshift.fit_command import draws_note as _draws_note
    from chemoshift.fit_command import settings as _settings

    args = _settings(_parser().parse_args(["fit", "dose-response", "wells.csv", "--out", "run"]))
    assert _draws_note({"draws_per_chain": 1000}, args) == (
        " (ESS target met at 1,000 draws a chain; the cap is 6,000)")
    assert _draws_note({"draws_per_chain": 6000}, args) == ""  # ran to the cap
    fixed = _settings(_parser().parse_args(["fit", "dose-response", "wells.csv", "--out",
                                            "run", "--draws", "500"]))
    assert _draws_note({"draws_per_chain": 500}, fixed) == ""  # the user fixed the draws
    pymc = _settings(_parser().parse_args(["fit", "dose-response", "wells.csv", "--out",
                                           "run", "--sampler", "pymc"]))
    assert _draws_note({"draws_per_chain": 1000, "batches": 2}, pymc) == ""  # whole batches
