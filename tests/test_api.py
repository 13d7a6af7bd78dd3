"""The object a script holds: fit, tables, figures, save, load, and a report that fails."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import subprocess
import sys
from html import escape as html_escape

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from matplotlib.figure import Figure
from pymc.testing import mock_sample

import chemoshift
from chemoshift import registry
from chemoshift.cli import main
from chemoshift.data.errors import InputError
from chemoshift.dose_response import resolve_priors
from chemoshift.inference import SamplerSettings
from chemoshift.pipeline import ReportFailedWarning

RYEGRASS_COLUMNS = {"concentration": "conc", "response": "rootl"}
SMALL = SamplerSettings(draws=200, tune=200, chains=2, progress=False)  # a real posterior, quick
MOCK = SamplerSettings(draws=40, chains=2, sampler="pymc", progress=False)  # prior draws only
RUN_FILES = ("posterior.nc", "wells.csv", "curves.csv", "run.json", "summary.csv", "shifts.csv",
             "report.html")
MOCK_STATS = {"diverging": lambda size: np.zeros(size, dtype=bool),
              "energy": lambda size: np.random.default_rng(0).normal(size=size)}


def as_saved(table: pd.DataFrame) -> pd.DataFrame:
    """A table as it reads back from a run directory's CSV (6 significant digits)."""
    return pd.read_csv(io.StringIO(table.to_csv(index=False, float_format="%.6g")))


def mocked_sampling(monkeypatch) -> None:
    """pm.sample draws from the prior (pymc.testing.mock_sample): wiring, not statistics."""
    monkeypatch.setattr(pm, "sample", functools.partial(mock_sample, sample_stats=MOCK_STATS))


def failing_report(monkeypatch, hook: str = "write_report") -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("drawing exploded on an infinite IC50")

    assay = dataclasses.replace(registry.ASSAYS["dose-response"], **{hook: boom})
    monkeypatch.setitem(registry.ASSAYS, "dose-response", assay)


@pytest.fixture(scope="module")
def ryegrass_frame(reference) -> pd.DataFrame:
    return pd.read_csv(reference / "doseresponse" / "ryegrass.csv")


@pytest.fixture(scope="module")
def mock_fit(ryegrass_frame):
    """drc's ryegrass from a DataFrame, 'sampled' from the prior: fast, for the plumbing."""
    with pytest.MonkeyPatch.context() as patch:
        mocked_sampling(patch)
        return chemoshift.fit_dose_response(ryegrass_frame, columns=RYEGRASS_COLUMNS,
                                            unit="mM", settings=MOCK, title="ryegrass (mock)")


@pytest.fixture(scope="module")
def ryegrass_run(reference, tmp_path_factory):
    """drc's ryegrass from its file, really sampled (small settings), saved."""
    fit = chemoshift.fit_dose_response(reference / "doseresponse" / "ryegrass.csv",
                                       columns=RYEGRASS_COLUMNS, unit="mM", settings=SMALL)
    run_dir = fit.save(tmp_path_factory.mktemp("api") / "rye")
    return fit, run_dir


# -- fast: no sampling ---------------------------------------------------------------------


def test_import_chemoshift_does_not_load_pymc():
    probe = "import sys, chemoshift; print('pymc' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "False"  # the public names load their modules on first use


def test_every_public_name_resolves():
    for name in chemoshift.__all__:
        assert getattr(chemoshift, name) is not None, name
    with pytest.raises(AttributeError):
        chemoshift.no_such_name  # noqa: B018


def test_load_of_a_folder_that_is_not_a_run_directory_raises_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not a chemoshift run directory"):
        chemoshift.load(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        chemoshift.load(tmp_path / "missing")
    (tmp_path / "run.json").write_text(json.dumps({"assay": "tea-leaves"}))
    with pytest.raises(InputError, match=r"'tea-leaves'.*one of \[.*'dose-response'.*\]"):
        chemoshift.load(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"assay": "dose-response"}))
    with pytest.raises(InputError, match=r"posterior\.nc, wells\.csv, curves\.csv missing"):
        chemoshift.load(tmp_path)


def test_unknown_prior_names_are_refused_before_anything_is_read(tmp_path):
    with pytest.raises(ValueError, match=r"unknown prior\(s\) \['shift_sd'\].*shift_mean_sd"):
        chemoshift.fit_dose_response(tmp_path / "not-read.csv", priors={"shift_sd": 0.3})
    assert resolve_priors({"shift_mean_sd": 0.3}).shift_mean_sd == 0.3
    assert resolve_priors(None) == chemoshift.DoseResponsePriors()


