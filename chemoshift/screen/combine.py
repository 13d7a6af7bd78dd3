"""The second stage, part two: effects the shards share, combined, and each shard's draws
updated by what the other shards know.

Cell-line effects span shards (by drug, every shard holds every cell line): the zero-sum
cell-line effect on the IC50 and the zero-sum cell-line effect on each treatment's shift.
Each shard's posterior of that shared vector ``b`` is summarised as a normal in the
zero-sum coordinates (an orthonormal basis, so no covariance is singular); dividing out
the shard's own prior (``ZeroSumNormal(sigma)``: ``Normal(0, sigma^2 I)`` there) leaves its
likelihood, as precision ``L_k`` and information ``h_k``. For shard ``k`` the other
shards' likelihoods form the cavity ``L_-k = sum_{j != k} L_j``, ``h_-k``, and the joint
model's posterior is shard ``k``'s posterior times the cavity. That product is applied
draw by draw as an ensemble Kalman step with perturbed observations (exact when the
shard's posterior of ``b`` and of each per-curve quantity ``q`` is jointly normal):

    u_s  = h_-k + z_s - L_-k b_s,          z_s ~ Normal(0, L_-k)
    b'_s = b_s + C_bb (L_-k C_bb + I)^-1 u_s
    q'_s = q_s + C_qb (L_-k C_bb + I)^-1 u_s

(``C`` the shard's posterior covariances).

A shard of one drug cannot tell the cell-line effect on the IC50 from that drug's own
cell-line x drug deviation: its ``cell_line_effect`` is ``b + i_d``, with ``i_d`` the
interaction (``cell_line_drug_effect`` in the joint model). Each shard's likelihood of
``b`` is therefore widened by the interaction's variance ``D`` (``(L^-1 + D)^-1``), and so
is the cavity as an observation of shard ``k``'s own effects. ``D`` is estimated from the
shards themselves (the spread of their effects beyond their posterior variances). The
shift's cell-line effects have no such term in the joint model (``D = 0`` there).

Its assumptions: near-normal posteriors in the shared effects, per-curve quantities
near-linear in them, and a learnt scale's prior replaced by the normal of the same
variance (``prior_var``) when it is divided out.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from chemoshift.models.qpcr import zero_sum_basis

MIN_EIGEN = 0.0  # likelihood precisions are clipped to be positive semi-definite


def shard_information(draws: np.ndarray, prior_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A shard's likelihood of ``b`` (precision (m, m), information (m,)) from its posterior
    draws (s, m) under the prior ``Normal(0, diag(prior_var))``: the normal posterior with
    the prior divided out, its precision clipped to be positive semi-definite."""
    mean = draws.mean(axis=0)
    posterior_precision = np.linalg.inv(np.atleast_2d(np.cov(draws, rowvar=False)))
    precision = posterior_precision - np.diag(1.0 / np.asarray(prior_var, dtype=float))
    values, vectors = np.linalg.eigh((precision + precision.T) / 2)
    precision = (vectors * np.maximum(values, MIN_EIGEN)) @ vectors.T
    return precision, posterior_precision @ mean


