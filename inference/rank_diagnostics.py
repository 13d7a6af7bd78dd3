"""Rank-normalised split R-hat, bulk ESS and tail ESS for many parameters at once.

The statistics are ArviZ's (``arviz_stats``: Vehtari et al. 2021, "Rank-normalization,
folding, and localization: an improved R-hat", Bayesian Analysis 16(2)), with the same
split chains, Blom rank back-transform, FFT autocovariances and Geyer's initial positive
and monotone sequences, computed for all columns of a ``(chain, draw, n)`` array in one
pass. ArviZ loops over parameters in Python (~1.3 ms each per statistic on the
development machine): on a 400-curve screen's ~3,000 parameters its three diagnostics
took 21-26 s, as long as the sampling they judged, at every check of an extended fit.
Here the same numbers take well under a second (``tests/test_diagnostics.py`` compares
them with ArviZ's to 1e-9). An infinite draw (an absolute IC50 a curve never reaches)
ranks above (or, -inf, below) every finite draw, as the rank-based statistics are meant to
treat it (ArviZ itself returns NaN); columns with a NaN draw are handed to ArviZ.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import ndtri
from scipy.stats import rankdata

TAIL_PROBS = (0.05, 0.95)  # ArviZ's default tail quantiles
BLOCK = 512  # columns per pass: bounds the FFT's memory


def rank_diagnostics(values: np.ndarray) -> dict[str, np.ndarray]:
    """``rhat`` (rank-normalised split R-hat: max of bulk and folded), ``ess_bulk`` and
    ``ess_tail`` (the smaller ESS of the 5% and 95% quantile indicators) of each column
    of ``values`` (chain, draw, n); NaN where ArviZ gives NaN."""
    values = _rank_infinities(np.asarray(values, dtype=float))
    n_chain, n_draw, n = values.shape
    out = {name: np.full(n, np.nan) for name in ("rhat", "ess_bulk", "ess_tail")}
    if n_draw < 4:
        return out
    finite = np.isfinite(values).all(axis=(0, 1))
    good = np.flatnonzero(finite)
    for start in range(0, good.size, BLOCK):
        columns = good[start:start + BLOCK]
        for name, column_values in _block(values[:, :, columns]).items():
            out[name][columns] = column_values
    if n_chain < 2:
        out["rhat"][:] = np.nan
    for column in np.flatnonzero(~finite):  # ArviZ's own handling of non-finite draws
        for name, value in _arviz(values[:, :, column]).items():
            out[name][column] = value
    return out


def _rank_infinities(values: np.ndarray) -> np.ndarray:
    """Columns without NaN: +inf above the column's finite values, -inf below them, by
    more than their range, so ranks and the folded (distance from the median) ranks are
    those of the infinite draws."""
    infinite = np.isinf(values)
    if not infinite.any():
        return values
    columns = infinite.any(axis=(0, 1)) & ~np.isnan(values).any(axis=(0, 1))
    part = values[:, :, columns]
    finite = np.where(np.isfinite(part), part, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of infinities only
        top = np.nan_to_num(np.nanmax(finite, axis=(0, 1)), nan=0.0)
        bottom = np.nan_to_num(np.nanmin(finite, axis=(0, 1)), nan=0.0)
        high, low = top + (top - bottom) + 1.0, bottom - (top - bottom) - 1.0
    part = np.where(part == np.inf, high, np.where(part == -np.inf, low, part))
    values = values.copy()
    values[:, :, columns] = part
    return values


def _block(values: np.ndarray) -> dict[str, np.ndarray]:
    split = _split(values)
    z_split = _z_scale(split)
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    pooled = values.reshape(-1, values.shape[2])
    tails = [_ess(_split((values <= np.quantile(pooled, p, axis=0)).astype(float)))
             for p in TAIL_PROBS]
    return {"rhat": np.maximum(_rhat(z_split), _rhat(_z_scale(folded))),
            "ess_bulk": _ess(z_split), "ess_tail": np.minimum(*tails)}


def _arviz(values: np.ndarray) -> dict[str, float]:
    from arviz_stats.base import array_stats

    axes = {"chain_axis": 0, "draw_axis": 1}
    return {"rhat": float(array_stats.rhat(values, method="rank", **axes)),
            "ess_bulk": float(array_stats.ess(values, method="bulk", **axes)),
            "ess_tail": float(array_stats.ess(values, method="tail", prob=TAIL_PROBS, **axes))}


def _split(values: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as separate chains (a middle odd draw dropped)."""
    half = values.shape[1] // 2
    return np.concatenate([values[:, :half], values[:, values.shape[1] - half:]], axis=0)


