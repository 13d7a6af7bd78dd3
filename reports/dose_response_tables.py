"""Posterior of the dose-response model -> the IC50 and fold-shift tables users read.

``summary.csv``: one row per curve and quantity (``ic50_relative``, the inflection;
``ic50_absolute``, where viability crosses half the vehicle reading), with the
posterior median, 95% equal-tailed interval, 95% highest-density interval (found on
the log10 scale, then exponentiated) and the probability that the IC50 lies outside
the tested concentrations. An absolute IC50 that is more likely than not outside the
tested range has no number: its ``note`` says which side, ``p_beyond_range`` how sure.

``shifts.csv``: one row per comparison, fold shift = IC50(treatment) / IC50(control)
of the relative IC50, so a shift below 1 means the treatment sensitises. Pooled rows
read ``all`` in the pooled key: (all cell lines, one drug) and (all, all) are the
model's population-level shifts; (one cell line, all drugs) is the mean of that cell
line's per-drug log shifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from xarray import DataTree

CI_PROB = 0.95
QUANTILES = (0.025, 0.5, 0.975)
ALL = "all"


def draws(datatree: DataTree, name: str) -> np.ndarray:
    """Posterior draws of a variable with chain and draw stacked first: (sample, ...)."""
    values = datatree["posterior"][name].values
    return values.reshape(-1, *values.shape[2:])


def summary_table(datatree: DataTree, curves: pd.DataFrame, keys: list[str],
                  unit: str) -> pd.DataFrame:
    """IC50 table: one row per curve and quantity (see module docstring).

    Parameters
    ----------
    datatree : posterior with ``log10_ic50`` and ``log10_ic50_absolute`` (sample, curve).
    curves : one row per curve, in the model's curve order, with the key columns and
        ``min_concentration`` / ``max_concentration`` (``unit``).
    keys : the key columns to keep (those the input file had).
    """
    low = np.log10(curves.min_concentration.to_numpy())
    high = np.log10(curves.max_concentration.to_numpy())
    rows = []
    for quantity, name in (("ic50_relative", "log10_ic50"),
                           ("ic50_absolute", "log10_ic50_absolute")):
        samples = draws(datatree, name)
        for c, curve in curves.reset_index(drop=True).iterrows():
            rows.append({k: curve[k] for k in keys} | {"quantity": quantity}
                        | _ic50_row(samples[:, c], low[c], high[c], unit))
    return pd.DataFrame(rows)


def _ic50_row(log10_values: np.ndarray, low: float, high: float, unit: str) -> dict:
    below = float(np.mean(log10_values < low))
    above = float(np.mean(~(log10_values <= high)))  # +inf (never reaches half) counts above
    beyond = below + above
    q_low, median, q_high = np.quantile(log10_values, QUANTILES, method="inverted_cdf")
    finite = np.isfinite(log10_values).all()
    hdi_low, hdi_high = _hdi(log10_values) if finite else (np.nan, np.nan)
    note = ""
    if beyond > 0.5:
        note = f"beyond tested range ({'above' if above >= below else 'below'})"
    row = dict(median=10**median, **{"q2.5": 10**q_low, "q97.5": 10**q_high},
               hdi_low=10**hdi_low, hdi_high=10**hdi_high)
    if beyond > 0.5 or not np.isfinite(median):
        row = dict.fromkeys(row, np.nan)
    return row | dict(unit=unit, p_beyond_range=beyond, p_below_range=below,
                      p_above_range=above, min_tested=10**low, max_tested=10**high,
                      log10_median=median, note=note)


def _hdi(values: np.ndarray, prob: float = CI_PROB) -> tuple[float, float]:
    """Narrowest interval holding ``prob`` of the draws (one mode assumed)."""
    ordered = np.sort(values)
    n_inside = int(np.ceil(prob * len(ordered)))
    widths = ordered[n_inside - 1:] - ordered[: len(ordered) - n_inside + 1]
    start = int(np.argmin(widths))
    return float(ordered[start]), float(ordered[start + n_inside - 1])


def shifts_table(datatree: DataTree, curves: pd.DataFrame, keys: list[str],
                 margin: float) -> pd.DataFrame:
    """Fold-shift table: per comparison, per drug, per cell line, pooled.

    Parameters
    ----------
    margin : practical fold change; ``p_beyond_margin`` = P(shift < 1 / margin).
    """
    posterior = datatree["posterior"]
    if "log10_shift" not in posterior:
        return pd.DataFrame(columns=[*[k for k in keys if k != "treatment"], "treatment",
                                     "control", "median", "q2.5", "q97.5", "p_sensitised",
                                     "p_beyond_margin"])
    curve_keys = [k for k in keys if k != "treatment"]
    treated = curves[curves.control != ""].reset_index(drop=True)
    per_comparison = draws(datatree, "log10_shift")
    rows = []
    for i, row in treated.iterrows():
        rows.append(_shift_row({k: row[k] for k in curve_keys}, row.treatment, row.control,
                               "curve", per_comparison[:, i], margin))
    control_of = dict(zip(treated.treatment, treated.control, strict=False))
    treated_levels = list(posterior["log10_shift_drug"].coords["treated"].values)
    drugs = list(posterior["log10_shift_drug"].coords["drug"].values)
    if {"cell_line", "drug"} <= set(curve_keys) and treated.cell_line.nunique() > 1:
        by_drug = draws(datatree, "log10_shift_drug")
        for t, treatment in enumerate(treated_levels):
            for d, drug in enumerate(drugs):
                if ((treated.treatment == treatment) & (treated.drug == drug)).any():
                    rows.append(_shift_row(_keys(curve_keys, ALL, drug), treatment,
                                           control_of[treatment], "drug, pooled over cell lines",
                                           by_drug[:, t, d], margin))
    if {"cell_line", "drug"} <= set(curve_keys) and treated.drug.nunique() > 1:
        for (line, treatment), group in treated.groupby(["cell_line", "treatment"], sort=False):
            mean_shift = per_comparison[:, group.index].mean(axis=1)
            rows.append(_shift_row(_keys(curve_keys, line, ALL), treatment,
                                   control_of[treatment], "cell line, mean over drugs",
                                   mean_shift, margin))
    pooled = draws(datatree, "log10_shift_pooled")
    for t, treatment in enumerate(treated_levels):
        rows.append(_shift_row(_keys(curve_keys, ALL, ALL), treatment, control_of[treatment],
                               "pooled over drugs and cell lines", pooled[:, t], margin))
    return pd.DataFrame(rows)


def _keys(curve_keys: list[str], cell_line: str, drug: str) -> dict:
    return {k: {"cell_line": cell_line, "drug": drug}[k] for k in curve_keys}


def _shift_row(keys: dict, treatment: str, control: str, level: str, log10_shift: np.ndarray,
               margin: float) -> dict:
    q_low, median, q_high = np.quantile(log10_shift, QUANTILES)
    return keys | dict(
        treatment=treatment, control=control, median=10**median,
        **{"q2.5": 10**q_low, "q97.5": 10**q_high},
        p_sensitised=float(np.mean(log10_shift < 0)),
        p_beyond_margin=float(np.mean(log10_shift < -np.log10(margin))),
        margin=margin, level=level, log10_median=median,
        log10_q2_5=q_low, log10_q97_5=q_high,
    )
