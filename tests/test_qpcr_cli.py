"""`chemoshift fit qpcr`: the run directory, its tables, load, and the refusals (exit 2).

Sampling is mocked where it happens (``chemoshift.qpcr.fit``: random draws of the
quantities the tables read, in the model's own dims and coords): wiring, not
statistics. Everything around it (reading, the model build, run.json, posterior.nc,
tables, report) is real. Mocking ``pm.sample`` instead compiled a forward sampler per
run, and the report's log-axis tick labels went through matplotlib's mathtext, whose
parser cost ~20 s to build: the fixture took 56 s, now a few.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from xarray import DataTree

import chemoshift
import chemoshift.qpcr
from chemoshift.cli import main
from chemoshift.inference.diagnostics import diagnose
from chemoshift.inference.fit import FitResult
from chemoshift.qpcr import QpcrFit, demo_input
from chemoshift.reports.qpcr.report import report_section
from chemoshift.reports.qpcr.tables import FOLD_COLUMNS

LIVAK = ["--reference", "GAPDH", "--condition", "tissue", "--control", "kidney=brain"]
MOCK = ["--draws", "40", "--chains", "2", "--no-progress"]


def fake_fit(model, settings, check=None, reuse=None) -> FitResult:
    """Random draws (2 chains x 40) of the model's fold and effect quantities."""
    rng = np.random.default_rng(0)
    coords = model.coords
    posterior = {}
    for name in ("log2_fold", "log2_effect"):
        dims = model.named_vars_to_dims[name]
        shape = (2, 40, *(len(coords[d]) for d in dims))
        posterior[name] = xr.DataArray(rng.normal(0.0, 0.3, shape), dims=("chain", "draw", *dims),
                                       coords={d: list(coords[d]) for d in dims})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 40), dtype=bool)),
                        "energy": (("chain", "draw"), rng.normal(size=(2, 40)))})
    tree = DataTree.from_dict({"posterior": xr.Dataset(posterior), "sample_stats": stats})
    return FitResult(datatree=tree, diagnostics=diagnose(tree, ["log2_fold"]),
                     settings=settings, timings={"compile_seconds": 0.0, "sampling_seconds": 0.0})


@pytest.fixture(scope="module")
def livak_run(reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("qpcr") / "livak"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chemoshift.qpcr, "fit", fake_fit)
        code = main(["fit", "qpcr", str(reference / "qpcr" / "livak2001_separate_tubes.csv"),
                     "--out", str(out), *LIVAK, *MOCK])
    return code, out


def test_run_directory_and_folds_columns(livak_run):
    code, out = livak_run
    assert code in (0, 3)  # prior draws need not converge; the files are the point
    for name in ("posterior.nc", "run.json", "reactions.csv", "genes.csv", "folds.csv",
                 "efficiencies.csv", "report.html"):
        assert (out / name).is_file(), name
    folds = pd.read_csv(out / "folds.csv")
    assert list(folds.columns) == FOLD_COLUMNS
    assert folds.set_index("gene").classical_fold["c_myc"] == pytest.approx(5.64, abs=0.01)
    record = json.loads((out / "run.json").read_text())
    assert record["assay"] == "qpcr" and record["data"]["comparisons"] == [["kidney", "brain"]]
    assert len(record["inputs"][0]["sha256"]) == 64


def test_load_gives_the_object_back(livak_run):
    _, out = livak_run
    loaded = chemoshift.load(out)
    assert isinstance(loaded, QpcrFit)
    pd.testing.assert_frame_equal(loaded.folds().reset_index(drop=True),
                                  pd.read_csv(out / "folds.csv").fillna({"note": ""}),
                                  check_exact=False,
                                  rtol=1e-4, check_dtype=False)
    assert "c_myc kidney vs brain" in repr(loaded)


def test_report_section_is_a_fragment(livak_run):
    _, out = livak_run
    section = report_section(out)
    assert section.startswith("<section>") and "<html" not in section
    assert "data:image/png;base64" in section and "Reference-gene stability" in section


