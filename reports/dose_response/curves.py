"""Fitted curves over the data, faceted per drug and paginated so no figure grows
without bound: one panel per cell line x drug, control and treated arms overlaid, at
most ``max_panels`` panels a figure.
"""

from __future__ import annotations

from collections.abc import Collection

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from xarray import DataTree

from chemoshift.data.curve import four_parameter_response
from chemoshift.reports.dose_response.inputs import top_groups_of, wells_by_curve
from chemoshift.reports.dose_response.tables import curve_units, draws
from chemoshift.reports.figure_style import NORMAL, OKABE_ITO, SMALL, colour, plain, styled

MAX_CURVE_DRAWS = 200  # posterior draws used to draw bands; enough for a 95% band
VEHICLE_OFFSET = 1.0  # vehicle wells are drawn this many log10 units left of the lowest dose
PANELS_PER_PAGE = 16
COLUMNS = 4
GRID_POINTS = 60


def curve_panels(datatree: DataTree, wells: pd.DataFrame, curves: pd.DataFrame, unit: str,
                 response_label: str, *, drugs: list[str] | None = None,
                 max_panels: int = PANELS_PER_PAGE, unconverged: Collection[int] = ()
                 ) -> Figure:
    """One figure: a panel per cell line x drug of the given drugs (default all), wells as
    points, posterior median curve and 95% band per treatment; vehicle wells (shared ones
    included) at the left edge. At most ``max_panels`` panels; the title says when some
    were left out. Curves in ``unconverged`` (curve indices) are dashed and their panel's
    title says they did not converge."""
    context = CurveContext(datatree, wells, curves, unit, unconverged)
    panels = _panels(curves, drugs)
    title = None
    if len(panels) > max_panels:
        title = (f"first {max_panels} of {len(panels)} panels "
                 f"(curve_pages draws them all, {max_panels} a figure)")
    return _figure(context, panels[:max_panels], response_label, title)


def curve_pages(datatree: DataTree, wells: pd.DataFrame, curves: pd.DataFrame, unit: str,
                response_label: str, unconverged: Collection[int] = ()
                ) -> list[tuple[str, Figure]]:
    """Every panel, one drug per page (split when a drug has more than 16 cell lines):
    (page title, figure) in curve order; ``unconverged`` as in :func:`curve_panels`."""
    context = CurveContext(datatree, wells, curves, unit, unconverged)
    return [(title, draw_page(context, panels, response_label, title))
            for title, panels in pages(curves)]


def pages(curves: pd.DataFrame, max_panels: int = PANELS_PER_PAGE
          ) -> list[tuple[str, list[tuple[str, str]]]]:
    """The pages curve_pages draws, without drawing them: (title, (cell line, drug) panels).
    One drug per page, split into parts of ``max_panels`` cell lines."""
    found = []
    panels = _panels(curves)
    for drug in dict.fromkeys(p[1] for p in panels):
        own = [p for p in panels if p[1] == drug]
        parts = range(0, len(own), max_panels)
        for start in parts:
            name = drug if drug != "-" else "all curves"
            suffix = (f" (cell lines {start + 1}-{min(start + max_panels, len(own))} of "
                      f"{len(own)})" if len(parts) > 1 else "")
            found.append((f"{name}{suffix}", own[start:start + max_panels]))
    return found


def draw_page(context: CurveContext, panels: list[tuple[str, str]], response_label: str,
              title: str | None = None) -> Figure:
    """One figure of the given (cell line, drug) panels."""
    return _figure(context, panels, response_label, title)


def _panels(curves: pd.DataFrame, drugs: list[str] | None = None) -> list[tuple[str, str]]:
    keys = _facets(curves)
    panels = list(dict.fromkeys(keys.itertuples(index=False, name=None)))
    if drugs is not None:
        panels = [p for p in panels if p[1] in set(map(str, drugs))]
    order = {d: i for i, d in enumerate(pd.unique(keys.drug))}
    return sorted(panels, key=lambda p: order[p[1]])  # faceted per drug, stable within


def panel_curves(curves: pd.DataFrame) -> dict[tuple[str, str], list[int]]:
    """(cell line, drug) panel -> the indices of its curves (curve order)."""
    groups = _facets(curves.reset_index(drop=True)).groupby(["cell_line", "drug"], sort=False)
    return {panel: [int(c) for c in index] for panel, index in groups.groups.items()}


def _facets(curves: pd.DataFrame) -> pd.DataFrame:
    """(cell_line, drug) of each curve; '-' where the file had no such column."""
    return pd.DataFrame({k: curves[k].astype(str) if k in curves else "-"
                         for k in ("cell_line", "drug")})


class CurveContext:
    """Posterior draws (a fixed random subset), wells per curve and facets, prepared once."""

    def __init__(self, datatree: DataTree, wells: pd.DataFrame, curves: pd.DataFrame,
                 unit: str, unconverged: Collection[int] = ()):
        self.curves = curves.reset_index(drop=True)
        self.unconverged = frozenset(int(c) for c in unconverged)
        n_draws = draws(datatree, "log10_ic50").shape[0]
        pick = np.random.default_rng(0).choice(n_draws, size=min(MAX_CURVE_DRAWS, n_draws),
                                               replace=False)
        self.log10_ic50, self.hill, self.bottom, self.top = (
            draws(datatree, name)[pick] for name in ("log10_ic50", "hill", "bottom", "top"))
        self.wells = wells_by_curve(wells)
        self.top_groups = top_groups_of(wells, len(self.curves))
        self.units = curve_units(self.curves, unit)
        facets = _facets(self.curves)
        self.by_panel = facets.groupby(["cell_line", "drug"], sort=False).groups
        arms = list(pd.unique(self.curves.treatment)) if "treatment" in self.curves else ["-"]
        self.colours = {a: colour(i) for i, a in enumerate(arms)}


