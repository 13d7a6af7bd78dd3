"""The mechanism chain as one figure, drawn from the rows of a study's claims table.

One panel per step of the argument, top to bottom: the IC50 shift under miR-379 beside the
shift under si-IGF1R (with the ratio of the two and the probability that they agree),
IGF1R knock-down (qPCR, Western blot), 3'UTR repression (luciferase), apoptosis. Each row
is one claim: posterior median and 95% interval; ratios on a shared log axis with a line
at 1, differences (percentage points) on a linear axis with a line at 0. A step without a
claim is left out and named in the footnote; a claim that could not be evaluated keeps its
row and says why; a claim resting on a fit that did not converge is drawn hollow and red.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from chemoshift.reports.figure_style import GREY, OKABE_ITO, SMALL, plain, styled
from chemoshift.reports.study.format import format_probability

AGREEMENT = "agreement"
STEPS = {  # step -> (panel title, x label of a ratio panel)
    "sensitisation": ("Sensitisation: IC50 shift under miR-379 and under si-IGF1R",
                      "IC50 fold shift, treated / matched control (log scale; < 1: more "
                      "sensitive)"),
    "IGF1R knock-down": ("IGF1R knock-down: mRNA (qPCR) and protein (Western blot)",
                         "IGF1R fold change, treated / control (log scale)"),
    "3'UTR repression": ("3'UTR repression: dual luciferase",
                         "luciferase ratio (firefly / Renilla), miR-379 / control "
                         "(log scale)"),
    "apoptosis": ("Apoptosis", "odds ratio of an apoptotic cell (log scale)"),
}
LINEAR = ("percentage point", "percentage_point", "difference")  # scale words of a
# difference (0 = no effect) rather than a ratio (1 = no effect)
LOG_TICKS = [m * 10.0 ** e for e in range(-4, 5) for m in (1, 2, 3, 5)]
ASSAY_NAMES = {"qpcr": "qPCR", "western": "Western", "luciferase": "luciferase",
               "dose-response": "CCK-8", "apoptosis": "flow cytometry"}


@dataclass(frozen=True)
class Look:
    """How a claim of one verdict category is drawn."""

    label: str
    colour: str
    marker: str
    filled: bool = True


LOOKS = {
    "supported": Look("supported", OKABE_ITO["blue"], "o"),
    "margin": Look("supported, possibly below the margin", OKABE_ITO["bluish_green"], "o"),
    "below margin": Look("supported, smaller than the margin", OKABE_ITO["sky_blue"], "o",
                         filled=False),
    "weak": Look("weak evidence", OKABE_ITO["orange"], "s"),
    "unsupported": Look("not supported", OKABE_ITO["black"], "X"),
    "contradicted": Look("contradicted", OKABE_ITO["reddish_purple"], "D"),
    "unreliable": Look("fit did not converge (unreliable)", OKABE_ITO["vermillion"], "^",
                       filled=False),
    "not evaluable": Look("not evaluable", GREY, "."),
}


def verdict_category(verdict: object, converged: object = True) -> str:
    """One of the keys of :data:`LOOKS`, from a claims.csv verdict and converged flag."""
    text = "" if pd.isna(verdict) else str(verdict).strip().lower()
    if text.startswith("not evaluable") or not text:  # no number to doubt
        return "not evaluable"
    if text.startswith("unreliable") or not _truthy(converged):
        return "unreliable"
    if text.startswith("supported, but") or text.startswith("supported but"):
        return "margin"
    if text.startswith("supported, smaller"):
        return "below margin"
    if text.startswith("contradicted"):
        return "contradicted"
    if text.startswith("supported"):
        return "supported"
    if text.startswith("weak"):
        return "weak"
    return "unsupported"


@styled
def chain_figure(claims: pd.DataFrame) -> Figure:
    """One figure of the mechanism chain from a claims table (claims.csv's columns; rows of
    the steps in :data:`STEPS` and ``agreement``). Raises LookupError when no claim belongs
    to a chain step."""
    claims = claims.reset_index(drop=True)
    step = claims.get("step", pd.Series("", index=claims.index)).fillna("").astype(str)
    panels = _panels(claims, step)
    if not panels:
        raise LookupError("the study makes no claim about a step of the mechanism chain "
                          f"({', '.join(STEPS)})")
    heights = [len(rows) + 1.2 for _, _, rows in panels]
    fig = Figure(figsize=(10, 1.4 + 0.62 * sum(heights)), layout="constrained")
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    limits = _log_limits([rows for _, scale, rows in panels if scale is None])
    seen: set[str] = set()
    numbers = {name: i for i, name in enumerate(dict.fromkeys(n for n, _, _ in panels), 1)}
    drawn: set[str] = set()
    for ax, (name, scale, rows) in zip(axes[:, 0], panels, strict=True):
        title, xlabel = STEPS.get(name, (name, "fold change (log scale)"))
        if scale is not None:
            xlabel = f"{scale} (linear scale; 0 = no effect)"
        if name in drawn:
            title = f"{title.split(':')[0]}, continued: {scale or 'ratio'}"
        drawn.add(name)
        seen |= _draw_panel(ax, rows, log=scale is None, limits=limits)
        ax.set_title(plain(f"{numbers[name]}. {title}"), loc="left", fontweight="bold")
        ax.set_xlabel(plain(xlabel))  # a scale is the study file's words
    handles = [Line2D([], [], linestyle="-", color=LOOKS[k].colour, marker=LOOKS[k].marker,
                      markerfacecolor=LOOKS[k].colour if LOOKS[k].filled else "white",
                      label=LOOKS[k].label) for k in LOOKS if k in seen]
    if any(r["step"] == AGREEMENT for _, _, rows in panels for _, r in rows.iterrows()):
        handles.append(Line2D([], [], linestyle="-", color=GREY, marker="D",
                              label="ratio of the two shifts (1 = equal)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 3),
               frameon=False)
    missing = [s for s in STEPS if not (step == s).any()]
    note = "Posterior median and 95% interval per claim; P = posterior probability the " \
           "claim holds."
    if missing:
        note += f"\nNo claim in this study for: {', '.join(missing)}."
    fig.supxlabel(note, fontsize=SMALL, color=GREY)
    return fig


def _panels(claims: pd.DataFrame, step: pd.Series) -> list[tuple[str, str | None, pd.DataFrame]]:
    """(step, linear scale or None for a log-ratio panel, rows) in chain order; agreement
    rows join the sensitisation panel (or stand alone when it is missing)."""
    panels = []
    for name in STEPS:
        chosen = (step == name) | ((step == AGREEMENT) & (name == "sensitisation"))
        rows = claims[chosen].assign(step=step[chosen])
        if rows.empty:
            continue
        scale = rows.get("scale", pd.Series("", index=rows.index)).fillna("").astype(str)
        linear = scale.str.lower().str.contains("|".join(LINEAR)) | ~_positive(rows)
        if (~linear).any():
            panels.append((name, None, rows[~linear]))
        for kind in pd.unique(scale[linear]):
            panels.append((name, kind or "difference", rows[linear & (scale == kind)]))
    return panels


def _positive(rows: pd.DataFrame) -> pd.Series:
    """Rows a log axis can show: every finite value among estimate and bounds above 0."""
    values = rows[["estimate", "q2.5", "q97.5"]].apply(pd.to_numeric, errors="coerce")
    return ~(values <= 0).any(axis=1)


def _draw_panel(ax: Axes, rows: pd.DataFrame, *, log: bool,
                limits: tuple[float, float]) -> set[str]:
    """Draw one panel's rows top to bottom; return the verdict categories drawn."""
    estimate, low, high = (pd.to_numeric(rows[c], errors="coerce").to_numpy(float)
                           for c in ("estimate", "q2.5", "q97.5"))
    if log:
        ax.set_xscale("log")
        left, right = limits
        ticks = [t for t in LOG_TICKS if left <= t <= right]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        values = np.concatenate([estimate, low, high, [0.0]])
        values = values[np.isfinite(values)]
        pad = 0.08 * (values.max() - values.min()) + 0.5
        left, right = values.min() - pad, values.max() + pad
    ax.set_xlim(left, right)
    reference = 1.0 if log else 0.0
    ax.axvline(reference, color=GREY, lw=1, zorder=1)
    y = np.arange(len(rows))[::-1].astype(float)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    seen = set()
    labels = []
    for i, (_, row) in enumerate(rows.iterrows()):
        category = verdict_category(row.get("verdict"), row.get("converged", True))
        labels.append(_label(row))
        look = LOOKS[category]
        agreement = row["step"] == AGREEMENT
        if not np.isfinite(estimate[i]):
            why = str(row.get("verdict") or "not evaluable")
            ax.text(0.5, y[i], plain(textwrap.shorten(why, 90)),
                    transform=ax.get_yaxis_transform(),
                    ha="center", va="center", color=GREY, fontsize=SMALL, style="italic")
            seen.add(category)
            continue
        seen.add(category)
        if agreement:
            factor = agreement_factor(row)
            if factor and log:
                ax.fill_betweenx([y[i] - 0.35, y[i] + 0.35], 1 / factor, factor,
                                 color=OKABE_ITO["reddish_purple"], alpha=0.15, lw=0)
                said = _said(format_probability(row.get("probability")))
                ax.annotate(f"P(within {factor:g}-fold)\n{said}",
                            (factor, y[i]), xytext=(5, 0), textcoords="offset points",
                            va="center", fontsize=SMALL, color="#333333")
        _interval(ax, y[i], estimate[i], low[i], high[i], look, left, right,
                  marker="D" if agreement else look.marker)
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", length=0)
    for text, (_, row) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
        category = verdict_category(row.get("verdict"), row.get("converged", True))
        if category == "unreliable":
            text.set_color(OKABE_ITO["vermillion"])
    return seen


