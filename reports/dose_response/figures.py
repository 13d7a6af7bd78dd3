"""Figures of a dose-response run: fitted curves, shift forest, classical fits, checks.

Every function takes data (a DataTree, tables) and returns a ``matplotlib`` Figure of
bounded size: long tables are drawn a page (``max_rows`` rows) at a time, and values
a log axis cannot show (an absolute IC50 of +inf, a blank median, a bound of 0) are
drawn as labelled markers at the axis edge instead of breaking the figure.
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from arviz_base import from_dict
from matplotlib.figure import Figure
from scipy.stats import norm, rankdata
from xarray import DataTree

from chemoshift.reports.dose_response.curves import curve_pages, curve_panels
from chemoshift.reports.figure_style import OKABE_ITO, SMALL, plain, styled

__all__ = ["classical_comparison", "curve_pages", "curve_panels", "observed_variables",
           "posterior_predictive", "rank_plots", "shift_forest"]

FOREST_ROWS = 60
MAX_RANK_SCALARS = 8  # scalar parameters in the rank plot (worst R-hat first when more)
MAX_RANK_ELEMENTS = 6  # plus the elements of vector parameters with the worst R-hat
MAX_RHAT_ELEMENTS = 20_000  # larger variables (per-well) are not screened for R-hat
MAX_RHAT_DRAWS = 500  # per chain, thinned, when screening R-hat


@styled
def shift_forest(shifts: pd.DataFrame, keys: list[str], margin: float, *,
                 max_rows: int = FOREST_ROWS, title: str | None = None) -> Figure:
    """Fold shifts (median, 95% interval) on a log axis; 1 = no shift, left of 1 =
    sensitised, dashed line = the practical margin. Pooled rows (red) come first, then
    per-comparison rows, up to ``max_rows`` (the title says when rows were left out).
    A blank median (an absolute shift beyond range) is a grey marker at the right edge."""
    pooling = _pooling(shifts, keys)
    order = np.argsort(-pooling, kind="stable")  # (all, all) first, then per drug, ...
    table = shifts.iloc[order].reset_index(drop=True)
    is_pooled = pooling[order] > 0
    if len(table) > max_rows:
        title = (title + "; " if title else "") + f"first {max_rows} of {len(table)} rows"
        table, is_pooled = table.iloc[:max_rows], is_pooled[:max_rows]
    mixed = "quantity" in table and table["quantity"].nunique() > 1
    labels = [plain(" · ".join([*(str(r[k]) for k in keys),
                                f"{r['treatment']} vs {r['control']}"]
                               + (["absolute"] if mixed and r["quantity"] == "ic50_absolute"
                                  else [])
                               + (["NOT CONVERGED"] if _unconverged(r) else [])))
              for _, r in table.iterrows()]
    fig, ax = plt.subplots(figsize=(7.5, 0.24 * len(table) + 1.4))
    y = np.arange(len(table))[::-1]
    _intervals(ax, y, table["median"], table["q2.5"], table["q97.5"],
               np.where(is_pooled, OKABE_ITO["vermillion"], OKABE_ITO["blue"]),
               extra=(1.0, 1 / margin))
    ax.set_yticks(y, labels, fontsize=SMALL)
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.axvline(1.0, color="0.3", lw=1)
    ax.axvline(1 / margin, color="0.5", lw=1, ls="--")
    ax.set_xlabel("IC50 fold shift, treatment / control (95% interval; red: pooled;\n"
                  "grey x: no finite shift, beyond range)")
    if title:
        ax.set_title(plain(title))
    _margins(fig, labels)
    return fig


def _unconverged(row: pd.Series) -> bool:
    """A row the diagnostics mark as not converged (a table without the column: none)."""
    value = row.get("converged", True)
    return str(value).strip().lower() in ("false", "0")


def forest_pages(shifts: pd.DataFrame, keys: list[str], *, rows_per_page: int = FOREST_ROWS,
                 max_pages: int = 8) -> tuple[list[tuple[str, pd.DataFrame]], int]:
    """Split a shift table into pages for shift_forest: the pooled rows first (in pages of
    up to 2.5 x ``rows_per_page``), then the per-comparison rows. Returns the first
    ``max_pages`` pages and the number of rows left out."""
    pooling = _pooling(shifts, keys)
    shifts = shifts.iloc[np.argsort(-pooling, kind="stable")]
    pooled = np.sort(pooling)[::-1] > 0
    chunks = []
    for name, part, size in (("pooled shifts", shifts[pooled], int(rows_per_page * 2.5)),
                             ("per comparison", shifts[~pooled], rows_per_page)):
        for start in range(0, len(part), size):
            stop = min(start + size, len(part))
            label = name if len(part) <= size else f"{name}, rows {start + 1}-{stop} of {len(part)}"
            chunks.append((label, part.iloc[start:stop]))
    shown = chunks[:max_pages]
    return shown, len(shifts) - sum(len(t) for _, t in shown)


@styled
def classical_comparison(summary: pd.DataFrame, classical: pd.DataFrame, keys: list[str], *,
                         max_rows: int = FOREST_ROWS, title: str | None = None) -> Figure:
    """Per-curve least-squares IC50 (Wald 95%) beside the hierarchical posterior (95%), for
    the curves in ``classical`` (its ``curve`` column; row order = curve order without it),
    up to ``max_rows``. A fit with no estimate is a grey marker at the right edge."""
    relative = summary[summary.quantity == "ic50_relative"].reset_index(drop=True)
    codes = (classical["curve"].to_numpy(dtype=int) if "curve" in classical
             else np.arange(len(classical)))
    if len(codes) > max_rows:
        title = (title + "; " if title else "") + f"first {max_rows} of {len(codes)} curves"
        codes, classical = codes[:max_rows], classical.iloc[:max_rows]
    bayes = relative.iloc[codes].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(bayes) + 1.4))
    y = np.arange(len(bayes))[::-1].astype(float)
    with np.errstate(over="ignore"):
        ls = [10 ** classical[c].to_numpy(dtype=float)
              for c in ("log10_ic50", "log10_low", "log10_high")]
    limits = _limits(bayes["median"], bayes["q2.5"], bayes["q97.5"], *ls)
    _intervals(ax, y + 0.15, bayes["median"], bayes["q2.5"], bayes["q97.5"], "C0",
               limits=limits, label="chemoshift")
    _intervals(ax, y - 0.15, *ls, "C1", limits=limits, label="per-curve least squares",
               missing_label="no estimate")
    labels = [plain(" · ".join(str(r[k]) for k in keys) or "curve")
              for _, r in bayes.iterrows()]
    ax.set_yticks(y, labels, fontsize=SMALL)
    ax.set_ylim(-0.7, len(bayes) - 0.3)
    unit = ", ".join(pd.unique(bayes["unit"].astype(str))) if "unit" in bayes else ""
    ax.set_xlabel(plain(f"relative IC50 ({unit}, log scale); grey x: no estimate"))
    ax.legend(loc="best")
    if title:
        ax.set_title(plain(title))
    _margins(fig, labels)
    return fig


def observed_variables(datatree: DataTree) -> list[str]:
    """Observed variables with posterior predictive draws (one per likelihood term)."""
    if "observed_data" not in datatree.children or \
            "posterior_predictive" not in datatree.children:
        return []
    predicted = set(datatree["posterior_predictive"].data_vars)
    return [v for v in datatree["observed_data"].data_vars if v in predicted]


@styled
def posterior_predictive(datatree: DataTree) -> Figure:
    """Distribution of the observed responses against replicated data sets, one panel per
    likelihood term (e.g. dosed wells and vehicle wells)."""
    observed = observed_variables(datatree)
    if not observed:
        raise LookupError("the run has no posterior predictive draws of an observed variable")
    plot = azp.plot_ppc_dist(datatree, var_names=observed, backend="matplotlib", num_samples=50)
    return plot.viz["figure"].item()


@styled
def rank_plots(datatree: DataTree, var_names: list[str] | None = None, *,
               max_scalars: int = MAX_RANK_SCALARS,
               max_elements: int = MAX_RANK_ELEMENTS) -> Figure:
    """Rank plots (fractional-rank ECDF per chain; flat and overlapping = well mixed) of the
    scalar parameters (``var_names``, default every scalar in the posterior; the worst
    ``max_scalars`` by R-hat when more) and the ``max_elements`` elements of vector
    parameters with the worst rank-normalised split R-hat. Never more than
    ``max_scalars + max_elements`` panels."""
    selected = rank_selection(datatree, var_names, max_scalars, max_elements)
    if not selected:
        raise LookupError("no parameter with finite draws to rank")
    plot = azp.plot_rank(from_dict({"posterior": selected}), backend="matplotlib")
    fig = plot.viz["figure"].item()
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, max(height * 1.6, 3.0))
    fig.tight_layout()
    return fig


def rank_selection(datatree: DataTree, var_names: list[str] | None, max_scalars: int,
                   max_elements: int) -> dict[str, np.ndarray]:
    """name -> (chain, draw) draws of the scalars and worst elements to rank-plot."""
    posterior = datatree["posterior"]
    scalars, elements = [], []
    for name, variable in posterior.data_vars.items():
        extra = [d for d in variable.dims if d not in ("chain", "draw")]
        if not extra and (var_names is None or name in var_names):
            scalars.append((name, variable.values[:, :, None]))
        elif extra and var_names is None and variable.size / variable.shape[0] / \
                variable.shape[1] <= MAX_RHAT_ELEMENTS:
            values = variable.transpose("chain", "draw", *extra).values
            elements.append((name, variable, values.reshape(*values.shape[:2], -1), extra))
    chosen = {}
    scored = [(float(_split_rhat(v)[0]), n, v[:, :, 0]) for n, v in scalars]
    if len(scored) > max_scalars:
        scored = sorted(scored, key=lambda s: -np.nan_to_num(s[0], nan=np.inf))[:max_scalars]
    chosen |= {n: v for _, n, v in scored if np.isfinite(v).all()}
    worst = []
    for name, variable, values, extra in elements:
        rhat = _split_rhat(values)
        for i in np.argsort(-np.nan_to_num(rhat, nan=-np.inf))[:max_elements]:
            if np.isfinite(rhat[i]) and np.isfinite(values[:, :, i]).all():
                worst.append((rhat[i], _element_name(name, variable, extra, i), values[:, :, i]))
    worst.sort(key=lambda w: -w[0])
    chosen |= {f"{n} (R-hat {r:.3f})": v for r, n, v in worst[:max_elements]}
    return chosen


def _element_name(name: str, variable: xr.DataArray, dims: list[str], flat: int) -> str:
    """``name[label, ...]`` as a panel title: arviz-plots refuses a variable name with '/'
    (a cell line 'HepG2/C3A' is drawn with a division slash), '$' is not mathtext."""
    index = np.unravel_index(flat, [variable.sizes[d] for d in dims])
    labels = [str(variable[d].values[i]) if d in variable.coords else str(i)
              for d, i in zip(dims, index, strict=True)]
    return plain(f"{name}[{', '.join(labels)}]").replace("/", "\u2215")


def _split_rhat(values: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (bulk) per element of (chain, draw, element) draws,
    vectorised (arviz-stats computes it element by element: too slow for 3,600 curves)."""
    step = max(1, values.shape[1] // MAX_RHAT_DRAWS)
    values = values[:, ::step]
    half = values.shape[1] // 2
    if half < 2:
        return np.full(values.shape[2], np.nan)
    split = np.concatenate([values[:, :half], values[:, values.shape[1] - half:]], axis=0)
    flat = np.nan_to_num(split.reshape(-1, split.shape[2]), nan=np.inf)
    z = norm.ppf((rankdata(flat, axis=0) - 0.375) / (flat.shape[0] + 0.25)).reshape(split.shape)
    within = z.var(axis=1, ddof=1).mean(axis=0)
    between = half * z.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((half - 1) / half * within + between / half) / within)


