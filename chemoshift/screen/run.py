"""A sharded dose-response fit, end to end: plan the shards, fit them on Dask, pool what
they share, write one run directory.

    RUN_DIR/shards/<name>/   each shard's complete run directory (report.html included)
    RUN_DIR/shards.csv       one row a shard: key, status, converged, verdict, error
    RUN_DIR/summary.csv      every shard's IC50 rows, with the shard's key
    RUN_DIR/shifts.csv       every shard's per-curve shifts, then the second stage's rows
                             (each shard's drug shift shrunk toward the others, the pooled)
                             Per-curve rows here carry what the other shards know of the
                             cell lines (chemoshift.screen.combine); shards/ hold each alone
    RUN_DIR/run.json         versions, seed, input and its hash, settings, shards, pooling
    RUN_DIR/report.html      what the pooled shift rests on, and every shard's diagnostics

Running the same command again into a partial run (shards/ but no run.json: a run killed
halfway) resumes it: only the shards whose wells or settings changed, or that are missing,
are fitted. A complete run (run.json) is refused unless ``overwrite`` (``--overwrite``),
which removes its run.json first and then resumes the same way, so unchanged shards are
reused there too. run.json is written last: it marks the run complete. One run at a time
writes a folder (a lock beside it: :func:`chemoshift.data.run_dir.run_lock`).
"""

from __future__ import annotations

import dataclasses
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.assay import DEFAULT_MARGIN
from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.dose_response import resolve_priors
from chemoshift.exit_codes import EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_OK, EXIT_PARTIAL
from chemoshift.inference.fit import SamplerSettings
from chemoshift.models.dose_response import DoseResponsePriors
from chemoshift.reports.dose_response.report import build_tables
from chemoshift.screen import combine, scales
from chemoshift.screen.engine import SHARD_RECORD, ShardJob, ShardOutcome, run_shards
from chemoshift.screen.pool import likelihood, pool_shifts, pooled_rows
from chemoshift.screen.shards import SHARDS_FOLDER, input_hash, plan_shards, shard_seed

SCREEN_FORMAT = 1


@dataclass(frozen=True)
class ScreenResult:
    """A sharded fit's outcome: the run directory, each shard's outcome, the exit code."""

    run_dir: Path
    shards: list[ShardOutcome]
    exit_code: int
    pooled: pd.DataFrame


def fit_screen(source: str | Path, out: str | Path, *, shard_by: str = "drug",
               scheduler: str | None = None, workers: int | None = None,
               read_options: dict | None = None, priors: dict | None = None,
               settings: SamplerSettings | None = None, margin: float = DEFAULT_MARGIN,
               retries: int = 2, overwrite: bool = False) -> ScreenResult:
    """Fit ``source`` shard by shard into ``out`` and pool the treatment shift (see the
    module docstring). Exit code: 0, 2 (a shard's wells are bad: named, with file, line
    and column, in shards.csv; the other shards are fitted), 3 (a shard did not converge)
    or 5 (a shard failed every retry)."""
    source, out = Path(source), Path(out)
    with files.run_lock(out):
        refusal = screen_folder_refusal(out, overwrite=overwrite)
        if refusal:
            raise InputError([Problem(str(out), None, None, refusal,
                                      "a new or empty folder, an earlier partial sharded run "
                                      "to resume, or --overwrite (overwrite=True)")])
        files.clean_leftovers(out)
        return _fit_screen(source, out, shard_by=shard_by, scheduler=scheduler,
                           workers=workers, read_options=read_options, priors=priors,
                           settings=settings, margin=margin, retries=retries)


