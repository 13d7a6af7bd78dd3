"""Two-group differential expression, paired or unpaired: one hierarchical model of all probes.

Paired: for probe g and pair p, y[g, p, normal] = a[g, p] + e and y[g, p, tumour] = a[g, p] +
beta[g] + e', with flat pair effects a[g, p]. Integrating the pair effects out leaves the
within-pair differences d[g, p] = beta[g] + eps, eps ~ Normal(0, sigma[g]^2) (sigma^2 is
the variance of a difference, twice that of one array): the paired model and the model of
differences have the same posterior for beta and sigma.

Unpaired (two independent groups, n_c control and n_t treated arrays): y[g, i] =
mu[g] + beta[g] treated[i] + e, e ~ Normal(0, sigma[g]^2 / 2), with the control mean mu[g]
flat. Integrating mu out leaves the difference of the group means, Normal(beta, sigma^2 /
n) with n = 2 n_c n_t / (n_c + n_t), and the pooled within-group sum of squares (x 2, so
that ss / sigma^2 ~ chi^2 on n_c + n_t - 2 degrees of freedom). sigma^2 is again the
variance of a treated - control difference of two arrays (twice an array's), so the
effect grid, d0 and s0 mean what they mean in the paired model, and both designs share
every formula below through :class:`ProbeStats` (precision n, mean, ss, degrees of
freedom). The hierarchy:

- sigma[g]^2 ~ Scaled-Inv-chi^2(d0, s0^2): the gene variances share one prior (limma's
  moderated variances are its posterior mode, with d0 prior degrees of freedom);
- beta[g] | sigma[g] ~ sum_k pi_k Normal(0, c_k sigma[g]^2): a scale mixture on a fixed
  grid of effect sizes (``EFFECT_GRID``, in units of sigma), its weights pi learnt, so
  most probes shrink towards 0 and large effects are left alone (adaptive shrinkage,
  Stephens 2017).

Every (probe, component) is conjugate (normal-inverse-gamma), so with (d0, s0^2, pi)
fixed the posterior of every probe is exact and is drawn independently: no Markov chain.
(d0, s0^2, pi) are set by empirical Bayes (maximum marginal likelihood over all probes;
with thousands of probes their uncertainty is negligible against each probe's).
``build_subset_model`` is the same model written out for NUTS, pair effects (or, unpaired,
the control mean) and all, to check the exact draws against on a subset of probes.

Pure functions: arrays in, arrays (or a ``pm.Model``) out; no I/O, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
from scipy import optimize, special

EFFECT_GRID = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6)


@dataclass(frozen=True)
class ExpressionPriors:
    """Settings of the DE model's prior (its hyperparameters are learnt from all probes).

    effect_grid : prior sds of the mixture components of a log2 fold change, in units of
        the probe's difference sd sigma (0.05: practically null; 25.6: unshrunk).
    min_d0, max_d0 : bounds on the prior degrees of freedom of the variances (max_d0:
        all probes share one variance; min_d0: nearly no moderation).
    """

    effect_grid: tuple[float, ...] = EFFECT_GRID
    min_d0: float = 0.05
    max_d0: float = 1e4


@dataclass(frozen=True)
class ProbeStats:
    """Sufficient statistics of each probe, arrays of shape (n_probes,); sigma^2 is the
    variance of a treated - control difference of two arrays.

    n : precision of ``mean``, Var(mean) = sigma^2 / n (paired: the pairs with both
        values; unpaired: 2 n_c n_t / (n_c + n_t)).
    mean : the classical log2 fold change (mean difference; difference of group means).
    ss : residual sum of squares, ss / sigma^2 ~ chi^2(df).
    df : residual degrees of freedom; None means n - 1 (paired).
    """

    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    df: np.ndarray | None = None

    @property
    def residual_df(self) -> np.ndarray:
        return self.n - 1 if self.df is None else self.df

    @property
    def usable(self) -> np.ndarray:
        """Probes with an estimate and a residual degree of freedom (n_probes,) bool."""
        return (self.n > 0) & (self.residual_df >= 1)

    def take(self, index: np.ndarray) -> ProbeStats:
        """The statistics of the probes ``index`` (indices or a boolean mask)."""
        return ProbeStats(n=self.n[index], mean=self.mean[index], ss=self.ss[index],
                          df=None if self.df is None else self.df[index])


@dataclass(frozen=True)
class Hyper:
    """Empirical-Bayes hyperparameters: variance prior (d0, s0^2) and mixture weights."""

    d0: float
    s0_sq: float
    weights: np.ndarray  # (K,)
    effect_grid: np.ndarray  # (K,) prior sd multiples
    converged: bool = True
    message: str = ""
    log_marginal: float = np.nan


def probe_stats(differences: np.ndarray) -> ProbeStats:
    """Statistics of a (n_probes, n_pairs) array of differences; NaNs are left out."""
    n, mean, ss = _group_moments(differences)
    return ProbeStats(n=n.astype(float), mean=mean, ss=ss)


def group_stats(values: np.ndarray, treated: np.ndarray) -> ProbeStats:
    """Statistics of two independent groups (the unpaired design), NaNs left out.

    values : (n_probes, n_samples) log2; treated : (n_samples,) bool. A probe without a
    value in one group, or with fewer than three values, is not ``usable``.
    """
    treated = np.asarray(treated, dtype=bool)
    n_c, mean_c, ss_c = _group_moments(values[:, ~treated])
    n_t, mean_t, ss_t = _group_moments(values[:, treated])
    both = (n_c > 0) & (n_t > 0)
    n = np.where(both, 2.0 * n_c * n_t / np.maximum(n_c + n_t, 1), 0.0)
    return ProbeStats(n=n, mean=np.where(both, mean_t - mean_c, 0.0), ss=2.0 * (ss_c + ss_t),
                      df=(n_c + n_t - 2).astype(float))


def _group_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and sum of squares about the mean of each row's finite values."""
    finite = np.isfinite(values)
    n = finite.sum(axis=1)
    mean = np.where(finite, values, 0.0).sum(axis=1) / np.maximum(n, 1)
    ss = np.where(finite, (values - mean[:, None]) ** 2, 0.0).sum(axis=1)
    return n, mean, ss


