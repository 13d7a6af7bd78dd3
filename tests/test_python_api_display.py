"""How the Python API shows itself: a fit's plain ``repr`` and notebook view (verdict box,
headline table, run directory), and ``chemoshift.run_study`` returning the claims, each
fit and the report. Sampling is mocked (prior draws): the wiring, not the statistics;
the notebook (docs/examples) shows converged fits and runs in the docs build."""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc.testing import mock_sample

import chemoshift
from chemoshift.data.errors import InputError
from chemoshift.fit_object import AssayFit, verdict_box
from chemoshift.inference import Diagnostics, SamplerSettings
from chemoshift.reports.study.claims import COLUMNS
from chemoshift.study import bundled_study

EXAMPLE = bundled_study().parent
MOCK = SamplerSettings(draws=40, chains=2, sampler="pymc", progress=False)
MOCK_STATS = {"diverging": lambda size: np.zeros(size, dtype=bool),
              "energy": lambda size: np.random.default_rng(0).normal(size=size)}
TINY = """
[study]
title = "one cheap assay"
seed = 5

[assays.luciferase]
file = "luciferase.csv"
controls = { "miR-379" = "miR-NC" }
construct_control = "IGF1R-3'UTR-MUT"

[[claims]]
claim = "miR-379 represses the wild-type 3'UTR beyond the mutant in Huh7"
kind = "luciferase"
cell_line = "Huh7"
construct = "interaction"
"""


def mocked_sampling(patch) -> None:
    patch.setattr(pm, "sample", functools.partial(mock_sample, sample_stats=MOCK_STATS))


@pytest.fixture(scope="module")
def mock_luciferase(tmp_path_factory):
    """The bundled luciferase example, 'sampled' from the prior, saved and loaded back."""
    with pytest.MonkeyPatch.context() as patch:
        mocked_sampling(patch)
        fit = chemoshift.fit_luciferase(EXAMPLE / "luciferase.csv",
                                        controls={"miR-379": "miR-NC"},
                                        construct_control="IGF1R-3'UTR-MUT", settings=MOCK,
                                        title="luciferase (mock)")
    unsaved_html = fit._repr_html_()
    run_dir = fit.save(tmp_path_factory.mktemp("display") / "luc")
    return fit, unsaved_html, chemoshift.load(run_dir), run_dir


def test_a_fit_shows_its_verdict_headline_table_and_where_it_is_not_yet(mock_luciferase):
    fit, unsaved_html, _, _ = mock_luciferase
    assert fit.diagnostics.passed is False  # prior draws: the box must say so, in red
    assert "LuciferaseFit luciferase (mock)" in unsaved_html
    assert "NOT CONVERGED: do not read these numbers as answers" in unsaved_html
    assert fit.diagnostics.verdict.split(":")[0] in unsaved_html
    assert "max R-hat" in unsaved_html
    assert "<code>.table()</code> (as <code>luciferase.csv</code>)" in unsaved_html
    assert "<th>median</th>" in unsaved_html and "IGF1R-3'UTR-WT" in unsaved_html
    assert "Not saved yet" in unsaved_html


def test_a_loaded_fit_shows_its_run_directory_and_the_same_table(mock_luciferase):
    fit, _, loaded, run_dir = mock_luciferase
    html = loaded._repr_html_()
    assert f"Run directory: <code>{run_dir}</code>" in html
    assert "Not saved yet" not in html
    headline = loaded.headline()
    assert list(headline.columns) == list(fit.table().columns)
    saved = pd.read_csv(run_dir / "luciferase.csv")
    np.testing.assert_allclose(headline["median"], saved["median"], rtol=1e-5)
    text = repr(loaded)  # the assay's own plain repr
    assert text.startswith("LuciferaseFit") and f"run directory: {run_dir}" in text
    assert "<" not in text.splitlines()[0]


def test_the_base_class_gives_every_assay_a_plain_repr(mock_luciferase):
    _, _, loaded, run_dir = mock_luciferase
    text = AssayFit.__repr__(loaded)  # what an assay without its own repr shows
    assert text.splitlines()[0] == f"LuciferaseFit {loaded.title!r}"
    assert "diagnostics: NOT CONVERGED" in text
    assert "median" in text and f"run directory: {run_dir}" in text


def test_a_repr_never_raises_when_its_table_cannot_be_made(mock_luciferase, monkeypatch):
    _, _, loaded, _ = mock_luciferase

    def broken():
        raise KeyError("ratio")

    monkeypatch.setattr(loaded, "table", broken)
    assert "no headline table: KeyError" in loaded._repr_html_()
    assert "no headline table: KeyError" in AssayFit.__repr__(loaded)


