"""Input file -> fit object -> run directory, and run directory -> fit object, for any assay.

A run directory is written in this order, into a staging folder renamed onto it at the
end: ``posterior.nc``, the validated inputs, ``run.json``, the tables, ``report.html``.
Once the posterior is on disk nothing after it may cost the fit: a table or report that
raises leaves the run complete, with a short ``report.html`` saying what failed and
where everything is, and a :class:`ReportFailedWarning`.
"""

from __future__ import annotations

import dataclasses
import html
import sys
import warnings
from pathlib import Path
from typing import Any

from chemoshift.assay import DEFAULT_MARGIN, Assay
from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.inference.fit import DEFAULT_SETTINGS, SamplerSettings
from chemoshift.registry import ASSAYS

__all__ = ["DEFAULT_MARGIN", "ReportFailedWarning", "load", "run_assay", "save_run"]

RUN_FORMAT = 1


class ReportFailedWarning(UserWarning):
    """The tables or the report of a run could not be written; the fit itself was saved."""


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
    overwrite: bool = False,
) -> Any:
    """Fit one assay file and write a complete run directory.

    The output folder is checked and locked before anything is read or sampled (an
    existing run is replaced only with ``overwrite``; a run directory another process is
    writing is refused), the input before anything is written (``InputError``). Returns
    the fit object (for dose response a :class:`~chemoshift.dose_response.DoseResponseFit`);
    ``result.diagnostics.passed`` says whether the sampler can be trusted (the outputs say
    so too).
    """
    assay = ASSAYS[assay_name]
    with files.run_lock(run_dir):
        _refuse_occupied(run_dir, overwrite)
        files.clean_leftovers(run_dir)  # what killed runs left: no live run holds the lock
        result = assay.fit(input_path, **(read_options or {}), priors=prior_overrides or None,
                           settings=settings, margin=margin, title=title)
        result.save(run_dir, overwrite=overwrite)
    return result


def save_run(result, run_dir: Path, *, overwrite: bool = False) -> Path:
    """Write ``result`` (a fit object of any registered assay) as a complete run directory.

    ``run_dir`` must be new or empty, or with ``overwrite`` an earlier run directory,
    which stays whole until the new one replaces it. A fit loaded from a run directory is
    written as it was recorded (the same run); a fresh fit gets a new ``run.json``. Sets
    ``result.record``, ``result.run_dir`` and ``result.report_error``; returns ``run_dir``.
    """
    run_dir = Path(run_dir)
    assay = ASSAYS[result.assay]
    if result.data is not None:
        record = _record(assay, result)
    elif result.record is not None:
        record = result.record
    else:
        raise ValueError("this fit has neither its data nor a run record: nothing to save")
    with files.run_lock(run_dir), files.staged_run_dir(run_dir) as staging:
        _refuse_occupied(run_dir, overwrite)
        files.write_datatree(staging / files.POSTERIOR, result.datatree)
        assay.save_inputs(result, staging)
        files.write_json(staging / files.RECORD, record)
        failure = _write_outputs(assay, staging, run_dir, result, record)
    result.record, result.run_dir, result.report_error = record, run_dir, failure
    if failure:
        warnings.warn(failure, ReportFailedWarning, stacklevel=3)
    return run_dir


def load(run_dir: str | Path) -> Any:
    """Read a run directory back into the fit object of its assay (no model, no sampler).

    Raises
    ------
    InputError when ``run_dir`` is not a chemoshift run directory.
    """
    run_dir = Path(run_dir)
    expected = "a run directory written by `chemoshift fit` or `.save(run_dir)`"
    if not run_dir.is_dir():
        raise InputError([Problem(str(run_dir), None, None, "no such folder", expected)])
    if not (run_dir / files.RECORD).is_file():
        raise InputError([Problem(str(run_dir), None, None,
                                  "not a chemoshift run directory (no run.json)", expected)])
    try:
        record = files.read_record(run_dir)
    except ValueError as error:
        raise InputError([Problem(str(run_dir / files.RECORD), None, None,
                                  f"unreadable ({error})", "the JSON run record")]) from error
    name = record.get("assay") if isinstance(record, dict) else None
    if name not in ASSAYS:
        raise InputError([Problem(str(run_dir / files.RECORD), None, "assay", repr(name),
                                  f"one of {sorted(ASSAYS)} (a newer chemoshift may know it)")])
    return ASSAYS[name].load(run_dir)


