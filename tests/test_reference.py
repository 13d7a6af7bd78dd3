"""Real public data with published answers (../shared/reference/doseresponse)."""

from __future__ import annotations

import pandas as pd
import pytest

from chemoshift.inference.fit import SamplerSettings
from chemoshift.pipeline import run_assay

SETTINGS = SamplerSettings(progress=False, seed=7)


@pytest.mark.slow
def test_ryegrass_ed50_matches_drc_ll4(reference, tmp_path):
    result = run_assay(
        "dose-response", reference / "doseresponse" / "ryegrass.csv", tmp_path,
        read_options={"columns": {"concentration": "conc", "response": "rootl"}, "unit": "mM"},
        settings=SETTINGS)
    assert result.diagnostics.passed, result.diagnostics.verdict
    row = pd.read_csv(tmp_path / "summary.csv").query("quantity == 'ic50_relative'").iloc[0]
    ed50_mm = row["median"] / 1000  # reported in uM
    assert ed50_mm == pytest.approx(3.058, rel=0.03)  # drc LL.4: 3.058 (SE 0.186)
    assert row["q2.5"] / 1000 == pytest.approx(2.67, rel=0.06)  # drc 95% CI 2.67-3.45; the
    assert row["q97.5"] / 1000 == pytest.approx(3.45, rel=0.06)  # t likelihood differs a little


@pytest.mark.slow
def test_g_aparine_potency_ratio_agrees_with_drc(reference, tmp_path):
    # the herbicide applied two ways: ED50(1) / ED50(2); drc (common top) 0.544, 95% 0.359-0.729.
    result = run_assay(
        "dose-response", reference / "doseresponse" / "G.aparine.csv", tmp_path,
        read_options={"columns": {"concentration": "dose", "response": "drymatter"},
                      "controls": {"1": "2"}, "unit": "g/ha"},
        settings=SETTINGS)
    assert result.diagnostics.passed, result.diagnostics.verdict
    shift = pd.read_csv(tmp_path / "shifts.csv").iloc[0]
    # inside drc's interval (our two tops are pooled, not forced equal as in drc's fit)
    assert 0.359 <= shift["median"] <= 0.729
    assert shift["q2.5"] < 0.544 < shift["q97.5"]  # drc's estimate inside ours
    summary = pd.read_csv(tmp_path / "summary.csv")
    absolute_1 = summary.query("treatment == 1 and quantity == 'ic50_absolute'").iloc[0]
    assert absolute_1.p_beyond_range > 0.5  # treatment 1 bottoms out near 53% of its top
