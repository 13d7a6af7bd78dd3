"""The mechanism assays as objects a script holds: luciferase, Western blot, apoptosis.

    import chemoshift

    fit = chemoshift.fit_luciferase("luciferase.csv", controls={"miR-379": "miR-NC"})
    fit.table()              # the table of luciferase.csv (interaction row included)
    fit.save("runs/luc")     # a complete run directory (report.html included)
    chemoshift.load("runs/luc")  # the same object back, from the files alone

``fit_western`` and ``fit_apoptosis`` are the same shape. Luciferase and Western blot share
one model (:mod:`chemoshift.models.log_ratio`); apoptosis is beta-binomial
(:mod:`chemoshift.models.apoptosis`). Tables come from ``chemoshift.reports``, so they are
the ones the report shows; run directories are ``chemoshift.pipeline``'s job.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from chemoshift import fit_object
from chemoshift.assay import Assay
from chemoshift.data import run_dir as files
from chemoshift.data.apoptosis import ApoptosisData, read_apoptosis
from chemoshift.data.luciferase import LuciferaseData, read_luciferase
from chemoshift.data.western import WesternData, read_western
from chemoshift.fit_object import DEFAULT_MARGIN, AssayFit
from chemoshift.inference import SamplerSettings, fit
from chemoshift.inference.fit import compile_model
from chemoshift.models import apoptosis as apoptosis_model
from chemoshift.models import log_ratio
from chemoshift.reports.mechanism import report as mechanism_report
from chemoshift.reports.mechanism.tables import SENSITIVITY_FACTORS, draws

EXAMPLES = {"luciferase": "luciferase.csv", "western": "western.csv",
            "apoptosis": "apoptosis.csv"}


@dataclass(eq=False, repr=False)
class MechanismFit(AssayFit):
    """A fitted mechanism model: the posterior, what it was fitted from, and how.

    ``data`` is the validated input (None for a fit loaded from a run directory, whose
    inputs are read back from its CSV files); ``datatree`` the ArviZ DataTree;
    ``diagnostics.passed`` whether the sampler can be trusted; the rest as for
    :class:`~chemoshift.dose_response.DoseResponseFit`.
    """

    assay: ClassVar[str] = ""


    def table(self) -> pd.DataFrame:
        """The assay's table (as luciferase.csv / western.csv / apoptosis.csv)."""
        record = self.record or {"data": describe(self.data, self.priors),
                                 "settings": {"margin": self.margin}}
        inputs = (self._input_tables() if self.data is not None
                  else mechanism_report.read_inputs(self.run_dir, self.assay))
        return mechanism_report.make_table(self.assay, self.datatree, inputs, record)

    @classmethod
    def demo_input(cls) -> tuple[Path, dict]:
        """The bundled example of this assay and the read options to fit it with."""
        return demo_input(cls.assay)

    def _input_tables(self) -> list[pd.DataFrame]:
        return [table for _, table in input_tables(self.data)]

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> MechanismFit:
        """Read a run directory of this assay back (no model, no sampler)."""
        return cls(**cls.saved_fields(run_dir, tuple(mechanism_report.INPUT_FILES[cls.assay]),
                                      priors=PRIORS[cls.assay]))

    def __repr__(self) -> str:
        table = self.table()
        lines = [f"{type(self).__name__} {self.title or ''!r}",
                 f"  diagnostics: {self.diagnostics.verdict}"]
        shown = table[mechanism_report.effect_rows(table)] if self.assay == "apoptosis" else table
        lines.append(shown.head(8).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        if self.run_dir is not None:
            lines.append(f"  run directory: {self.run_dir}")
        return "\n".join(lines)


class LuciferaseFit(MechanismFit):
    """A fitted dual-luciferase model (log firefly/Renilla with experiment effects)."""

    assay: ClassVar[str] = "luciferase"


class WesternFit(MechanismFit):
    """A fitted Western blot model (log target/loading with blot and experiment effects)."""

    assay: ClassVar[str] = "western"


class ApoptosisFit(MechanismFit):
    """A fitted beta-binomial apoptosis model."""

    assay: ClassVar[str] = "apoptosis"


PRIORS = {"luciferase": log_ratio.LogRatioPriors, "western": log_ratio.LogRatioPriors,
          "apoptosis": apoptosis_model.ApoptosisPriors}
READERS = {"luciferase": read_luciferase, "western": read_western,
           "apoptosis": read_apoptosis}
FITS = {"luciferase": LuciferaseFit, "western": WesternFit, "apoptosis": ApoptosisFit}


def build_model(data, priors=None):
    """The model of validated data of any of the three assays (the registry's ``build``)."""
    if isinstance(data, ApoptosisData):
        return apoptosis_model.build_model(data, priors or apoptosis_model.ApoptosisPriors())
    return log_ratio.build_model(data.log_ratio_table(), priors or log_ratio.LogRatioPriors())


def _fit(assay: str, source, *, priors=None, settings: SamplerSettings | None = None,
         margin: float = DEFAULT_MARGIN, title: str | None = None, **read_options
         ) -> MechanismFit:
    started = files.now()
    priors = resolve_priors(assay, priors)
    if not margin > 1:
        raise ValueError(f"margin {margin}: expected a fold change above 1")
    settings = settings if settings is not None else SamplerSettings()
    data = READERS[assay](source, **read_options)
    if isinstance(source, pd.DataFrame):
        title = title or f"{assay} fit"
    else:
        title = title or Path(source).stem
    model = build_model(data, priors)
    if assay == "luciferase" and deviation_fixed(data):
        result = _fit_with_sensitivity(data, model, priors, settings)
    else:
        result = fit(model, settings)
    recorded = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in read_options.items()}
    return FITS[assay](data=data, datatree=result.datatree, diagnostics=result.diagnostics,
                       settings=settings, priors=priors, margin=margin, title=title,
                       timings=result.timings, read_options=recorded, started=started)