def _fit_screen(source: Path, out: Path, *, shard_by: str, scheduler: str | None,
                workers: int | None, read_options: dict | None, priors: dict | None,
                settings: SamplerSettings | None, margin: float, retries: int
                ) -> ScreenResult:
    settings = settings or SamplerSettings()
    read_options = dict(read_options or {})
    priors = dict(priors or {})
    shards = plan_shards(source, shard_by, seed=settings.seed,
                         columns=read_options.get("columns"))
    started = files.now()
    jobs = [ShardJob(str(source), shard_by, shard, read_options, priors, settings, margin,
                     str(out)) for shard in shards]
    out.mkdir(parents=True, exist_ok=True)
    (out / files.RECORD).unlink(missing_ok=True)  # complete again only when rewritten last
    outcomes = run_shards(jobs, scheduler=scheduler, workers=workers, retries=retries)
    prior = dataclasses.replace(DoseResponsePriors(), **priors)
    outcomes, scales_record = _refit_at_pooled_scales(
        out, jobs, outcomes, prior, dict(scheduler=scheduler, workers=workers, retries=retries))
    fitted = [o for o in outcomes if o.status in ("fitted", "reused")]
    summary, per_curve, combining = _combined_tables(out, fitted, prior, settings.seed)
    if not per_curve.empty:
        per_curve = per_curve[(per_curve.cell_line != "all") & (per_curve[shard_by] != "all")]
    pooled, pooling = _pool(out, fitted, prior, settings.seed, margin, shard_by)
    pooling["cell_line_effects"] = combining
    pooling["population_scales"] = scales_record
    files.write_csv(out / "shards.csv", pd.DataFrame([dataclasses.asdict(o) for o in outcomes]))
    files.write_csv(out / "summary.csv", summary)
    files.write_csv(out / "shifts.csv", pd.concat([per_curve, pooled], ignore_index=True))
    failed = [o for o in outcomes if o.status == "failed"]
    unconverged = [o for o in fitted if not o.passed]
    code = (EXIT_BAD_INPUT if any(o.status == "bad input" for o in outcomes) else
            EXIT_PARTIAL if failed else EXIT_NOT_CONVERGED if unconverged else EXIT_OK)
    files.write_text(out / "report.html", _report(out, outcomes, pooled, pooling, shard_by))
    files.write_json(out / files.RECORD, dict(
        chemoshift_run_format=SCREEN_FORMAT, assay="dose-response", sharded=True,
        started=started, finished=files.now(), versions=files.versions(), seed=settings.seed,
        inputs=[dict(path=str(source), sha256=input_hash(source))], shard_by=shard_by,
        scheduler=scheduler or "LocalCluster", settings=dict(
            sampler=dataclasses.asdict(settings), margin=margin, priors=priors,
            read=read_options),
        shards=[dataclasses.asdict(o) for o in outcomes], second_stage=pooling,
        exit_code=code))
    return ScreenResult(out, outcomes, code, pooled)


def _refit_at_pooled_scales(out: Path, jobs: list[ShardJob], outcomes: list[ShardOutcome],
                            prior: DoseResponsePriors, engine: dict
                            ) -> tuple[list[ShardOutcome], dict]:
    """Refit each shard that did not converge with its population scales fixed at values
    pooled over the converged shards (:mod:`chemoshift.screen.scales`); the outcomes with
    the refits in place, and what was done (for run.json)."""
    done = [o for o in outcomes if o.status in ("fitted", "reused")]
    converged = [o for o in done if o.passed]
    again = [o for o in done if not o.passed and not o.pooled_scales]
    record = dict(method=scales.__doc__.split("\n\n")[0].replace("\n", " "), refitted=[])
    if not again or not converged:
        record["reason"] = ("every shard converged" if not again
                            else "no shard converged: nothing to pool")
        return outcomes, record
    pooled = scales.pooled_scales(
        [files.read_datatree(out / SHARDS_FOLDER / o.name)["posterior"] for o in converged],
        prior)
    record.update(pooled=pooled, from_shards=[o.key for o in converged])
    by_name = {job.shard.name: job for job in jobs}
    refits = []
    for outcome in again:
        tree = files.read_datatree(out / SHARDS_FOLDER / outcome.name)["posterior"]
        learnt = [t for t in pooled if f"{t}_sd" in tree]
        if learnt:
            job = by_name[outcome.name]
            refits.append(dataclasses.replace(
                job, refit_priors=scales.refit_priors(job.priors, pooled, learnt)))
    if not refits:
        record["reason"] = "the shards that did not converge learn no pooled scale"
        return outcomes, record
    redone = {o.name: o for o in run_shards(refits, **engine)}
    record["refitted"] = [dict(shard=o.key, status=o.status, converged=o.passed,
                               scales=o.pooled_scales) for o in redone.values()]
    kept = {name: o for name, o in redone.items() if o.status in ("fitted", "reused")}
    return [kept.get(o.name, o) for o in outcomes], record  # a failed refit keeps the first


