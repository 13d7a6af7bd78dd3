"""Luciferase, Western blot and apoptosis run directories -> their table and report.

    write_tables(run_dir)   luciferase.csv | western.csv | apoptosis.csv
    report_section(run_dir) one self-contained <section> (heading, verdict, headline
                            table, figures as base64 PNG, classical beside, diagnostics)
    write_report(run_dir)   report.html: that section in a page of its own

Reads only the run directory (``posterior.nc``, ``run.json``, the saved inputs), never a
model. Each figure is drawn on its own: one that fails becomes a box naming the error.
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
from chemoshift.reports.mechanism import figures, tables

TABLE_FILE = {"luciferase": "luciferase.csv", "western": "western.csv",
              "apoptosis": "apoptosis.csv"}
INPUT_FILES = {"luciferase": ("wells.csv", "contrasts.csv"),
               "western": ("lanes.csv", "contrasts.csv"),
               "apoptosis": ("samples.csv", "groups.csv", "effects.csv")}
TITLES = {"luciferase": "Dual luciferase: does miR-379 repress the IGF1R 3'UTR?",
          "western": "Western blot: does miR-379 lower IGF1R protein?",
          "apoptosis": "Apoptosis: does miR-379 add to doxorubicin-induced cell death?"}
NUMERIC = {"firefly", "renilla", "log_ratio", "target", "loading", "dose", "apoptotic",
           "total", "group", "batch", "source_row", "a", "b", "c", "d"}


def read_inputs(run_dir: Path, assay: str) -> list[pd.DataFrame]:
    """The input tables saved in a run directory (names stay text: '01' is a name)."""
    out = []
    for name in INPUT_FILES[assay]:
        frame = pd.read_csv(Path(run_dir) / name, dtype=str, keep_default_na=False)
        for column in set(frame.columns) & NUMERIC:
            values = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")
            if values.notna().sum() == (frame[column] != "").sum():  # not a label like '40 nM'
                frame[column] = values
        out.append(frame)
    return out


def make_table(assay: str, datatree: DataTree, inputs: list[pd.DataFrame], record: dict
               ) -> pd.DataFrame:
    """The assay's table from the posterior, the saved inputs and the run record."""
    data = record["data"]
    keys = list(data.get("keys_present", []))
    margin = record["settings"]["margin"]
    if assay == "luciferase":
        wells, contrasts = inputs
        return tables.luciferase_table(datatree, wells, contrasts, data["reference_construct"],
                                       keys, margin)
    if assay == "western":
        lanes, contrasts = inputs
        return tables.western_table(datatree, lanes, contrasts, keys, data["has_dose"], margin)
    samples, groups, effects = inputs
    return tables.apoptosis_table(datatree, samples, groups, effects)


def write_tables(run_dir: Path, datatree: DataTree | None = None) -> pd.DataFrame:
    """Write the assay's table (luciferase.csv, western.csv or apoptosis.csv); return it."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    assay = record["assay"]
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    table = make_table(assay, datatree, read_inputs(run_dir, assay), record)
    files.write_csv(run_dir / TABLE_FILE[assay], table)
    return table


def report_section(run_dir: Path, datatree: DataTree | None = None) -> str:
    """One self-contained ``<section>`` for the run (no <html>/<head>), for a report of
    its own or a combined study report."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    assay = record["assay"]
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    inputs = read_inputs(run_dir, assay)
    path = run_dir / TABLE_FILE[assay]
    table = (_numeric(pd.read_csv(path, dtype=str, keep_default_na=False)) if path.is_file()
             else make_table(assay, datatree, inputs, record))
    data = record["data"]
    margin = record["settings"]["margin"]
    figures_drawn = _figures(assay, table, inputs, data, margin)
    diagnostics = record.get("diagnostics", {})
    sampler = record.get("settings", {}).get("sampler", {})
    template = _environment().get_template("mechanism_section.html")
    return template.render(
        assay=assay, heading=TITLES[assay], title=record.get("title") or run_dir.name,
        passed=diagnostics.get("passed", False),
        verdict=diagnostics.get("verdict", "not recorded"),
        explanation=_explanation(assay, data, margin),
        notes=[*(data.get("notes") or []), *_sensitivity_note(assay, table, data)],
        experiments=[str(e) for e in data.get("experiments") or []],
        table_html=_html(table), table_file=TABLE_FILE[assay], figures=figures_drawn,
        terms=_html(pd.DataFrame([{"term": k, **v} for k, v in
                                  (data.get("model_terms") or {}).items()])),
        diagnostics_table=_html(pd.DataFrame([{k: v for k, v in diagnostics.items()
                                               if k not in ("checked_variables", "failures")}])),
        sampler=sampler.get("sampler", "?"), seed=sampler.get("seed", "?"),
        chains=datatree["posterior"].sizes.get("chain", "?"),
        draws=datatree["posterior"].sizes.get("draw", "?"),
    )