def deviation_fixed(data) -> bool:
    """Whether the log-ratio model of ``data`` fixes ``deviation_sd`` at its prior value
    (too few degrees of freedom to learn it: see :mod:`chemoshift.models.log_ratio`)."""
    table = data.log_ratio_table()
    return log_ratio.has_deviation(table) and not log_ratio.deviation_learnt(table)


def _fit_with_sensitivity(data, model, priors, settings: SamplerSettings):
    """The fit, then refits at ``SENSITIVITY_FACTORS`` x the fixed ``deviation_sd`` with the
    model compiled once (the scale is a ``pm.Data``: only data are swapped). The 95% interval
    widths of ``ratio`` at each factor go to the DataTree group ``prior_sensitivity``
    (``ratio_interval_width``, dims ``prior_factor`` x ``contrast``; factor 1 is the fit),
    which the tables read (``prior_sensitive``); the refits' seconds to the timings."""
    start = time.perf_counter()
    compiled = compile_model(model) if settings.sampler == "nutpie" else None
    compile_seconds = time.perf_counter() - start
    result = fit(model, settings, reuse=compiled)
    result.timings["compile_seconds"] = compile_seconds
    start = time.perf_counter()
    quiet = dataclasses.replace(settings, progress=False, posterior_predictive=False)
    widths, worst_rhat = [_ratio_widths(result.datatree)], [result.diagnostics.max_rhat]
    for factor in SENSITIVITY_FACTORS[1:]:
        moved = dataclasses.replace(priors, deviation_sd=priors.deviation_sd * factor)
        refit = fit(build_model(data, moved), quiet, reuse=compiled)
        widths.append(_ratio_widths(refit.datatree))
        worst_rhat.append(refit.diagnostics.max_rhat)
    contrasts = result.datatree["posterior"]["ratio"].coords["contrast"].to_numpy()
    result.datatree["prior_sensitivity"] = xr.Dataset(
        {"ratio_interval_width": (("prior_factor", "contrast"), np.array(widths)),
         "max_rhat": ("prior_factor", np.array(worst_rhat, dtype=float))},
        coords={"prior_factor": np.array(SENSITIVITY_FACTORS), "contrast": contrasts})
    result.timings["prior_sensitivity_seconds"] = time.perf_counter() - start
    return result


def _ratio_widths(datatree) -> np.ndarray:
    """95% equal-tailed interval width of each contrast's ratio (contrast,)."""
    ratio = draws(datatree, "ratio")
    low, high = np.quantile(ratio, [0.025, 0.975], axis=0)
    return high - low