def _margins(fig: Figure, labels: list[str]) -> None:
    """Fixed margins sized to the row labels (inches), instead of tight_layout: a page of
    60 rows is laid out in one pass."""
    width, height = fig.get_size_inches()
    left = min(0.45 * width, 0.35 + 0.052 * max((len(label) for label in labels), default=4))
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=0.75 / height,
                        top=1 - 0.35 / height)


def _pooling(shifts: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """How many keys of each row read 'all' (0: a single comparison)."""
    present = [k for k in keys if k in shifts]
    if not present:
        return np.zeros(len(shifts), dtype=int)
    return shifts[present].astype(str).eq("all").sum(axis=1).to_numpy()


def _limits(*arrays, extra=()) -> tuple[float, float]:
    """Log-axis limits around the finite positive values, padded."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]
                            + [np.asarray(extra, dtype=float)])
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size == 0:
        return 0.1, 10.0
    low, high = np.log10(finite.min()), np.log10(finite.max())
    pad = 0.08 * (high - low) + 0.15
    return 10 ** (low - pad), 10 ** (high + pad)


def _intervals(ax, y, median, low, high, colour, *, limits=None, extra=(), label=None,
               missing_label: str = "beyond range") -> None:
    """Median and interval per row on a log x axis. Bounds that are 0, infinite or blank
    run to the axis edge with an arrow; a row without a finite median is a grey x at the
    right edge. The axis limits are set here, so no non-finite value reaches the scale."""
    median, low, high = (np.asarray(v, dtype=float) for v in (median, low, high))
    y = np.asarray(y, dtype=float)
    colour = np.broadcast_to(np.asarray(colour, dtype=object), y.shape)
    left, right = limits or _limits(median, low, high, extra=extra)
    ok = np.isfinite(median) & (median > 0)
    low_open = ok & ~(np.isfinite(low) & (low > 0))
    high_open = ok & ~np.isfinite(high)
    low_shown = np.clip(np.where(low_open, left, low), left, right)
    high_shown = np.clip(np.where(high_open, right, high), left, right)
    has_interval = ok & ~(np.isnan(low) & np.isnan(high))
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.hlines(y[has_interval], low_shown[has_interval], high_shown[has_interval],
              color=list(colour[has_interval]), lw=2)
    ax.scatter(np.clip(median[ok], left, right), y[ok], color=list(colour[ok]), s=14, zorder=3,
               label=label)
    arrows_low = low_open & has_interval | ok & (low < left)
    arrows_high = high_open & has_interval | ok & (high > right)
    ax.scatter(np.full(arrows_low.sum(), left), y[arrows_low], marker="<", color="0.3", s=14)
    ax.scatter(np.full(arrows_high.sum(), right), y[arrows_high], marker=">", color="0.3", s=14)
    missing = ~ok
    ax.scatter(np.full(missing.sum(), right), y[missing], marker="x", color="0.45", s=18,
               zorder=3)
    for row in y[missing]:
        ax.annotate(missing_label, (right, row), xytext=(-8, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=6, color="0.45")
