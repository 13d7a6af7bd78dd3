"""Posterior + saved inputs -> luciferase.csv, western.csv, apoptosis.csv.

Each table function takes the DataTree and the input tables saved in the run directory
(``wells.csv`` / ``lanes.csv`` / ``samples.csv``, ``contrasts.csv`` or ``effects.csv``), so a
saved run gives the same table as the fit in memory. Intervals are 95% equal-tailed;
classical columns sit beside the Bayesian ones (:mod:`chemoshift.reports.mechanism.classical`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from xarray import DataTree

from chemoshift.reports.mechanism import classical

QUANTILES = (0.5, 0.025, 0.975)
INTERVAL = ("median", "q2.5", "q97.5")
# prior sensitivity of a fixed experiment-deviation scale: the fit (1), then refits at half
# and twice it; a row is prior-sensitive when its 95% width moves by more than 10%
SENSITIVITY_FACTORS = (1.0, 0.5, 2.0)
SENSITIVITY_THRESHOLD = 0.10


def draws(datatree: DataTree, name: str) -> np.ndarray:
    """Posterior draws with chain and draw stacked first: (sample, ...)."""
    values = datatree["posterior"][name]
    return values.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def _interval(samples: np.ndarray) -> dict[str, np.ndarray]:
    values = np.quantile(samples, QUANTILES, axis=0)
    return dict(zip(INTERVAL, values, strict=True))


def prior_sensitive(widths: np.ndarray, threshold: float = SENSITIVITY_THRESHOLD
                    ) -> np.ndarray:
    """Which contrasts are prior-sensitive: ``widths`` (prior_factor, contrast) holds the
    95% interval widths at each prior scale, the fit's own first; True where any other
    width differs from the fit's by more than ``threshold`` of it. (contrast,) bool."""
    widths = np.asarray(widths, dtype=float)
    change = np.abs(widths[1:] / widths[0] - 1)
    return (change > threshold).any(axis=0)


def sensitivity_of(datatree: DataTree, n_contrasts: int) -> np.ndarray:
    """``prior_sensitive`` of each contrast from the DataTree's ``prior_sensitivity`` group
    (written when the deviation scale was fixed); all False without it (a learnt scale)."""
    if "prior_sensitivity" not in datatree.children:
        return np.zeros(n_contrasts, dtype=bool)
    return prior_sensitive(datatree["prior_sensitivity"]["ratio_interval_width"].to_numpy())


def luciferase_table(datatree: DataTree, wells: pd.DataFrame, contrasts: pd.DataFrame,
                     reference: str, keys: list[str], margin: float) -> pd.DataFrame:
    """One row per construct x treatment (treated / control firefly:Renilla ratio), then
    the interaction rows (``construct`` = ``interaction``: the ratio of a construct's
    ratio to the reference construct's). ``p_repressed`` = P(ratio < 1),
    ``p_beyond_margin`` = P(ratio < 1 / margin); last, ``prior_sensitive``: the row's 95%
    interval width moved by more than 10% when a fixed experiment-deviation scale was
    halved or doubled (False when the scale was learnt)."""
    ratio = draws(datatree, "ratio")
    table = contrasts.copy()
    table["prior_sensitive"] = sensitivity_of(datatree, len(table))
    for column, values in _interval(ratio).items():
        table[column] = values
    table["p_repressed"] = (ratio < 1).mean(axis=0)
    table["p_beyond_margin"] = (ratio < 1 / margin).mean(axis=0)
    pairs = [classical.luciferase_row(wells, row, reference) for _, row in table.iterrows()]
    table["classical_ratio"] = [p[0] for p in pairs]
    table["classical_p"] = [p[1] for p in pairs]
    table = table.sort_values("kind", key=lambda k: k.eq("interaction"), kind="stable")
    columns = [*keys, "construct", "treatment", "control", *INTERVAL, "p_repressed",
               "p_beyond_margin", "construct_pair", "classical_ratio", "classical_p",
               "prior_sensitive"]
    return table[columns].reset_index(drop=True)


