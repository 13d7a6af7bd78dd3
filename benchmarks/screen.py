"""Sharded dose-response fits on Dask (issue 23): speed, memory, compiles and accuracy.

Run from the repository root (prints tables; writes JSON atomically)::

    python benchmarks/screen.py                              # 20,000 curves + accuracy: hours
    python benchmarks/screen.py --curves 600 --no-accuracy   # a few minutes: checks the script
    python benchmarks/screen.py --no-speed                   # the accuracy part alone

The screens are ``screen_design(30, DRUGS)`` (30 cell lines x DRUGS drugs x the study's four
arms, one experiment: 120 curves a drug, the 3,600-curve design's shape) with 8
concentrations, three wells a dose and the real-screen features of issue 20
(``real_screen_design``'s: a cliff in one curve of ten with an outlier well beside half of
them, one drug in nine inactive in the tested range, bottoms varying between curves (sd
0.5 on the logit scale), readings as viability fractions). Sharded by drug: 120 curves a
shard, every shard the same size (each curve's data choose its model forms, so shards may
still compile to a few shapes).

speed
    ``--curves`` (default 20,000: 167 drugs) written as a Parquet dataset (``--input csv``
    for one CSV file) and fitted by ``chemoshift.screen.fit_screen`` on a ``LocalCluster``
    of ``--workers`` (2) workers of one thread each, started here as the engine starts its
    own. Reported: wall seconds (cluster start; fit_screen: planning, the shards, second
    stage, writing), curves a second a worker, each shard's seconds (mean, max; compile,
    sampling and prior-sensitivity refits from its run.json), peak RSS a worker (``resource.
    getrusage`` run on each worker: the worker process, and its largest child, the cold
    compile's), compiles (cold compiles counted on each worker by wrapping
    ``nutpie_compile._compile_in_child``; model shapes new to the compile cache), and the
    extrapolated wall time of 500,000 curves on 64 workers: ceil(shards / 64) rounds of
    the measured per-shard cost (a shard's mean seconds with its compile at the median of
    the shards that loaded theirs from the cache: at that scale nearly every shard does;
    the client's planning and second stage not counted).
accuracy
    The 3,600-curve design (``--accuracy-lines`` x ``--accuracy-drugs``, 30 x 30) fitted
    sharded on the same cluster and jointly: the baseline, **the joint fit** (one model of
    every curve, what ``chemoshift fit dose-response`` does without ``--shard-by``), in this
    process with the workers idle. Reported per quantity: RMSE against the simulated truth
    and interval coverage for each, the ratio sharded / joint, and the RMSE between the two
    fits' medians. Per curve: log10 IC50 and log10 shift (90% equal-tailed posterior
    intervals); per drug and pooled shifts (95%: the second stage's rows for the shards,
    the joint model's ``log10_shift_drug`` and ``log10_shift_pooled``).

Targets (issue 23, on 2 cores): 20,000 curves in < 15 minutes (cluster start included;
with ``--curves`` other than 20,000 the 20,000-curve wall time is projected from this
run's throughput and marked so); < 2 GiB a worker (the worker with its compile child).
Timings depend on the machine and its load: the JSON records the core count and the load
averages.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.assay import DEFAULT_MARGIN
from chemoshift.data import run_dir as files
from chemoshift.data.dose_response import read_dose_response
from chemoshift.data.simulate_dose_response import ScreenDesign, screen_design, simulate_screen
from chemoshift.dose_response import fit_data, resolve_priors
from chemoshift.inference.fit import SamplerSettings
from chemoshift.reports.dose_response.tables import draws
from chemoshift.screen.run import fit_screen
from chemoshift.screen.shards import read_shard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dose_response import (
    format_table,
    log,
    machine_info,
    num,
    print_section,
    rmse,
    text,
    true_values,
    write_json,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "screen.json"
LINES, ARMS = 30, 4  # the 3,600-curve design's cell lines; the study's arms
FEATURES = dict(n_concentrations=8, replicates=3, cliff_fraction=0.1, cliff_outlier_fraction=0.5,
                bottom_curve_sd=0.5, normalise=True)  # real_screen_design's (issue 20)
INACTIVE_SHARE = 3 / 27  # real_screen_design: 3 of its 27 drugs
TARGETS = {"wall_seconds_20000": 15 * 60.0, "peak_gib_a_worker": 2.0}
EXTRAPOLATE = dict(curves=500_000, workers=64)
BASELINE = "the joint fit: one model of every curve (chemoshift fit dose-response, no --shard-by)"


def design(n_drugs: int, lines: int = LINES) -> ScreenDesign:
    """``lines`` x ``n_drugs`` x 4 arms with the real-screen features (module docstring)."""
    return screen_design(lines, n_drugs, inactive_drugs=max(1, round(n_drugs * INACTIVE_SHARE)),
                         **FEATURES)


def write_input(frame: pd.DataFrame, folder: Path, kind: str, rows_a_file: int = 200_000) -> Path:
    """The wells as a Parquet dataset (files of ``rows_a_file`` rows) or one CSV file."""
    if kind == "csv":
        path = folder / "screen.csv"
        frame.to_csv(path, index=False)
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "screen"
    path.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)),
                                            max(1, math.ceil(len(frame) / rows_a_file)))):
        pq.write_table(pa.Table.from_pandas(frame.iloc[part], preserve_index=False),
                       path / f"part-{i:04d}.parquet", row_group_size=50_000)
    return path


def settings_from(args: argparse.Namespace) -> SamplerSettings:
    values = dict(progress=False, seed=args.seed)
    for name in ("draws", "tune", "chains"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.draws is not None:
        values["extend"] = False
    return SamplerSettings(**values)


# --- on the workers (self-contained: cloudpickle sends them by value) ------------------------

def count_compiles() -> int:
    """Wrap this worker's cold compile (``nutpie_compile._compile_in_child``) to count it."""
    from chemoshift.inference import nutpie_compile as compiler

    if not hasattr(compiler, "benchmark_cold_compiles"):
        original = compiler._compile_in_child

        def counted(model):
            compiler.benchmark_cold_compiles += 1
            return original(model)

        compiler._compile_in_child = counted
    compiler.benchmark_cold_compiles = 0
    return os.getpid()


