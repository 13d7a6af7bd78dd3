"""Figures of a dose-response run: fitted curves over the data, shift forest, checks.

Every function takes data (a DataTree, tables) and returns a ``matplotlib`` Figure.
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from xarray import DataTree

from chemoshift.data.curve import four_parameter_fraction
from chemoshift.reports.dose_response_tables import draws

MAX_CURVE_DRAWS = 400  # posterior draws used to draw bands; enough for a 95% band
VEHICLE_OFFSET = 1.0  # vehicle wells are drawn this many log10 units left of the lowest dose


def curve_panels(datatree: DataTree, wells: pd.DataFrame, curves: pd.DataFrame,
                 unit: str, response_label: str) -> Figure:
    """One panel per cell line x drug: wells as points, posterior median curve and 95% band
    per treatment (control and treated arms overlaid). Vehicle wells sit at the left edge."""
    lines = list(pd.unique(curves.cell_line))
    drugs = list(pd.unique(curves.drug))
    arms = list(pd.unique(curves.treatment))
    colours = dict(zip(arms, plt.get_cmap("tab10").colors, strict=False))
    fig, axes = plt.subplots(len(lines), len(drugs), figsize=(3.6 * len(drugs) + 1.5,
                             3.0 * len(lines)), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)
    n_draws = draws(datatree, "log10_ic50").shape[0]
    pick = rng.choice(n_draws, size=min(MAX_CURVE_DRAWS, n_draws), replace=False)
    log10_ic50 = draws(datatree, "log10_ic50")[pick]
    hill = draws(datatree, "hill")[pick]
    bottom = draws(datatree, "bottom")[pick]
    top = draws(datatree, "top")[pick]
    for c, curve in curves.reset_index(drop=True).iterrows():
        ax = axes[lines.index(curve.cell_line), drugs.index(curve.drug)]
        own = wells[wells.curve == c]
        low = np.log10(curve.min_concentration)
        high = np.log10(curve.max_concentration)
        vehicle_x = low - VEHICLE_OFFSET
        x_points = own.log10_concentration.fillna(vehicle_x)
        colour = colours[curve.treatment]
        ax.scatter(x_points, own.response, s=9, alpha=0.6, color=colour, edgecolor="none")
        grid = np.linspace(low - 0.3, high + 0.3, 80)
        curve_top = top[:, np.unique(own.top_group)].mean(axis=1)
        curve_bottom = bottom[:, c]
        fraction = four_parameter_fraction(grid[None, :], log10_ic50[:, [c]], hill[:, [c]])
        predicted = curve_top[:, None] * (curve_bottom[:, None]
                                          + (1 - curve_bottom[:, None]) * fraction)
        lo, mid, hi = np.quantile(predicted, [0.025, 0.5, 0.975], axis=0)
        ax.fill_between(grid, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.plot(grid, mid, color=colour, label=curve.treatment)
        ax.set_title(" · ".join(v for v in (curve.cell_line, curve.drug) if v != "-"), fontsize=10)
        ax.axvline(low - VEHICLE_OFFSET / 2, color="0.8", lw=0.6, ls=":")
    for ax in axes[-1]:
        ax.set_xlabel(f"log10 concentration ({unit})")
    for ax in axes[:, 0]:
        ax.set_ylabel(response_label)
    seen = {}
    for ax in axes.flat:
        handles, labels = ax.get_legend_handles_labels()
        for label, handle in zip(labels, handles, strict=True):
            seen.setdefault(label, handle)
    fig.legend(list(seen.values()), list(seen.keys()), loc="center right", frameon=False)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    return fig


def shift_forest(shifts: pd.DataFrame, keys: list[str], margin: float) -> Figure:
    """Fold shifts (median, 95% interval) on a log axis: per curve, per drug, per cell line,
    pooled; 1 = no shift, left of 1 = sensitised, dashed line = the practical margin."""
    table = shifts.iloc[::-1].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(table) + 1.2))
    pooled = table[keys].eq("all").any(axis=1) if keys else pd.Series(False, table.index)
    colours = np.where(pooled, "C3", "C0")
    ax.hlines(table.index, table["q2.5"], table["q97.5"], color=colours, lw=2)
    ax.scatter(table["median"], table.index, color=colours, zorder=3, s=18)
    labels = [" · ".join([*(str(r[k]) for k in keys), f"{r.treatment} vs {r.control}"])
              for _, r in table.iterrows()]
    ax.set_yticks(table.index, labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="0.3", lw=1)
    ax.axvline(1 / margin, color="0.5", lw=1, ls="--")
    ax.set_xlabel("IC50 fold shift, treatment / control (95% interval; red: pooled)")
    fig.tight_layout()
    return fig


def classical_comparison(summary: pd.DataFrame, classical: pd.DataFrame, keys: list[str]) -> Figure:
    """Per-curve least-squares IC50 (Wald 95%) beside the hierarchical posterior (95%)."""
    relative = summary[summary.quantity == "ic50_relative"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(relative) + 1.2))
    y = np.arange(len(relative))
    ax.hlines(y + 0.15, relative["q2.5"], relative["q97.5"], color="C0", lw=2, label="chemoshift")
    ax.scatter(relative["median"], y + 0.15, color="C0", s=14)
    ok = classical.converged.to_numpy()
    ax.hlines(y[ok] - 0.15, 10 ** classical.log10_low[ok], 10 ** classical.log10_high[ok],
              color="C1", lw=2, label="per-curve least squares")
    ax.scatter(10 ** classical.log10_ic50, y - 0.15, color="C1", s=14)
    labels = [" · ".join(str(r[k]) for k in keys) or "curve" for _, r in relative.iterrows()]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"relative IC50 ({relative.unit.iloc[0]})")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def posterior_predictive(datatree: DataTree) -> Figure:
    """Distribution of the observed responses against replicated data sets."""
    plot = azp.plot_ppc_dist(datatree, backend="matplotlib", num_samples=50)
    return plot.viz["figure"].item()


def rank_plots(datatree: DataTree, var_names: list[str]) -> Figure:
    """Rank plots (fractional-rank ECDF per chain): flat and overlapping means well mixed."""
    present = [v for v in var_names if v in datatree["posterior"]]
    plot = azp.plot_rank(datatree, var_names=present, backend="matplotlib")
    fig = plot.viz["figure"].item()
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, max(height * 1.6, 3.0))
    fig.tight_layout()
    return fig