@pytest.mark.parametrize(("extra", "message"), [
    (["--reference", "ACTB"], "gene 'ACTB' is not in the file"),
    (["--reference", "GAPDH", "--unit", "nM"],
     "--unit is an option of `chemoshift fit dose-response`, not of qpcr"),
    ([], "qpcr needs --reference"),
    (["--reference", "GAPDH", "--efficiency", "c_myc"], "expected NAME=VALUE"),
    (["--reference", "GAPDH", "--max-cycle", "2"], "cycle limit above 5"),
    (["--reference", "GAPDH", "--margin", "0.5"], "fold change above 1"),
    (["--reference", "GAPDH", "--prior", "no_such=1"], "the qPCR priors are"),
])
def test_bad_input_exits_2(reference, tmp_path, capsys, extra, message):
    args = ["fit", "qpcr", str(reference / "qpcr" / "livak2001_separate_tubes.csv"),
            "--out", str(tmp_path / "run"), "--condition", "tissue", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def long_triplicates(path):
    """A long Ct file of technical triplicates whose biological sample is ``biorep``."""
    noise = iter(np.random.default_rng(1).normal(0.0, 0.2, 36))
    rows = [dict(condition=c, biorep=f"{c}-{b}", gene=g, ct=f"{ct + 0.3 * b + next(noise):.2f}")
            for c, shift in (("NC", 0.0), ("mimic", 1.5)) for b in (1, 2, 3)
            for g, ct in (("T", 28.0 + shift), ("R", 20.0)) for _ in (1, 2, 3)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def refuse_to_sample(*args, **kwargs):
    pytest.fail("sampled a file that should have been refused")


def test_long_file_without_sample_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(chemoshift.qpcr, "fit", refuse_to_sample)
    path = long_triplicates(tmp_path / "cts.csv")
    assert main(["fit", "qpcr", str(path), "--out", str(tmp_path / "run"),
                 "--reference", "R", *MOCK]) == 2
    err = capsys.readouterr().err
    assert f"{path}:sample: column missing" in err and "--sample COLUMN" in err
    assert not (tmp_path / "run").exists()


def test_sample_option_names_the_biological_samples(tmp_path, monkeypatch):
    monkeypatch.setattr(chemoshift.qpcr, "fit", fake_fit)
    out = tmp_path / "run"
    code = main(["fit", "qpcr", str(long_triplicates(tmp_path / "cts.csv")), "--out",
                 str(out), "--reference", "R", "--sample", "biorep", *MOCK])
    assert code in (0, 3)
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["n_samples"] == 6 and record["data"]["n_reactions"] == 36
    assert record["data"]["model_terms"]["technical_replicates"]
    assert record["settings"]["read"]["sample"] == "biorep"
    assert np.isfinite(pd.read_csv(out / "folds.csv").set_index("gene").classical_p["T"])


def test_qpcr_options_are_refused_for_dose_response(tmp_path, capsys):
    assert main(["fit", "dose-response", str(tmp_path / "x.csv"), "--out",
                 str(tmp_path / "run"), "--reference", "GAPDH"]) == 2
    said = capsys.readouterr().err
    assert "--reference is an option of `chemoshift fit qpcr`, not of dose-response" in said
    assert main(["fit", "dose-response", str(tmp_path / "x.csv"), "--out",
                 str(tmp_path / "run"), "--sample", "well"]) == 2
    said = capsys.readouterr().err
    assert "--sample is an option of `chemoshift fit qpcr`, not of dose-response" in said


def test_demo_input_is_the_bundled_example():
    path, options = demo_input()
    assert path.is_file() and path.name == "qpcr.csv"
    assert options["references"] == "miR-379:RNU48,IGF1R:GAPDH"
    truth = json.loads((path.parent / "qpcr_truth.json").read_text())
    assert truth["fold"]["IGF1R"]["si-IGF1R"] == pytest.approx(2 ** -1.5)