def _interval(ax: Axes, y: float, median: float, low: float, high: float, look: Look,
              left: float, right: float, marker: str) -> None:
    """A median and its 95% interval, clipped to the axis with arrows where it runs off."""
    lo = left if not np.isfinite(low) or low < left else low
    hi = right if not np.isfinite(high) or high > right else high
    if np.isfinite(low) or np.isfinite(high):
        ax.hlines(y, lo, hi, color=look.colour, lw=2.2,
                  linestyles="--" if not look.filled else "-", zorder=2)
    for bound, edge, arrow in ((low, left, "<"), (high, right, ">")):
        beyond = bound < left if arrow == "<" else bound > right
        if np.isinf(bound) or (np.isfinite(bound) and beyond):
            ax.plot(edge, y, marker=arrow, color=look.colour, ms=6, clip_on=False)
    ax.plot(min(max(median, left), right), y, marker=marker, ms=8, color=look.colour,
            markerfacecolor=look.colour if look.filled else "white", markeredgewidth=1.6,
            zorder=3, linestyle="none")


def _label(row: pd.Series) -> str:
    """The claim's text (wrapped), its assay, and P(claim holds)."""
    text = "\n".join(textwrap.wrap(str(row.get("claim", "")), 46)[:2])
    assay = ASSAY_NAMES.get(str(row.get("assay", "")), str(row.get("assay", "")))
    probability = pd.to_numeric(pd.Series([row.get("probability")]), errors="coerce")[0]
    said = _said(format_probability(probability))
    if row["step"] == AGREEMENT:
        detail = "ratio of the shifts" + (f" · P(agree) {said}" if np.isfinite(probability)
                                          else "")
    else:
        detail = assay + (f" · P {said}" if np.isfinite(probability) else "")
    return plain(f"{text}\n{detail}")  # claim text and assay come from the study file


