"""One object a script holds: fit wells, read the tables and figures, save, load back.

    import chemoshift

    fit = chemoshift.fit_dose_response("wells.csv")
    fit                      # verdict, curves, pooled shifts
    fit.ic50(), fit.shifts() # the tables of summary.csv and shifts.csv
    fit.plot_curves()        # matplotlib Figures, as the report shows them
    fit.save("runs/screen1") # a complete run directory (report.html included)
    chemoshift.load("runs/screen1")  # the same object back, from the files alone

The object pairs the posterior with what it was fitted from (CausalPy's experiment
objects are the shape); its tables and figures come from ``chemoshift.reports``, so they
are the ones the report shows. Writing and reading run directories is
``chemoshift.pipeline``'s job, for every assay alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from matplotlib.figure import Figure

from chemoshift import fit_object
from chemoshift.assay import Assay
from chemoshift.data import run_dir as files
from chemoshift.data.dose_response import (
    OPTIONAL,
    REQUIRED,
    DoseResponseData,
    read_dose_response,
    validate_wells,
)
from chemoshift.data.errors import InputError, Problem
from chemoshift.fit_object import DEFAULT_MARGIN, AssayFit
from chemoshift.inference import SamplerSettings, fit
from chemoshift.inference.diagnostics import Diagnostics, Units
from chemoshift.inference.fit import compile_model
from chemoshift.models import DoseResponsePriors, build_model
from chemoshift.models.dose_response import model_forms, model_terms
from chemoshift.models.dose_response_design import TERM_PRIOR, Design
from chemoshift.reports.dose_response import figures
from chemoshift.reports.dose_response import report as dose_response_report
from chemoshift.reports.dose_response.inputs import count_experiments, read_curves, read_wells
from chemoshift.reports.dose_response.report import response_label
from chemoshift.reports.dose_response.tables import (
    shifts_table,
    summary_table,
    unconverged_curves,
)

FRAME_NAME = "<DataFrame>"  # stands for a file name in messages about a frame of wells
MAX_PANELS = 16  # curve panels in one figure; ask for drugs to see the others
MAX_FOREST_ROWS = 60
MAX_REPR_SHIFTS = 6
# population parameters whose prior a failed fit's advice may name (scales: TERM_PRIOR)
POPULATION_PRIOR = {"drug_mean": "drug_mean_sd", "log_hill_drug": "log_hill_sd",
                    "shift_mean": "shift_mean_sd", "noise_floor": "noise_floor_sd",
                    "noise_cv": "noise_cv_sd", "log_top_mean": "log_top_sd"}
# per-element diagnostics kept for the tables (summary.csv, shifts.csv)
REPORTED = ("log10_ic50", "log10_ic50_absolute", "log10_shift", "log10_shift_drug",
            "log10_shift_pooled")


@dataclass(eq=False, repr=False)
class DoseResponseFit(AssayFit):
    """A fitted dose-response model: the posterior, what it was fitted from, and how.

    Attributes
    ----------
    data : the validated wells (:class:`~chemoshift.data.DoseResponseData`); None for a
        fit loaded from a run directory, whose ``wells`` and ``curves`` tables are read
        back from ``wells.csv`` and ``curves.csv`` instead.
    datatree : ArviZ DataTree: posterior (``log10_ic50`` (chain, draw, curve),
        ``fold_shift``, ...), posterior_predictive, observed_data, constant_data,
        sample_stats.
    diagnostics : convergence figures and the verdict (``diagnostics.passed``).
    settings : the sampler settings used.
    priors : the prior scales used.
    margin : practical fold shift; ``p_beyond_margin`` = P(shift < 1 / margin).
    title : title of the report.
    record : the run.json dict, once saved or loaded (None before).
    timings : seconds spent compiling, sampling, ... (from the fit).
    read_options : how the wells were read (columns, controls, unit, response_kind).
    started : when the fit started (ISO 8601, UTC).
    run_dir : the run directory it was last saved to or loaded from (None before).
    report_error : why the last ``save`` could not draw the report (None if it could).
    """

    assay: ClassVar[str] = "dose-response"

    data: DoseResponseData | None
    priors: DoseResponsePriors
    _saved_wells: pd.DataFrame | None = field(default=None, init=False)
    _saved_curves: pd.DataFrame | None = field(default=None, init=False)

    # -- what the fit was made from -------------------------------------------------------

    @property
    def wells(self) -> pd.DataFrame:
        """The wells as modelled, one row per well (see ``DoseResponseData.wells``)."""
        return self.data.wells if self.data is not None else self._saved_wells

    @property
    def curves(self) -> pd.DataFrame:
        """One row per curve in the model's curve order (see ``DoseResponseData.curves``)."""
        return self.data.curves if self.data is not None else self._saved_curves

    @property
    def keys(self) -> list[str]:
        """The key columns the input had (``cell_line``, ``drug``, ``treatment``)."""
        if self.data is not None:
            return list(self.data.keys_present)
        return list(self.record["data"]["keys_present"])

    @property
    def unit(self) -> str:
        """Concentration unit of the IC50s."""
        return self.data.unit if self.data is not None else self.record["data"]["unit"]

    @property
    def response_kind(self) -> str:
        if self.data is not None:
            return self.data.response_kind
        return self.record["data"]["response_kind"]

    # -- tables and figures, as the report shows them -------------------------------------

    def ic50(self) -> pd.DataFrame:
        """The IC50 table (as ``summary.csv``): one row per curve and quantity
        (``ic50_relative``, ``ic50_absolute``) with median, 95% intervals and
        ``p_beyond_range``, in ``unit``."""
        return summary_table(self.datatree, self.curves, self.keys, self.unit,
                             self.diagnostics.as_dict())

    def shifts(self) -> pd.DataFrame:
        """The fold-shift table (as ``shifts.csv``): one row per comparison, IC50(treatment)
        / IC50(control) with 95% interval, ``p_sensitised`` and ``p_beyond_margin``; pooled
        rows read ``all`` in the pooled key. Empty when no treatment has a control."""
        return shifts_table(self.datatree, self.curves, self.keys, self.margin,
                            self.diagnostics.as_dict(),
                            experiments=count_experiments(self.wells))

    def plot_curves(self, drugs: list[str] | None = None) -> Figure:
        """Wells, posterior median curve and 95% band per arm, one panel per cell line x
        drug (at most 16 panels; ``drugs`` picks which drugs to draw)."""
        if drugs is not None:
            drugs = [drugs] if isinstance(drugs, str) else list(drugs)
            known = list(pd.unique(self.curves.drug))
            unknown = [d for d in drugs if d not in known]
            if unknown:
                raise ValueError(f"drug(s) {unknown} not in this fit; its drugs are {known}")
        return figures.curve_panels(self.datatree, self.wells, self.curves, self.unit,
                                    response_label(self.response_kind),
                                    drugs=drugs, max_panels=MAX_PANELS,
                                    unconverged=unconverged_curves(
                                        self.datatree, self.diagnostics.as_dict()))

    def plot_shifts(self) -> Figure:
        """Forest plot of the fold shifts (median, 95% interval) on a log axis, pooled rows
        in red, the practical margin dashed."""
        shifts = self.shifts()
        if shifts.empty:
            fig = Figure(figsize=(6, 1.2))
            fig.text(0.5, 0.5, "No treatment has a matched control: no shifts to plot.",
                     ha="center", va="center")
            return fig
        curve_keys = [k for k in self.keys if k != "treatment"]
        return figures.shift_forest(shifts, curve_keys, self.margin, max_rows=MAX_FOREST_ROWS)

    # -- run directories ------------------------------------------------------------------

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> DoseResponseFit:
        """Read a dose-response run directory back (no model, no sampler)."""
        loaded = cls(**cls.saved_fields(run_dir, ("wells.csv", "curves.csv"),
                                        priors=DoseResponsePriors))
        run_dir = loaded.run_dir
        loaded._saved_wells = read_wells(run_dir)
        loaded._saved_curves = read_curves(run_dir)
        return loaded

    def __repr__(self) -> str:
        n_curves = len(self.curves)
        shifts = self.shifts()
        if "quantity" in shifts:  # the headline shifts are those of the relative IC50
            shifts = shifts[shifts.quantity == "ic50_relative"]
        comparisons = shifts[shifts.level == "curve"] if "level" in shifts else shifts
        lines = [f"DoseResponseFit {self.title or ''!r}: {n_curves} curve"
                 f"{'' if n_curves == 1 else 's'}, {len(comparisons)} comparison"
                 f"{'' if len(comparisons) == 1 else 's'}, {len(self.wells)} wells",
                 f"  diagnostics: {self.diagnostics.verdict}"]
        pooled = _pooled(shifts, [k for k in self.keys if k != "treatment"])
        if pooled.empty:
            lines.append("  no treatment has a matched control: no shifts")
        else:
            lines.append("  pooled fold shifts, treatment / control (95% interval):")
            for _, row in pooled.head(MAX_REPR_SHIFTS).iterrows():
                where = " · ".join(str(row[k]) for k in self.keys if k != "treatment")
                lines.append(f"    {where + ' · ' if where else ''}{row.treatment} vs "
                             f"{row.control}: {row['median']:.3g} ({row['q2.5']:.3g}-"
                             f"{row['q97.5']:.3g}), P(sensitised) {row.p_sensitised:.2f}")
            if len(pooled) > MAX_REPR_SHIFTS:
                lines.append(f"    ... {len(pooled) - MAX_REPR_SHIFTS} more in .shifts()")
        if self.run_dir is not None:
            lines.append(f"  run directory: {self.run_dir}")
        return "\n".join(lines)


