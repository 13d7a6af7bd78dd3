"""What every assay's fit object holds and does: the run's fields, ``save``, ``report``,
reading those fields back from a run directory, and how a fit shows itself (a plain
``repr`` in a terminal; in a notebook, ``_repr_html_``: the verdict box, the headline
table and where the run directory is).

Each assay's object (``DoseResponseFit``, ``QpcrFit``, ``LuciferaseFit``, ...) subclasses
:class:`AssayFit`, adding its own tables and what its run directory holds besides.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from xarray import DataTree

from chemoshift.assay import DEFAULT_MARGIN
from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.inference import Diagnostics, SamplerSettings
from chemoshift.pipeline import save_run
from chemoshift.registry import ASSAYS

# assay -> (method giving its headline table, the run directory's file of it, a column
# whose filled rows are the answer and come first: apoptosis's effects before fractions)
HEADLINES = {"dose-response": ("shifts", "shifts.csv", None),
             "qpcr": ("folds", "folds.csv", None),
             "luciferase": ("table", "luciferase.csv", None),
             "western": ("table", "western.csv", None),
             "apoptosis": ("table", "apoptosis.csv", "effect"),
             "expression": ("de", "de.csv", None)}
HEADLINE_ROWS = 10  # rows of the headline table a notebook shows
HEADLINE_COLUMNS = 18  # columns beyond this are elided ("...") in a notebook
TABLE_STYLE = (".chemoshift-table td, .chemoshift-table th {padding: 0.1em 0.5em; "
               "text-align: left; vertical-align: top} .chemoshift-table th, "
               ".chemoshift-nowrap td {white-space: nowrap}")


@dataclass(eq=False, repr=False)
class AssayFit:
    """A fit of one assay: the data, posterior, diagnostics, settings and run record."""

    assay: ClassVar[str] = ""

    data: Any  # the validated data; None for a fit read back from a run directory
    datatree: DataTree
    diagnostics: Diagnostics
    settings: SamplerSettings
    priors: Any  # the assay's frozen dataclass of prior scales
    margin: float = DEFAULT_MARGIN
    title: str | None = None
    record: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)
    read_options: dict = field(default_factory=dict)
    started: str = field(default_factory=files.now)
    run_dir: Path | None = None
    report_error: str | None = None

    def save(self, run_dir: str | Path, *, overwrite: bool = False) -> Path:
        """Write a complete run directory (posterior.nc, the validated inputs, run.json,
        the tables, report.html) and return its path.

        The folder must be new or empty, or with ``overwrite=True`` an earlier run
        directory (never a folder of other files); it is written beside and renamed into
        place whole, so the earlier run stays until the new one is complete. A report
        that fails does not cost the fit: the run is kept with a short report.html saying
        why (``report_error``, a warning).
        """
        return save_run(self, Path(run_dir), overwrite=overwrite)

    def report(self) -> Path:
        """Rewrite ``report.html`` in the run directory this fit was saved to or loaded
        from, and return its path."""
        if self.run_dir is None:
            raise ValueError("this fit has no run directory yet: call .save(run_dir), which "
                             "writes the report too")
        return ASSAYS[self.assay].write_report(self.run_dir, self.datatree)

    # -- how a fit shows itself ---------------------------------------------------------

    def headline(self) -> pd.DataFrame:
        """The assay's headline table, as its run directory's main CSV holds it: the fold
        shifts (dose-response; relative-IC50 rows), folds (qPCR), the assay's table
        (luciferase, Western blot, apoptosis) or the probes' DE table (expression)."""
        method, _, first = HEADLINES.get(self.assay, ("table", "", None))
        table = getattr(self, method)()
        if "quantity" in table and (table["quantity"] == "ic50_relative").any():
            table = table[table["quantity"] == "ic50_relative"]
        if "level" in table:  # pooled rows (reading `all` in their pooled keys) first
            pooled = (table.select_dtypes(exclude="number") == "all").sum(axis=1)
            table = table.iloc[np.argsort(-pooled.to_numpy(), kind="stable")]
        if first in table:
            filled = table[first].notna() & (table[first].astype(str) != "")
            table = table.iloc[np.argsort(~filled.to_numpy(), kind="stable")]
        return table.reset_index(drop=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} {self.title or ''!r}",
                 f"  diagnostics: {self.diagnostics.verdict}"]
        try:
            table = self.headline()
            lines.append(table.head(HEADLINE_ROWS).to_string(
                index=False, float_format=lambda v: f"{v:.3g}"))
        except Exception as error:  # a repr never raises
            lines.append(f"  (no headline table: {type(error).__name__}: {error})")
        lines.append(f"  run directory: {self.run_dir}" if self.run_dir is not None
                     else "  not saved: .save(run_dir) writes the run directory")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The notebook view: the verdict box (converged or not, and the diagnostics), the
        headline table's first rows, and where the run directory is."""
        method, csv, _ = HEADLINES.get(self.assay, ("table", "", None))
        try:
            table = self.headline()
            head, constant = _compact(table.head(HEADLINE_ROWS))
            shown = html_table(head)
            caption = (f"<code>.headline()</code>: <code>.{method}()</code>"
                       + (f" (as <code>{csv}</code>)" if csv else ""))
            if len(table) > HEADLINE_ROWS:
                caption += f", the first {HEADLINE_ROWS} of {len(table)} rows"
            if constant:
                caption += html.escape("; the same in every row shown: " + ", ".join(
                    f"{name} {value}" for name, value in constant.items()))
        except Exception as error:  # a repr never raises
            shown, caption = "", html.escape(f"no headline table: {type(error).__name__}: "
                                             f"{error}")
        if self.run_dir is not None:
            where = (f"Run directory: <code>{html.escape(str(self.run_dir))}</code> "
                     "(<code>report.html</code>, the tables, <code>posterior.nc</code>, "
                     "<code>run.json</code>)")
        else:
            where = ("Not saved yet: <code>.save(run_dir)</code> writes the run directory "
                     "with its report.")
        title = f"{type(self).__name__} {self.title or ''}"
        return (f'<div class="chemoshift-fit">'
                f"{verdict_box(title, self.diagnostics)}"
                f'<p style="margin:0.4em 0">{caption}</p>{shown}'
                f'<p style="margin:0.4em 0">{where}</p></div>')

    @classmethod
    def saved_fields(cls, run_dir: str | Path, needed: tuple[str, ...], *, priors: type,
                     diagnostics: type = Diagnostics, what: str | None = None) -> dict:
        """The fields above, read from ``run_dir`` (no model, no sampler), as keyword
        arguments of ``cls``; ``needed``: the files besides run.json and posterior.nc.

        Raises
        ------
        InputError when a file is missing (``what`` names the run directory expected).
        """
        run_dir = Path(run_dir)
        missing = [n for n in (files.RECORD, files.POSTERIOR, *needed)
                   if not (run_dir / n).is_file()]
        if missing:
            raise InputError([Problem(str(run_dir), None, None, f"{', '.join(missing)} missing",
                                      f"a complete {what or cls.assay} run directory")])
        record = files.read_record(run_dir)
        settings = record["settings"]
        return dict(data=None, datatree=files.read_datatree(run_dir),
                    diagnostics=known_fields(diagnostics, record["diagnostics"]),
                    settings=known_fields(SamplerSettings, settings["sampler"]),
                    priors=known_fields(priors, settings["priors"]),
                    margin=settings.get("margin", DEFAULT_MARGIN), title=record.get("title"),
                    record=record, timings=record.get("timings", {}),
                    read_options=settings.get("read", {}), started=record.get("started", ""),
                    run_dir=run_dir)