def _said(probability: str) -> str:
    """'= 0.95', or '> 0.999' as formatted."""
    return probability if probability[0] in "<>" else f"= {probability}"


def agreement_factor(row: pd.Series) -> float | None:
    """The agreement factor a shift_agreement claim names ("within a factor of 2",
    "within 2-fold", "x2"), from its claim text or detail; None when it names none."""
    text = f"{row.get('claim', '')} {row.get('detail', '')}"
    for pattern in (r"factor(?: of)?\s*([0-9]*\.?[0-9]+)", r"([0-9]*\.?[0-9]+)\s*-?\s*fold",
                    r"[×x]\s*([0-9]*\.?[0-9]+)"):
        found = re.search(pattern, text, flags=re.IGNORECASE)
        if found and float(found.group(1)) > 1:
            return float(found.group(1))
    return None


def _log_limits(groups: list[pd.DataFrame]) -> tuple[float, float]:
    """Shared log-axis limits around every finite positive value and 1, padded."""
    values = [1.0]
    for rows in groups:
        for column in ("estimate", "q2.5", "q97.5"):
            values += list(pd.to_numeric(rows[column], errors="coerce"))
        for _, row in rows.iterrows():
            factor = agreement_factor(row) if row["step"] == AGREEMENT else None
            values += [factor, 1 / factor] if factor else []
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array) & (array > 0)]
    low, high = np.log10(array.min()), np.log10(array.max())
    pad = 0.06 * (high - low) + 0.08
    return 10 ** (low - pad), 10 ** (high + pad)


def _truthy(value: object) -> bool:
    """A converged flag as CSV gives it back: True / "True" / 1; blank counts as true (no
    fit behind the claim to doubt)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no")
    return bool(value)