REFIT_DRAWS = 1000  # a chain, per refit: a 95% width to a few percent
SENSITIVITY_TERMS = ("shift_drug", "shift_cell_line", "curve_effect")
SENSITIVITY_FACTORS = {"half": 0.5, "twice": 2.0}
SHIFT_VARIABLES = ("log10_ic50", "log10_ic50_absolute", "log10_shift", "log10_shift_drug",
                   "log10_shift_pooled")


def sensitivity_terms(data, priors: DoseResponsePriors) -> list[str]:
    """The shift and curve scales this design fixes for want of values (refitted at half
    and twice their value to measure their pull: :func:`_refit_at_other_scales`)."""
    return [name for name, term in model_terms(data, priors).items()
            if name in SENSITIVITY_TERMS and term["scale"] == "fixed"]


def _refit_at_other_scales(result, data, priors: DoseResponsePriors,
                           settings: SamplerSettings, fixed: list[str], compiled) -> None:
    """Refit with the ``fixed`` scales at each of ``SENSITIVITY_FACTORS`` (the model compiled
    once: fixed scales are data) and keep the refits' shift draws as DataTree groups
    ``prior_sensitivity_<name>``, from which shifts.csv's ``prior_sensitive`` is read."""
    start = time.perf_counter()
    quiet = dataclasses.replace(settings, progress=False, posterior_predictive=False,
                                extend=False, draws=settings.draws or REFIT_DRAWS)
    for name, factor in SENSITIVITY_FACTORS.items():
        moved = dataclasses.replace(priors, **{
            TERM_PRIOR[term]: getattr(priors, TERM_PRIOR[term]) * factor for term in fixed})
        refit = fit(build_model(data, moved), quiet, reuse=compiled)
        result.timings[f"prior_sensitivity_{name}_max_rhat"] = refit.diagnostics.max_rhat
        posterior = refit.datatree["posterior"].to_dataset()
        result.datatree[f"prior_sensitivity_{name}"] = posterior[
            [v for v in SHIFT_VARIABLES if v in posterior]]
    result.timings["prior_sensitivity_seconds"] = time.perf_counter() - start


