"""The classical analysis users know: an independent least-squares 4PL fit per curve.

This is what GraphPad Prism and drc's ``LL.4`` do, one curve at a time, with a Wald
(delta-method) 95% interval on log10 IC50. It is shown beside the Bayesian estimate
and is the baseline of the accuracy benchmark.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import t as student_t

from chemoshift.data.curve import four_parameter_fraction
from chemoshift.reports.dose_response.inputs import with_shared_vehicles


def _curve(x, bottom, top, log10_ic50, hill):
    return bottom + (top - bottom) * four_parameter_fraction(x, log10_ic50, hill)


def fit_curve(log10_concentration: np.ndarray, response: np.ndarray) -> dict:
    """Least-squares 4PL fit of one curve; vehicle wells have log10 concentration -inf.

    Returns ``log10_ic50`` with its Wald 95% interval ``log10_low`` / ``log10_high``,
    ``hill``, ``bottom``, ``top`` and ``converged`` (False when the optimiser or the
    covariance failed, the usual fate of a flat or incomplete curve).
    """
    x = np.asarray(log10_concentration, dtype=float)
    y = np.asarray(response, dtype=float)
    tested = x[np.isfinite(x)]
    out = dict(log10_ic50=np.nan, log10_low=np.nan, log10_high=np.nan, hill=np.nan,
               bottom=np.nan, top=np.nan, converged=False)
    if len(np.unique(tested)) < 2 or np.isnan(y).any() or len(y) < 4:
        return out  # too few doses for four parameters
    start = [np.min(y), np.max(y), float(np.median(tested)), 1.0]
    bounds = ([-np.inf, -np.inf, tested.min() - 6, 0.01], [np.inf, np.inf, tested.max() + 6, 50])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, covariance = curve_fit(_curve, x, y, p0=start, bounds=bounds, maxfev=20000,
                                           check_finite=False)  # vehicle wells: x = -inf
    except (RuntimeError, ValueError):
        return out
    se = float(np.sqrt(covariance[2, 2])) if np.isfinite(covariance[2, 2]) else np.nan
    quantile = student_t.ppf(0.975, max(len(y) - 4, 1))
    out.update(log10_ic50=params[2], log10_low=params[2] - quantile * se,
               log10_high=params[2] + quantile * se, hill=params[3], bottom=params[0],
               top=params[1], converged=bool(np.isfinite(se)))
    return out


def fit_curves(wells: pd.DataFrame, curves: Iterable[int] | None = None) -> pd.DataFrame:
    """Fit every curve of a wells table (columns ``curve``, ``log10_concentration``,
    ``response``, ``top_group``; NaN log10 concentration for vehicle wells). Shared vehicle
    wells (``curve`` = -1) count as vehicle wells of every curve of their top group.

    ``curves``: the curve codes to fit (default all). One row per curve code, sorted.
    """
    wanted = None if curves is None else set(int(c) for c in curves)
    rows = []
    for curve, group in with_shared_vehicles(wells).groupby("curve", sort=True):
        if wanted is not None and curve not in wanted:
            continue
        x = group.log10_concentration.fillna(-np.inf).to_numpy()
        rows.append({"curve": curve, **fit_curve(x, group.response.to_numpy())})
    return pd.DataFrame(rows, columns=["curve", "log10_ic50", "log10_low", "log10_high", "hill",
                                       "bottom", "top", "converged"])
