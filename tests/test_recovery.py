"""Recovery: simulate screens from the model's own design with known parameters, fit each,
and check that the truth falls inside the 90% intervals at about the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from chemoshift.data.dose_response import validate_wells
from chemoshift.data.simulate_dose_response import ScreenDesign, simulate_screen
from chemoshift.inference.fit import SamplerSettings, compile_model, fit
from chemoshift.models.dose_response import build_model
from chemoshift.reports.dose_response_tables import draws

N_DATASETS = 8  # 8 x (24 IC50s + 12 shifts): enough to tell 90% from 70% or 99%
SETTINGS = SamplerSettings(draws=600, tune=600, chains=2, progress=False,
                           posterior_predictive=False)


def interval_hits(samples: np.ndarray, truth: np.ndarray, prob: float = 0.90) -> np.ndarray:
    low, high = np.quantile(samples, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return (low <= truth) & (truth <= high)


@pytest.fixture(scope="module")
def recovery():
    """Fit N_DATASETS simulated study screens, compiling the model once."""
    compiled, hits, worst_rhat = None, {"ic50": [], "shift": [], "pooled": []}, []
    for seed in range(N_DATASETS):
        wells, truth = simulate_screen(ScreenDesign(), seed=1000 + seed)
        model = build_model(validate_wells(wells.astype(str)))
        compiled = compiled or compile_model(model)
        result = fit(model, SamplerSettings(**{**SETTINGS.__dict__, "seed": seed}),
                     reuse=compiled)
        posterior = {name: draws(result.datatree, name)
                     for name in ("log10_ic50", "log10_shift", "log10_shift_pooled")}
        curves = list(model.coords["curve"])
        true_ic50 = {" | ".join((c["cell_line"], c["drug"], c["treatment"])): c["log10_ic50"]
                     for c in truth["curves"]}
        hits["ic50"] += list(interval_hits(posterior["log10_ic50"],
                                           np.array([true_ic50[c] for c in curves])))
        true_shift = {f"{c['cell_line']} | {c['drug']} | {c['treatment']} vs {c['control']}":
                      c["log10_shift"] for c in truth["comparisons"]}
        hits["shift"] += list(interval_hits(
            posterior["log10_shift"],
            np.array([true_shift[c] for c in model.coords["comparison"]])))
        hits["pooled"] += list(interval_hits(
            posterior["log10_shift_pooled"],
            np.array([truth["shift_pooled"][t] for t in model.coords["treated"]])))
        worst_rhat.append(result.diagnostics.max_rhat)
    return {k: np.array(v) for k, v in hits.items()}, np.array(worst_rhat)


@pytest.mark.slow
def test_true_log10_ic50s_fall_in_90pct_intervals_at_nominal_rate(recovery):
    hits, _ = recovery
    rate = hits["ic50"].mean()
    # 192 IC50s: binomial sd ~2%, widened because curves of one screen are correlated
    assert 0.80 <= rate <= 0.98, f"{rate:.1%} of {hits['ic50'].size}"


@pytest.mark.slow
def test_true_shifts_fall_in_90pct_intervals_at_nominal_rate(recovery):
    hits, _ = recovery
    rate = hits["shift"].mean()
    assert 0.78 <= rate <= 0.99, f"{rate:.1%} of {hits['shift'].size}"  # 96 shifts: sd ~3%


@pytest.mark.slow
def test_pooled_shift_is_recovered(recovery):
    hits, _ = recovery
    assert hits["pooled"].sum() >= 12, hits["pooled"]  # 16 pooled shifts; 90% -> ~14.4 expected


@pytest.mark.slow
def test_recovery_fits_converged(recovery):
    _, worst_rhat = recovery
    assert (worst_rhat < 1.05).all(), worst_rhat  # short runs (2 x 600): a loose bound