def worker_figures() -> dict:
    """Peak resident memory (MiB) of this worker and of its largest child; cold compiles."""
    import resource

    from chemoshift.inference import nutpie_compile as compiler

    return dict(pid=os.getpid(),
                peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                child_peak_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                cold_compiles=getattr(compiler, "benchmark_cold_compiles", None))


# --- speed ---------------------------------------------------------------------------------

def cache_entries() -> set[str]:
    from chemoshift.inference.nutpie_compile import _cache_dir

    folder = _cache_dir()
    return {p.name for p in folder.glob("*.pkl")} if folder.is_dir() else set()


def shard_timings(out: Path, outcomes) -> pd.DataFrame:
    rows = []
    for outcome in outcomes:
        record = out / "shards" / outcome.name / files.RECORD
        timings = files.read_record(record.parent).get("timings", {}) if record.is_file() else {}
        rows.append(dict(key=outcome.key, status=outcome.status, passed=outcome.passed,
                         verdict=outcome.verdict or outcome.error, seconds=outcome.seconds,
                         compile=timings.get("compile_seconds", math.nan),
                         sampling=timings.get("sampling_seconds", math.nan),
                         sensitivity=timings.get("prior_sensitivity_seconds", 0.0)))
    return pd.DataFrame(rows)


def run_speed(args: argparse.Namespace, client, address: str, startup: float,
              folder: Path) -> dict:
    n_drugs = math.ceil(args.curves / (args.lines * ARMS))
    frame, _ = simulate_screen(design(n_drugs, args.lines), seed=args.seed)
    curves = n_drugs * args.lines * ARMS
    source = write_input(frame, folder, args.input)
    log(f"speed: {curves} curves ({n_drugs} shards of {args.lines * ARMS}), {len(frame)} wells, "
        f"{args.input} input at {source}")
    before = cache_entries()
    client.run(count_compiles)
    start = time.perf_counter()
    result = fit_screen(source, folder / "run", scheduler=address, settings=settings_from(args))
    wall = time.perf_counter() - start
    workers = client.run(worker_figures)
    shards = shard_timings(folder / "run", result.shards)
    fitted = shards[shards.status == "fitted"]
    cold = sum(w["cold_compiles"] or 0 for w in workers.values())
    # the cold compiles are the longest; a warm shard's compile is the median of the rest
    warm = np.sort(fitted.compile.dropna().to_numpy())[:max(0, fitted.compile.notna().sum()
                                                              - cold)]
    warm_compile = float(np.median(warm)) if warm.size else math.nan
    per_shard = float((fitted.seconds - fitted.compile.fillna(0)).mean() + (
        warm_compile if warm.size else fitted.compile.mean())) if len(fitted) else math.nan
    n_workers = len(workers)
    shards_then = math.ceil(EXTRAPOLATE["curves"] / (args.lines * ARMS))
    total = startup + wall
    throughput = curves / total / n_workers
    peak = max((w["peak_mib"] + w["child_peak_mib"] for w in workers.values()), default=math.nan)
    return dict(
        curves=curves, wells=len(frame), shards=n_drugs, curves_a_shard=args.lines * ARMS,
        input=args.input, workers=n_workers, exit_code=result.exit_code,
        statuses=shards.status.value_counts().to_dict(), converged=int(shards.passed.sum()),
        startup_seconds=startup, fit_screen_seconds=wall, wall_seconds=total,
        curves_a_second_a_worker=throughput,
        shard_seconds_mean=float(shards.seconds.mean()), shard_seconds_max=float(
            shards.seconds.max()), compile_seconds_mean=float(fitted.compile.mean()),
        warm_compile_seconds=warm_compile, warm_shards=int(warm.size),
        sampling_seconds_mean=float(fitted.sampling.mean()),
        sensitivity_seconds_mean=float(fitted.sensitivity.mean()),
        client_seconds=max(0.0, wall - float(shards.seconds.sum()) / n_workers),
        per_shard_cost_seconds=per_shard,
        workers_figures={address: w for address, w in workers.items()},
        peak_mib_a_worker=peak,
        cold_compiles=cold,
        new_cache_entries=len(cache_entries() - before),
        wall_seconds_20000=(total if curves == 20_000 else 20_000 / throughput / n_workers),
        wall_20000_projected=curves != 20_000,
        extrapolated=dict(**EXTRAPOLATE, shards=shards_then,
                          rounds=math.ceil(shards_then / EXTRAPOLATE["workers"]),
                          wall_seconds=math.ceil(shards_then / EXTRAPOLATE["workers"])
                          * per_shard),
        shard_rows=shards.to_dict("records"))


