"""Dose-response run directory -> tables (summary.csv, shifts.csv) and report.html.

Reads only the run directory (``posterior.nc``, ``run.json``, ``wells.csv``,
``curves.csv``), never a model, so a saved run can be reported again at any time.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.reports import dose_response_figures as figures
from chemoshift.reports.classical import fit_curves
from chemoshift.reports.dose_response_tables import shifts_table, summary_table

RANK_VARIABLES = ["shift_mean", "drug_mean", "log_hill_drug", "curve_sd", "sigma", "nu"]


def write_tables(run_dir: Path, datatree: DataTree | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write summary.csv and shifts.csv from the saved posterior; return both.

    ``datatree``: the posterior already in memory (as just saved), to skip reading it back.
    """
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    curves = _read_curves(run_dir)
    keys = record["data"]["keys_present"]
    summary = summary_table(datatree, curves, keys, record["data"]["unit"])
    shifts = shifts_table(datatree, curves, keys, record["settings"]["margin"])
    files.write_csv(run_dir / "summary.csv", summary)
    files.write_csv(run_dir / "shifts.csv", shifts)
    return summary, shifts


def write_report(run_dir: Path, datatree: DataTree | None = None) -> Path:
    """(Re)write ``report.html`` in a run directory from the files saved there.

    ``datatree``: the posterior already in memory (as just saved), to skip reading it back.
    """
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    curves = _read_curves(run_dir)
    wells = pd.read_csv(run_dir / "wells.csv", dtype={k: str for k in ("cell_line", "drug",
                                                                        "treatment", "plate")},
                        keep_default_na=False, na_values={"log10_concentration": [""]})
    summary = pd.read_csv(run_dir / "summary.csv", dtype=str, keep_default_na=False)
    shifts = pd.read_csv(run_dir / "shifts.csv", dtype=str, keep_default_na=False)
    keys = record["data"]["keys_present"]
    curve_keys = [k for k in keys if k != "treatment"]
    margin = record["settings"]["margin"]
    unit = record["data"]["unit"]
    numeric_summary = _numeric(summary)
    numeric_shifts = _numeric(shifts)
    classical = fit_curves(wells)
    rendered = {
        "curves": figures.curve_panels(datatree, wells, curves, unit,
                                       _response_label(record["data"]["response_kind"])),
        "classical": figures.classical_comparison(numeric_summary, classical, keys),
        "ppc": figures.posterior_predictive(datatree),
    }
    if datatree["posterior"].sizes["chain"] > 1:  # ranks compare chains
        rendered["rank"] = figures.rank_plots(datatree, RANK_VARIABLES)
    if len(shifts):
        rendered["forest"] = figures.shift_forest(numeric_shifts, curve_keys, margin)
    diagnostics = record["diagnostics"]
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("chemoshift.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    ).get_template("dose_response.html")
    html = template.render(
        title=record.get("title", run_dir.name),
        version=record["versions"].get("chemoshift", "?"),
        finished=record.get("finished", ""),
        seed=record["settings"]["sampler"]["seed"],
        sampler=record["settings"]["sampler"]["sampler"],
        chains=record["settings"]["sampler"]["chains"],
        draws=record["settings"]["sampler"]["draws"],
        tune=record["settings"]["sampler"]["tune"],
        passed=diagnostics["passed"],
        verdict=diagnostics["verdict"],
        margin=margin,
        figures={name: _png(fig) for name, fig in rendered.items()},
        pooled_table=_html(_headline(numeric_shifts, curve_keys)),
        shifts_table=_html(numeric_shifts.drop(columns=["log10_median", "log10_q2_5",
                                                        "log10_q97_5"], errors="ignore")),
        summary_table=_html(numeric_summary.drop(columns=["log10_median"], errors="ignore")),
        classical_table=_html(_classical_rows(classical, curves, keys, numeric_summary)),
        diagnostics_table=_html(pd.DataFrame([{k: v for k, v in diagnostics.items()
                                               if k not in ("checked_variables", "failures")}])),
        record=json.dumps(record, indent=2),
    )
    path = run_dir / "report.html"
    files.write_text(path, html)
    return path


def _read_curves(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "curves.csv", dtype={k: str for k in ("cell_line", "drug",
                                                                        "treatment", "control")},
                       keep_default_na=False)


def _headline(shifts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if shifts.empty:
        return pd.DataFrame({"": ["No treatment has a matched control: no shifts to report."]})
    pooled = shifts[shifts[keys].eq("all").any(axis=1)] if keys else shifts
    most_pooled_first = pooled[keys].eq("all").sum(axis=1).sort_values(ascending=False,
                                                                       kind="stable")
    return pooled.loc[most_pooled_first.index, [*keys, "treatment", "control", "median", "q2.5",
                                                "q97.5", "p_sensitised", "p_beyond_margin",
                                                "level"]]


def _classical_rows(classical, curves, keys, summary) -> pd.DataFrame:
    relative = summary[summary.quantity == "ic50_relative"].reset_index(drop=True)
    table = curves[keys].reset_index(drop=True).copy() if keys else pd.DataFrame(index=[0])
    table["bayes_median"] = relative["median"]
    table["bayes_q2.5"] = relative["q2.5"]
    table["bayes_q97.5"] = relative["q97.5"]
    table["ls_ic50"] = 10 ** classical.log10_ic50.to_numpy()
    table["ls_low"] = 10 ** classical.log10_low.to_numpy()
    table["ls_high"] = 10 ** classical.log10_high.to_numpy()
    table["ls_hill"] = classical.hill.to_numpy()
    table["ls_converged"] = classical.converged.to_numpy()
    return table


def _response_label(kind: str) -> str:
    return {"absorbance": "absorbance (blank-subtracted)",
            "percent_viability": "viability (%)"}.get(kind, "response")


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—",
                         border=0, escape=True)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


TEXT_COLUMNS = {"cell_line", "drug", "treatment", "control", "quantity", "unit", "note", "level"}


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Value columns that read as numbers become numbers; names stay text ('01' is a name)."""
    out = table.copy()
    for column in set(out.columns) - TEXT_COLUMNS:
        converted = pd.to_numeric(out[column].replace("", np.nan), errors="coerce")
        if converted.notna().sum() == (out[column] != "").sum():
            out[column] = converted
    return out
