"""Run a study: fit every assay (in parallel, reusing unchanged fits), evaluate the
claims, write ``DIR/claims.csv``, ``DIR/study.json`` and ``DIR/report.html``.

A study folder holds one complete run directory per assay (``DIR/<assay>/``). Each
carries ``fit_key.json``: a hash of its input files' contents, read options, priors,
margin, sampler settings, the network / enrichment settings (expression) and the
chemoshift version. A run directory whose key matches is reused as it stands; any other
is refitted (the old one stays whole until the new one replaces it), so editing one
assay's file refits that assay alone, and a study killed midway resumes: each assay's run
directory is complete or absent (written beside and renamed into place), and the fits it
finished are reused. The study folder's own files (claims.csv, diagnostics.csv,
inputs.csv, report.html, then study.json last) are each written whole. One study at a time
writes a folder: a second is refused while the first holds its lock
(:func:`chemoshift.data.run_dir.run_lock`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz_base  # noqa: F401  # first, while imports are cheap: see chemoshift.cli

from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.exit_codes import EXIT_ERROR, EXIT_NOT_CONVERGED, EXIT_OK
from chemoshift.inference.fit import SamplerSettings
from chemoshift.study.spec import AssaySpec, NetworkSpec, Study

KEY_FILE = "fit_key.json"
RECORD = "study.json"
COST_ORDER = ("dose-response", "qpcr", "expression", "apoptosis", "luciferase", "western")
HEARTBEAT = 30.0  # seconds between progress lines while parallel fits run


@dataclass(frozen=True)
class FitJob:
    """One assay's fit as a worker process runs it (everything picklable)."""

    spec: AssaySpec
    run_dir: Path
    key: str
    settings: SamplerSettings
    network: NetworkSpec | None
    gmt: Path | None
    title: str


@dataclass(frozen=True)
class FitOutcome:
    """What became of one assay's fit."""

    assay: str
    run_dir: Path
    reused: bool
    exit_code: int
    seconds: float
    verdict: str


def sampler_settings(study: Study, *, progress: bool = False, **overrides) -> SamplerSettings:
    """The study's sampler settings: ``[sampler]``, the study seed, then ``overrides``."""
    chosen = {k: v for k, v in study.sampler.items() if k != "draws"}
    draws = overrides.pop("draws", None) or study.sampler.get("draws")
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    base = SamplerSettings(seed=study.seed, progress=progress)
    if draws:  # a fixed number of draws, as on the command line
        chosen.update(draws=draws, extend=False)
    return dataclasses.replace(base, **chosen)


def fit_key(spec: AssaySpec, settings: SamplerSettings, network: NetworkSpec | None,
            gmt: Path | None) -> str:
    """The hash that says whether a run directory can be reused for this fit."""
    from chemoshift.version import __version__

    options = {k: (files.file_hash(Path(v)) if k in ("samples", "annotation", "dilutions") and v
                   else v) for k, v in sorted(spec.read_options.items())}
    sampler = dataclasses.asdict(settings)
    sampler.pop("progress")
    content = dict(assay=spec.name, input=files.file_hash(spec.file), options=options,
                   priors=dict(sorted(spec.priors.items())), margin=spec.margin,
                   sampler=sampler, chemoshift=__version__)
    if spec.name == "expression":
        net = dataclasses.asdict(network) if network else None
        if net and net["file"]:
            net["file"] = files.file_hash(Path(net["file"]))
        content.update(network=net, gmt=files.file_hash(gmt) if gmt else None)
    return files.content_hash(content)