def test_a_margin_not_above_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"margin 0\.5: expected a fold change above 1"):
        chemoshift.fit_dose_response(tmp_path / "not-read.csv", margin=0.5)


def test_a_frame_mapped_to_unknown_or_missing_columns_is_refused_with_every_problem():
    frame = pd.DataFrame({"conc": [0, 1, 2], "rootl": [1.0, 0.5, 0.2]})
    with pytest.raises(InputError) as caught:
        chemoshift.fit_dose_response(frame, columns={"dose": "conc", "response": "length"})
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "<DataFrame>:conc: columns maps to unknown name 'dose'" in message
    assert "<DataFrame>:length: column not in the frame" in message


# -- fast: sampling mocked (prior draws), for the wiring ------------------------------------


def test_a_fit_from_a_frame_saves_and_loads_back_the_same_object(mock_fit, tmp_path):
    run_dir = mock_fit.save(tmp_path / "run")
    assert run_dir == tmp_path / "run" and mock_fit.run_dir == run_dir
    assert all((run_dir / name).is_file() for name in RUN_FILES)
    record = json.loads((run_dir / "run.json").read_text())
    assert record == mock_fit.record and record["assay"] == "dose-response"
    assert record["inputs"][0]["path"] == "<DataFrame>"  # a frame has no file, but a hash
    assert len(record["inputs"][0]["sha256"]) == 64
    assert record["settings"]["read"]["columns"] == RYEGRASS_COLUMNS
    if hasattr(mock_fit.data, "notes"):  # the reader says what it did with the data
        assert record["data"]["notes"] == list(mock_fit.data.notes)

    loaded = chemoshift.load(run_dir)
    assert isinstance(loaded, chemoshift.DoseResponseFit) and loaded.data is None
    pd.testing.assert_frame_equal(loaded.ic50(), mock_fit.ic50())
    pd.testing.assert_frame_equal(loaded.shifts(), mock_fit.shifts())
    assert loaded.diagnostics == mock_fit.diagnostics
    assert (loaded.settings, loaded.priors, loaded.margin, loaded.title) == (
        mock_fit.settings, mock_fit.priors, mock_fit.margin, mock_fit.title)
    assert loaded.record == record and "run directory:" in repr(loaded)


def test_a_loaded_run_can_be_saved_again_whole(mock_fit, tmp_path):
    first = mock_fit.save(tmp_path / "first")
    again = chemoshift.load(first).save(tmp_path / "copy")
    assert all((again / name).is_file() for name in RUN_FILES)
    assert json.loads((again / "run.json").read_text()) == mock_fit.record  # the same run
    pd.testing.assert_frame_equal(pd.read_csv(again / "summary.csv"),
                                  pd.read_csv(first / "summary.csv"))


def test_a_report_that_raises_keeps_the_run_and_says_so(mock_fit, tmp_path, monkeypatch):
    failing_report(monkeypatch)
    with pytest.warns(ReportFailedWarning, match="drawing exploded"):
        run_dir = mock_fit.save(tmp_path / "run")
    for name in RUN_FILES:  # the fit, the tables and a report.html all there
        assert (run_dir / name).is_file(), name
    html = (run_dir / "report.html").read_text()
    assert "The report could not be written" in html
    assert "RuntimeError: drawing exploded on an infinite IC50" in html
    assert "posterior.nc" in html and "summary.csv, shifts.csv" in html
    assert str(run_dir.resolve()) in html
    assert "Diagnostics: " + html_escape(mock_fit.diagnostics.verdict) in html
    assert "drawing exploded" in mock_fit.report_error
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "summary.csv"),
                                  as_saved(mock_fit.ic50()))


def test_tables_that_raise_keep_the_posterior(mock_fit, tmp_path, monkeypatch):
    failing_report(monkeypatch, hook="write_tables")
    with pytest.warns(ReportFailedWarning, match="the tables of"):
        run_dir = mock_fit.save(tmp_path / "run")
    for name in ("posterior.nc", "wells.csv", "curves.csv", "run.json", "report.html"):
        assert (run_dir / name).is_file(), name
    assert "The tables could not be written" in (run_dir / "report.html").read_text()
    assert chemoshift.load(run_dir).diagnostics == mock_fit.diagnostics


def test_saving_over_a_run_needs_overwrite_and_a_failed_overwrite_keeps_it(
        mock_fit, tmp_path, monkeypatch):
    run_dir = mock_fit.save(tmp_path / "run")
    first = (run_dir / "run.json").read_bytes()
    with pytest.raises(InputError, match="overwrite=True"):
        mock_fit.save(run_dir)
    with monkeypatch.context() as patch:  # dies after the posterior, before the record
        failing = dataclasses.replace(registry.ASSAYS["dose-response"], save_inputs=_raise)
        patch.setitem(registry.ASSAYS, "dose-response", failing)
        with pytest.raises(RuntimeError):
            mock_fit.save(run_dir, overwrite=True)
    assert (run_dir / "run.json").read_bytes() == first  # the earlier run, whole
    assert chemoshift.load(run_dir).save(run_dir, overwrite=True) == run_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging left behind