def kalman_update(b: np.ndarray, q: np.ndarray, precision: np.ndarray, information: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shard draws of the shared ``b`` (s, m) and per-curve ``q`` (s, p) updated by a
    cavity likelihood (precision (m, m), information (m,)): see the module docstring."""
    s, m = b.shape
    centred_b, centred_q = b - b.mean(axis=0), q - q.mean(axis=0)
    c_bb = centred_b.T @ centred_b / (s - 1)
    c_qb = centred_q.T @ centred_b / (s - 1)
    values, vectors = np.linalg.eigh((precision + precision.T) / 2)
    root = vectors * np.sqrt(np.maximum(values, 0.0))  # root @ root.T = precision
    z = rng.standard_normal((s, m)) @ root.T
    innovation = information[None, :] + z - b @ precision.T  # (s, m)
    solved = np.linalg.solve(precision @ c_bb + np.eye(m), innovation.T).T  # (s, m)
    return b + solved @ c_bb.T, q + solved @ c_qb.T


def cavities(informations: list[tuple[np.ndarray, np.ndarray]],
             drug_variance: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each shard, the other shards' likelihoods (precision, information) of its own
    effects: each widened by ``drug_variance`` (m,) to be a likelihood of the shared
    ``b``, summed, and widened again to speak of shard ``k``'s ``b + i_k``."""
    if drug_variance is None or not np.any(drug_variance):
        widened = informations
    else:
        widened = [widen(p, h, drug_variance) for p, h in informations]
    total_precision = sum(p for p, _ in widened)
    total_information = sum(h for _, h in widened)
    others = [(total_precision - p, total_information - h) for p, h in widened]
    if drug_variance is None or not np.any(drug_variance):
        return others
    return [widen(p, h, drug_variance) for p, h in others]


def widen(precision: np.ndarray, information: np.ndarray, variance: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """A normal likelihood (precision, information) with independent noise of ``variance``
    (m,) added to what it observes: ``(L^-1 + D)^-1`` without inverting ``L``."""
    m = len(information)
    left = np.eye(m) + precision * variance[None, :]  # I + L D
    return (precision @ np.linalg.inv(np.eye(m) + variance[:, None] * precision),
            np.linalg.solve(left, information))


def drug_variance(means: np.ndarray, variances: np.ndarray, columns: np.ndarray) -> float:
    """The interaction's variance from the shards' posterior means (shards, m) and
    variances (shards, m) of the ``columns`` that carry it: the spread of the means
    between shards beyond their own uncertainty, averaged over columns (>= 0)."""
    if means.shape[0] < 2 or not columns.any():
        return 0.0
    spread = means[:, columns].var(axis=0, ddof=1) - variances[:, columns].mean(axis=0)
    return float(max(spread.mean(), 0.0))


# (posterior variable, model term, DoseResponsePriors field of its scale)
SHARED = (("cell_line_effect", "cell_line_effect", "cell_line_sd"),
          ("shift_cell_line_effect", "shift_cell_line", "shift_cell_line_sd"))
PER_CURVE = ("log10_ic50", "log10_ic50_absolute", "log10_shift")
LEARNT_SCALE_VARIANCE = 1.5  # E[sd^2] under Gamma(2, 2 / value): 1.5 value^2


def shared_draws(posterior: xr.Dataset, priors
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shard's draws (s, m) of its cell-line effects in zero-sum coordinates (every
    treatment's shift effects after the IC50 effects), their prior variances (m,), and
    which columns are IC50 effects (m,; those carry the cell-line x drug interaction)."""
    lines = posterior.sizes.get("cell_line", 0)
    basis = zero_sum_basis(np.zeros(lines))  # (lines, lines - 1), orthonormal
    parts, variances, on_ic50 = [], [], []
    for name, term, field in SHARED:
        if name not in posterior or lines < 2:
            continue
        scale = getattr(priors, field)
        variance = (LEARNT_SCALE_VARIANCE if f"{term}_sd" in posterior else 1.0) * scale**2
        values = _stacked(posterior[name].transpose("chain", "draw", ..., "cell_line"))
        for block in values.reshape(len(values), -1, lines).transpose(1, 0, 2):
            parts.append(block @ basis)
            variances += [variance] * (lines - 1)
            on_ic50 += [name == "cell_line_effect"] * (lines - 1)
    if not parts:
        draws = posterior.sizes["chain"] * posterior.sizes["draw"]
        return np.zeros((draws, 0)), np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(parts, axis=1), np.array(variances), np.array(on_ic50)


def updated_posterior(posterior: xr.Dataset, priors, cavity: tuple[np.ndarray, np.ndarray],
                      rng: np.random.Generator) -> xr.Dataset:
    """The shard's posterior with its per-curve quantities (``PER_CURVE``) updated by the
    other shards' cavity likelihood of the shared cell-line effects."""
    b, _, _ = shared_draws(posterior, priors)
    names = [n for n in PER_CURVE if n in posterior]
    if b.shape[1] == 0 or not names:
        return posterior
    blocks = [_stacked(posterior[n]).reshape(len(b), -1) for n in names]
    _, q = kalman_update(b, np.concatenate(blocks, axis=1), *cavity, rng)
    updated, start = posterior.copy(), 0
    for name, block in zip(names, blocks, strict=True):
        values = q[:, start:start + block.shape[1]]
        start += block.shape[1]
        updated[name] = posterior[name].copy(data=values.reshape(posterior[name].shape))
    if "log10_shift" in names and "fold_shift" in posterior:
        updated["fold_shift"] = 10.0 ** updated["log10_shift"]
    return updated


def _stacked(values: xr.DataArray) -> np.ndarray:
    """(chain x draw, ...) array of a posterior variable, chains stacked in order."""
    array = values.values
    return array.reshape(-1, *array.shape[2:])