def screen_folder_refusal(out: Path, *, overwrite: bool = False) -> str | None:
    """Why ``out`` cannot take a sharded fit (None: new, empty, an earlier partial sharded
    run, which is resumed, or with ``overwrite`` a complete one)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    if not (out / SHARDS_FOLDER).is_dir():
        return "exists and is not an earlier sharded run (no shards/ folder)"
    if (out / files.RECORD).is_file() and not overwrite:
        return ("already holds a complete sharded run (run.json); pass --overwrite "
                "(Python: overwrite=True) to replace it (unchanged shards are reused), or "
                "choose another --out")
    return None


def _combined_tables(out: Path, fitted: list[ShardOutcome], prior: DoseResponsePriors,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every fitted shard's summary and shifts rows (with its key), built from its draws
    updated by the other shards' cell-line effects (:mod:`chemoshift.screen.combine`), or
    from the shard alone where they cannot be combined (said in the returned record)."""
    def posterior(outcome):
        return files.read_datatree(out / SHARDS_FOLDER / outcome.name)

    informations, lines, means, spreads, on_ic50 = [], set(), [], [], None
    priors = [_shard_priors(out, outcome, prior) for outcome in fitted]
    for outcome, own in zip(fitted, priors, strict=True):  # each shard's likelihood
        tree = posterior(outcome)["posterior"]
        lines.add(tuple(tree.coords["cell_line"].values) if "cell_line" in tree.coords else ())
        b, variances, on_ic50 = combine.shared_draws(tree, own)
        informations.append(combine.shard_information(b, variances) if b.shape[1] else None)
        means.append(b.mean(axis=0))
        spreads.append(b.var(axis=0, ddof=1))
    why_not = ("one shard" if len(fitted) < 2 else
               "the shards hold different cell lines" if len(lines) > 1 else
               "no cell-line effect in the model" if None in informations else "")
    record = dict(combined=not why_not, shards=len(fitted), reason=why_not,
                  method="Gaussian update of each shard's per-curve draws by the other shards' "
                         "likelihood of the zero-sum cell-line effects (ensemble Kalman step; "
                         "chemoshift.screen.combine)")
    cavities = [None] * len(fitted)
    if not why_not:
        interaction = combine.drug_variance(np.array(means), np.array(spreads), on_ic50)
        record["cell_line_drug_variance"] = interaction
        cavities = combine.cavities(informations, np.where(on_ic50, interaction, 0.0))
    summaries, shifts = [], []
    for outcome, own, cavity in zip(fitted, priors, cavities, strict=True):
        run_dir = out / SHARDS_FOLDER / outcome.name
        tree = None
        if cavity is not None:  # second pass: one shard's draws in memory at a time
            tree = posterior(outcome)
            rng = np.random.default_rng(shard_seed(seed, outcome.key))
            tree["posterior"] = combine.updated_posterior(tree["posterior"].to_dataset(),
                                                          own, cavity, rng)
        summary, shift = build_tables(run_dir, tree)
        summaries.append(summary.assign(shard=outcome.key))
        shifts.append(shift.assign(shard=outcome.key))
    return (pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame(),
            pd.concat(shifts, ignore_index=True) if shifts else pd.DataFrame(), record)


def _shard_priors(out: Path, outcome: ShardOutcome, prior: DoseResponsePriors
                  ) -> DoseResponsePriors:
    """The priors a shard was fitted with: the run's, or its refit's at pooled scales."""
    record = json.loads((out / SHARDS_FOLDER / outcome.name / SHARD_RECORD).read_text())
    refit = record.get("refit_priors")
    return resolve_priors(refit) if refit else prior


