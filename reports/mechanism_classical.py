"""The classical analyses shown beside the Bayesian ones for the mechanism assays.

What a lab does in a spreadsheet: a ratio of means, a Welch t-test on normalised ratios
(luciferase, Western blot; blot lanes normalised to the control lane of their own blot),
and for apoptosis Welch t-tests on percentages and a two-way ANOVA interaction test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats


def welch(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch t-test p-value (NaN with fewer than two values a side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return np.nan
    with warnings.catch_warnings():  # a control normalised to itself has no variance: then
        warnings.simplefilter("ignore", RuntimeWarning)  # Welch is a one-sample test
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def luciferase_row(wells: pd.DataFrame, row: pd.Series, reference: str) -> tuple[float, float]:
    """Ratio of means and Welch p of firefly/Renilla, normalised to each construct's
    control mean; the interaction compares normalised construct vs reference."""
    ratio = wells.firefly / wells.renilla
    mine = wells.cell_line == row.cell_line

    def normalised(construct):
        treated = ratio[mine & (wells.construct == construct) & (wells.treatment == row.treatment)]
        base = ratio[mine & (wells.construct == construct) & (wells.treatment == row.control)]
        return treated / base.mean(), base / base.mean()

    if row.construct == "interaction":
        construct = str(row.construct_pair).split(" / ")[0]
        own, _ = normalised(construct)
        ref, _ = normalised(reference)
        return float(own.mean() / ref.mean()), welch(own, ref)
    treated, base = normalised(row.construct)
    return float(treated.mean()), welch(treated, base)


def western_row(lanes: pd.DataFrame, treated: pd.Series, control: pd.Series
                ) -> tuple[float, float]:
    """Fold (mean normalised ratio) and Welch p; each lane's target/loading is divided by
    the mean control ratio on its own blot (by the overall control mean where its blot has
    no control lane). ``treated`` / ``control``: boolean masks over ``lanes``."""
    ratio = lanes.target / lanes.loading
    keys = lanes.experiment.astype(str) + " | " + lanes.blot.astype(str)
    per_blot = ratio[control].groupby(keys[control]).mean()
    divisor = keys.map(per_blot).fillna(ratio[control].mean())
    normalised = ratio / divisor
    return float(normalised[treated].mean()), welch(normalised[treated], normalised[control])


def apoptosis_rows(samples: pd.DataFrame, effect: pd.Series, groups: pd.DataFrame
                   ) -> dict[str, tuple[float, float]]:
    """Classical estimate and p per scale for one effect row: ``odds_ratio`` from counts
    summed over samples (no p: 20,000 cells make any test of pooled counts absurdly
    certain), ``percentage_points`` as a difference of mean percentages with a Welch
    t-test, or for the interaction a difference of differences with the two-way ANOVA
    interaction F-test."""
    percent = 100 * samples.apoptotic / samples.total

    def arm(code):
        return samples.group == code

    def odds(code):
        count, total = samples.apoptotic[arm(code)].sum(), samples.total[arm(code)].sum()
        return count / (total - count)

    a, b, c, d = (int(effect[k]) for k in ("a", "b", "c", "d"))
    if c < 0:
        return {"odds_ratio": (float(odds(a) / odds(b)), np.nan),
                "percentage_points": (float(percent[arm(a)].mean() - percent[arm(b)].mean()),
                                      welch(percent[arm(a)], percent[arm(b)]))}
    odds_ratio = odds(a) / odds(b) / (odds(c) / odds(d))
    means = {k: percent[arm(k)].mean() for k in (a, b, c, d)}
    difference = means[a] - means[b] - (means[c] - means[d])
    return {"odds_ratio": (float(odds_ratio), np.nan),
            "percentage_points": (float(difference), _interaction_p(percent, samples.group,
                                                                    (a, b, c, d)))}


def _interaction_p(values: pd.Series, group: pd.Series, cells: tuple[int, ...]) -> float:
    """Two-way ANOVA (2 x 2, cell means vs additive model) interaction p-value."""
    a, b, c, _ = cells
    mask = group.isin(cells)
    y = values[mask].to_numpy(float)
    g = group[mask].to_numpy()
    if len(y) <= 4:
        return np.nan
    mir = np.isin(g, (a, c)).astype(float)
    drug = np.isin(g, (a, b)).astype(float)
    additive = np.column_stack([np.ones_like(y), mir, drug])
    full = np.column_stack([additive, mir * drug])
    rss = [float(np.sum((y - x @ np.linalg.lstsq(x, y, rcond=None)[0]) ** 2))
           for x in (additive, full)]
    df = len(y) - 4
    if rss[1] <= 0:
        return np.nan
    f = (rss[0] - rss[1]) / (rss[1] / df)
    return float(stats.f.sf(f, 1, df))