# --- accuracy ------------------------------------------------------------------------------

def intervals(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tail = (1 - level) / 2
    low, median, high = np.quantile(values, [tail, 0.5, 1 - tail], axis=0)
    return median, low, high


def per_curve(data, truth: dict, datatree) -> dict[str, pd.DataFrame]:
    """Truth, median and 90% interval of each curve's log10 IC50 and each comparison's
    log10 shift, keyed by the curve."""
    true_ic50, true_shift = true_values(data, truth)
    treated = data.curves[data.curves.control != ""]
    out = {}
    for name, true, curves in (("log10_ic50", true_ic50, data.curves),
                               ("log10_shift", true_shift, treated)):
        median, low, high = intervals(draws(datatree, name), 0.90)
        out[name] = pd.DataFrame(dict(
            key=[" | ".join(k) for k in curves[["cell_line", "drug", "treatment"]].itertuples(
                index=False)], truth=true, median=median, low=low, high=high))
    return out


def joint_group_rows(datatree, truth: dict) -> dict[str, pd.DataFrame]:
    """The joint fit's drug and pooled shifts (95%), keyed as the second stage's rows."""
    posterior = datatree["posterior"]
    drug = posterior["log10_shift_drug"].stack(sample=("chain", "draw"))
    median, low, high = intervals(drug.transpose("sample", ...).values, 0.95)
    treated, drugs = drug.coords["treated"].values, drug.coords["drug"].values
    truth_drug = {(r["treatment"], r["drug"]): r["log10_shift"] for r in truth["shift_drug"]}
    rows = [dict(key=f"{t} | {d}", truth=truth_drug[str(t), str(d)], median=median[i, j],
                 low=low[i, j], high=high[i, j])
            for i, t in enumerate(treated) for j, d in enumerate(drugs)]
    pooled = posterior["log10_shift_pooled"].stack(sample=("chain", "draw"))
    median, low, high = intervals(pooled.transpose("sample", ...).values, 0.95)
    pooled_rows = [dict(key=str(t), truth=truth["shift_pooled"][str(t)], median=median[i],
                        low=low[i], high=high[i])
                   for i, t in enumerate(pooled.coords["treated"].values)]
    return {"log10_shift_drug": pd.DataFrame(rows), "log10_shift_pooled": pd.DataFrame(pooled_rows)}


def sharded_group_rows(pooled: pd.DataFrame, truth: dict) -> dict[str, pd.DataFrame]:
    """The second stage's drug and pooled shift rows (95%) against the truth."""
    truth_drug = {(r["treatment"], r["drug"]): r["log10_shift"] for r in truth["shift_drug"]}
    out = {}
    for name, level in (("log10_shift_drug", "second stage (shard)"),
                        ("log10_shift_pooled", "second stage (pooled)")):
        rows = pooled[pooled.level == level]
        keys = ([f"{t} | {d}" for t, d in zip(rows.treatment, rows.drug, strict=True)]
                if name == "log10_shift_drug" else list(rows.treatment))
        true = ([truth_drug[t, d] for t, d in zip(rows.treatment, rows.drug, strict=True)]
                if name == "log10_shift_drug" else [truth["shift_pooled"][t]
                                                    for t in rows.treatment])
        out[name] = pd.DataFrame(dict(key=keys, truth=true, median=rows.log10_median.to_numpy(),
                                      low=rows.log10_q2_5.to_numpy(),
                                      high=rows.log10_q97_5.to_numpy()))
    return out


def compare(name: str, level: float, joint: pd.DataFrame, sharded: pd.DataFrame) -> dict:
    both = joint.merge(sharded, on="key", suffixes=("_joint", "_sharded"))

    def covered(side: str) -> float:
        return float(((both[f"low_{side}"] <= both.truth_joint)
                      & (both.truth_joint <= both[f"high_{side}"])).mean())

    joint_rmse = rmse(both.median_joint - both.truth_joint)
    sharded_rmse = rmse(both.median_sharded - both.truth_joint)
    return dict(quantity=name, interval=f"{level:.0%}", n=len(both), joint_rmse=joint_rmse,
                sharded_rmse=sharded_rmse, ratio=sharded_rmse / joint_rmse if joint_rmse else
                math.nan, joint_coverage=covered("joint"), sharded_coverage=covered("sharded"),
                medians_rmse=rmse(both.median_sharded - both.median_joint))


def run_accuracy(args: argparse.Namespace, address: str, folder: Path) -> dict:
    lines, n_drugs = args.accuracy_lines, args.accuracy_drugs
    frame, truth = simulate_screen(design(n_drugs, lines), seed=args.seed + 1)
    source = folder / "accuracy.csv"  # a CSV: the joint fit reads what the CLI reads
    frame.to_csv(source, index=False)
    settings = settings_from(args)
    log(f"accuracy: {lines * n_drugs * ARMS} curves, sharded ({n_drugs} shards) ...")
    start = time.perf_counter()
    sharded = fit_screen(source, folder / "accuracy", scheduler=address, settings=settings)
    sharded_seconds = time.perf_counter() - start
    parts: dict[str, list[pd.DataFrame]] = {"log10_ic50": [], "log10_shift": []}
    for outcome in sharded.shards:
        if outcome.status not in ("fitted", "reused"):
            continue
        data = read_shard(source, "drug", outcome.key)
        tree = files.read_datatree(folder / "accuracy" / "shards" / outcome.name)
        for name, table in per_curve(data, truth, tree).items():
            parts[name].append(table)
    sharded_tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items() if v}
    sharded_tables |= sharded_group_rows(sharded.pooled, truth)

    log("accuracy: the joint fit (the baseline) ...")
    data = read_dose_response(source)
    start = time.perf_counter()
    joint = fit_data(data, priors=resolve_priors(None), settings=settings, margin=DEFAULT_MARGIN,
                     title="joint", read_options={}, started=files.now())
    joint_seconds = time.perf_counter() - start
    joint_tables = per_curve(data, truth, joint.datatree) | joint_group_rows(joint.datatree,
                                                                             truth)
    rows = [compare(name, 0.90 if name in ("log10_ic50", "log10_shift") else 0.95,
                    joint_tables[name], sharded_tables[name])
            for name in ("log10_ic50", "log10_shift", "log10_shift_drug", "log10_shift_pooled")
            if name in sharded_tables]
    return dict(curves=lines * n_drugs * ARMS, shards=n_drugs, sharded_seconds=sharded_seconds,
                sharded_exit_code=sharded.exit_code,
                sharded_converged=sum(o.passed for o in sharded.shards),
                joint_seconds=joint_seconds, joint_verdict=joint.diagnostics.verdict,
                joint_passed=joint.diagnostics.passed, rows=rows)


