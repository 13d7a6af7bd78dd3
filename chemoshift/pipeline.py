"""Input file -> validated data -> model -> posterior -> run directory, for any assay."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.inference.fit import DEFAULT_SETTINGS, FitResult, SamplerSettings, fit
from chemoshift.registry import ASSAYS

DEFAULT_MARGIN = 1.5  # a practically relevant sensitisation: IC50 down by at least 1.5-fold


def run_assay(
    assay_name: str,
    input_path: Path,
    run_dir: Path,
    *,
    read_options: dict | None = None,
    prior_overrides: dict | None = None,
    settings: SamplerSettings = DEFAULT_SETTINGS,
    margin: float = DEFAULT_MARGIN,
    title: str | None = None,
) -> FitResult:
    """Fit one assay file and write a complete run directory.

    The input and the output folder are checked before anything is written
    (``InputError``); the run directory is written whole, staged beside ``run_dir`` and
    renamed onto it at the end. Returns the fit; ``result.diagnostics.passed``
    says whether the sampler can be trusted (the outputs say so too).
    """
    assay = ASSAYS[assay_name]
    started = files.now()
    refusal = files.check_run_dir(run_dir)
    if refusal:
        raise InputError([Problem(str(run_dir), None, None, refusal, "a new or empty folder")])
    data = assay.read(input_path, **(read_options or {}))
    priors = dataclasses.replace(assay.priors(), **(prior_overrides or {}))
    model = assay.build(data, priors)
    result = fit(model, settings)

    with files.staged_run_dir(run_dir) as staging:
        _write_run(staging, assay, data, result, settings, priors, dict(
            title=title or Path(input_path).stem, started=started, margin=margin,
            read_options=read_options or {}))
    return result


def _write_run(run_dir: Path, assay, data, result: FitResult, settings: SamplerSettings,
               priors, context: dict) -> None:
    """Write every file of a run directory into ``run_dir`` (a staging folder)."""
    files.write_datatree(run_dir / files.POSTERIOR, result.datatree)
    assay.save_inputs(data, run_dir)
    record = dict(
        chemoshift_run_format=1,
        assay=assay.name,
        title=context["title"],
        started=context["started"],
        finished=files.now(),
        command=sys.argv,
        versions=files.versions(),
        seed=settings.seed,
        inputs=[dict(path=str(path), sha256=digest) for path, digest in data.sources.items()],
        settings=dict(sampler=dataclasses.asdict(settings), margin=context["margin"],
                      priors=dataclasses.asdict(priors), read=context["read_options"]),
        data=assay.describe(data),
        timings=result.timings,
        diagnostics=result.diagnostics.as_dict(),
    )
    files.write_json(run_dir / files.RECORD, record)
    assay.write_tables(run_dir, result.datatree)
    assay.write_report(run_dir, result.datatree)
