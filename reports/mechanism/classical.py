"""The classical analyses shown beside the Bayesian ones for the mechanism assays.

What a lab does in a spreadsheet, on the unit of replication: wells (luciferase), lanes
(Western blot) and tubes (apoptosis) of one group in one experiment are technical
replicates, clustered in that experiment, so they are averaged within each experiment x
group first and the tests run on the experiment means (testing the rows themselves is
pseudo-replication: three near-identical wells per arm make a tiny p out of three
experiments). Where both arms were run in the same experiments the test is paired by
experiment:

- luciferase: firefly/Renilla per well, averaged within experiment; paired t-test of the
  per-experiment log ratio treated / control (the interaction: the construct's log ratio
  minus the reference construct's, one-sample t-test across experiments);
- Western blot: target/loading per lane normalised to the control lanes of its own blot,
  averaged within experiment; paired t-test of the per-experiment log fold;
- apoptosis: apoptotic percentage per tube, averaged within experiment; paired t-test of
  the per-experiment percentages, and for the interaction a one-sample t-test of the
  per-experiment difference of differences (the repeated-measures two-way ANOVA
  interaction test: F = t^2).

Where the arms share no experiment the experiment means are compared unpaired (Welch;
for the interaction a two-way ANOVA on the experiment means); p is NaN with fewer than two
experiments to test. The point estimates (ratio, fold, percentage points) are those of
the pooled rows, as before.
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


def one_sample(values: np.ndarray) -> float:
    """Two-sided one-sample t-test p-value against 0 (NaN with fewer than two values)."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return np.nan
    with warnings.catch_warnings():  # identical differences: no variance, p NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_1samp(values, 0.0).pvalue)


def experiment_means(values: pd.Series, experiment: pd.Series) -> pd.Series:
    """The mean of ``values`` per experiment (the technical rows of one arm averaged)."""
    return values.groupby(experiment.astype(str)).mean()


def paired_p(treated: pd.Series, control: pd.Series) -> float:
    """Paired t-test p of two arms' per-experiment values (indexed by experiment) over the
    experiments holding both; Welch on the experiment values where the arms share none."""
    shared = treated.index.intersection(control.index)
    if len(shared) == 0:
        return welch(treated, control)
    return one_sample(treated[shared] - control[shared])


def luciferase_row(wells: pd.DataFrame, row: pd.Series, reference: str) -> tuple[float, float]:
    """Ratio of means of firefly/Renilla, normalised to each construct's control mean, and
    the p of the paired t-test on per-experiment log ratios (wells averaged within
    experiment first); the interaction compares the construct's log ratio with the
    reference construct's, experiment by experiment."""
    ratio = wells.firefly / wells.renilla
    mine = wells.cell_line == row.cell_line

    def arms(construct):
        treated = mine & (wells.construct == construct) & (wells.treatment == row.treatment)
        control = mine & (wells.construct == construct) & (wells.treatment == row.control)
        return treated, control

    def normalised(construct):
        treated, control = arms(construct)
        base = ratio[control]
        return ratio[treated] / base.mean(), base / base.mean()

    def log_means(construct):  # per experiment: log mean ratio of each arm
        return tuple(np.log(experiment_means(ratio[arm], wells.experiment[arm]))
                     for arm in arms(construct))

    if row.construct == "interaction":
        construct = str(row.construct_pair).split(" / ")[0]
        own, _ = normalised(construct)
        ref, _ = normalised(reference)
        own_treated, own_control = log_means(construct)
        ref_treated, ref_control = log_means(reference)
        return float(own.mean() / ref.mean()), paired_p(own_treated - own_control,
                                                        ref_treated - ref_control)
    treated, _ = normalised(row.construct)
    return float(treated.mean()), paired_p(*log_means(row.construct))


def western_row(lanes: pd.DataFrame, treated: pd.Series, control: pd.Series
                ) -> tuple[float, float]:
    """Fold (mean normalised ratio) and the p of the paired t-test on per-experiment log
    folds; each lane's target/loading is divided by the mean control ratio on its own blot
    (by the overall control mean where its blot has no control lane), then averaged within
    experiment x arm. ``treated`` / ``control``: boolean masks over ``lanes``."""
    ratio = lanes.target / lanes.loading
    keys = lanes.experiment.astype(str) + " | " + lanes.blot.astype(str)
    per_blot = ratio[control].groupby(keys[control]).mean()
    divisor = keys.map(per_blot).fillna(ratio[control].mean())
    normalised = ratio / divisor
    means = [np.log(experiment_means(normalised[arm], lanes.experiment[arm]))
             for arm in (treated, control)]
    return float(normalised[treated].mean()), paired_p(*means)


def apoptosis_rows(samples: pd.DataFrame, effect: pd.Series, groups: pd.DataFrame
                   ) -> dict[str, tuple[float, float]]:
    """Classical estimate and p per scale for one effect row: ``odds_ratio`` from counts
    summed over samples (no p: 20,000 cells make any test of pooled counts absurdly
    certain), ``percentage_points`` as a difference of mean percentages with a paired
    t-test on the per-experiment mean percentages (tubes averaged within experiment), or
    for the interaction a difference of differences with a one-sample t-test of the
    per-experiment difference of differences."""
    percent = 100 * samples.apoptotic / samples.total

    def arm(code):
        return samples.group == code

    def odds(code):
        count, total = samples.apoptotic[arm(code)].sum(), samples.total[arm(code)].sum()
        return count / (total - count)

    def per_experiment(code):
        return experiment_means(percent[arm(code)], samples.experiment[arm(code)])

    a, b, c, d = (int(effect[k]) for k in ("a", "b", "c", "d"))
    if c < 0:
        return {"odds_ratio": (float(odds(a) / odds(b)), np.nan),
                "percentage_points": (float(percent[arm(a)].mean() - percent[arm(b)].mean()),
                                      paired_p(per_experiment(a), per_experiment(b)))}
    odds_ratio = odds(a) / odds(b) / (odds(c) / odds(d))
    means = {k: percent[arm(k)].mean() for k in (a, b, c, d)}
    difference = means[a] - means[b] - (means[c] - means[d])
    return {"odds_ratio": (float(odds_ratio), np.nan),
            "percentage_points": (float(difference),
                                  _interaction_p({k: per_experiment(k) for k in (a, b, c, d)},
                                                 (a, b, c, d)))}


def _interaction_p(cell_means: dict[int, pd.Series], cells: tuple[int, ...]) -> float:
    """Interaction p of a 2 x 2 design from each cell's per-experiment means: over the
    experiments holding all four cells, a one-sample t-test of the difference of
    differences (repeated-measures two-way ANOVA); where no experiment holds all four, a
    two-way ANOVA (cell means vs additive model) on the experiment means."""
    a, b, c, d = cells
    shared = cell_means[a].index
    for k in (b, c, d):
        shared = shared.intersection(cell_means[k].index)
    if len(shared) > 0:
        m = {k: cell_means[k][shared] for k in cells}
        return one_sample(m[a] - m[b] - (m[c] - m[d]))
    y = np.concatenate([cell_means[k].to_numpy(float) for k in cells])
    g = np.concatenate([np.full(len(cell_means[k]), k) for k in cells])
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
