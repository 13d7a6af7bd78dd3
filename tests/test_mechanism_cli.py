"""`chemoshift fit luciferase|western|apoptosis` as a user runs it: refusals (exit 2, nothing
written), then each bundled example end to end at the package defaults: exit 0, the run
directory's contract (shared checks), the table's truth, load and report back."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import chemoshift
from chemoshift import mechanism, mechanism_commands
from chemoshift.cli import main

from conftest import REFERENCE

CHECK = REFERENCE.parent / "checks" / "run_outputs.py"


def options(assay: str) -> list[str]:
    path, read = mechanism.demo_input(assay)
    argv = [str(path)]
    for treatment, control in read["controls"].items():
        argv += ["--control", f"{treatment}={control}"]
    if "construct_control" in read:
        argv += ["--construct-control", read["construct_control"]]
    if "drug_control" in read:
        argv += ["--drug-control", read["drug_control"]]
    return argv


@pytest.mark.parametrize("assay, extra, named", [
    ("western", ["--background", "10"], "--background"),
    ("luciferase", ["--drug-control", "vehicle"], "--drug-control"),
    ("apoptosis", ["--dose", "nM"], "--dose"),
    ("luciferase", ["--unit", "nM"], "--unit"),
    ("dose-response", ["--construct-control", "MUT"], "--construct-control"),
])
def test_option_of_another_assay_is_refused_before_anything_is_read(tmp_path, capsys, assay,
                                                                    extra, named):
    source = mechanism.demo_input("luciferase")[0]
    code = main(["fit", assay, str(source), "--out", str(tmp_path / "run"), *extra])
    assert code == 2 and not (tmp_path / "run").exists()
    said = capsys.readouterr().err
    assert f"{named} is an option of `chemoshift fit " in said and f"not of {assay}" in said


def test_dose_names_the_western_dose_column_and_options_reach_the_reader():
    from chemoshift.cli import _parser

    args = _parser().parse_args(["fit", "western", "x.csv", "--out", "o", "--dose", "dose_nM",
                                 "--control", "miR-379=miR-NC"])
    assert mechanism_commands.read_options(args, {"miR-379": "miR-NC"})["columns"] == {
        "dose": "dose_nM"}
    args = _parser().parse_args(["fit", "luciferase", "x.csv", "--out", "o", "--background",
                                 "100", "--construct-control", "MUT"])
    read = mechanism_commands.read_options(args, None)
    assert read["background"] == 100 and read["construct_control"] == "MUT"


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    source = tmp_path / "luc.csv"
    table = pd.read_csv(mechanism.demo_input("luciferase")[0])
    table.loc[0, "renilla"] = 0
    table.to_csv(source, index=False)
    code = main(["fit", "luciferase", str(source), "--out", str(tmp_path / "run")])
    assert code == 2 and not (tmp_path / "run").exists()
    assert "luc.csv:2:renilla: '0'" in capsys.readouterr().err


def test_unknown_prior_is_refused(tmp_path, capsys):
    code = main(["fit", "apoptosis", *options("apoptosis"), "--out", str(tmp_path / "run"),
                 "--prior", "nonsense=1"])
    assert code == 2 and "unknown prior" in capsys.readouterr().err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each bundled example fitted by the command line at the package defaults."""
    out = tmp_path_factory.mktemp("mechanism")
    codes = {assay: main(["fit", assay, *options(assay), "--out", str(out / assay),
                          "--no-progress"]) for assay in mechanism.FITS}
    return out, codes


@pytest.mark.slow
def test_examples_converge_and_hold_the_output_contract(runs):
    out, codes = runs
    assert codes == {"luciferase": 0, "western": 0, "apoptosis": 0}
    for assay in codes:
        record = json.loads((out / assay / "run.json").read_text())
        assert record["assay"] == assay and record["diagnostics"]["passed"]
        assert len(record["inputs"][0]["sha256"]) == 64
    if CHECK.is_file():
        checked = subprocess.run([sys.executable, str(CHECK), str(out)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, checked.stdout


@pytest.mark.slow
def test_examples_recover_their_stored_truth(runs):
    out, _ = runs
    truth = {a: json.loads((mechanism.demo_input(a)[0].with_name(f"{a}_truth.json"))
                           .read_text()) for a in mechanism.FITS}
    luciferase = pd.read_csv(out / "luciferase" / "luciferase.csv")
    true_ratio = {(c["cell_line"], c["construct"]): np.exp(c["log_ratio"])
                  for c in truth["luciferase"]["contrasts"]}
    inside = [r["q2.5"] <= true_ratio[r.cell_line, r.construct] <= r["q97.5"]
              for _, r in luciferase.iterrows()]
    assert sum(inside) >= 5, luciferase  # 6 rows at 95%
    interaction = luciferase[luciferase.construct == "interaction"]
    assert (interaction.p_repressed > 0.95).all()  # simulated: WT repressed beyond MUT

    western = pd.read_csv(out / "western" / "western.csv")
    true_fold = {(c["cell_line"], f"{c['dose']:g} nM"): np.exp(c["log_ratio"])
                 for c in truth["western"]["contrasts"]}
    assert all(r["q2.5"] <= true_fold[r.cell_line, r.dose] <= r["q97.5"]
               for _, r in western.iterrows()), western
    assert (western.p_monotone_decrease > 0.9).all()

    apoptosis = pd.read_csv(out / "apoptosis" / "apoptosis.csv", keep_default_na=False)
    effects = apoptosis[apoptosis.effect != ""]
    assert list(effects.scale[:6]) == ["odds_ratio"] * 6  # odds-ratio rows first
    true_effect = {(e["cell_line"], e["effect"]): e for e in truth["apoptosis"]["effects"]}
    hits = []
    for _, row in effects.iterrows():
        true = true_effect[row.cell_line, row.effect]
        value = (np.exp(true["log_odds_ratio"]) if row.scale == "odds_ratio"
                 else true["percentage_points"])
        hits.append(float(row["q2.5"]) <= value <= float(row["q97.5"]))
    assert sum(hits) >= 11, effects  # 12 rows at 95%


@pytest.mark.slow
def test_runs_load_back_as_their_objects_and_report_again(runs, capsys):
    out, _ = runs
    fit = chemoshift.load(out / "luciferase")
    assert isinstance(fit, mechanism.LuciferaseFit)
    saved = pd.read_csv(out / "luciferase" / "luciferase.csv")
    assert np.allclose(fit.table()["median"], saved["median"], rtol=1e-5)
    assert "interaction" in repr(fit)
    assert main(["report", str(out / "western")]) == 0
    html = (out / "western" / "report.html").read_text()
    assert "<img" in html and "Figure not drawn" not in html
    section = mechanism.mechanism_report.report_section(out / "apoptosis")
    assert section.startswith("<section") and "<html" not in section