def write_report(run_dir: Path, datatree: DataTree | None = None) -> Path:
    """(Re)write ``report.html``: the run's section in a page of its own."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    section = report_section(run_dir, datatree)
    page = _environment().get_template("mechanism.html").render(
        title=record.get("title") or run_dir.name, section=section,
        version=record.get("versions", {}).get("chemoshift", "?"),
        finished=record.get("finished", ""), record=json.dumps(record, indent=2))
    path = run_dir / "report.html"
    files.write_text(path, page)
    return path


def _explanation(assay: str, data: dict, margin: float) -> str:
    if assay == "luciferase":
        return (f"Ratio = (firefly/Renilla, treated) / (firefly/Renilla, control) per construct; "
                f"below 1 is repression. The interaction row divides a construct's ratio by the "
                f"reference construct's ({data.get('reference_construct')}): repression beyond "
                f"the mutant's. P(repressed) = P(ratio < 1); P(beyond margin) = P(ratio < "
                f"1/{margin:g}). Classical: ratio of means, Welch t-test on normalised ratios.")
    if assay == "western":
        return (f"Fold change of target/loading vs the control group; P(decrease) = P(fold < 1),"
                f" P(beyond margin) = P(fold < 1/{margin:g}); with doses, P(monotone decrease) "
                "= P(every higher dose lower than the one below it). Classical: lanes "
                "normalised to their blot's control lane, Welch t-test.")
    return ("Apoptotic fraction per cell line x treatment x drug (a typical experiment), then "
            "the miR effect without and with the drug and their interaction (does the miR add "
            "to the drug?) as odds ratios and as percentage points; P(positive) = P(odds "
            "ratio > 1). Classical: Welch t-tests on sample percentages; the interaction's p is "
            "the two-way ANOVA interaction test. Counts pooled over samples give the classical "
            "odds ratios (no p-value: 20,000 cells a sample make pooled-count tests absurdly "
            "certain).")


def _sensitivity_note(assay: str, table: pd.DataFrame, data: dict) -> list[str]:
    """The luciferase report's line on the experiment-deviation prior: the rows whose 95%
    interval moved by more than 10% at half and twice a fixed scale, or that it was learnt."""
    term = (data.get("model_terms") or {}).get("deviation")
    if assay != "luciferase" or term is None:
        return []
    if term.get("scale") != "fixed":
        return [f"The experiment-deviation scale was learnt from the data ({term.get('dof', '?')}"
                " degrees of freedom), not fixed by its prior: no prior-sensitivity refits; "
                "prior_sensitive reads False."]
    if "prior_sensitive" not in table:
        return []
    flagged = table.prior_sensitive.astype(str).str.lower().eq("true")
    head = (f"Too few experiments to learn how far they disagree ({term.get('dof', '?')} degrees "
            f"of freedom): the experiment-deviation scale is fixed at its prior value "
            f"{term.get('sd')}; refitted at half and twice it, ")
    if not flagged.any():
        return [head + "no row's 95% interval width moved by more than 10%."]
    names = [" · ".join(part for part in (
        str(row.get("cell_line", "")),
        f"interaction {row.construct_pair}" if row.construct == "interaction" else row.construct,
        f"{row.treatment} vs {row.control}") if part not in ("", "nan"))
        for _, row in table[flagged].iterrows()]
    return [head + f"the 95% interval width moved by more than 10% in {flagged.sum()} of "
            f"{len(table)} rows (prior_sensitive): {'; '.join(names)}."]


def _figures(assay: str, table: pd.DataFrame, inputs, data: dict, margin: float) -> list[dict]:
    keys = list(data.get("keys_present", []))

    def label(row, columns):
        return " · ".join(str(row[c]) for c in columns if c in row and str(row[c]) not in
                          ("", "nan", "-"))

    if assay == "luciferase":
        wells, _ = inputs
        labels = [label(r, [*keys, "construct_pair" if r.construct == "interaction"
                            else "construct", "treatment"])
                  + (" (interaction)" if r.construct == "interaction" else "")
                  for _, r in table.iterrows()]
        ratio = wells.firefly / wells.renilla
        base = wells.groupby(["cell_line", "construct"]).apply(
            lambda g: (g.firefly / g.renilla)[g.treatment.isin(set(table.control))].mean(),
            include_groups=False)
        normaliser = pd.MultiIndex.from_frame(wells[["cell_line", "construct"]]).map(base)
        names = (wells.cell_line.replace("-", "") + " " + wells.construct + " · "
                 + wells.treatment).str.strip()
        return [
            _render("Repression ratios (95% intervals)", lambda: figures.forest(
                table, labels, reference=1.0, log=True, margin=1 / margin,
                xlabel="ratio treated / control (log scale)")),
            _render("Wells: firefly/Renilla normalised to each construct's control mean",
                    lambda: figures.points_by_group(
                        ratio / np.asarray(normaliser, float), names, wells.experiment,
                        ylabel="normalised firefly/Renilla")),
        ]
    if assay == "western":
        lanes, _ = inputs
        labels = [label(r, [*keys, "condition", "dose"]) + f" vs {r.control}"
                  for _, r in table.iterrows()]
        names = (lanes.cell_line.replace("-", "") + " " + lanes.condition + " "
                 + lanes.dose_label.fillna("").astype(str)).str.strip()
        return [
            _render("Fold changes (95% intervals)", lambda: figures.forest(
                table, labels, reference=1.0, log=True, margin=1 / margin,
                xlabel="fold change of target/loading vs control (log scale)")),
            _render("Lanes: target/loading", lambda: figures.points_by_group(
                lanes.target / lanes.loading, names, lanes.experiment,
                ylabel="target / loading")),
        ]
    samples = inputs[0]
    effects = table[effect_rows(table)]
    fractions = table[~effect_rows(table)]
    names = (samples.cell_line.replace("-", "") + " " + samples.treatment + " · "
             + samples.drug).str.strip()
    intervals = pd.DataFrame({"median": fractions.fraction_median,
                              "q2.5": fractions["q2.5"], "q97.5": fractions["q97.5"]}) * 100
    out = [_render("Apoptotic percentage per sample, posterior fraction (95%) beside",
                   lambda: figures.points_by_group(
                       100 * samples.apoptotic / samples.total, names, samples.experiment,
                       ylabel="apoptotic cells (%)", log=False, intervals=intervals))]
    for scale, reference, log in (("odds_ratio", 1.0, True), ("percentage_points", 0.0, False)):
        rows = effects[effects.scale == scale]
        labels = [label(r, ["cell_line", "effect", "drug"]) for _, r in rows.iterrows()]
        out.append(_render(f"Effects of the miR ({scale.replace('_', ' ')}, 95% intervals)",
                           lambda rows=rows, labels=labels, reference=reference, log=log,
                           scale=scale: figures.forest(
                               rows, labels, reference=reference, log=log,
                               xlabel=scale.replace("_", " "))))
    return out


def effect_rows(table: pd.DataFrame) -> pd.Series:
    """Which rows of an apoptosis table are effect rows (the others are fractions)."""
    return table["effect"].fillna("").astype(str).str.strip() != ""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("chemoshift.reports", "templates"),
                              autoescape=jinja2.select_autoescape(["html"]))


def _render(title: str, make: Callable[[], Figure]) -> dict:
    """Draw and encode one figure; a failure becomes an error box, not a lost report."""
    before = set(plt.get_fignums())
    try:
        fig = make()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return {"title": title, "png": base64.b64encode(buffer.getvalue()).decode("ascii")}
    except Exception as error:  # any failure becomes a box in the report
        return {"title": title, "png": None,  # the template escapes the error's text
                "error": f"{type(error).__name__}: {error}"}
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="—",
                         border=0, escape=True)


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Columns whose non-empty cells all read as numbers become numbers."""
    out = table.copy()
    for column in out.columns:
        converted = pd.to_numeric(out[column].replace("", np.nan), errors="coerce")
        if converted.notna().sum() == (out[column] != "").sum() and converted.notna().any():
            out[column] = converted
    return out