def fit_dose_response(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, Any] | None = None,
    controls: Mapping[str, str] | None = None,
    unit: str = "uM",
    response_kind: str = "absorbance",
    priors: DoseResponsePriors | Mapping[str, float] | None = None,
    settings: SamplerSettings | None = None,
    margin: float = DEFAULT_MARGIN,
    title: str | None = None,
) -> DoseResponseFit:
    """Read wells, build the hierarchical dose-response model, sample it.

    Parameters
    ----------
    source : a CSV file of wells (one row per well; schema in
        :mod:`chemoshift.data.dose_response`) or a DataFrame with the same columns.
    columns : package column name -> your column name, e.g.
        ``{"concentration": "conc", "response": "rootl"}``.
    controls : treatment -> its matched control treatment (overrides a ``control`` column).
    unit : concentration unit when there is no ``unit`` column.
    response_kind : ``absorbance``, ``percent_viability`` or ``other``.
    priors : a :class:`~chemoshift.models.DoseResponsePriors`, or overrides by name,
        e.g. ``{"shift_mean_sd": 0.3}``.
    settings : sampler settings (default: ``SamplerSettings()``: a chain per core, 1000
        draws each at first, the chains running on until the ESS target is met).
    margin : practical fold shift (> 1): ``p_beyond_margin`` = P(shift < 1 / margin).
    title : title of the report (default: the file's name).

    Returns
    -------
    DoseResponseFit; ``fit.diagnostics.passed`` says whether the sampler can be trusted.

    Raises
    ------
    InputError (a ValueError) listing every problem of the input at once; ValueError for
    an unknown prior name or a margin not above 1.
    """
    started = files.now()
    priors = resolve_priors(priors)
    if not margin > 1:
        raise ValueError(f"margin {margin}: expected a fold change above 1 (1.5 asks for "
                         "P(shift < 1/1.5))")
    settings = settings if settings is not None else SamplerSettings()
    read_options = dict(columns=dict(columns or {}), controls=dict(controls) if controls else None,
                        unit=unit, response_kind=response_kind)
    if isinstance(source, pd.DataFrame):
        data = _validate_frame(source, **read_options)
        title = title or "dose-response fit"
    else:
        data = read_dose_response(source, **read_options)
        title = title or Path(source).stem
    return fit_data(data, priors=priors, settings=settings, margin=margin, title=title,
                    read_options=read_options, started=started)


