"""The convergence verdict fails on chains that disagree and passes on chains that mix."""

from __future__ import annotations

import numpy as np
from arviz_base import from_dict

from chemoshift.inference.diagnostics import Units, diagnose


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


def curve_tree(values: dict[str, np.ndarray], dims: dict[str, list[str]]):
    """A posterior of named (chain, draw, ...) arrays with dims, and clean sample stats."""
    chains, draws = next(iter(values.values())).shape[:2]
    energy = np.random.default_rng(4).normal(size=(chains, draws))
    return from_dict({"posterior": values,
                      "sample_stats": {"diverging": np.zeros((chains, draws), bool),
                                       "energy": energy}}, dims=dims)


def five_curves(stuck: int | None = None, slow: int | None = None):
    """Five curves' IC50s (well mixed, but one stuck in two modes or one slow) beside a
    well-mixed population mean; their Units."""
    rng = np.random.default_rng(5)
    ic50 = rng.normal(size=(4, 1000, 5))
    if stuck is not None:
        ic50[2:, :, stuck] += 4.0  # chains 3 and 4 sit in another mode
    if slow is not None:  # AR(1), phi 0.93: ~0.04 effective draws a draw
        noise = rng.normal(size=(4, 1000))
        for t in range(1, 1000):
            ic50[:, t, slow] = 0.93 * ic50[:, t - 1, slow] + noise[:, t]
    tree = curve_tree({"drug_mean": rng.normal(size=(4, 1000)), "log10_ic50": ic50},
                      {"log10_ic50": ["curve"]})
    labels = [f"line{i} | DOX" for i in range(5)]
    units = Units(name="curve", labels=labels,
                  members={("curve",): (np.arange(5), np.arange(5))})
    return tree, units


def test_a_curve_in_two_modes_is_named_and_the_rest_stands():
    tree, units = five_curves(stuck=2)
    result = diagnose(tree, ["drug_mean", "log10_ic50"], units=units, reported=["log10_ic50"])
    assert result.population_passed and not result.passed
    assert list(result.unit_failures) == ["line2 | DOX"]
    assert result.verdict == ("NOT CONVERGED: 1 of 5 curves did not converge: line2 | DOX; "
                              "every other row converged on its own diagnostics")
    assert not result.extendable  # more draws of the same chains do not join two modes
    rhat = np.array(result.elements["log10_ic50"]["rhat"])
    assert rhat[2] > 1.5 and (np.delete(rhat, 2) < 1.01).all()


def test_advice_for_modes_asks_for_more_chains_that_the_command_line_accepts():
    from chemoshift.cli import _parser
    from chemoshift.inference.advice import advise
    from chemoshift.inference.fit import SamplerSettings

    tree, units = five_curves(stuck=2)
    result = diagnose(tree, ["drug_mean", "log10_ic50"], units=units)
    steps = advise(result, SamplerSettings(chains=2))
    option = next(s for s in steps if "--chains" in s).split("--chains ")[1].split()[0]
    assert option == "4"
    args = _parser().parse_args(["fit", "dose-response", "x.csv", "--out", "o",
                                 "--chains", option])
    assert args.chains == 4


def test_a_slow_curve_is_extendable_and_advice_says_how_many_draws():
    from chemoshift.inference.advice import advise
    from chemoshift.inference.fit import SamplerSettings

    tree, units = five_curves(slow=4)
    result = diagnose(tree, ["drug_mean", "log10_ic50"], units=units)
    assert list(result.unit_failures) == ["line4 | DOX"] and result.extendable
    assert result.min_ess_extendable < 400
    steps = advise(result, SamplerSettings(), draws_per_chain=1000)
    draws = int(next(s for s in steps if "--draws" in s).split("--draws ")[1].split()[0])
    # ESS per draw so far x the suggested draws reaches 400 with a quarter to spare
    assert draws * result.min_ess_extendable / 1000 >= 1.5 * 400 and draws % 500 == 0


def test_a_population_failure_makes_the_whole_fit_unreliable():
    tree, units = five_curves(stuck=2)
    tree["posterior"]["drug_mean"] = tree["posterior"]["drug_mean"] + np.array(
        [0, 0, 0, 3.0])[:, None]
    result = diagnose(tree, ["drug_mean", "log10_ic50"], units=units)
    assert not result.population_passed
    assert result.verdict.startswith("NOT CONVERGED: R-hat")
    assert "every other row" not in result.verdict


def test_infinite_draws_rank_above_every_finite_one():
    from chemoshift.inference.rank_diagnostics import rank_diagnostics

    rng = np.random.default_rng(8)
    values = rng.normal(size=(2, 500, 2))
    never = rng.random((2, 500)) < 0.3  # 30% of draws never reach half the top: +inf
    mixed = np.where(never, np.inf, values[:, :, 0])
    ranked = np.where(never, 1e6, values[:, :, 0])  # any value above every finite draw
    ours = rank_diagnostics(np.stack([mixed, ranked], axis=2))
    for name in ("rhat", "ess_bulk", "ess_tail"):
        assert np.isfinite(ours[name][0]), name
        assert ours[name][0] == ours[name][1], name
    stuck = np.where(np.arange(2)[:, None] == 1, np.inf, values[:, :, 0])  # one chain all inf
    assert rank_diagnostics(stuck[:, :, None])["rhat"][0] > 1.5
