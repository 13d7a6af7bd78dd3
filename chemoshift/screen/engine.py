"""Fitting shards on Dask: one task a shard, each writing ``shards/<name>/`` whole.

With no scheduler address, a :class:`distributed.LocalCluster` on this machine (one
worker a core, one thread each: NUTS chains are the parallelism inside a shard). With an
address, an existing ``dask.distributed`` scheduler (started by hand, by dask-jobqueue on
SLURM / PBS, or by dask-kubernetes). A shard is tried up to ``1 + retries`` times: a task
that raises is retried (``Client.submit(retries=...)``), and a task whose worker dies
(killed, out of memory, its node lost) is handed by the scheduler to a live worker, up to
the scheduler's ``allowed_failures`` deaths (set to ``retries`` on the LocalCluster; a
running scheduler keeps its own ``distributed.scheduler.allowed-failures``, 3 by
default), then fails with ``KilledWorker``. A shard's seed is its own, so a retried shard
draws what its first try would have. A shard failing every try is reported with its
error; the rest complete.

Resume: each shard's folder records the hash of its wells, settings and priors
(``shard.json``); a shard whose hash matches is not fitted again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError
from chemoshift.inference.fit import SamplerSettings
from chemoshift.models.dose_response_design import TERM_PRIOR
from chemoshift.screen.shards import SHARDS_FOLDER, Shard, read_shard
from chemoshift.version import __version__

SHARD_RECORD = "shard.json"
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class ShardOutcome:
    """What became of one shard: fitted, reused, or failed (``error`` says why)."""

    name: str
    key: str
    status: str  # "fitted", "reused", "bad input" or "failed"
    passed: bool = False
    verdict: str = ""
    seconds: float = 0.0
    error: str = ""
    pooled_scales: str = ""  # refitted at scales pooled over shards: "term=value; ..."


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to fit one shard (plain values: it travels by pickle)."""

    source: str
    shard_by: str
    shard: Shard
    read_options: dict
    priors: dict
    settings: SamplerSettings
    margin: float
    out: str
    refit_priors: dict | None = None  # a refit at pooled scales (chemoshift.screen.scales)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / SHARDS_FOLDER / self.shard.name


def shard_hash(data_digest: str, job: ShardJob) -> str:
    """The hash that says whether a shard's folder can be reused."""
    settings = dataclasses.asdict(job.settings)
    settings.pop("progress")
    return files.content_hash(dict(wells=data_digest, key=job.shard.key, seed=job.shard.seed,
                                   settings=settings, priors=job.priors, margin=job.margin,
                                   read=job.read_options, chemoshift=__version__))


def fit_shard(job: ShardJob) -> ShardOutcome:
    """Read, fit and save one shard (a worker's task); reuse its folder when unchanged."""
    import matplotlib

    matplotlib.use("Agg")
    from chemoshift.dose_response import fit_data, resolve_priors

    start = time.perf_counter()
    try:
        data = read_shard(job.source, job.shard_by, job.shard.key, **job.read_options)
    except InputError as error:  # the same on every try: not retried
        return ShardOutcome(job.shard.name, job.shard.key, "bad input", error=str(error))
    key = shard_hash(next(iter(data.sources.values())), job)
    record = job.run_dir / SHARD_RECORD
    saved = json.loads(record.read_text()) if record.is_file() else {}
    refit = json.loads(json.dumps(job.refit_priors)) if job.refit_priors else None
    # a shard's first fit is reused whether or not it was refitted since; a refit, only
    # if it was at the same scales
    if saved.get("hash") == key and (refit is None or saved.get("refit_priors") == refit):
        return ShardOutcome(job.shard.name, job.shard.key, "reused", saved["passed"],
                            saved["verdict"], time.perf_counter() - start,
                            pooled_scales=saved.get("pooled_scales", ""))
    settings = dataclasses.replace(job.settings, seed=job.shard.seed, progress=False,
                                   cores=job.settings.cores or _worker_threads())
    priors = job.refit_priors or job.priors
    fixed = "; ".join(f"{t}={priors[TERM_PRIOR[t]]:.4g}"
                      for t in priors.get("fixed_scales", ())) if refit else ""
    fit = fit_data(data, priors=resolve_priors(priors), settings=settings,
                   margin=job.margin, title=f"{job.shard_by} {job.shard.key}",
                   read_options=job.read_options, started=files.now())
    fit.save(job.run_dir, overwrite=True)  # the screen owns its shards' folders
    passed, verdict = fit.diagnostics.passed, fit.diagnostics.verdict
    files.write_json(record, dict(hash=key, key=job.shard.key, seed=job.shard.seed,
                                  passed=passed, verdict=verdict, refit_priors=refit,
                                  pooled_scales=fixed,
                                  shifts=shift_moments(fit.datatree, data.controls)))
    return ShardOutcome(job.shard.name, job.shard.key, "fitted", passed, verdict,
                        time.perf_counter() - start, pooled_scales=fixed)


def _worker_threads() -> int | None:
    """The threads of the Dask worker running this task (None outside a worker): nutpie
    runs that many chains at once, so a one-thread worker's chains share its core instead
    of oversubscribing the machine (the chains then run one after another)."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None


def shift_moments(datatree, controls: dict) -> dict:
    """Posterior mean and variance (log10 fold) of the shard's pooled shift per treated arm,
    with its control: what the second stage (:mod:`chemoshift.screen.pool`) reads."""
    if "log10_shift_pooled" not in datatree["posterior"]:
        return {}
    shift = datatree["posterior"]["log10_shift_pooled"]
    moments = {}
    for treatment in shift.coords["treated"].values:
        draws = shift.sel(treated=treatment).values.ravel()
        moments[str(treatment)] = dict(control=str((controls or {}).get(str(treatment), "")),
                                       mean=float(draws.mean()), var=float(draws.var(ddof=1)))
    return moments


def run_shards(jobs: list[ShardJob], *, scheduler: str | None = None,
               workers: int | None = None, retries: int = DEFAULT_RETRIES) -> list[ShardOutcome]:
    """Fit every shard on Dask; returns one outcome a shard, in the jobs' order."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or max(1, os.cpu_count() or 1),
                               threads_per_worker=1, processes=True, dashboard_address=":0",
                               scheduler_kwargs=dict(allowed_failures=retries))
    outcomes: dict[str, ShardOutcome] = {}
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = {client.submit(fit_shard, job, key=f"shard-{job.shard.name}",
                                     retries=retries, pure=False): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    outcomes[job.shard.name] = future.result()
                except Exception as error:  # every retry failed: named, the rest go on
                    outcomes[job.shard.name] = ShardOutcome(
                        job.shard.name, job.shard.key, "failed",
                        error=f"{type(error).__name__}: {error}")
    finally:
        if cluster is not None:
            cluster.close()
    return [outcomes[job.shard.name] for job in jobs]