def fit_data(data: DoseResponseData, *, priors: DoseResponsePriors, settings: SamplerSettings,
             margin: float, title: str, read_options: dict, started: str) -> DoseResponseFit:
    """Fit validated wells (what :func:`fit_dose_response` does after reading them; a
    screen's shards call it on each shard's wells)."""
    model = build_model(data, priors)
    fixed = sensitivity_terms(data, priors)
    start = time.perf_counter()
    compiled = compile_model(model) if fixed and settings.sampler == "nutpie" else None
    compile_seconds = time.perf_counter() - start
    result = fit(model, settings, units=curve_units(data, model), reported=REPORTED,
                 reuse=compiled)
    if compiled is not None:
        result.timings["compile_seconds"] = compile_seconds
    if fixed:
        _refit_at_other_scales(result, data, priors, settings, fixed, compiled)
    diagnostics = dataclasses.replace(
        result.diagnostics, advice=[*result.diagnostics.advice,
                                    *prior_advice(result.diagnostics, priors)])
    return DoseResponseFit(data=data, datatree=result.datatree, diagnostics=diagnostics,
                           settings=settings, priors=priors, margin=margin, title=title,
                           timings=result.timings, read_options=read_options, started=started)


def prior_advice(diagnostics: Diagnostics, priors: DoseResponsePriors) -> list[str]:
    """A firmer prior for each population parameter that failed and has one: a weakly
    identified scale or drug-level mean (a drug with no effect in range leaves its mean to
    the prior), as the ``--prior NAME=VALUE`` option that sets it (half the value used)."""
    steps = []
    for failure in diagnostics.failures:
        found = re.search(r"\(([^()]+)\)$", failure)
        variable = found.group(1) if found else ""
        term = variable.removesuffix("_sd")
        field = (TERM_PRIOR.get(term) if variable.endswith("_sd")
                 else POPULATION_PRIOR.get(variable))
        if field is None or any(f"--prior {field}=" in step for step in steps):
            continue
        value = float(f"{getattr(priors, field) / 2:.3g}")
        steps.append(f"{variable} is weakly identified ({failure.split(' (')[0]}): a firmer "
                     f"prior pulls it in, --prior {field}={value:g} (priors={{'{field}': "
                     f"{value:g}}}); compare the estimates with and without it")
    return steps


