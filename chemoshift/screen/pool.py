"""The second stage: the treatment shift pooled across shards.

Each shard (one drug, by default) is the full hierarchical model on its own curves; its
posterior of the shard's pooled shift ``log10_shift_pooled[t]`` (log10 fold, over the
shard's cell lines) is summarised as a normal and its own prior ``Normal(0,
shift_mean_sd)`` divided out, leaving the shard's likelihood for its drug's shift
``theta_d``: ``y_d ~ Normal(theta_d, v_d)``. The shards' likelihoods then meet in the
model the joint fit would have put over drugs::

    theta_td ~ Normal(mu_t, tau)      mu_t ~ Normal(0, shift_mean_sd)
    tau ~ Gamma(2, 2 / shift_drug_sd)   (the joint model's learnt drug-to-drug scale,
                                         one for every treatment t, as there)

``mu_t`` is integrated out exactly given ``tau``, ``tau`` on a fine grid (no sampler):
the draws of ``mu_t`` (the pooled shift) and ``theta_td`` (each drug's shift, shrunk
toward the others) are exact for this model. Its assumptions: each shard's posterior of its shift is
near-normal, and what else the shards share (cell-line effects spanning shards) is
estimated within each shard, not across them; per-curve rows come from their shards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

TAU_GRID = 2000  # grid points over tau in (0, 20 x shift_drug_sd]
POOL_DRAWS = 4000
MIN_PRECISION = 1e-6  # a shard whose posterior is no narrower than its prior says nothing


def shard_likelihood(draws: np.ndarray, prior_sd: float) -> tuple[float, float] | None:
    """A shard's normal likelihood (mean, variance; log10 fold) for its shift from its
    posterior draws under the prior ``Normal(0, prior_sd)``; None when uninformative."""
    return likelihood(float(np.mean(draws)), float(np.var(draws, ddof=1)), prior_sd)


def likelihood(mean: float, var: float, prior_sd: float) -> tuple[float, float] | None:
    """The normal likelihood (mean, variance) left when the prior ``Normal(0, prior_sd)``
    is divided out of a normal posterior (mean, variance); None when uninformative."""
    precision = 1.0 / var - 1.0 / prior_sd**2
    if not precision > MIN_PRECISION:
        return None
    return mean / var / precision, 1.0 / precision


def pool_shifts(groups: dict[str, tuple[np.ndarray, np.ndarray]], *, shift_mean_sd: float,
                shift_drug_sd: float, seed: int, n_draws: int = POOL_DRAWS
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Draws of each treatment's pooled shift ``mu`` (n_draws,) and its shards' ``theta``
    (n_draws, n_shards), given per treatment the shards' likelihood means ``y`` and
    variances ``v`` (log10). One drug-to-drug scale ``tau`` serves every treatment, as in
    the joint model (``shift_drug_sd``: one scale over treatments x drugs)."""
    rng = np.random.default_rng(seed)
    tau = np.linspace(0, 20 * shift_drug_sd, TAU_GRID + 1)[1:]
    log_post = stats.gamma.logpdf(tau, 2, scale=shift_drug_sd / 2)
    for y, v in groups.values():
        log_post = log_post + _log_marginal(tau, y, v, shift_mean_sd)
    weights = np.exp(log_post - log_post.max())
    pick = rng.choice(len(tau), size=n_draws, p=weights / weights.sum())
    step = tau[1] - tau[0]
    tau_draws = np.maximum(tau[pick] + rng.uniform(-step / 2, step / 2, n_draws), 1e-9)
    drawn = {}
    for treatment, (y, v) in groups.items():
        w = 1.0 / (v[None, :] + tau_draws[:, None] ** 2)
        precision = 1.0 / shift_mean_sd**2 + w.sum(axis=1)
        mu = rng.normal((w * y).sum(axis=1) / precision, 1.0 / np.sqrt(precision))
        theta_prec = 1.0 / v[None, :] + 1.0 / tau_draws[:, None] ** 2
        theta_mean = (y / v + mu[:, None] / tau_draws[:, None] ** 2) / theta_prec
        drawn[treatment] = mu, rng.normal(theta_mean, 1.0 / np.sqrt(theta_prec))
    return drawn


def _log_marginal(tau: np.ndarray, y: np.ndarray, v: np.ndarray,
                  shift_mean_sd: float) -> np.ndarray:
    """log p(y | tau) (up to a constant) with ``mu ~ Normal(0, shift_mean_sd)`` and each
    ``theta ~ Normal(mu, tau)`` integrated out; (grid,)."""
    w = 1.0 / (v[None, :] + tau[:, None] ** 2)  # (grid, shard)
    precision = 1.0 / shift_mean_sd**2 + w.sum(axis=1)
    centre = (w * y).sum(axis=1) / precision
    return (0.5 * np.log(w).sum(axis=1) - 0.5 * (w * y**2).sum(axis=1)
            + 0.5 * centre**2 * precision - 0.5 * np.log(precision))


def pooled_rows(mu: np.ndarray, theta: np.ndarray, keys: list[str], *, treatment: str,
                control: str, margin: float, shard_by: str) -> pd.DataFrame:
    """shifts.csv rows of the second stage: one pooled row (every ``shard_by`` 'all') and
    one a shard (its key), fold shifts with 95% intervals and probabilities."""
    rows = [_row(mu, "all", treatment, control, margin, shard_by, "pooled")]
    rows += [_row(theta[:, i], key, treatment, control, margin, shard_by, "shard")
             for i, key in enumerate(keys)]
    return pd.DataFrame(rows)


def _row(log10: np.ndarray, key: str, treatment: str, control: str, margin: float,
         shard_by: str, level: str) -> dict:
    q = np.quantile(log10, [0.5, 0.025, 0.975])
    return {"cell_line": "all", shard_by: key, "quantity": "ic50_relative",
            "treatment": treatment, "control": control, "median": 10 ** q[0],
            "q2.5": 10 ** q[1], "q97.5": 10 ** q[2], "p_sensitised": float(np.mean(log10 < 0)),
            "p_beyond_margin": float(np.mean(log10 < -np.log10(margin))), "margin": margin,
            "level": f"second stage ({level})", "log10_median": q[0], "log10_q2_5": q[1],
            "log10_q97_5": q[2]}
