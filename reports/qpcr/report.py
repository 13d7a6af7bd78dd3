"""qPCR run directory -> folds.csv (and dose.csv, efficiencies.csv) and report.html.

Reads only the run directory (``posterior.nc``, ``run.json``, ``reactions.csv``,
``genes.csv``). ``report_section`` is one self-contained ``<section>`` (fold forest with
the classical estimate beside each gene, Cts per sample with missing wells marked by
how the model read them, reference-gene stability, efficiencies, diagnostics) that the
combined demo report drops in; ``write_report`` wraps it as report.html. Each figure is
drawn in its own try/except: one that fails becomes a visible box, never a crash.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.reports.figure_style import OKABE_ITO, SMALL, figure_style, plain
from chemoshift.reports.qpcr import tables

MAX_FOREST_ROWS = 80
MAX_CT_GENES = 12
MAX_TABLE_ROWS = 300


def _inputs(run_dir: Path):
    reactions = pd.read_csv(run_dir / "reactions.csv", keep_default_na=False, na_values=[""],
                            dtype={"sample": str, "condition": str, "gene": str})
    genes = pd.read_csv(run_dir / "genes.csv", keep_default_na=False, dtype=str)
    genes["efficiency"] = pd.to_numeric(genes.efficiency, errors="coerce")
    return reactions, genes


def write_tables(run_dir: Path, datatree: DataTree | None = None) -> pd.DataFrame:
    """Write folds.csv, efficiencies.csv and (with doses) dose.csv; return the folds."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    reactions, genes = _inputs(run_dir)
    data = record["data"]
    folds = tables.folds_table(datatree, reactions, genes,
                               [tuple(c) for c in data["comparisons"]],
                               record["settings"]["margin"])
    files.write_csv(run_dir / "folds.csv", folds)
    files.write_csv(run_dir / "efficiencies.csv", tables.efficiency_table(datatree, genes))
    if data.get("doses"):
        files.write_csv(run_dir / "dose.csv", tables.dose_table(datatree, data["doses"]))
    return folds


def write_report(run_dir: Path, datatree: DataTree | None = None) -> Path:
    """(Re)write report.html of a qPCR run directory; return its path."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    title = html.escape(str(record.get("title") or run_dir.name))
    body = report_section(run_dir, datatree)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}'
            '</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}'
            "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
            "padding:2px 6px}.bad{background:#fde2e1;padding:0.5em}.ok{background:#e3f4e1;"
            f"padding:0.5em}}</style></head><body>\n<h1>{title}</h1>\n{body}\n</body></html>\n")
    files.write_text(run_dir / "report.html", page)
    return run_dir / "report.html"


def _stability(datatree: DataTree, reactions: pd.DataFrame, genes: pd.DataFrame,
               terms: dict) -> str:
    """Reference-gene stability: the model's (only where the design lets it learn
    ``reference_sd``: otherwise its table would report the prior) beside geNorm's M."""
    parts = ["<h3>Reference-gene stability</h3>"]
    if terms.get("reference_sd_learnt"):
        parts.append("<p>Largest fold between conditions of each reference gene's own effect "
                     "(the model shrinks it towards 1 without fixing it there).</p>"
                     + _table(tables.stability_table(datatree, genes)))
    else:
        parts.append("<p>Not estimated by the model: too few differences between reference "
                     "genes inform <code>reference_sd</code>, so it is fixed at its prior "
                     "value and a table of it would report the prior, not the data.</p>")
    genorm = tables.genorm_m(reactions, genes)
    if not genorm.empty:
        parts.append("<p>geNorm M of each reference gene (mean standard deviation of its "
                     "ΔCt with the group's other references across samples; lower is more "
                     "stable; geNorm: &lt; 0.5 stable, &lt; 1.5 acceptable).</p>"
                     + _table(genorm))
    return "".join(parts)