def _raise(*args, **kwargs):
    raise RuntimeError("killed midway")


def test_save_refuses_a_folder_of_other_files(mock_fit, tmp_path):
    keep = tmp_path / "thesis"
    keep.mkdir()
    (keep / "chapter1.docx").write_text("precious")
    with pytest.raises(InputError, match="not a chemoshift run directory"):
        mock_fit.save(keep)
    assert [p.name for p in keep.iterdir()] == ["chapter1.docx"]


def test_report_needs_a_run_directory_first(mock_fit):
    unsaved = dataclasses.replace(mock_fit, run_dir=None)
    with pytest.raises(ValueError, match=r"call \.save\(run_dir\)"):
        unsaved.report()


def test_plot_shifts_without_comparisons_says_so(mock_fit):
    fig = mock_fit.plot_shifts()
    assert isinstance(fig, Figure)
    assert "no shifts to plot" in fig.texts[0].get_text()


def test_cli_exit_code_is_decided_by_convergence_alone_when_the_report_fails(
        reference, tmp_path, monkeypatch, capsys):
    mocked_sampling(monkeypatch)
    failing_report(monkeypatch)
    out = tmp_path / "run"
    code = main(["fit", "dose-response", str(reference / "doseresponse" / "ryegrass.csv"),
                 "--out", str(out), "--columns", "concentration=conc,response=rootl",
                 "--unit", "mM", "--sampler", "pymc", "--draws", "40", "--chains", "2",
                 "--no-progress"])
    passed = json.loads((out / "run.json").read_text())["diagnostics"]["passed"]
    assert code == (0 if passed else 3)  # 40 prior draws: not converged, exit 3 as ever
    assert "warning: the report of" in capsys.readouterr().err
    assert all((out / name).is_file() for name in RUN_FILES)
    assert "The report could not be written" in (out / "report.html").read_text()


# -- slow: a real posterior (drc's ryegrass, 2 x 200 draws) ---------------------------------


@pytest.mark.slow
def test_ic50_and_shifts_match_the_saved_csvs(ryegrass_run):
    fit, run_dir = ryegrass_run
    assert fit.report_error is None and (run_dir / "report.html").is_file()
    pd.testing.assert_frame_equal(as_saved(fit.ic50()), pd.read_csv(run_dir / "summary.csv"))
    saved_shifts = pd.read_csv(run_dir / "shifts.csv")
    assert fit.shifts().empty and saved_shifts.empty  # one curve: nothing to compare
    assert list(fit.shifts().columns) == list(saved_shifts.columns)
    relative = fit.ic50().query("quantity == 'ic50_relative'").iloc[0]
    assert 2500 < relative["median"] < 3600  # uM; drc LL.4: 3058 (a 400-draw sanity check)


@pytest.mark.slow
def test_save_then_load_gives_equal_tables_and_verdict(ryegrass_run):
    fit, run_dir = ryegrass_run
    loaded = chemoshift.load(run_dir)
    pd.testing.assert_frame_equal(loaded.ic50(), fit.ic50())
    pd.testing.assert_frame_equal(loaded.shifts(), fit.shifts())
    assert loaded.diagnostics.verdict == fit.diagnostics.verdict
    assert loaded.diagnostics.passed == fit.diagnostics.passed
    assert loaded.settings == SMALL and loaded.title == "ryegrass"
    assert loaded.report().is_file()  # the report is drawn again from the files alone


@pytest.mark.slow
def test_plot_curves_returns_a_figure(ryegrass_run):
    fit, run_dir = ryegrass_run
    assert isinstance(fit.plot_curves(), Figure)
    assert isinstance(chemoshift.load(run_dir).plot_curves(), Figure)
    with pytest.raises(ValueError, match=r"drug\(s\) \['5-FU'\] not in this fit"):
        fit.plot_curves(drugs=["5-FU"])


@pytest.mark.slow
def test_repr_says_the_verdict_the_curves_and_the_shifts(ryegrass_run):
    fit, _ = ryegrass_run
    text = repr(fit)
    assert text.startswith("DoseResponseFit 'ryegrass': 1 curve, 0 comparisons, 24 wells")
    assert fit.diagnostics.verdict in text
    assert "no treatment has a matched control" in text