# --- report --------------------------------------------------------------------------------

def check_targets(speed: dict | None) -> list[dict]:
    checks = []
    speed = speed or {}
    for name, what, value in (
            ("wall_seconds_20000", "20,000 curves, wall seconds (cluster start included)"
             + (" - projected from this run" if speed.get("wall_20000_projected") else ""),
             speed.get("wall_seconds_20000")),
            ("peak_gib_a_worker", "peak memory a worker, GiB (with its compile child)",
             speed["peak_mib_a_worker"] / 1024 if speed else None)):
        limit = TARGETS[name]
        status = ("NOT RUN" if value is None or not math.isfinite(value) else
                  ("PASS" if value < limit else "MISS")
                  + (" (projected)" if name == "wall_seconds_20000"
                     and speed.get("wall_20000_projected") else ""))
        checks.append(dict(target=name, what=what, value=value, limit=f"< {limit:g}",
                           status=status))
    return checks


SPEED_COLUMNS = [("what", "what", text), ("value", "value", text)]
ACCURACY_COLUMNS = [
    ("quantity", "quantity", text), ("interval", "interval", text), ("n", "n", text),
    ("joint RMSE", "joint_rmse", num(3)), ("sharded RMSE", "sharded_rmse", num(3)),
    ("ratio", "ratio", num(2)), ("joint cov", "joint_coverage", num(2)),
    ("sharded cov", "sharded_coverage", num(2)), ("medians RMSE", "medians_rmse", num(3)),
]
TARGET_COLUMNS = [("target", "what", text), ("value", "value", num(2)), ("limit", "limit", text),
                  ("status", "status", text)]


