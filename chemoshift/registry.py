"""Assay name -> how to read it, model it, fit it, save it, report it and load it back.

The command line and the pipeline look an assay up here and never branch on its
name; a new assay is one more entry. (This module and the command line sit on top
of all four layers, so they alone may import ``chemoshift.reports``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymc as pm

from chemoshift import expression as expression_assay
from chemoshift import mechanism, qpcr
from chemoshift.data import run_dir as files
from chemoshift.data.dose_response import DoseResponseData, read_dose_response
from chemoshift.data.geo import read_expression
from chemoshift.data.qpcr import read_qpcr
from chemoshift.dose_response import DoseResponseFit, fit_dose_response, sensitivity_terms
from chemoshift.models.dose_response import (
    DoseResponsePriors,
    build_model,
    model_forms,
    model_terms,
)
from chemoshift.models.expression import ExpressionPriors
from chemoshift.models.qpcr import QpcrPriors
from chemoshift.models.qpcr import build_model as qpcr_build_model
from chemoshift.reports import (
    dose_response_report,
    expression_report,
    expression_tables,
    qpcr_report,
)

DATA_EXTRAS = ("notes", "unknown_columns", "has_experiments")


@dataclass(frozen=True)
class Assay:
    """Everything the pipeline needs to know about one assay."""

    name: str
    read: Callable[..., Any]  # (path, **read options) -> validated data
    build: Callable[..., pm.Model]  # (data, priors) -> model
    priors: type  # frozen dataclass of prior scales with defaults
    fit: Callable[..., Any]  # (path or frame, **read options, priors=, settings=, margin=,
    #                            title=) -> the fit object a script holds
    load: Callable[[Path], Any]  # run dir -> the same fit object, from the files alone
    describe: Callable[[Any, Any], dict]  # (data, priors) -> what run.json records about it
    save_inputs: Callable[[Any, Path], None]  # (fit object, run dir) -> validated tables written
    write_tables: Callable[..., Any]  # (run dir, posterior in memory or None) -> CSV tables
    write_report: Callable[..., Path]  # (run dir, posterior in memory or None) -> report.html


def _describe_dose_response(data: DoseResponseData, priors: DoseResponsePriors) -> dict:
    described = dict(keys_present=list(data.keys_present), unit=data.unit,
                     response_kind=data.response_kind, controls=data.controls,
                     n_wells=len(data.wells), n_curves=len(data.curves),
                     n_plates=int(data.wells.plate.nunique()),
                     experiments=list(data.coords["experiment"]),
                     model_terms=model_terms(data, priors), model_forms=model_forms(data))
    refitted = sensitivity_terms(data, priors)
    if refitted:
        described["prior_sensitivity"] = {"terms": refitted, "factors": [0.5, 2.0]}
    for name in DATA_EXTRAS:  # what newer readers say about the data, when they say it
        value = getattr(data, name, None)
        if value is not None:
            described[name] = list(value) if isinstance(value, tuple | list) else value
    return described


def _save_dose_response_inputs(result: DoseResponseFit, run_dir: Path) -> None:
    files.write_csv(run_dir / "wells.csv", result.wells)
    files.write_csv(run_dir / "curves.csv", result.curves)


ASSAYS: dict[str, Assay] = {
    "dose-response": Assay(
        name="dose-response",
        read=read_dose_response,
        build=build_model,
        priors=DoseResponsePriors,
        fit=fit_dose_response,
        load=DoseResponseFit.from_run_dir,
        describe=_describe_dose_response,
        save_inputs=_save_dose_response_inputs,
        write_tables=dose_response_report.write_tables,
        write_report=dose_response_report.write_report,
    ),
    "expression": Assay(
        name="expression",
        read=read_expression,
        build=expression_assay.subset_model,
        priors=ExpressionPriors,
        fit=expression_assay.fit_expression,
        load=expression_assay.ExpressionFit.from_run_dir,
        describe=expression_assay.describe,
        save_inputs=expression_assay.save_inputs,
        write_tables=expression_tables.write_tables,
        write_report=expression_report.write_report,
    ),
}

ASSAYS.update({  # luciferase, western, apoptosis: see chemoshift.mechanism
    name: Assay(name=name, read=mechanism.READERS[name], build=mechanism.build_model,
                priors=mechanism.PRIORS[name], fit=mechanism.FITTERS[name],
                load=mechanism.FITS[name].from_run_dir, describe=mechanism.describe,
                save_inputs=mechanism.save_inputs,
                write_tables=mechanism.mechanism_report.write_tables,
                write_report=mechanism.mechanism_report.write_report)
    for name in mechanism.FITS
})


ASSAYS["qpcr"] = Assay(  # Ct model: see chemoshift.qpcr
    name="qpcr", read=read_qpcr, build=qpcr_build_model, priors=QpcrPriors, fit=qpcr.fit_qpcr,
    load=qpcr.QpcrFit.from_run_dir, describe=qpcr.describe, save_inputs=qpcr.save_inputs,
    write_tables=qpcr_report.write_tables, write_report=qpcr_report.write_report)


def assay_of_run(run_dir: Path) -> Assay:
    return ASSAYS[files.read_record(run_dir)["assay"]]
