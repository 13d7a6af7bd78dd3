"""Dose-response run directory -> tables (summary.csv, shifts.csv) and report.html.

Reads only the run directory (``posterior.nc``, ``run.json``, ``wells.csv``,
``curves.csv``), never a model, so a saved run can be reported again at any time.

The report scales with the screen and never costs the fit: curve panels come one drug a
page (at most 16 panels a figure) and only the first pages, up to ``MAX_CURVE_PANELS``
panels, are drawn (the report says which drugs were left out);
forest and classical figures are paginated and capped the same way; HTML tables show
every pooled row and cap per-curve rows (the CSV files hold them all). Every figure is
drawn in its own try/except: one that fails becomes a visible box naming it and the
error, and the rest of the report is written.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.reports.classical import fit_curves
from chemoshift.reports.dose_response import curves as curve_figures
from chemoshift.reports.dose_response import figures
from chemoshift.reports.dose_response.inputs import count_experiments, read_curves, read_wells
from chemoshift.reports.dose_response.tables import (
    shifts_table,
    summary_table,
    unconverged_curves,
)

MAX_CURVE_PANELS = 256  # pages of curves are drawn while their panels fit in this budget
MAX_FOREST_PAGES = 4
MAX_CLASSICAL_CURVES = 120  # least-squares fits are cheap, not free: 3,600 take ~40 s
MAX_TABLE_ROWS = 200  # per-curve rows in each HTML table
DPI, PAGE_DPI = 100, 72  # single figures, and figures of many pages
INTERNAL = ["log10_median", "log10_q2_5", "log10_q97_5"]
LONG_DIAGNOSTICS = ("checked_variables", "failures", "unit_failures", "elements", "advice",
                    "verdict")  # listed elsewhere in the report, or too long for a row
TEXT_COLUMNS = {"cell_line", "drug", "treatment", "control", "quantity", "unit", "note", "level",
                "experiment"}


def write_tables(run_dir: Path, datatree: DataTree | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write summary.csv and shifts.csv from the saved posterior; return both.

    ``datatree``: the posterior already in memory (as just saved), to skip reading it back.
    """
    summary, shifts = build_tables(run_dir, datatree)
    files.write_csv(Path(run_dir) / "summary.csv", summary)
    files.write_csv(Path(run_dir) / "shifts.csv", shifts)
    return summary, shifts


