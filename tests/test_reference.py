"""Real public data with published answers: drc's data sets, fitted at the defaults.

ryegrass and G.aparine come from ../shared/reference/doseresponse; S.alba, spinach and
acidiq from tests/data/drc (SOURCES.md there says where each file and each drc number
comes from); the H1299 CellTiter-Glo export from ../shared/reference/real.
benchmarks/reference_fits.py fits all fifteen on two seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chemoshift.inference.fit import SamplerSettings
from chemoshift.pipeline import run_assay

SETTINGS = SamplerSettings(progress=False, seed=7)
DRC = Path(__file__).resolve().parent / "data" / "drc"


def fit(path: Path, run_dir: Path, **read_options):
    result = run_assay("dose-response", path, run_dir, read_options=read_options,
                       settings=SETTINGS)
    assert result.diagnostics.passed, result.diagnostics.verdict  # converged at the defaults
    assert result.diagnostics.divergences == 0
    names = {key: str for key in ("cell_line", "drug", "treatment", "control")}
    summary = pd.read_csv(run_dir / "summary.csv", dtype=names)
    shifts = pd.read_csv(run_dir / "shifts.csv", dtype=names)
    return summary[summary.quantity == "ic50_relative"], shifts


@pytest.mark.slow
def test_ryegrass_ed50_matches_drc_ll4(reference, tmp_path):
    relative, _ = fit(reference / "doseresponse" / "ryegrass.csv", tmp_path,
                      columns={"concentration": "conc", "response": "rootl"}, unit="mM")
    row = relative.iloc[0]
    ed50_mm = row["median"] / 1000  # reported in uM
    assert ed50_mm == pytest.approx(3.058, rel=0.03)  # drc LL.4: 3.058 (SE 0.186)
    assert row["q2.5"] / 1000 == pytest.approx(2.67, rel=0.06)  # drc 95% CI 2.67-3.45; the
    assert row["q97.5"] / 1000 == pytest.approx(3.45, rel=0.06)  # t likelihood differs a little


@pytest.mark.slow
def test_g_aparine_potency_ratio_agrees_with_drc(reference, tmp_path):
    # the herbicide applied two ways: ED50(1) / ED50(2); drc (common top) 0.544, 95% 0.359-0.729.
    _, shifts = fit(reference / "doseresponse" / "G.aparine.csv", tmp_path,
                    columns={"concentration": "dose", "response": "drymatter"},
                    controls={"1": "2"}, unit="g/ha")
    shift = shifts[shifts.quantity == "ic50_relative"].iloc[0]
    # inside drc's interval (our two tops are pooled, not forced equal as in drc's fit)
    assert 0.359 <= shift["median"] <= 0.729
    assert shift["q2.5"] < 0.544 < shift["q97.5"]  # drc's estimate inside ours
    summary = pd.read_csv(tmp_path / "summary.csv", dtype={"treatment": str})
    absolute_1 = summary.query("treatment == '1' and quantity == 'ic50_absolute'").iloc[0]
    assert absolute_1.p_beyond_range > 0.5  # treatment 1 bottoms out near 53% of its top


@pytest.mark.slow
@pytest.mark.extended  # CI budget: ryegrass, G.aparine, H1299 here; benchmarks fit all 15
def test_s_alba_potency_ratio_agrees_with_drc(tmp_path):
    # two herbicides, 7 doses, zero-dose controls per herbicide: 39-60 divergences in 0.1
    _, shifts = fit(DRC / "S.alba.csv", tmp_path,
                    columns={"concentration": "Dose", "treatment": "Herbicide",
                             "response": "DryMatter"},
                    controls={"Glyphosate": "Bentazone"}, unit="g/ha", response_kind="other")
    ratio = shifts[shifts.quantity == "ic50_relative"].iloc[0]
    drc_ratio = 66.890545 / 28.632355  # drc LL.4 (common limits): ED50 glyphosate / bentazone
    assert ratio["q2.5"] < drc_ratio < ratio["q97.5"]
    # drc forces common limits; and one experiment's curves now carry the prior's
    # experiment variation (0.15 log10 each: 95% 0.71-4.8), so the median sits within
    # half a posterior sd of drc's point (1.95 against 2.34) rather than within 15%
    spread = (np.log10(ratio["q97.5"]) - np.log10(ratio["q2.5"])) / 3.92
    assert abs(np.log10(ratio["median"] / drc_ratio)) < 0.5 * spread


@pytest.mark.slow
@pytest.mark.extended
def test_spinach_curves_as_experiments_give_drcs_ed50s(tmp_path):
    # five curves (three bentazon, two diuron): the repeats are experiments of a herbicide
    relative, _ = fit(DRC / "spinach.csv", tmp_path,
                      columns={"concentration": "DOSE", "drug": "HERBICIDE",
                               "experiment": "CURVE", "response": "SLOPE"},
                      response_kind="other")
    by_drug = relative.set_index("drug")
    for herbicide, drc_ed50 in {"bentazon": 1.599804, "diuron": 0.203161}.items():
        row = by_drug.loc[herbicide]  # drc LL.4 pooled by herbicide
        assert row["q2.5"] < drc_ed50 < row["q97.5"], herbicide


@pytest.mark.slow
def test_h1299_celltiter_doxorubicin_and_vinorelbine_converge_with_sensible_ic50s(reference,
                                                                                tmp_path):
    # Meyer lab's raw CellTiter-Glo export, as saved: Drug, Conc (nM), CellTiter; DOX has a
    # non-monotone plateau (~0.3 at 40-200 nM, 0.17 at 400 nM). No published IC50: by eye
    # viability crosses half the vehicle reading between 20 and 40 nM (DOX), 5 and 10 nM (NVB)
    folder = reference / "real" / "viability_h1299_dox_nvb_meyer"
    fit(folder / "2017.07.10-H1299-celltiter.csv", tmp_path,
        columns={"drug": "Drug", "concentration": "Conc (nM)", "response": "CellTiter"},
        unit="nM", response_kind="other")
    summary = pd.read_csv(tmp_path / "summary.csv", dtype={"drug": str})
    absolute = summary[summary.quantity == "ic50_absolute"].set_index("drug")
    assert 0.020 <= absolute.loc["DOX", "median"] <= 0.040  # uM
    assert 0.005 <= absolute.loc["NVB", "median"] <= 0.010
    assert summary.converged.all()  # every row on its own diagnostics too