def curve_units(data: DoseResponseData, model) -> Units:
    """The curves as the units of the fit's diagnostics: a curve whose own parameters (IC50,
    slope, bottom, its experiments' IC50s, its plates' tops) fail is named, and every other
    curve's rows stand on their own diagnostics."""
    members = Design.from_data(data).curve_members()
    return Units(name="curve", labels=list(model.coords["curve"]), members=members)


def resolve_priors(priors: DoseResponsePriors | Mapping[str, float] | None) -> DoseResponsePriors:
    """Priors as given, or the defaults with overrides by name (unknown names refused)."""
    return fit_object.resolve_priors(DoseResponsePriors, priors, "dose-response model's")


def _validate_frame(frame: pd.DataFrame, *, columns: dict, controls, unit: str,
                    response_kind: str) -> DoseResponseData:
    """A frame of wells, its columns renamed to the package's, validated."""
    known = (*REQUIRED, *OPTIONAL)
    problems = []
    for ours, theirs in columns.items():
        if ours not in known:
            problems.append(Problem(FRAME_NAME, None, str(theirs),
                                    f"columns maps to unknown name {ours!r}",
                                    f"one of {sorted(known)}"))
        elif not isinstance(theirs, str):
            problems.append(Problem(FRAME_NAME, None, ours, f"several columns {theirs!r}",
                                    "one column per name (melt replicate columns into rows "
                                    "first, or read the file by its path)"))
        elif theirs not in frame.columns:
            problems.append(Problem(FRAME_NAME, None, theirs, "column not in the frame",
                                    f"one of its columns {list(frame.columns)}"))
        elif ours in frame.columns and ours != theirs:
            problems.append(Problem(FRAME_NAME, None, ours,
                                    f"columns maps {theirs!r} onto {ours!r}, which the frame "
                                    "already has", f"to rename or drop the frame's own {ours!r}"))
    if problems:
        raise InputError(problems)
    frame = frame.rename(columns={theirs: ours for ours, theirs in columns.items()})
    data = validate_wells(frame, FRAME_NAME, controls=controls, unit=unit,
                          response_kind=response_kind)
    digest = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
    return dataclasses.replace(data, sources={FRAME_NAME: digest})


def _pooled(shifts: pd.DataFrame, curve_keys: list[str]) -> pd.DataFrame:
    """The pooled rows of a shifts table, most pooled first (all rows if nothing pools)."""
    if shifts.empty or not curve_keys:
        return shifts
    pooled = shifts[shifts[curve_keys].eq("all").any(axis=1)]
    order = pooled[curve_keys].eq("all").sum(axis=1).sort_values(ascending=False, kind="stable")
    return pooled.loc[order.index]


DATA_EXTRAS = ("notes", "unknown_columns", "has_experiments")


def describe(data: DoseResponseData, priors: DoseResponsePriors) -> dict:
    """What run.json records about a dose-response data set and its model."""
    described = dict(keys_present=list(data.keys_present), unit=data.unit,
                     response_kind=data.response_kind, controls=data.controls,
                     n_wells=len(data.wells), n_curves=len(data.curves),
                     n_plates=int(data.wells.plate.nunique()),
                     experiments=list(data.coords["experiment"]),
                     model_terms=model_terms(data, priors), model_forms=model_forms(data, priors))
    refitted = sensitivity_terms(data, priors)
    if refitted:
        described["prior_sensitivity"] = {"terms": refitted, "factors": [0.5, 2.0]}
    for name in DATA_EXTRAS:  # what newer readers say about the data, when they say it
        value = getattr(data, name, None)
        if value is not None:
            described[name] = list(value) if isinstance(value, tuple | list) else value
    return described


def save_inputs(result: DoseResponseFit, run_dir: Path) -> None:
    files.write_csv(run_dir / "wells.csv", result.wells)
    files.write_csv(run_dir / "curves.csv", result.curves)


ASSAYS = {"dose-response": Assay(
    name="dose-response", read=read_dose_response, build=build_model,
    priors=DoseResponsePriors, fit=fit_dose_response, load=DoseResponseFit.from_run_dir,
    describe=describe, save_inputs=save_inputs,
    write_tables=dose_response_report.write_tables,
    write_report=dose_response_report.write_report)}