def western_table(datatree: DataTree, lanes: pd.DataFrame, contrasts: pd.DataFrame,
                  keys: list[str], has_dose: bool, margin: float) -> pd.DataFrame:
    """One row per condition (x dose) vs its control: fold change of target/loading,
    ``p_decrease`` = P(fold < 1), ``p_beyond_margin`` = P(fold < 1 / margin); with doses,
    ``p_monotone_decrease`` on every dose row of a condition with two or more doses
    against one control: P(each higher dose lower than the one below, the lowest below
    the control)."""
    log_fold = draws(datatree, "log_contrast")
    fold = np.exp(log_fold)
    table = contrasts.copy()
    for column, values in _interval(fold).items():
        table[column] = values
    table["p_decrease"] = (fold < 1).mean(axis=0)
    table["p_beyond_margin"] = (fold < 1 / margin).mean(axis=0)
    table["p_monotone_decrease"] = np.nan
    if has_dose:
        for _, ladder in table.groupby(["cell_line", "condition", "control"], sort=False):
            if len(ladder) < 2:
                continue
            order = ladder.index[np.argsort([_dose_value(d) for d in ladder.dose],
                                            kind="stable")]
            steps = log_fold[:, order]
            falling = (steps[:, 0] < 0) & (np.diff(steps, axis=1) < 0).all(axis=1)
            table.loc[order, "p_monotone_decrease"] = falling.mean()
    folds, ps = [], []
    for _, row in table.iterrows():
        mine = lanes.cell_line.astype(str) == str(row.cell_line)
        treated = mine & (lanes.condition == row.condition) & (
            lanes.dose_label.fillna("").astype(str) == str(row.dose))
        control = mine & ((lanes.condition + " " + lanes.dose_label.fillna("").astype(str))
                          .str.strip() == row.control)
        fold_value, p = classical.western_row(lanes, treated, control)
        folds.append(fold_value)
        ps.append(p)
    table["classical_fold"], table["classical_p"] = folds, ps
    columns = [*keys, "condition", *(["dose"] if has_dose else []), "control", *INTERVAL,
               "p_decrease", "p_beyond_margin",
               *(["p_monotone_decrease"] if has_dose else []), "classical_fold", "classical_p"]
    return table[columns].reset_index(drop=True)


def _dose_value(label: str) -> float:
    try:
        return float(str(label).split()[0])
    except (ValueError, IndexError):
        return np.nan


def apoptosis_table(datatree: DataTree, samples: pd.DataFrame, groups: pd.DataFrame,
                    effects: pd.DataFrame) -> pd.DataFrame:
    """Fraction rows (``cell_line, treatment, drug, fraction_median, q2.5, q97.5``), then
    effect rows (``effect``, ``scale`` odds_ratio first, then percentage_points; ``median,
    q2.5, q97.5``, ``p_positive`` = P(odds ratio > 1) = P(points > 0))."""
    fraction = draws(datatree, "fraction")
    bounds = _interval(fraction)
    rows = groups[["cell_line", "treatment", "drug"]].copy()
    rows["fraction_median"] = bounds["median"]
    rows["q2.5"], rows["q97.5"] = bounds["q2.5"], bounds["q97.5"]
    percent = 100 * samples.apoptotic / samples.total
    rows["observed_percent"] = percent.groupby(samples.group).mean().reindex(
        range(len(groups))).to_numpy()
    effect_rows = []
    classical_values = [classical.apoptosis_rows(samples, e, groups) for _, e in
                        effects.iterrows()]
    for scale, name in (("odds_ratio", "odds_ratio"), ("percentage_points",
                                                       "percentage_points")):
        values = draws(datatree, name)
        summary = _interval(values)
        above = (values > (1 if scale == "odds_ratio" else 0)).mean(axis=0)
        for k, effect in enumerate(effects.itertuples(index=False)):
            estimate, p = classical_values[k][scale]
            effect_rows.append(dict(
                cell_line=effect.cell_line, treatment=effect.treatment, drug=effect.drug,
                effect=effect.effect, scale=scale, control=effect.control,
                median=summary["median"][k], **{"q2.5": summary["q2.5"][k],
                                                "q97.5": summary["q97.5"][k]},
                p_positive=above[k], classical_estimate=estimate, classical_p=p))
    table = pd.concat([rows, pd.DataFrame(effect_rows)], ignore_index=True)
    columns = ["cell_line", "treatment", "drug", "fraction_median", "q2.5", "q97.5",
               "observed_percent", "effect", "scale", "control", "median", "p_positive",
               "classical_estimate", "classical_p"]
    return table[columns]