def build_tables(run_dir: Path, datatree: DataTree | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """summary.csv's and shifts.csv's tables from a run directory's saved inputs and a
    posterior (by default its own; a sharded fit passes one its second stage updated)."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    curves = read_curves(run_dir)
    keys = record["data"]["keys_present"]
    diagnostics = record.get("diagnostics")
    summary = summary_table(datatree, curves, keys, record["data"]["unit"], diagnostics)
    shifts = shifts_table(datatree, curves, keys, record["settings"]["margin"], diagnostics,
                          experiments=count_experiments(read_wells(run_dir)))
    return summary, shifts


def write_report(run_dir: Path, datatree: DataTree | None = None) -> Path:
    """(Re)write ``report.html`` in a run directory from the files saved there.

    ``datatree``: the posterior already in memory (as just saved), to skip reading it back.
    """
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    curves = read_curves(run_dir)
    wells = read_wells(run_dir)
    summary = _numeric(pd.read_csv(run_dir / "summary.csv", dtype=str, keep_default_na=False))
    shifts = _numeric(pd.read_csv(run_dir / "shifts.csv", dtype=str, keep_default_na=False))
    if "quantity" not in shifts:
        shifts.insert(0, "quantity", "ic50_relative")  # a run written before absolute shifts
    data = record["data"]
    keys = data["keys_present"]
    curve_keys = [k for k in keys if k != "treatment"]
    margin = record["settings"]["margin"]
    label = response_label(data.get("response_kind", "other"))
    relative_shifts = shifts[shifts.quantity == "ic50_relative"]

    rendered, notes = {}, {}
    unconverged = unconverged_curves(datatree, record.get("diagnostics"))
    rendered["curves"], notes["curve_note"] = _curve_figures(datatree, wells, curves,
                                                             data["unit"], label, unconverged)
    forest, left_out = figures.forest_pages(relative_shifts, curve_keys,
                                            max_pages=MAX_FOREST_PAGES)
    rendered["forest"] = [_render(f"Relative IC50 fold shifts: {title}",
                                  lambda t=table, n=title: figures.shift_forest(
                                      t, curve_keys, margin, title=n), dpi=PAGE_DPI)
                          for title, table in forest]
    notes["forest_note"] = (f"{left_out} per-comparison rows are not drawn (at most "
                            f"{MAX_FOREST_PAGES} pages); shifts.csv and the tables below have "
                            "them." if left_out else "")
    fitted = list(range(min(len(curves), MAX_CLASSICAL_CURVES)))
    classical = fit_curves(wells, curves=fitted)
    notes["classical_note"] = (
        f"Least-squares fits of the first {len(fitted)} of {len(curves)} curves only (each "
        "fit costs time; the hierarchical estimates of all curves are in summary.csv)."
        if len(fitted) < len(curves) else "")
    rendered["classical"] = [
        _render(f"Classical vs hierarchical relative IC50, curves {start + 1}-"
                f"{min(start + figures.FOREST_ROWS, len(classical))}",
                lambda part=classical.iloc[start:start + figures.FOREST_ROWS]:
                    figures.classical_comparison(summary, part, keys), dpi=PAGE_DPI)
        for start in range(0, len(classical), figures.FOREST_ROWS)]
    rendered["ppc"] = ([_render("Posterior predictive check",
                                lambda: figures.posterior_predictive(datatree))]
                       if figures.observed_variables(datatree) else [])
    if datatree["posterior"].sizes.get("chain", 1) > 1:  # ranks compare chains
        rendered["rank"] = [_render("Rank plots", lambda: figures.rank_plots(datatree))]
    for name, items in rendered.items():
        for i, item in enumerate(items):
            item["anchor"] = f"{name}-{i + 1}"

    sampler = record.get("settings", {}).get("sampler", {})
    diagnostics = record.get("diagnostics", {})
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("chemoshift.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    ).get_template("dose_response.html")
    html = template.render(
        title=record.get("title", run_dir.name),
        version=record.get("versions", {}).get("chemoshift", "?"),
        finished=record.get("finished", ""),
        seed=sampler.get("seed", "?"), sampler=sampler.get("sampler", "?"),
        chains=datatree["posterior"].sizes.get("chain", "?"),
        draws=datatree["posterior"].sizes.get("draw", "?"),
        tune=sampler.get("tune", "?"),
        passed=diagnostics.get("passed", False),
        population_passed=diagnostics.get("population_passed", False),
        advice=list(diagnostics.get("advice") or []),
        verdict=diagnostics.get("verdict", "not recorded"),
        unit_failures=_html(pd.DataFrame(
            [{"curve": label, "what failed": "; ".join(failed)}
             for label, failed in (diagnostics.get("unit_failures") or {}).items()]))
        if diagnostics.get("unit_failures") else "",
        margin=margin,
        reader_notes=list(data.get("notes") or []),
        unknown_columns=list(data.get("unknown_columns") or []),
        experiments=[str(e) for e in data.get("experiments") or []],
        size_note=(f"{len(curves)} curves, {len(relative_shifts)} relative shift rows "
                   f"({int((relative_shifts.level == 'curve').sum())} comparisons). "
                   + _sensitivity_note(shifts, record)),
        figures=rendered,
        ppc_note="No posterior predictive draws were saved with this run.",
        pooled_table=_html(_headline(relative_shifts, curve_keys)),
        shift_tables={q: _capped(_per_comparison(shifts, curve_keys, q), "shifts.csv")
                      for q in ("relative", "absolute")},
        summary_tables={q: _capped(summary[summary.quantity == f"ic50_{q}"]
                                   .drop(columns=INTERNAL, errors="ignore"), "summary.csv")
                        for q in ("relative", "absolute")},
        classical_table=_capped(_classical_rows(classical, curves, keys, summary), None),
        diagnostics_table=_html(pd.DataFrame([{k: v for k, v in diagnostics.items()
                                               if k not in LONG_DIAGNOSTICS}])),
        record=json.dumps(_shown_record(record), indent=2),
        **notes,
    )
    path = run_dir / "report.html"
    files.write_text(path, html)
    return path


def _shown_record(record: dict) -> dict:
    """run.json as the report shows it: per-element figures summarised (the CSV files and
    run.json have them all)."""
    diagnostics = record.get("diagnostics") or {}
    if "elements" not in diagnostics:
        return record
    summary = {name: f"{len(figures.get('rhat', []))} elements (in run.json)"
               for name, figures in diagnostics["elements"].items()}
    return record | {"diagnostics": diagnostics | {"elements": summary}}


def _curve_figures(datatree, wells, curves, unit, label, unconverged=()
                   ) -> tuple[list[dict], str]:
    """The first pages of curve panels (up to MAX_CURVE_PANELS panels), each drawn on its own;
    pages holding a curve that did not converge come first."""
    pages = curve_figures.pages(curves)
    failed = set(unconverged)
    if failed:
        of_panel = curve_figures.panel_curves(curves)
        pages.sort(key=lambda page: not any(failed.intersection(of_panel.get(panel, ()))
                                            for panel in page[1]))
    try:
        context = curve_figures.CurveContext(datatree, wells, curves, unit, unconverged)
    except Exception as error:  # any failure becomes a box in the report, not a lost report
        return [_failed("Fitted curves", error)], ""
    budget = np.cumsum([len(panels) for _, panels in pages]) <= MAX_CURVE_PANELS
    shown = pages[: max(1, int(budget.sum()))]
    items = [_render(f"Fitted curves: {title}",
                     lambda p=panels, t=title: curve_figures.draw_page(context, p, label, t),
                     dpi=PAGE_DPI if len(pages) > 1 else DPI)
             for title, panels in shown]
    note = ""
    if len(pages) > len(shown):
        left = list(dict.fromkeys(t.split(" (cell lines")[0] for t, _ in pages[len(shown):]))
        named = ", ".join(left[:12]) + (", ..." if len(left) > 12 else "")
        note = (f"Showing the first {len(shown)} of {len(pages)} pages of curves, to keep the "
                f"report small and quick to write (at most {MAX_CURVE_PANELS} panels); "
                f"{len(pages) - len(shown)} pages are left "
                f"out ({len(left)} drugs: {named})."
                " Their estimates are in summary.csv; draw them with "
                "chemoshift.reports.dose_response.figures.curve_panels(..., drugs=[...]).")
    return items, note


def _render(title: str, make: Callable[[], Figure], dpi: int = DPI) -> dict:
    """Draw and encode one figure; a failure becomes an error box, not a lost report."""
    before = set(plt.get_fignums())
    try:
        return {"title": title, "png": _png(make(), dpi)}
    except Exception as error:  # any failure becomes a box in the report, not a lost report
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        return _failed(title, error)


def _failed(title: str, error: Exception) -> dict:
    return {"title": title, "png": None, "error": f"{type(error).__name__}: {error}"}


def _sensitivity_note(shifts: pd.DataFrame, record: dict) -> str:
    """One line on the fixed curve scale's pull (shifts.csv ``prior_sensitive``)."""
    refitted = record.get("data", {}).get("prior_sensitivity")
    if not refitted or "prior_sensitive" not in shifts:
        return ""
    flagged = shifts.prior_sensitive.astype(str).str.lower().eq("true")
    return (f"Scales fixed for want of values ({', '.join(refitted['terms'])}) were refitted "
            f"at half and twice their value: {int(flagged.sum())} of {len(shifts)} shift rows "
            "moved their 95% width by more than 10% (prior_sensitive in shifts.csv).")


def _headline(shifts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if shifts.empty:
        return pd.DataFrame({"": ["No treatment has a matched control: no shifts to report."]})
    pooled = shifts[shifts[keys].eq("all").any(axis=1)] if keys else shifts
    most_pooled_first = pooled[keys].eq("all").sum(axis=1).sort_values(ascending=False,
                                                                       kind="stable")
    columns = [*keys, "treatment", "control", "median", "q2.5", "q97.5", "p_sensitised",
               "p_beyond_margin", "p_extrapolated", "level"]
    return pooled.loc[most_pooled_first.index, [c for c in columns if c in pooled]]


def _per_comparison(shifts: pd.DataFrame, keys: list[str], quantity: str) -> pd.DataFrame:
    rows = shifts[shifts.quantity == f"ic50_{quantity}"]
    if keys:
        rows = rows[~rows[keys].eq("all").any(axis=1)]
    return rows.drop(columns=INTERNAL, errors="ignore")


def _capped(table: pd.DataFrame, full: str | None) -> dict:
    """HTML of at most MAX_TABLE_ROWS rows, and a note saying where the rest are."""
    note = ""
    if len(table) > MAX_TABLE_ROWS:
        where = f"; the full table is in {full}" if full else ""
        note = f"First {MAX_TABLE_ROWS} of {len(table)} rows{where}."
        table = table.iloc[:MAX_TABLE_ROWS]
    return {"html": _html(table), "note": note}


def _classical_rows(classical, curves, keys, summary) -> pd.DataFrame:
    relative = summary[summary.quantity == "ic50_relative"].reset_index(drop=True)
    codes = classical["curve"].to_numpy(dtype=int)
    table = (curves[keys].iloc[codes].reset_index(drop=True).copy() if keys
             else pd.DataFrame(index=range(len(codes))))
    for column in ("median", "q2.5", "q97.5"):
        table[f"bayes_{column}"] = relative[column].iloc[codes].to_numpy()
    with np.errstate(over="ignore"):
        table["ls_ic50"] = 10 ** classical.log10_ic50.to_numpy(dtype=float)
        table["ls_low"] = 10 ** classical.log10_low.to_numpy(dtype=float)
        table["ls_high"] = 10 ** classical.log10_high.to_numpy(dtype=float)
    table["ls_hill"] = classical.hill.to_numpy()
    table["ls_converged"] = classical.converged.to_numpy()
    return table


def response_label(kind: str) -> str:
    """Axis label of the response for a run's ``response_kind``."""
    return {"absorbance": "absorbance (blank-subtracted)",
            "percent_viability": "viability (%)"}.get(kind, "response")


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—",
                         border=0, escape=True)


def _png(fig: Figure, dpi: int = DPI) -> str:
    try:
        buffer = io.BytesIO()  # pages have fixed margins: "tight" would lay them out again
        fig.savefig(buffer, format="png", dpi=dpi,
                    bbox_inches="tight" if dpi > PAGE_DPI else None)
    finally:
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Value columns that read as numbers become numbers; names stay text ('01' is a name)."""
    out = table.copy()
    for column in set(out.columns) - TEXT_COLUMNS:
        converted = pd.to_numeric(out[column].replace("", np.nan), errors="coerce")
        if converted.notna().sum() == (out[column] != "").sum():
            out[column] = converted
    return out