@styled
def _figure(context: CurveContext, panels: list, response_label: str, title: str | None) -> Figure:
    n = max(len(panels), 1)
    columns = min(COLUMNS, n)
    rows = int(np.ceil(n / columns))
    width, height = 3.1 * columns + 1.5, 2.5 * rows + 0.7
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    # fixed margins (inches), not tight_layout: laying out many pages costs more than drawing
    fig.subplots_adjust(left=0.75 / width, right=1 - 1.5 / width, bottom=0.55 / height,
                        top=1 - 0.55 / height, wspace=0.38, hspace=0.62)
    # one drug a page: same doses and scale. Limits are set once at the end (shared axes
    # or autoscaling would rescale every panel at every artist: most of the drawing time).
    handles, extent = {}, _Extent()
    for i, (ax, panel) in enumerate(zip(axes.flat, panels, strict=False)):
        ax.set_autoscale_on(False)
        units, lowest = set(), np.inf
        for c in context.by_panel[panel]:
            units.add(context.units[c])
            lowest = min(lowest, _draw_curve(ax, context, int(c), handles, extent))
        if np.isfinite(lowest):
            ax.axvline(lowest - VEHICLE_OFFSET / 2, color="0.8", lw=0.6, ls=":")
        name = plain(" · ".join(v for v in panel if v != "-") or "curve")
        if context.unconverged.intersection(int(c) for c in context.by_panel[panel]):
            ax.set_title(f"{name}\nNOT CONVERGED (dashed)", fontsize=NORMAL,
                         color=OKABE_ITO["vermillion"])
        else:
            ax.set_title(name, fontsize=NORMAL)
        if i + columns >= len(panels):  # the lowest panel of its column
            ax.set_xlabel(plain(f"log10 concentration ({', '.join(sorted(units))})"),
                          fontsize=SMALL)
        else:
            ax.tick_params(labelbottom=False)
        if i % columns == 0:
            ax.set_ylabel(response_label, fontsize=SMALL)
        else:
            ax.tick_params(labelleft=False)
        ax.tick_params(labelsize=SMALL)
    for ax in list(axes.flat)[: len(panels)]:
        ax.set_xlim(*extent.limits("x"))
        ax.set_ylim(*extent.limits("y"))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    if handles:
        fig.legend(list(handles.values()), [plain(arm) for arm in handles], loc="center right",
                   frameon=False, fontsize=SMALL, bbox_to_anchor=(1.0, 0.5))
    if title:
        fig.suptitle(plain(title), fontsize=10)
    return fig


class _Extent:
    """Running data limits of a page (finite values only), padded like matplotlib's."""

    def __init__(self):
        self.values = {"x": [np.inf, -np.inf], "y": [np.inf, -np.inf]}

    def add(self, axis: str, *arrays) -> None:
        for array in arrays:
            finite = np.asarray(array, dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                low, high = self.values[axis]
                self.values[axis] = [min(low, finite.min()), max(high, finite.max())]

    def limits(self, axis: str) -> tuple[float, float]:
        low, high = self.values[axis]
        if not low <= high:
            return 0.0, 1.0
        pad = 0.05 * (high - low) or 0.5
        return low - pad, high + pad


def _draw_curve(ax, context: CurveContext, c: int, handles: dict, extent: _Extent) -> float:
    """Wells and posterior band of curve ``c``; returns the log10 lowest tested dose."""
    curve = context.curves.iloc[c]
    arm = curve.get("treatment", "-")
    colour = context.colours.get(arm, "C0")
    own = context.wells.get(c, pd.DataFrame(columns=["log10_concentration", "response"]))
    dosed = own.log10_concentration.to_numpy(dtype=float)
    low, high = np.log10([curve.min_concentration, curve.max_concentration])
    if not (np.isfinite(low) and np.isfinite(high)):  # no tested range: use the wells'
        finite = dosed[np.isfinite(dosed)]
        low, high = (finite.min(), finite.max()) if finite.size else (-1.0, 1.0)
    vehicle_x = low - VEHICLE_OFFSET
    x = np.where(np.isfinite(dosed), dosed, vehicle_x)
    ax.scatter(x, own.response, s=7, alpha=0.6, color=colour, edgecolor="none")
    extent.add("x", x, [low - 0.3, high + 0.3])
    extent.add("y", own.response, [0.0])
    groups = context.top_groups[c]
    if groups.size == 0:
        return low
    grid = np.linspace(low - 0.3, high + 0.3, GRID_POINTS)
    curve_top = context.top[:, groups].mean(axis=1)
    predicted = four_parameter_response(grid[None, :], context.log10_ic50[:, [c]],
                                        context.hill[:, [c]], context.bottom[:, [c]],
                                        curve_top[:, None])
    lo, mid, hi = np.quantile(predicted, [0.025, 0.5, 0.975], axis=0)  # NaN leaves a gap
    ax.fill_between(grid, lo, hi, color=colour, alpha=0.2, linewidth=0)
    (line,) = ax.plot(grid, mid, color=colour, lw=1.2,
                      ls="--" if c in context.unconverged else "-")
    extent.add("y", lo, hi)
    handles.setdefault(str(arm), line)
    return low
