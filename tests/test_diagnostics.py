"""The convergence verdict fails on chains that disagree and passes on chains that mix."""

from __future__ import annotations

import numpy as np
from arviz_base import from_dict

from chemoshift.inference.diagnostics import diagnose


def tree(values: np.ndarray, diverging: int = 0):
    chains, draws = values.shape
    flags = np.zeros((chains, draws), bool)
    flags.flat[:diverging] = True
    energy = np.random.default_rng(3).normal(size=(chains, draws)).cumsum(axis=1) * 0.1
    energy += np.random.default_rng(4).normal(size=(chains, draws))
    return from_dict({"posterior": {"theta": values},
                      "sample_stats": {"diverging": flags, "energy": energy}})


def test_well_mixed_chains_pass():
    values = np.random.default_rng(0).normal(size=(4, 1000))
    result = diagnose(tree(values), ["theta"])
    assert result.passed, result.verdict
    assert result.max_rhat < 1.01 and result.min_ess_bulk > 400


def test_stuck_chains_and_divergences_fail_loudly():
    values = np.random.default_rng(0).normal(size=(4, 1000)) + np.array([[0], [0], [0], [3]])
    result = diagnose(tree(values, diverging=5), ["theta"])
    assert not result.passed
    assert result.verdict.startswith("NOT CONVERGED")
    assert any(f.startswith("R-hat") and "(theta)" in f for f in result.failures)
    assert "5 divergent transition(s)" in result.failures


def test_too_few_effective_draws_fail():
    walk = np.random.default_rng(1).normal(size=(4, 1000)).cumsum(axis=1) * 0.05
    result = diagnose(tree(walk), ["theta"])
    assert any(f.startswith("bulk ESS") for f in result.failures)


def autoregressive_draws(chains: int, draws: int, columns: int, seed: int = 1) -> np.ndarray:
    """(chain, draw, column) AR(1) chains, autocorrelations 0-0.97, with awkward columns:
    chains that disagree, ties, a constant and a non-finite draw."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0.0, 0.97, columns)
    values = np.zeros((chains, draws, columns))
    noise = rng.normal(size=values.shape)
    for t in range(1, draws):
        values[:, t] = phi * values[:, t - 1] + noise[:, t]
    values[-1, :, :10] += 0.5
    values[:, :, 10:20] = np.round(values[:, :, 10:20])
    values[:, :, 20] = 3.0
    values[0, 5, 21] = np.inf
    return values


def test_vectorised_rank_diagnostics_are_arviz_numbers():
    from arviz_stats.base import array_stats

    from chemoshift.inference.rank_diagnostics import TAIL_PROBS, rank_diagnostics

    for chains, draws in ((2, 1001), (4, 300), (1, 200)):
        values = autoregressive_draws(chains, draws, 60)
        ours = rank_diagnostics(values)
        axes = {"chain_axis": 0, "draw_axis": 1}
        for name, function, kwargs in (
                ("rhat", array_stats.rhat, {"method": "rank"}),
                ("ess_bulk", array_stats.ess, {"method": "bulk"}),
                ("ess_tail", array_stats.ess, {"method": "tail", "prob": TAIL_PROBS})):
            expected = np.array([float(function(values[:, :, j], **axes, **kwargs))
                                 for j in range(values.shape[2])])
            np.testing.assert_array_equal(np.isnan(ours[name]), np.isnan(expected))
            np.testing.assert_allclose(ours[name], expected, rtol=1e-9, equal_nan=True,
                                       err_msg=f"{name}, {chains} chains x {draws} draws")
