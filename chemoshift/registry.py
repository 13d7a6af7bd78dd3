"""Assay name -> how to read it, model it, check it and report it.

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

from chemoshift.data import run_dir as files
from chemoshift.data.dose_response import DoseResponseData, read_dose_response
from chemoshift.models.dose_response import DoseResponsePriors, build_model
from chemoshift.reports import dose_response_report


@dataclass(frozen=True)
class Assay:
    """Everything the pipeline needs to know about one assay."""

    name: str
    read: Callable[..., Any]  # (path, **read options) -> validated data
    build: Callable[..., pm.Model]  # (data, priors) -> model
    priors: type  # frozen dataclass of prior scales with defaults
    describe: Callable[[Any], dict]  # data -> what run.json records about it
    save_inputs: Callable[[Any, Path], None]  # write the validated tables to the run dir
    write_tables: Callable[..., Any]  # (run dir, posterior in memory or None) -> CSV tables
    write_report: Callable[..., Path]  # (run dir, posterior in memory or None) -> report.html


def _describe_dose_response(data: DoseResponseData) -> dict:
    return dict(keys_present=list(data.keys_present), unit=data.unit,
                response_kind=data.response_kind, controls=data.controls,
                n_wells=len(data.wells), n_curves=len(data.curves),
                n_plates=int(data.wells.plate.nunique()))


def _save_dose_response_inputs(data: DoseResponseData, run_dir: Path) -> None:
    files.write_csv(run_dir / "wells.csv", data.wells)
    files.write_csv(run_dir / "curves.csv", data.curves)


ASSAYS: dict[str, Assay] = {
    "dose-response": Assay(
        name="dose-response",
        read=read_dose_response,
        build=build_model,
        priors=DoseResponsePriors,
        describe=_describe_dose_response,
        save_inputs=_save_dose_response_inputs,
        write_tables=dose_response_report.write_tables,
        write_report=dose_response_report.write_report,
    ),
}


def assay_of_run(run_dir: Path) -> Assay:
    return ASSAYS[files.read_record(run_dir)["assay"]]
