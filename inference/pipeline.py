"""Input file -> validated data -> model -> posterior -> run directory, for any assay."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from chemoshift.inference import run_dir as files
from chemoshift.inference.fit import DEFAULT_SETTINGS, FitResult, SamplerSettings, fit
from chemoshift.inference.registry import ASSAYS

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

    The input is validated before anything is written (``InputError`` on bad input);
    every file is written atomically. Returns the fit; ``result.diagnostics.passed``
    says whether the sampler can be trusted (the outputs say so too).
    """
    assay = ASSAYS[assay_name]
    started = files.now()
    data = assay.read(input_path, **(read_options or {}))
    priors = dataclasses.replace(assay.priors(), **(prior_overrides or {}))
    model = assay.build(data, priors)
    result = fit(model, settings)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files.write_datatree(run_dir / files.POSTERIOR, result.datatree)
    assay.save_inputs(data, run_dir)
    record = dict(
        chemoshift_run_format=1,
        assay=assay.name,
        title=title or Path(input_path).stem,
        started=started,
        finished=files.now(),
        command=sys.argv,
        versions=files.versions(),
        seed=settings.seed,
        inputs=[dict(path=str(path), sha256=digest) for path, digest in data.sources.items()],
        settings=dict(sampler=dataclasses.asdict(settings), margin=margin,
                      priors=dataclasses.asdict(priors), read=read_options or {}),
        data=assay.describe(data),
        timings=result.timings,
        diagnostics=result.diagnostics.as_dict(),
    )
    files.write_json(run_dir / files.RECORD, record)
    assay.write_tables(run_dir)
    assay.write_report(run_dir)
    return result