def verdict_box(title: str, diagnostics: Diagnostics) -> str:
    """An HTML box: the title, whether the sampler can be trusted (green or red), the
    verdict in words and the worst-case diagnostics."""
    passed = diagnostics.passed
    colour, background = ("#1a7f37", "#e6f4ea") if passed else ("#b42318", "#fde2e1")
    state = "converged" if passed else "NOT CONVERGED: do not read these numbers as answers"
    figures = [(name, value) for name, value in (
        ("max R-hat", _figure(diagnostics.max_rhat, "{:.3f}")),
        ("min bulk ESS", _figure(diagnostics.min_ess_bulk, "{:.0f}")),
        ("min tail ESS", _figure(diagnostics.min_ess_tail, "{:.0f}")),
        ("divergences", _figure(diagnostics.divergences, "{:.0f}")),
        ("min E-BFMI", _figure(diagnostics.min_bfmi, "{:.2f}"))) if value]
    cells = " &middot; ".join(f"{name} {value}" for name, value in figures)
    return (f'<div style="border-left:6px solid {colour};background:{background};'
            f'color:#1f2328;padding:0.5em 0.8em;margin:0.3em 0">'
            f"<strong>{html.escape(title)}</strong><br>"
            f'<strong style="color:{colour}">{html.escape(state)}</strong><br>'
            f"<small>{html.escape(diagnostics.verdict)}</small>"
            f"{'<br><small>' + cells + '</small>' if cells else ''}</div>")


