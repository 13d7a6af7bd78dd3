"""Population scales pooled across shards, for refitting a shard that did not converge.

A shard learns the screen's population scales (how curves' Hill slopes and bottoms spread
within a drug, how experiments disagree, ...) from its own curves alone; with few curves a
scale and the effects it governs form a funnel NUTS cannot always sample. The joint model
learns each scale once from every curve. Here each converged shard's posterior of a
scale's log, summarised as a normal with its prior divided out (the log of a
``Gamma(2, 2 / value)`` variable: mean ``digamma(2) + log(value / 2)``, variance
``trigamma(2)``, taken as normal), is that shard's likelihood; the product of the shards'
likelihoods and the prior gives the pooled log scale, whose median is the value a shard
that did not converge is refitted at (the scale then fixed: ``fixed_scales`` of
:class:`chemoshift.models.dose_response.DoseResponsePriors`).

The refit is an empirical-Bayes step: it conditions the shard on the pooled scale instead
of integrating over it, which understates the shard's uncertainty by the scale's own
(small when many shards inform it). Shards that converged keep their own fits.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from chemoshift.models.dose_response import DoseResponsePriors
from chemoshift.models.dose_response_design import TERM_PRIOR

LOG_GAMMA2_VAR = float(special.polygamma(1, 2.0))  # variance of log Gamma(2, rate)


def log_scale_prior(value: float) -> tuple[float, float]:
    """Mean and variance of ``log(s)`` for ``s ~ Gamma(2, 2 / value)`` (the model's prior)."""
    return float(special.digamma(2.0) + np.log(value / 2.0)), LOG_GAMMA2_VAR


def pooled_scales(posteriors: list, priors: DoseResponsePriors) -> dict[str, dict]:
    """Term -> pooled scale (``value``, on the ``*_sd`` scale), the number of shards it
    rests on, and its pooled log-scale sd, from converged shards' posteriors (DataTree
    ``posterior`` nodes or Datasets); a term no shard informs is left out."""
    pooled = {}
    for term, field in TERM_PRIOR.items():
        name = f"{term}_sd"
        prior_mean, prior_var = log_scale_prior(getattr(priors, field))
        precision, weighted, shards = 1.0 / prior_var, prior_mean / prior_var, 0
        for posterior in posteriors:
            if name not in posterior:
                continue
            draws = np.log(np.asarray(posterior[name]).ravel())
            mean, var = float(draws.mean()), float(draws.var(ddof=1))
            own = 1.0 / var - 1.0 / prior_var  # the shard's likelihood precision
            if not own > 1e-6:
                continue  # no narrower than the prior: the shard says nothing of it
            precision += own
            weighted += (mean / var - prior_mean / prior_var)
            shards += 1
        if shards:
            pooled[term] = dict(value=float(np.exp(weighted / precision)), shards=shards,
                                log_sd=float(np.sqrt(1.0 / precision)))
    return pooled


def refit_priors(priors: dict, pooled: dict[str, dict], learnt: list[str]) -> dict:
    """A shard's prior overrides for its refit: each of its ``learnt`` terms that
    ``pooled`` holds fixed at the pooled value (the caller's overrides kept otherwise)."""
    terms = sorted(set(learnt) & set(pooled))
    return {**priors, **{TERM_PRIOR[t]: pooled[t]["value"] for t in terms},
            "fixed_scales": tuple(terms)}