def _z_scale(values: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (average ties, Blom's c = 3/8), per column."""
    n_chain, n_draw, n = values.shape
    size = n_chain * n_draw
    by_column = np.ascontiguousarray(values.reshape(size, n).T)  # sorts along rows: fast
    ranks = rankdata(by_column, method="average", axis=1).T
    return ndtri((ranks - 3 / 8) / (size - 2 * 3 / 8 + 1)).reshape(values.shape)


def _rhat(values: np.ndarray) -> np.ndarray:
    n_draw = values.shape[1]
    chain_mean = values.mean(axis=1)
    between = n_draw * np.var(chain_mean, axis=0, ddof=1)
    within = np.var(values, axis=1, ddof=1).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column: NaN, as ArviZ
        return np.sqrt((between / within + n_draw - 1) / n_draw)


def _ess(values: np.ndarray) -> np.ndarray:
    """ESS of each column of (chain, draw, n): Geyer's initial monotone sequence estimator."""
    n_chain, n_draw, n = values.shape
    total = n_chain * n_draw
    centred = values - values.mean(axis=1, keepdims=True)
    size = next_fast_len(2 * n_draw)
    spectrum = rfft(centred, n=size, axis=1)
    acov = irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n_draw] / n_draw
    chain_mean = values.mean(axis=1)
    mean_var = acov[:, 0].mean(axis=0) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus = var_plus + np.var(chain_mean, axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # (draw, n)

    rho_hat = np.zeros((n_draw, n))
    rho_hat[0] = 1.0
    rho_hat[1] = rho[1]
    even, odd = np.ones(n), rho[1].copy()
    last_t = np.ones(n, dtype=int)  # the loop's t when each column stopped
    t = 1
    active = (t < n_draw - 3) & (even + odd > 0.0)
    while active.any():  # Geyer's initial positive sequence, all columns in step
        even = np.where(active, rho[t + 1], even)
        odd = np.where(active, rho[t + 2], odd)
        keep = active & (even + odd >= 0)
        rho_hat[t + 1, keep] = even[keep]
        rho_hat[t + 2, keep] = odd[keep]
        t += 2
        last_t[active] = t
        active = active & (t < n_draw - 3) & (even + odd > 0.0)
    max_t = last_t - 2
    columns = np.arange(n)
    improve = even > 0
    rho_hat[max_t[improve] + 1, columns[improve]] = even[improve]
    t = 1
    while t <= max_t.max() - 2:  # Geyer's initial monotone sequence
        ahead = rho_hat[t + 1] + rho_hat[t + 2]
        behind = rho_hat[t - 1] + rho_hat[t]
        fix = (t <= max_t - 2) & (ahead > behind)
        rho_hat[t + 1, fix] = behind[fix] / 2.0
        rho_hat[t + 2, fix] = rho_hat[t + 1, fix]
        t += 2
    rows = np.arange(n_draw)[:, None]
    tau = (-1.0 + 2.0 * np.where(rows <= max_t, rho_hat, 0.0).sum(axis=0)
           + np.where(rows == max_t + 1, rho_hat, 0.0).sum(axis=0))
    tau = np.maximum(tau, 1 / np.log10(total))
    ess = total / tau
    ess[np.isnan(rho_hat).any(axis=0)] = np.nan
    constant = (values.max(axis=(0, 1)) - values.min(axis=(0, 1))) < np.finfo(float).resolution
    ess[constant] = total
    return ess