def test_the_verdict_box_of_a_converged_fit_is_green_and_gives_the_figures():
    passed = Diagnostics(max_rhat=1.004, min_ess_bulk=812.0, min_ess_tail=640.0,
                         divergences=0, min_bfmi=0.91, worst_rhat_variable="x",
                         worst_ess_variable="x", checked_variables=["x"])
    html = verdict_box("DoseResponseFit screen <1>", passed)
    assert "#1a7f37" in html and ">converged<" in html
    assert "max R-hat 1.004" in html and "min bulk ESS 812" in html
    assert "divergences 0" in html and "min E-BFMI 0.91" in html
    assert "screen &lt;1&gt;" in html  # titles are escaped


# -- run_study -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A one-assay study run through ``chemoshift.run_study`` in this process, sampling
    mocked (so its claim reads UNRELIABLE and the exit code is 3)."""
    folder = tmp_path_factory.mktemp("tiny")
    shutil.copy(EXAMPLE / "luciferase.csv", folder / "luciferase.csv")
    (folder / "study.toml").write_text(TINY, encoding="utf-8")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        mocked_sampling(patch)
        result = chemoshift.run_study(folder / "study.toml", out=folder / "out", jobs=1,
                                      sampler="pymc", draws=40, chains=2, say=lines.append)
    return result, folder, lines


def test_run_study_returns_the_claims_each_fit_and_the_report(tiny_study):
    result, folder, lines = tiny_study
    assert isinstance(result, chemoshift.StudyResult)
    assert result.out == folder / "out" and result.exit_code == 3 and not result.converged
    assert list(result.claims.columns) == COLUMNS
    assert result.claims.claim.tolist() == [
        "miR-379 represses the wild-type 3'UTR beyond the mutant in Huh7"]
    assert result.claims.verdict[0].startswith("UNRELIABLE")
    assert pd.api.types.is_float_dtype(result.claims["probability"])
    assert list(result.fits) == ["luciferase"]
    assert result.fits.run_dirs["luciferase"] == folder / "out" / "luciferase"
    fit = result.fits["luciferase"]
    assert isinstance(fit, chemoshift.LuciferaseFit) and fit is result.fits["luciferase"]
    assert result.report() == folder / "out" / "report.html" and result.report().is_file()
    assert any("claims.csv" in line for line in lines)  # progress went to `say`
    assert result.record["fits"][0]["assay"] == "luciferase"
    assert result.record["settings"]["sampler"]["draws"] == 40


def test_a_study_result_shows_its_state_claims_and_report(tiny_study):
    result, _, _ = tiny_study
    html = result._repr_html_()
    assert "one cheap assay" in html and "some fit did NOT converge" in html
    assert "beyond the mutant in Huh7" in html and "UNRELIABLE" in html
    assert f"<code>{result.report()}</code>" in html
    text = repr(result)
    assert text.startswith("StudyResult 'one cheap assay': 1 fit(s), some fit did NOT converge")
    assert f"report: {result.report()}" in text


def test_a_study_folder_opens_again_and_unchanged_fits_are_reused(tiny_study):
    result, folder, _ = tiny_study
    again = chemoshift.StudyResult.open(folder / "out")
    pd.testing.assert_frame_equal(again.claims, result.claims)
    assert again.exit_code == result.exit_code and list(again.fits) == ["luciferase"]
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        mocked_sampling(patch)
        rerun = chemoshift.run_study(folder / "study.toml", out=folder / "out", jobs=1,
                                     sampler="pymc", draws=40, chains=2, say=lines.append)
    assert any(line.startswith("reused luciferase") for line in lines)
    assert rerun.record["fits"][0]["reused"] is True
    pd.testing.assert_frame_equal(rerun.claims, result.claims)


def test_run_study_refuses_unknown_settings_and_open_refuses_a_non_study(tmp_path):
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['drawz'\]"):
        chemoshift.run_study(bundled_study(), out=tmp_path / "x", drawz=10)
    assert not (tmp_path / "x").exists()  # refused before anything was written
    with pytest.raises(InputError, match=r"study\.json, claims\.csv missing"):
        chemoshift.StudyResult.open(tmp_path)


def test_run_study_refuses_an_invalid_study_file_before_fitting(tmp_path):
    bad = tmp_path / "study.toml"
    bad.write_text(TINY, encoding="utf-8")  # luciferase.csv is not beside it
    with pytest.raises(InputError, match=r"luciferase\.csv"):
        chemoshift.run_study(bad, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
