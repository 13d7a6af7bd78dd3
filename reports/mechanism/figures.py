"""Figures of the mechanism assays: forest plots of ratios and effects, data beside fits.

Every function returns a :class:`matplotlib.figure.Figure` (never shown) from tables,
so a notebook, the report and a script draw the same thing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from chemoshift.reports.figure_style import GREY, OKABE_ITO, SMALL, colour, plain, styled

MAX_ROWS = 60


@styled
def forest(table: pd.DataFrame, labels: list[str], *, reference: float, log: bool,
           xlabel: str, title: str = "", margin: float | None = None) -> Figure:
    """Median and 95% interval per row (columns ``median``, ``q2.5``, ``q97.5``), one row
    per label, top to bottom; a dotted line at ``reference``, a dashed one at ``margin``."""
    table = table.iloc[:MAX_ROWS]
    labels = labels[:MAX_ROWS]
    n = len(table)
    fig = Figure(figsize=(7.5, 1.0 + 0.32 * max(n, 1)))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    median = table["median"].to_numpy(float)
    low, high = table["q2.5"].to_numpy(float), table["q97.5"].to_numpy(float)
    ax.errorbar(median, y, xerr=[median - low, high - median], fmt="o", color=OKABE_ITO["blue"],
                ecolor=OKABE_ITO["sky_blue"], capsize=3)
    ax.axvline(reference, color=GREY, linestyle=":")
    if margin is not None:
        ax.axvline(margin, color=OKABE_ITO["vermillion"], linestyle="--", linewidth=1)
    if log:
        ax.set_xscale("log")
    ax.set_yticks(y, [plain(label) for label in labels], fontsize=SMALL)
    ax.set_xlabel(plain(xlabel))
    if title:
        ax.set_title(plain(title))
    fig.tight_layout()
    return fig


@styled
def points_by_group(values: pd.Series, group_labels: pd.Series, colour_by: pd.Series, *,
                    ylabel: str, title: str = "", log: bool = True,
                    intervals: pd.DataFrame | None = None) -> Figure:
    """One column per group label (in order of appearance), one point per observation
    coloured by ``colour_by`` (experiment); ``intervals`` (rows in the same label order,
    ``median``/``q2.5``/``q97.5``) drawn beside the points as posterior summaries."""
    order = list(pd.unique(group_labels))
    fig = Figure(figsize=(max(6.0, 0.9 * len(order) + 2), 4.2))
    ax = fig.add_subplot()
    colours = {c: colour(i) for i, c in enumerate(pd.unique(colour_by))}
    rng = np.random.default_rng(0)
    x = pd.Categorical(group_labels, order).codes + rng.uniform(-0.12, 0.12, len(values))
    for level, shade in colours.items():
        mask = (colour_by == level).to_numpy()
        ax.scatter(x[mask], values.to_numpy(float)[mask], s=18, color=shade, alpha=0.8,
                   label=plain(level))
    if intervals is not None:
        at = np.arange(len(intervals)) + 0.3
        med = intervals["median"].to_numpy(float)
        ax.errorbar(at, med, yerr=[med - intervals["q2.5"].to_numpy(float),
                                   intervals["q97.5"].to_numpy(float) - med],
                    fmt="s", color="black", capsize=3, label="posterior 95%")
    if log:
        ax.set_yscale("log")
    ax.set_xticks(range(len(order)), [plain(label) for label in order], rotation=30, ha="right",
                  fontsize=SMALL)
    ax.set_ylabel(plain(ylabel))
    if title:
        ax.set_title(plain(title))
    ax.legend(title="experiment", loc="best")
    fig.tight_layout()
    return fig
