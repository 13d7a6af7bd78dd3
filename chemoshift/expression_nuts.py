"""The exact conjugate draws of the DE model checked against NUTS on a subset of probes.

The DE posterior of every probe is drawn exactly (:mod:`chemoshift.models.expression`)
with the empirical-Bayes hyperparameters fixed. :func:`compare_with_nuts` writes the same
model out for NUTS on a few probes (pair effects, or unpaired the control mean, explicit;
raw log2 values; the same fixed hyperparameters; :func:`chemoshift.expression.subset_model`),
samples it with the one sampling path (:func:`chemoshift.inference.fit.fit`), and
compares, per probe, the 5%,
50% and 95% posterior quantiles of the log2 fold change (in units of the exact posterior
sd) and P(top k within the subset) (from each sampler's joint draws).

    from chemoshift.expression import fit_expression
    from chemoshift.expression_nuts import compare_with_nuts, save_comparison
    fit = fit_expression("GDS507.soft.gz")
    save_comparison(fit, compare_with_nuts(fit.data, fit.hyper))   # -> nuts_check.json

Two small differences between the two models, both negligible at these data: NUTS gives
the pair effects a Normal(pair mean, 10 log2) prior where the exact model has them flat,
and mixture weights are floored at 1e-10 in the NUTS model (a zero weight has no log).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chemoshift.data import run_dir as files
from chemoshift.data.geo import ExpressionData
from chemoshift.models.expression import Hyper, draw_effects
from chemoshift.reports.expression.tables import moderated_t, ranks_per_draw

CHECK_FILE = "nuts_check.json"
QUANTILES = (0.05, 0.5, 0.95)
WEIGHT_FLOOR = 1e-10


def choose_probes(data: ExpressionData, n_probes: int = 50, seed: int = 0) -> np.ndarray:
    """Half the probes with the largest moderated t (where the ranking is contested),
    half drawn at random from the rest; complete probes only; sorted indices."""
    complete = np.flatnonzero(np.isfinite(data.values).all(axis=1))
    t = moderated_t(data.contrasts[complete]).t
    best = complete[np.argsort(-t)[:n_probes // 2]]
    rest = np.setdiff1d(complete, best)
    rng = np.random.default_rng(seed)
    return np.sort(np.r_[best, rng.choice(rest, n_probes - len(best), replace=False)])


def compare_with_nuts(data: ExpressionData, hyper: Hyper, probes: np.ndarray | None = None,
                      n_probes: int = 50, top: int = 10, exact_draws: int = 4000,
                      settings=None, reuse=None) -> dict:
    """Fit the subset model with NUTS and compare it with exact draws of the same probes.

    Parameters
    ----------
    data, hyper : the expression data and its empirical-Bayes hyperparameters (fixed).
    probes : indices of the probes (default :func:`choose_probes`).
    top : k of P(top k among the subset), computed per draw by each method.
    settings : ``SamplerSettings`` (default: 2 chains x 1,000 draws, 1,000 tuning steps,
        no posterior predictive, target acceptance 0.95).
    reuse : a compiled subset model of the same shape (``compile_model``), to skip compiling.

    Returns
    -------
    dict: probes, gene, nuts diagnostics, per-probe quantile differences in units of the
    exact posterior sd, P(top k) of both methods, summary maxima / means, seconds.
    """
    from chemoshift.expression import expression_stats, subset_model
    from chemoshift.inference import SamplerSettings
    from chemoshift.inference.fit import fit

    if probes is None:
        probes = choose_probes(data, n_probes)
    probes = np.asarray(probes)
    settings = settings or SamplerSettings(draws=1000, tune=1000, chains=2, progress=False,
                                           posterior_predictive=False, extend=False,
                                           target_accept=0.95, seed=11)
    model, probes = subset_model(data, probes=probes, hyper=_kept(hyper))
    start = time.perf_counter()
    result = fit(model, settings, check=["log2fc"], reuse=reuse)
    seconds = time.perf_counter() - start
    values = result.datatree["posterior"]["log2fc"].values
    nuts = values.reshape(-1, values.shape[-1])
    exact = draw_effects(expression_stats(data).take(probes), hyper, exact_draws,
                         np.random.default_rng(settings.seed))
    sd = exact.std(axis=0)
    q_nuts = np.quantile(nuts, QUANTILES, axis=0)
    q_exact = np.quantile(exact, QUANTILES, axis=0)
    shift = (q_nuts - q_exact) / sd[None, :]
    top = min(top, len(probes))
    p_nuts = (ranks_per_draw(nuts) <= top).mean(axis=0)
    p_exact = (ranks_per_draw(exact) <= top).mean(axis=0)
    diagnostics = result.diagnostics
    return dict(
        n_probes=len(probes), probes=[str(p) for p in data.probes[probes]],
        genes=[str(g) for g in data.genes[probes]], top=int(top),
        nuts_draws=int(nuts.shape[0]), exact_draws=int(exact_draws),
        max_rhat=float(diagnostics.max_rhat), min_ess_bulk=float(diagnostics.min_ess_bulk),
        min_ess_tail=float(diagnostics.min_ess_tail), divergences=int(diagnostics.divergences),
        quantile_shift_sd={f"q{int(q * 100)}": [float(x) for x in shift[i]]
                           for i, q in enumerate(QUANTILES)},
        max_abs_quantile_shift_sd=float(np.abs(shift).max()),
        mean_abs_quantile_shift_sd=float(np.abs(shift).mean()),
        p_top_nuts=[float(x) for x in p_nuts], p_top_exact=[float(x) for x in p_exact],
        max_abs_p_top_difference=float(np.abs(p_nuts - p_exact).max()),
        mean_abs_p_top_difference=float(np.abs(p_nuts - p_exact).mean()),
        nuts_seconds=float(seconds),
        compile_seconds=float(result.timings.get("compile_seconds", 0.0)))


def _kept(hyper: Hyper) -> Hyper:
    """The hyperparameters with mixture weights floored at 1e-10 (renormalised): a zero
    weight has no finite log; every component is kept, so the model's shape (and its
    compiled form) does not depend on which weights the data left at zero."""
    weights = np.maximum(hyper.weights, WEIGHT_FLOOR)
    return Hyper(d0=hyper.d0, s0_sq=hyper.s0_sq, weights=weights / weights.sum(),
                 effect_grid=hyper.effect_grid, converged=hyper.converged,
                 message=hyper.message, log_marginal=hyper.log_marginal)


def save_comparison(fit, comparison: dict) -> Path | None:
    """Write ``nuts_check.json`` into the fit's run directory (if it has one) and rewrite
    its report, which then states the comparison; return the file's path."""
    if fit.run_dir is None:
        return None
    path = Path(fit.run_dir) / CHECK_FILE
    files.write_json(path, comparison)
    fit.report()
    return path