def html_table(table: pd.DataFrame, *, wrap: bool = False) -> str:
    """A table as compact HTML (3 significant digits; wide tables elided in the middle;
    cells on one line unless ``wrap``: for sentences)."""
    classes = "dataframe chemoshift-table" + ("" if wrap else " chemoshift-nowrap")
    body = table.to_html(index=False, max_cols=HEADLINE_COLUMNS, na_rep="", justify="left",
                         float_format=_number, border=0, classes=classes)
    return (f"<style>{TABLE_STYLE}</style>"
            f'<div style="overflow-x:auto">{body}</div>')


def _number(value: float) -> str:
    """3 significant digits; whole thousands (an ESS) without an exponent."""
    return f"{value:.0f}" if 1e3 <= abs(value) < 1e7 else f"{value:.3g}"


def _compact(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """A table too wide to show without the columns that hold one value in every row
    (returned by name, for the caption); a narrow one as it is."""
    if len(table) < 2 or table.shape[1] <= HEADLINE_COLUMNS:
        return table, {}
    text = table.astype(str)
    constant = [c for c in table.columns if text[c].nunique() == 1]
    values = {c: (f"{table[c].iloc[0]:.3g}" if isinstance(table[c].iloc[0], float)
                  else str(table[c].iloc[0])) for c in constant}
    return table.drop(columns=constant), {c: v or "(blank)" for c, v in values.items()}


def _figure(value, form: str) -> str:
    """A diagnostic figure in words ('' when it is not a finite number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return form.format(number) if np.isfinite(number) else ""


def known_fields(cls: type, values: dict):
    """A dataclass from a run.json dict, ignoring fields this version does not know."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in values.items() if k in names})


def resolve_priors(kind: type, priors, what: str):
    """``priors`` as given (a ``kind``), or ``kind``'s defaults with overrides by name;
    unknown names and non-numbers are refused. ``what`` names the model in messages."""
    if priors is None:
        return kind()
    if isinstance(priors, kind):
        return priors
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors: expected {kind.__name__} or a dict of overrides by name, "
                        f"got {type(priors).__name__}")
    known = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(set(priors) - set(known))
    if unknown:
        raise ValueError(f"unknown prior(s) {unknown}; the {what} priors are {known} "
                         f"(see {kind.__name__})")
    try:  # a grid (a sequence) stays one; every other override is a number
        values = {name: tuple(value) if isinstance(value, list | tuple) else float(value)
                  for name, value in priors.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"priors: every override must be a number ({error})") from error
    return dataclasses.replace(kind(), **values)
