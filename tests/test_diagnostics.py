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