def fit_luciferase(source: str | Path | pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                   controls: Mapping[str, str] | None = None,
                   construct_control: str | None = None, background: float | None = None,
                   saturation: float | None = None, **options) -> LuciferaseFit:
    """Read luciferase wells (:mod:`chemoshift.data.luciferase`), fit, return the fit.

    ``options``: ``priors`` (a :class:`~chemoshift.models.log_ratio.LogRatioPriors` or
    overrides by name), ``settings``, ``margin`` (p_beyond_margin = P(ratio < 1/margin)),
    ``title``. Raises InputError for a bad input.
    """
    return _fit("luciferase", source, columns=columns, controls=controls,
                construct_control=construct_control, background=background,
                saturation=saturation, **options)


def fit_western(source: str | Path | pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                controls: Mapping[str, str] | None = None, dose_unit: str = "nM",
                **options) -> WesternFit:
    """Read Western blot lanes (:mod:`chemoshift.data.western`), fit, return the fit."""
    return _fit("western", source, columns=columns, controls=controls, dose_unit=dose_unit,
                **options)


def fit_apoptosis(source: str | Path | pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                  controls: Mapping[str, str] | None = None, drug_control: str | None = None,
                  **options) -> ApoptosisFit:
    """Read apoptosis samples (:mod:`chemoshift.data.apoptosis`), fit, return the fit."""
    return _fit("apoptosis", source, columns=columns, controls=controls,
                drug_control=drug_control, **options)


def resolve_priors(assay: str, priors):
    """Priors as given, or the defaults with overrides by name (unknown names refused)."""
    return fit_object.resolve_priors(PRIORS[assay], priors, f"{assay} model's")


def describe(data, priors) -> dict:
    """What run.json records about the data."""
    described = dict(keys_present=list(data.keys_present), experiments=data.experiments,
                     notes=list(data.notes), unknown_columns=list(data.unknown_columns),
                     has_experiments=data.has_experiments, controls=dict(data.controls))
    if isinstance(data, ApoptosisData):
        described.update(n_samples=len(data.samples), drug_control=data.drug_control,
                         drugs=list(data.drugs),
                         model_terms=apoptosis_model.model_terms(data, priors))
        return described
    table = data.log_ratio_table()
    described["model_terms"] = log_ratio.model_terms(table, priors)
    if isinstance(data, LuciferaseData):
        described.update(n_wells=len(data.wells), reference_construct=data.reference_construct)
    else:
        described.update(n_lanes=len(data.lanes), has_dose=data.has_dose,
                         dose_unit=data.dose_unit)
    return described


def input_tables(data) -> list[tuple[str, pd.DataFrame]]:
    """The validated inputs as saved in a run directory (file name, table)."""
    if isinstance(data, LuciferaseData):
        return [("wells.csv", data.wells), ("contrasts.csv", data.contrasts)]
    if isinstance(data, WesternData):
        return [("lanes.csv", data.lanes), ("contrasts.csv", data.contrasts)]
    return [("samples.csv", data.samples), ("groups.csv", data.groups),
            ("effects.csv", data.effects())]


def save_inputs(result: MechanismFit, run_dir: Path) -> None:
    """Write the validated inputs of a fit (a loaded fit copies its saved ones)."""
    if result.data is not None:
        for name, table in input_tables(result.data):
            files.write_csv(run_dir / name, table)
        return
    for name in mechanism_report.INPUT_FILES[result.assay]:
        files.write_text(run_dir / name, (result.run_dir / name).read_text(encoding="utf-8"))


def demo_input(assay: str) -> tuple[Path, dict]:
    """The bundled example of ``assay`` (a path inside the installed package) and the
    read options to fit it with, e.g. ``fit_luciferase(path, **options)``."""
    example = resources.files("chemoshift.data.example") / EXAMPLES[assay]
    options = {"luciferase": dict(controls={"miR-379": "miR-NC"},
                                  construct_control="IGF1R-3'UTR-MUT"),
               "western": dict(controls={"miR-379": "miR-NC"}),
               "apoptosis": dict(controls={"miR-379": "miR-NC"}, drug_control="vehicle")}
    return Path(str(example)), options[assay]


FITTERS = {"luciferase": fit_luciferase, "western": fit_western, "apoptosis": fit_apoptosis}


ASSAYS = {name: Assay(name=name, read=READERS[name], build=build_model, priors=PRIORS[name],
                      fit=FITTERS[name], load=FITS[name].from_run_dir, describe=describe,
                      save_inputs=save_inputs, write_tables=mechanism_report.write_tables,
                      write_report=mechanism_report.write_report)
          for name in FITS}