def reusable(run_dir: Path, key: str) -> bool:
    """Whether ``run_dir`` is a complete run written for exactly this ``key``."""
    try:
        recorded = json.loads((run_dir / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (recorded.get("key") == key and (run_dir / files.RECORD).is_file()
            and (run_dir / files.POSTERIOR).is_file())


STUDY_FILES = ("claims.csv", "diagnostics.csv", "inputs.csv", "report.html", RECORD)


def check_out_dir(out: Path, study: Study) -> None:
    """Refuse an output folder that holds something other than a study's results: an
    earlier study's folder (``study.json``), or one a study killed midway left (only
    run directories named for the study's assays and the study's own files), is fine."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError([Problem(str(out), None, None, "is a file",
                                  "a new folder, or one an earlier run of a study wrote")])
    if (out / RECORD).is_file():
        return
    foreign = [p.name for p in out.iterdir() if not p.name.startswith(".")
               and not (p.name in study.assays and p.is_dir()) and p.name not in STUDY_FILES]
    if foreign:
        raise InputError([Problem(str(out), None, None,
                                  f"holds {len(foreign)} entries that are not a study's "
                                  f"({', '.join(sorted(foreign)[:5])}) and no {RECORD}",
                                  "a new or empty folder, or one `chemoshift study` wrote "
                                  "(its fits are reused where nothing changed)")])


def run_fit(job: FitJob) -> FitOutcome:
    """Fit one assay into ``job.run_dir`` (in a worker process or in this one)."""
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from chemoshift.pipeline import ReportFailedWarning, run_assay

    start = time.perf_counter()
    print(f"chemoshift: fitting {job.spec.name} ({job.spec.file.name}) ...", file=sys.stderr,
          flush=True)
    logging.getLogger("pymc").setLevel(logging.WARNING)  # "Sampling: [...]" is noise here
    spec = job.spec
    with files.run_lock(job.run_dir):
        # the earlier fit stays whole until the new one replaces it, but is no longer this
        # fit's: without its key it is never reused, whenever this process dies
        (job.run_dir / KEY_FILE).unlink(missing_ok=True)
        try:
            with warnings.catch_warnings():  # the run directory and the report say these
                warnings.simplefilter("ignore", ReportFailedWarning)
                warnings.filterwarnings("ignore", message="Numba will use object mode")
                result = run_assay(spec.name, spec.file, job.run_dir,
                                   read_options=spec.read_options, prior_overrides=spec.priors,
                                   settings=job.settings, margin=spec.margin, title=job.title,
                                   overwrite=True)  # a study's own run directory
            missed = _network_steps(job) if spec.name == "expression" else None
        except BaseException:
            if job.run_dir.exists():  # a half-finished run: never reused
                (job.run_dir / KEY_FILE).unlink(missing_ok=True)
            raise
        if missed is None:  # a run whose network step failed is fitted again next time
            files.write_json(job.run_dir / KEY_FILE, dict(key=job.key))
    passed = result.diagnostics.passed
    verdict = result.diagnostics.verdict + (f" ({missed})" if missed else "")
    return FitOutcome(spec.name, job.run_dir, False, EXIT_OK if passed else EXIT_NOT_CONVERGED,
                      time.perf_counter() - start, verdict)


def _network_steps(job: FitJob) -> str | None:
    """The expression run's enrichment and STRING hub steps, with the study's settings.

    Returns None, or what failed (STRING unreachable with nothing cached, ...): the fit is
    kept, and the claims resting on the missing table say they cannot be evaluated.
    """
    from chemoshift.expression_commands import run_step

    enrich = ["enrich", str(job.run_dir)]
    if job.gmt:
        enrich += ["--gmt", str(job.gmt)]
    net = job.network or NetworkSpec()
    network = ["network", str(job.run_dir), "--hubs", str(net.hubs), "--score",
               str(net.score), "--measure", net.measure, "--evidence", net.evidence]
    if net.top:
        network += ["--top", str(net.top)]
    if net.file:
        network += ["--network", str(net.file)]
    failed = []
    for argv in (enrich, network):
        try:
            code = run_step(argv)
        except Exception as error:  # the fit is saved: a step after it may not cost it
            code = f"{type(error).__name__}: {error}"
        if code:
            failed.append(f"`chemoshift {argv[0]}` failed ({code}); see the messages above")
    return "; ".join(failed) or None


def fit_all(jobs: list[FitJob], workers: int, say: Callable[[str], None], *,
            heartbeat: bool = False) -> list[FitOutcome]:
    """Run ``jobs`` (reusing what can be reused), ``workers`` at a time; never raises for
    one fit's failure (its outcome has exit code 1). ``heartbeat``: say how far the
    parallel fits are every ``HEARTBEAT`` seconds (for an interactive terminal, where a
    sampler's own progress bar shows only with one fit at a time)."""
    outcomes: dict[str, FitOutcome] = {}
    todo = []
    for job in jobs:
        if reusable(job.run_dir, job.key):
            record = files.read_record(job.run_dir)
            diagnostics = record.get("diagnostics", {})
            code = EXIT_OK if diagnostics.get("passed") else EXIT_NOT_CONVERGED
            outcomes[job.spec.name] = FitOutcome(job.spec.name, job.run_dir, True, code, 0.0,
                                                 str(diagnostics.get("verdict", "")))
            say(f"reused {job.spec.name}: inputs and settings unchanged ({job.run_dir}/)")
        else:
            todo.append(job)
    total = len(todo)
    if not total:
        return [outcomes[job.spec.name] for job in jobs]
    todo.sort(key=lambda job: COST_ORDER.index(job.spec.name)
              if job.spec.name in COST_ORDER else len(COST_ORDER))
    say(f"fitting {total} assay(s), {min(workers, total)} at a time: "
        f"{', '.join(job.spec.name for job in todo)}")
    done = 0

    def finished(job: FitJob, outcome: FitOutcome) -> None:
        nonlocal done
        done += 1
        outcomes[job.spec.name] = outcome
        state = {EXIT_OK: "converged", EXIT_NOT_CONVERGED: "NOT CONVERGED"}.get(
            outcome.exit_code, "FAILED")
        say(f"[{done}/{total}] {job.spec.name} {state} in {outcome.seconds:.0f} s: "
            f"{outcome.verdict}")

    if workers <= 1 or total == 1:
        for job in todo:
            finished(job, _guarded(job))
    else:
        context = multiprocessing.get_context("spawn")  # no forked sampler or compiler state
        with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=context) as pool:
            futures = {pool.submit(_guarded, job): job for job in todo}
            pending, began = set(futures), time.perf_counter()
            while pending:  # each worker says when it starts a fit
                ready, pending = wait(pending, timeout=HEARTBEAT, return_when=FIRST_COMPLETED)
                for future in ready:
                    finished(futures[future], future.result())
                if not ready and heartbeat:
                    say(f"... {done}/{total} done, {len(pending)} to go "
                        f"({time.perf_counter() - began:.0f} s)")
    return [outcomes[job.spec.name] for job in jobs]


def _guarded(job: FitJob) -> FitOutcome:
    """``run_fit``, with any failure turned into an outcome (a worker never raises)."""
    start = time.perf_counter()
    try:
        return run_fit(job)
    except Exception as error:  # one assay's failure must not cost the others' fits
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        print(f"chemoshift: {job.spec.name} failed: {detail}", file=sys.stderr)
        return FitOutcome(job.spec.name, job.run_dir, False, EXIT_ERROR,
                          time.perf_counter() - start, f"the fit failed: {detail}")


def run_study(study: Study, out: Path, *, settings: SamplerSettings | None = None,
              workers: int | None = None, reuse: bool = True,
              say: Callable[[str], None] | None = None) -> tuple[int, Path]:
    """Fit, evaluate and report ``study`` into ``out``; returns (exit code, report path).

    Exit code: 0 every fit converged; 3 some fit did not (the claims resting on it say
    so); 1 some fit failed outright. The claims table and the report are written
    whatever became of the fits.
    """
    say = say or (lambda text: print(f"chemoshift: {text}", file=sys.stderr))
    out = Path(out)
    with files.run_lock(out):
        check_out_dir(out, study)
        out.mkdir(parents=True, exist_ok=True)
        for name in study.assays:  # what fits killed midway left (reused fits save nothing)
            with files.run_lock(out / name):
                files.clean_leftovers(out / name)
        return _run_study(study, out, settings, workers, reuse, say)


def _run_study(study: Study, out: Path, settings: SamplerSettings | None, workers: int | None,
               reuse: bool, say: Callable[[str], None]) -> tuple[int, Path]:
    started = files.now()
    settings = settings or sampler_settings(study)
    jobs = []
    for name, spec in study.assays.items():
        run_dir = out / name
        key = fit_key(spec, settings, study.network, study.enrichment_gmt)
        if not reuse:
            (run_dir / KEY_FILE).unlink(missing_ok=True)
        jobs.append(FitJob(spec, run_dir, key, settings, study.network, study.enrichment_gmt,
                           f"{study.title}: {spec.title}"))
    workers = workers or study.jobs or default_workers(len(jobs))
    start = time.perf_counter()
    outcomes = fit_all(jobs, workers, say, heartbeat=sys.stderr.isatty())
    run_dirs = {o.assay: o.run_dir for o in outcomes if (o.run_dir / files.RECORD).is_file()}
    claims = _claims(study, run_dirs, out, say)
    record = study_record(study, out, settings, outcomes, started, workers,
                          time.perf_counter() - start)
    (out / RECORD).unlink(missing_ok=True)  # written again last: this run is complete
    report = _report(study, out, run_dirs, claims, record, say)
    files.write_json(out / RECORD, record)
    codes = [o.exit_code for o in outcomes]
    code = EXIT_ERROR if EXIT_ERROR in codes else max(codes, default=EXIT_OK)
    return code, report


def default_workers(n_fits: int) -> int:
    """Fits at a time: one per core (each fit's chains share the cores; the compile steps,
    single-threaded, overlap), at most the number of fits."""
    return max(1, min(n_fits, os.cpu_count() or 1))


def _claims(study: Study, run_dirs: dict[str, Path], out: Path, say) -> Any:
    from chemoshift.reports.study.claims import evaluate_claims, write_claims

    claims = evaluate_claims(study.claims, run_dirs, study.verdict)
    write_claims(out / "claims.csv", claims)
    say(f"wrote {out / 'claims.csv'} ({len(claims)} claim rows)")
    return claims


def study_record(study: Study, out: Path, settings: SamplerSettings,
                 outcomes: list[FitOutcome], started: str, workers: int,
                 seconds: float) -> dict:
    """What DIR/study.json records: the study file and its hash, inputs with hashes,
    versions, seed, settings, and what became of each fit."""
    from chemoshift.version import __version__

    inputs = [dict(assay=name, path=study.relative(path), sha256=files.file_hash(path))
              for name, spec in study.assays.items() for path in spec.files]
    if study.network and study.network.file:
        inputs.append(dict(assay="network", path=study.relative(study.network.file),
                           sha256=files.file_hash(study.network.file)))
    if study.enrichment_gmt:
        inputs.append(dict(assay="enrichment", path=study.relative(study.enrichment_gmt),
                           sha256=files.file_hash(study.enrichment_gmt)))
    sampler = dataclasses.asdict(settings)
    sampler.pop("progress")
    return dict(
        chemoshift_study_format=1, title=study.title, study_file=str(study.path),
        study_sha256=files.file_hash(study.path), chemoshift_version=__version__,
        versions=files.versions(), seed=study.seed, started=started, finished=files.now(),
        seconds=round(seconds, 1), command=sys.argv,
        settings=dict(sampler=sampler, workers=workers, margin=study.margin,
                      verdict=dataclasses.asdict(study.verdict), chain=study.chain,
                      network=dataclasses.asdict(study.network) if study.network else None,
                      enrichment_gmt=study.relative(study.enrichment_gmt)
                      if study.enrichment_gmt else None,
                      assays={name: dict(file=study.relative(spec.file),
                                         read=spec.read_options, priors=spec.priors,
                                         margin=spec.margin)
                              for name, spec in study.assays.items()}),
        fits=[dict(assay=o.assay, run=o.run_dir.name, reused=o.reused, exit_code=o.exit_code,
                   seconds=round(o.seconds, 1), verdict=o.verdict) for o in outcomes],
        inputs=inputs,
    )


def _report(study: Study, out: Path, run_dirs: dict[str, Path], claims, record: dict,
            say) -> Path:
    """The study report; a report that fails never costs the fits or the claims table."""
    from chemoshift.reports.study.report import write_study_report

    try:
        path = write_study_report(out, title=study.title, run_dirs=run_dirs, claims=claims,
                                  record=record)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        say(f"warning: the study report could not be written ({reason}); the fits, "
            f"claims.csv and {RECORD} are complete")
        path = out / "report.html"
        files.write_text(path, _failed_page(study.title, reason))
        return path
    say(f"wrote {path} ({len(run_dirs)} run directories, {len(claims)} claim rows)")
    return path


def _failed_page(title: str, reason: str) -> str:
    import html

    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            "<p><strong>The study report could not be written.</strong> Every fit is saved "
            "in its run directory beside this file, with claims.csv and study.json.</p>"
            f"<pre>{html.escape(reason)}</pre><p>This is a bug: please report it.</p>"
            "</body></html>")