def speed_rows(speed: dict) -> list[dict]:
    x = speed["extrapolated"]
    workers = "; ".join(f"{w['peak_mib']:.0f} + {w['child_peak_mib']:.0f} MiB, "
                        f"{w['cold_compiles']} cold compile(s)"
                        for w in speed["workers_figures"].values())
    return [dict(what=w, value=v) for w, v in [
        ("curves (shards x curves a shard)",
         f"{speed['curves']:,} ({speed['shards']} x {speed['curves_a_shard']}), "
         f"{speed['wells']:,} wells, {speed['input']} input"),
        ("shards", f"{speed['statuses']}; {speed['converged']} converged; "
                   f"exit code {speed['exit_code']}"),
        *[(f"  {row['key']} {row['status']}", row["verdict"][:110])
          for row in speed["shard_rows"] if not row["passed"]][:3],
        ("wall s (cluster start + fit_screen)",
         f"{speed['wall_seconds']:.1f} ({speed['startup_seconds']:.1f} + "
         f"{speed['fit_screen_seconds']:.1f})"),
        ("curves a second a worker", f"{speed['curves_a_second_a_worker']:.3f} "
                                     f"({speed['workers']} workers)"),
        ("shard s: mean, max", f"{speed['shard_seconds_mean']:.1f}, "
                               f"{speed['shard_seconds_max']:.1f}"),
        ("  of which compile, sampling, prior refits (means); warm compile (median)",
         f"{speed['compile_seconds_mean']:.1f}, {speed['sampling_seconds_mean']:.1f}, "
         f"{speed['sensitivity_seconds_mean']:.1f}; {speed['warm_compile_seconds']:.1f} "
         f"({speed['warm_shards']} warm shards)"),
        ("client s (fit_screen beyond the shards' share)", f"{speed['client_seconds']:.1f}"),
        ("peak RSS a worker (worker + compile child)",
         f"{speed['peak_mib_a_worker']:.0f} MiB; each: {workers}"),
        ("compiles (cold, on the workers; shapes new to the cache)",
         f"{speed['cold_compiles']}; {speed['new_cache_entries']}"),
        ("per-shard cost s (its compile warm; every compile cold when no shard was warm)",
         f"{speed['per_shard_cost_seconds']:.1f}"),
        (f"extrapolated: {x['curves']:,} curves on {x['workers']} workers",
         f"{x['wall_seconds']:.0f} s = {x['wall_seconds'] / 3600:.2f} h ({x['shards']:,} shards, "
         f"{x['rounds']} rounds x {speed['per_shard_cost_seconds']:.1f} s)"),
    ]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=int, default=20_000,
                        help="curves of the speed run (rounded up to whole drugs of "
                             f"{LINES * ARMS} curves)")
    parser.add_argument("--lines", type=int, default=LINES,
                        help=f"cell lines (curves a shard = {ARMS} x this)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--input", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--speed", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--accuracy", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--accuracy-lines", type=int, default=30)
    parser.add_argument("--accuracy-drugs", type=int, default=30)
    parser.add_argument("--draws", type=int, default=None,
                        help="fixed draws a chain (default: the package's, extended to ESS)")
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the inputs and run directories in this folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from distributed import Client, LocalCluster

    args = parse_args(argv)
    started = time.time()
    machine = machine_info()
    folder = Path(tempfile.mkdtemp(prefix="chemoshift-screen-")) if args.keep is None else (
        args.keep)
    folder.mkdir(parents=True, exist_ok=True)
    speed = accuracy = None
    try:
        start = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            client.wait_for_workers(args.workers)
            startup = time.perf_counter() - start
            if args.speed:
                speed = run_speed(args, client, cluster.scheduler_address, startup, folder)
            if args.accuracy:
                accuracy = run_accuracy(args, cluster.scheduler_address, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    targets = check_targets(speed)

    print(f"chemoshift sharded screen benchmark: {machine['nproc']} cores, {args.workers} "
          f"LocalCluster workers (one thread each), draws={args.draws} tune={args.tune} "
          f"chains={args.chains}; load average {machine['load_average'][0]:.2f}; "
          f"accuracy baseline: {BASELINE}")
    if speed:
        print_section("Speed", format_table(speed_rows(speed), SPEED_COLUMNS))
    if accuracy:
        print_section(f"Accuracy: {accuracy['curves']:,} curves ({accuracy['shards']} shards, "
                      f"{accuracy['sharded_seconds']:.0f} s, {accuracy['sharded_converged']} "
                      f"converged; joint fit {accuracy['joint_seconds']:.0f} s, "
                      f"{'converged' if accuracy['joint_passed'] else 'NOT CONVERGED'}); "
                      "ratio = sharded / joint RMSE",
                      format_table(accuracy["rows"], ACCURACY_COLUMNS))
    print_section("Targets", format_table(targets, TARGET_COLUMNS))

    machine["load_average_end"] = list(os.getloadavg())
    record = dict(benchmark="chemoshift screen", started=started,
                  seconds=time.time() - started, machine=machine,
                  settings={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                  baseline=BASELINE, design=dict(lines=args.lines, arms=ARMS, **FEATURES,
                                                 inactive_share=INACTIVE_SHARE),
                  speed=speed, accuracy=accuracy, targets=targets)
    write_json(args.out, record)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