def _pool(out: Path, fitted: list[ShardOutcome], prior: DoseResponsePriors, seed: int,
          margin: float, shard_by: str) -> tuple[pd.DataFrame, dict]:
    """The second stage for every treatment the shards share (see chemoshift.screen.pool)."""
    by_treatment: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    skipped = []
    for outcome in fitted:
        record = json.loads((out / SHARDS_FOLDER / outcome.name / SHARD_RECORD).read_text())
        for treatment, moments in record.get("shifts", {}).items():
            shard = likelihood(moments["mean"], moments["var"], prior.shift_mean_sd)
            if shard is None:
                skipped.append(f"{outcome.key} ({treatment})")
                continue
            by_treatment.setdefault((treatment, moments["control"]), []).append(
                (outcome.key, *shard))
    tables, pooling = [], dict(method="normal likelihoods over a hierarchical normal; "
                                      "mu exact given tau, tau on a grid (chemoshift.screen.pool)",
                               uninformative_shards=skipped, treatments={})
    groups = {treatment: (np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
              for (treatment, _), rows in by_treatment.items()}
    drawn = pool_shifts(groups, shift_mean_sd=prior.shift_mean_sd,
                        shift_drug_sd=prior.shift_drug_sd, seed=seed) if groups else {}
    for (treatment, control), rows in by_treatment.items():
        keys = [r[0] for r in rows]
        mu, theta = drawn[treatment]
        tables.append(pooled_rows(mu, theta, keys, treatment=treatment, control=control,
                                  margin=margin, shard_by=shard_by))
        pooling["treatments"][treatment] = dict(n_shards=len(keys), shards=keys)
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), pooling


def _combined_sentence(record: dict) -> str:
    if record["combined"]:
        return (f"each shard's draws updated by the other {record['shards'] - 1} shards' "
                f"cell-line effects ({record['method']}); shards/ hold each shard alone.")
    return f"each shard's own ({record['reason']}: cell-line effects not combined)."


def _report(out: Path, outcomes: list[ShardOutcome], pooled: pd.DataFrame, pooling: dict,
            shard_by: str) -> str:
    failed = [o for o in outcomes if o.status in ("failed", "bad input")]
    unconverged = [o for o in outcomes if o.status in ("fitted", "reused") and not o.passed]
    verdict = ("PARTIAL: " + ", ".join(f"{o.key} ({o.status})" for o in failed) if failed else
               "NOT CONVERGED: " + ", ".join(o.key for o in unconverged) if unconverged
               else f"every shard converged ({len(outcomes)})")
    rests = "; ".join(f"{t}: {v['n_shards']} shards" for t, v in pooling["treatments"].items())
    rows = "\n".join(
        f"<tr><td>{html.escape(o.key)}</td><td>{html.escape(o.status)}</td>"
        f"<td>{'yes' if o.passed else 'NO'}</td><td>{html.escape(o.verdict or o.error)}</td>"
        f"<td>{html.escape(o.pooled_scales)}</td>"
        f"<td><a href='{SHARDS_FOLDER}/{html.escape(o.name)}/report.html'>report</a></td></tr>"
        for o in outcomes)
    table = pooled.to_html(index=False, float_format=lambda x: f"{x:.3g}", escape=True) \
        if not pooled.empty else "<p>No treatment shift to pool.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sharded dose-response fit</title></head>
<body style="font-family: sans-serif; max-width: 70em; margin: 2em auto">
<h1>Sharded dose-response fit ({len(outcomes)} shards by {html.escape(shard_by)})</h1>
<p><strong>{html.escape(verdict)}</strong></p>
<h2>Pooled shifts (second stage)</h2>
<p>The pooled rows rest on {html.escape(rests or 'no shard')}.
{html.escape(pooling['method'])}. Per-curve rows (summary.csv, shifts.csv):
{html.escape(_combined_sentence(pooling['cell_line_effects']))}</p>
{table}
<h2>Shards</h2>
<table><tr><th>{html.escape(shard_by)}</th><th>status</th><th>converged</th>
<th>verdict</th><th>refitted at pooled scales</th><th></th></tr>
{rows}
</table>
</body></html>
"""