def _refuse_occupied(run_dir: Path, overwrite: bool) -> None:
    refusal = files.check_run_dir(run_dir, overwrite=overwrite)
    if refusal:
        raise InputError([Problem(str(run_dir), None, None, *refusal)])


def _record(assay: Assay, result) -> dict:
    return dict(
        chemoshift_run_format=RUN_FORMAT,
        assay=assay.name,
        title=result.title,
        started=result.started,
        finished=files.now(),
        command=sys.argv,
        versions=files.versions(),
        seed=result.settings.seed,
        inputs=[dict(path=str(path), sha256=digest)
                for path, digest in result.data.sources.items()],
        settings=dict(sampler=dataclasses.asdict(result.settings), margin=result.margin,
                      priors=dataclasses.asdict(result.priors), read=result.read_options),
        data=assay.describe(result.data, result.priors),
        timings=result.timings,
        diagnostics=result.diagnostics.as_dict(),
    )


def _write_outputs(assay: Assay, staging: Path, run_dir: Path, result, record: dict
                   ) -> str | None:
    """Write the tables and the report; on failure a stand-in report. Returns why it failed."""
    step = "tables"
    try:
        assay.write_tables(staging, result.datatree)
        step = "report"
        assay.write_report(staging, result.datatree)
        return None
    except Exception as error:  # the posterior is saved: nothing here may cost the fit
        reason = f"{type(error).__name__}: {error}"
    files.write_text(staging / "report.html", _failed_report(run_dir, record, step, reason))
    return (f"the {step} of {run_dir} could not be written ({reason}); the fit is saved "
            f"({files.POSTERIOR}, {files.RECORD}"
            f"{', summary.csv, shifts.csv' if step == 'report' else ''}) and report.html "
            "says what failed")


def _failed_report(run_dir: Path, record: dict, step: str, reason: str) -> str:
    """A self-contained page for a run whose report (or tables) could not be drawn."""
    saved = [(files.POSTERIOR, "the posterior (ArviZ DataTree, netCDF)"),
             (files.RECORD, "the run record: versions, settings, priors, diagnostics"),
             ("wells.csv, curves.csv", "the validated input as modelled")]
    if step == "report":
        saved.append(("summary.csv, shifts.csv", "the IC50 and fold-shift tables"))
    folder = html.escape(str(Path(run_dir).resolve()))
    rows = "\n".join(f"<li><code>{html.escape(name)}</code>: {html.escape(what)}</li>"
                     for name, what in saved)
    title = html.escape(str(record.get("title") or Path(run_dir).name))
    verdict = html.escape(str(record.get("diagnostics", {}).get("verdict", "unknown")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: report failed</title></head>
<body style="font-family: sans-serif; max-width: 60em; margin: 2em auto">
<h1>{title}</h1>
<p style="background: #fde2e1; padding: 0.6em"><strong>The {step} could not be written.</strong>
The fit itself is complete and saved.</p>
<p>Diagnostics: {verdict}</p>
<h2>Why</h2>
<pre>{html.escape(reason)}</pre>
<h2>Where the results are</h2>
<p>In <code>{folder}</code>:</p>
<ul>
{rows}
</ul>
<p>After fixing the cause (or upgrading chemoshift), write the report again with
<code>chemoshift report {folder}</code>. This is a bug: please report it with the error above.</p>
</body></html>
"""