def _constants(stats: ProbeStats, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parts of the component log-likelihood that do not depend on (d0, s0^2):
    m = df + 1, the observations that inform sigma (paired: the pairs), (n_probes, 1);
    q = ss + mean^2 / v and the constant terms, both (n_probes, K)."""
    n = stats.n[:, None]
    df = stats.residual_df[:, None]
    v = c[None, :] + 1.0 / n  # variance of the mean, in units of sigma^2
    q = stats.ss[:, None] + stats.mean[:, None] ** 2 / v
    base = (-0.5 * np.log(2 * np.pi * v)
            + (df / 2.0 - 1.0) * np.log(np.maximum(stats.ss[:, None], 1e-300))
            - df / 2.0 * np.log(2.0) - special.gammaln(df / 2.0))
    return df + 1.0, q, base


def _loglik(m: np.ndarray, q: np.ndarray, base: np.ndarray, d0: float, s0_sq: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """log p(mean, ss | component k) (n_probes, K), and log(b0 + q / 2) for gradients;
    m (n_probes, 1): the observations that inform sigma (df + 1)."""
    a0, b0 = d0 / 2.0, d0 * s0_sq / 2.0
    log_b = np.log(b0 + q / 2.0)
    joint = (base + (a0 * np.log(b0) - special.gammaln(a0)) + special.gammaln(a0 + m / 2.0)
             - (a0 + m / 2.0) * log_b)
    return joint, log_b


def _component_loglik(stats: ProbeStats, d0: float, s0_sq: float, c: np.ndarray
                      ) -> np.ndarray:
    """log p(mean, ss | component k), sigma^2 integrated out; shape (n_probes, K)."""
    return _loglik(*_constants(stats, c), d0, s0_sq)[0]


def fit_hyper(stats: ProbeStats, priors: ExpressionPriors = ExpressionPriors()) -> Hyper:
    """Maximise the marginal likelihood of all probes over (d0, s0^2, pi), by L-BFGS with
    the exact gradient (log d0, log s0^2 and softmax logits of pi)."""
    grid = np.asarray(priors.effect_grid, dtype=float)
    c = grid ** 2
    k = len(grid)
    s2 = stats.ss / np.maximum(stats.residual_df, 1)
    start = np.concatenate([[np.log(4.0), np.log(np.median(s2[s2 > 0]))], np.zeros(k - 1)])
    bounds = ([(np.log(priors.min_d0), np.log(priors.max_d0)), (-30, 30)]
              + [(-30, 30)] * (k - 1))
    n, q, base = _constants(stats, c)  # n: the observations that inform sigma (df + 1)

    def negative(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d0, s0_sq = np.exp(theta[0]), np.exp(theta[1])
        a0, b0 = d0 / 2.0, d0 * s0_sq / 2.0
        logw = _log_weights(theta[2:])
        joint, log_b = _loglik(n, q, base, d0, s0_sq)
        joint += logw
        top = joint.max(axis=1, keepdims=True)
        resp = np.exp(joint - top)
        norm = resp.sum(axis=1, keepdims=True)
        total = top + np.log(norm)
        resp /= norm
        d_a0 = np.log(b0) - special.digamma(a0) + special.digamma(a0 + n / 2.0) - log_b
        d_b0 = a0 / b0 - (a0 + n / 2.0) / (b0 + q / 2.0)
        grad = np.empty_like(theta)
        grad[0] = np.sum(resp * (a0 * d_a0 + b0 * d_b0))
        grad[1] = np.sum(resp * b0 * d_b0)
        grad[2:] = (resp.sum(axis=0) - len(resp) * np.exp(logw))[1:]
        return -float(total.sum()), -grad

    result = optimize.minimize(negative, start, jac=True, method="L-BFGS-B", bounds=bounds,
                               options=dict(maxiter=1000))
    theta = result.x
    return Hyper(d0=float(np.exp(theta[0])), s0_sq=float(np.exp(theta[1])),
                 weights=np.exp(_log_weights(theta[2:])),
                 effect_grid=grid, converged=bool(result.success or _flat(result)),
                 message=str(result.message), log_marginal=-float(result.fun))


def _flat(result) -> bool:
    """L-BFGS-B may stop on an 'ABNORMAL' line search at the optimum: accept a small
    gradient (per probe)."""
    return bool(np.all(np.isfinite(result.x))) and float(np.max(np.abs(result.jac))) < 1e-2


def _log_weights(logits: np.ndarray) -> np.ndarray:
    full = np.concatenate([[0.0], logits])
    return full - special.logsumexp(full)


def responsibilities(stats: ProbeStats, hyper: Hyper) -> np.ndarray:
    """P(component k | data) per probe, (n_probes, K)."""
    log = _component_loglik(stats, hyper.d0, hyper.s0_sq, hyper.effect_grid ** 2)
    log = log + np.log(hyper.weights)[None, :]
    return np.exp(log - special.logsumexp(log, axis=1, keepdims=True))


def draw_effects(stats: ProbeStats, hyper: Hyper, n_draws: int, rng: np.random.Generator,
                 chunk: int = 50) -> np.ndarray:
    """Exact independent posterior draws of every probe's log2 fold change beta.

    Returns float32 (n_draws, n_probes). Each draw: component k ~ its responsibility,
    sigma^2 ~ Inv-Gamma(a0 + (df + 1)/2, b0 + q_k/2), beta ~ Normal(m_k, sigma^2 w_k).
    """
    c = hyper.effect_grid ** 2
    n, mean = stats.n, stats.mean
    resp = responsibilities(stats, hyper)
    cumulative = np.cumsum(resp, axis=1)
    cumulative[:, -1] = 1.0
    a_post = hyper.d0 / 2.0 + (stats.residual_df + 1.0) / 2.0
    b0 = hyper.d0 * hyper.s0_sq / 2.0
    out = np.empty((n_draws, len(n)), dtype=np.float32)
    for start in range(0, n_draws, chunk):
        m = min(chunk, n_draws - start)
        u = rng.random((m, len(n)))
        comp = (u[:, :, None] > cumulative[None, :, :]).sum(axis=2)
        comp = np.minimum(comp, len(c) - 1)
        ck = c[comp]
        v = ck + 1.0 / n[None, :]
        q = stats.ss[None, :] + mean[None, :] ** 2 / v
        sigma_sq = (b0 + q / 2.0) / rng.gamma(a_post[None, :], 1.0, size=(m, len(n)))
        w = 1.0 / (n[None, :] + 1.0 / ck)
        centre = n[None, :] * mean[None, :] * w
        out[start:start + m] = centre + np.sqrt(sigma_sq * w) * rng.standard_normal((m, len(n)))
    return out


def build_subset_model(values: np.ndarray, pair_index: np.ndarray, treated: np.ndarray,
                       hyper: Hyper, probes: list[str]) -> pm.Model:
    """The same model on raw log2 values of a few probes, pair effects explicit, for NUTS.

    values : (n_probes, n_samples) log2 values (no NaN); pair_index : (n_samples,) pair of
    each sample (unpaired: all 0, one "pair" whose effect is the control mean); treated :
    (n_samples,) 1 for the treated group. The hyperparameters are
    fixed at ``hyper``, so its posterior of ``log2fc`` is the one ``draw_effects`` draws
    exactly; the per-array noise sd is sigma / sqrt(2).
    """
    n_pairs = int(pair_index.max()) + 1
    centre = np.array([[values[g, pair_index == p].mean() for p in range(n_pairs)]
                       for g in range(values.shape[0])])
    coords = {"probe": list(probes), "pair": list(range(n_pairs)),
              "sample": list(range(values.shape[1])),
              "component": list(range(len(hyper.effect_grid)))}
    with pm.Model(coords=coords) as model:
        # data and hyperparameters as pm.Data: the compiled model depends on shapes only,
        # so one compile serves every subset of the same size (nutpie's disk cache)
        observed = pm.Data("values", values, dims=("probe", "sample"))
        pair_mean = pm.Data("pair_mean", centre, dims=("probe", "pair"))
        variance_prior = pm.Data("variance_prior",
                                 np.array([hyper.d0 / 2.0, hyper.d0 * hyper.s0_sq / 2.0]))
        weights = pm.Data("weights", hyper.weights, dims="component")
        grid = pm.Data("effect_grid", hyper.effect_grid, dims="component")
        sigma_sq = pm.InverseGamma("sigma_sq", alpha=variance_prior[0],
                                   beta=variance_prior[1], dims="probe")
        sigma = pm.math.sqrt(sigma_sq)
        scales = sigma[:, None] * grid[None, :]
        log2fc = pm.NormalMixture("log2fc", w=weights, mu=pm.math.zeros_like(scales),
                                  sigma=scales, dims="probe")
        pair_effect = pm.Normal("pair_effect", mu=pair_mean, sigma=10.0,
                                dims=("probe", "pair"))
        mu = pair_effect[:, pair_index] + log2fc[:, None] * treated[None, :]
        pm.Normal("y", mu=mu, sigma=sigma[:, None] / np.sqrt(2.0), observed=observed,
                  dims=("probe", "sample"))
    return model