def report_section(run_dir: Path, datatree: DataTree | None = None) -> str:
    """One self-contained ``<section>`` of HTML for the qPCR run in ``run_dir``."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    reactions, genes = _inputs(run_dir)
    data = record["data"]
    margin = record["settings"]["margin"]
    comparisons = [tuple(c) for c in data["comparisons"]]
    folds = tables.folds_table(datatree, reactions, genes, comparisons, margin)
    diagnostics = record.get("diagnostics", {})
    passed = diagnostics.get("passed", False)
    parts = ["<section>", f"<h2>qPCR: {html.escape(str(record.get('title', '')))}</h2>",
             f'<p class="{"ok" if passed else "bad"}"><strong>Diagnostics:</strong> '
             f"{html.escape(str(diagnostics.get('verdict', 'not recorded')))}</p>",
             "<p>Fold change = 2<sup>-ΔΔCt</sup> on the efficiency-corrected scale (&gt; 1: "
             "higher in the condition), from a model of the Cts themselves: sample loading "
             "shared by the genes of a normalisation group, reference genes with their own "
             "shrunk condition effects, technical replicates nested in biological ones, "
             "missing Cts read as censored non-detects or failed reactions. The classical "
             "2<sup>-ΔΔCt</sup> of mean Cts (first reference gene) is drawn beside each.</p>"]
    parts.append(_figure("Fold changes (95% intervals; classical estimate ×)",
                         lambda: _forest(folds, margin)))
    parts.append("<h3>Fold changes (folds.csv)</h3>" + _table(folds))
    if data.get("doses"):
        parts.append("<h3>Dose trend (dose.csv)</h3><p>Fold change per dose step, "
                     "P(each dose lower than the one before).</p>"
                     + _table(tables.dose_table(datatree, data["doses"])))
    parts.append("<h3>Missing Cts and how the model read them</h3>" + _missing(reactions))
    parts.append(_figure("Cts per sample (○ detected; ▲ missing, read as non-detect; "
                         "✕ missing, read as failed reaction)", lambda: _ct_plot(reactions,
                                                                                data)))
    parts.append(_stability(datatree, reactions, genes, data.get("model_terms") or {}))
    parts.append("<h3>Amplification efficiencies</h3>"
                 + _table(tables.efficiency_table(datatree, genes)))
    notes = data.get("notes") or []
    if notes:
        parts.append("<h3>What the reader did</h3><ul>" + "".join(
            f"<li>{html.escape(str(n))}</li>" for n in notes) + "</ul>")
    terms = data.get("model_terms", {})
    parts.append("<h3>Model terms</h3><p>" + html.escape(", ".join(
        f"{k}: {v}" for k, v in terms.items())) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _table(table: pd.DataFrame) -> str:
    shown = table.head(MAX_TABLE_ROWS)
    note = (f"<p>First {MAX_TABLE_ROWS} of {len(table)} rows (the CSV has all).</p>"
            if len(table) > MAX_TABLE_ROWS else "")
    return shown.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="",
                         escape=True, border=0) + note


def _missing(reactions: pd.DataFrame) -> str:
    missing = reactions[reactions.status != "detected"]
    if missing.empty:
        return "<p>No missing Cts.</p>"
    rows = []
    for gene, part in missing.groupby("gene", sort=False):
        failed = int((part.p_failed > 0.5).sum())
        rows.append(dict(gene=gene, missing=len(part),
                         above_limit=int((part.status == "above_limit").sum()),
                         read_as_failed=failed, read_as_non_detect=len(part) - failed))
    detail = missing[["line", "sample", "condition", "gene", "status", "p_failed"]]
    return _table(pd.DataFrame(rows)) + "<p>Each missing Ct (p_failed: posterior probability " \
        "that it was a failed reaction rather than a non-detect):</p>" + _table(detail)


def _forest(folds: pd.DataFrame, margin: float) -> Figure:
    shown = folds.head(MAX_FOREST_ROWS)
    fig = Figure(figsize=(7, 0.9 + 0.28 * len(shown)))
    ax = fig.add_subplot()
    y = np.arange(len(shown))[::-1]
    ax.errorbar(shown["median"], y, xerr=[shown["median"] - shown["q2.5"],
                                          shown["q97.5"] - shown["median"]],
                fmt="o", color=OKABE_ITO["blue"], label="posterior median, 95%")
    ax.plot(shown.classical_fold, y, "x", color=OKABE_ITO["vermillion"], label="classical 2^-ΔΔCt")
    ax.axvline(1, color="grey", lw=0.8)
    ax.axvline(1 / margin, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    # plain tick labels: the default 10^k labels go through mathtext, whose parser costs
    # seconds to build in every process
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [plain(f"{r.gene}: {r.condition} vs {r.control}")
                      for r in shown.itertuples()],
                  fontsize=SMALL)
    ax.set_xlabel("fold change, condition / control (2^-ΔΔCt, log scale)")
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _ct_plot(reactions: pd.DataFrame, data: dict) -> Figure:
    genes = list(dict.fromkeys(reactions.gene))[:MAX_CT_GENES]
    limit = float(data.get("max_cycle", 40))
    fig = Figure(figsize=(8, 2.2 * len(genes)))
    for i, gene in enumerate(genes):
        ax = fig.add_subplot(len(genes), 1, i + 1)
        part = reactions[reactions.gene == gene]
        samples = list(dict.fromkeys(part["sample"]))
        x = pd.Index(samples).get_indexer(part["sample"])
        found = part.status == "detected"
        ax.plot(x[found], part.ct[found], "o", mfc="none", color="C0", ms=4)
        failed = ~found & (part.p_failed > 0.5)
        ax.plot(x[~found & ~failed], np.full((~found & ~failed).sum(), limit), "^",
                color="C1", ms=6)
        ax.plot(x[failed], np.full(failed.sum(), limit), "x", color="C3", ms=7)
        ax.set_ylabel(plain(f"{gene}\nCt (cycles)"), fontsize=SMALL)
        ax.set_xticks(range(len(samples)), [plain(s.split("/")[-1]) for s in samples], fontsize=6,
                      rotation=90)
    fig.tight_layout()
    return fig


def _figure(title: str, draw: Callable[[], Figure]) -> str:
    try:
        with figure_style():
            fig = draw()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=90)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (f"<figure><img alt=\"{html.escape(title)}\" src=\"data:image/png;base64,"
                f"{encoded}\"><figcaption>{html.escape(title)}</figcaption></figure>")
    except Exception as error:  # a figure that fails is boxed, never a crash
        return (f'<div class="bad">Figure "{html.escape(title)}" could not be drawn: '
                f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</div>")
