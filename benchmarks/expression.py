"""Benchmark of the paired DE model: seconds and memory, against the moderated t alone.

Run from the repository root (prints a table; writes JSON atomically)::

    python benchmarks/expression.py                     # GDS507 + 50,000 probes + NUTS check
    python benchmarks/expression.py --skip-nuts --probes 20000 --out /tmp/expression.json

Rows, each a fresh subprocess (so its peak memory is its own), on the machine's cores
(2 here; the JSON records the core count and load averages):

gds507 (end to end)
    ``chemoshift fit expression GDS507.soft.gz`` (read the SOFT file, log2, empirical
    Bayes, 600 exact draws of 22,645 probes, de.csv, posterior.nc, report.html), then
    ``chemoshift enrich RUN_DIR`` (bundled KEGG_2016, 600 draws) and ``chemoshift network
    RUN_DIR --network FILE`` (the bundled STRING file; offline). Seconds per step, the
    fit's own stage timings from run.json, peak resident memory of each step.
simulated 50,000 probes
    a simulated paired array (``chemoshift.data.simulate_expression``, 7 pairs) written as
    a plain table with a sample sheet, then ``chemoshift fit expression`` on it; also the
    coverage of de.csv's 95% intervals of the simulated truth, beside the classical 95%
    intervals (moderated t) of the same probes.
baseline
    **the classical moderated paired t alone** (limma's eBayes, as in
    ``chemoshift.reports.expression.tables.moderated_t``) on the same file: read it and
    compute t, p and BH; its seconds and peak memory.
nuts check
    :func:`chemoshift.expression_nuts.compare_with_nuts` on 50 GDS507 probes (NUTS with
    the hyperparameters fixed vs the exact draws): the figures the report states when a
    run directory holds nuts_check.json.

Target (the issue): GDS507 fit in under 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from chemoshift.data.run_dir import write_text
from chemoshift.data.simulate_expression import ArrayDesign, simulate_arrays

ROOT = Path(__file__).resolve().parents[1]
GDS507 = ROOT.parent / "shared" / "reference" / "geo" / "GDS507.soft.gz"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "expression.json"
TARGET_GDS507_FIT_SECONDS = 180.0
PACKAGES = ("chemoshift", "numpy", "scipy", "pandas", "xarray", "pymc", "nutpie")

# a child process that runs one command and reports its own wall time and peak memory
CHILD = """
import json, resource, sys, time
start = time.perf_counter()
kind, argv = sys.argv[1], sys.argv[2:]
if kind == "cli":
    from chemoshift.cli import main
    code = main(argv)
else:
    from chemoshift.data.geo import read_expression
    from chemoshift.reports.expression.tables import moderated_t
    options = json.loads(argv[1])
    data = read_expression(argv[0], **options)
    result = moderated_t(data.differences)
    code = 0 if np.isfinite(result.t).all() else 1
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("BENCH " + json.dumps(dict(code=code, seconds=seconds, peak_mb=peak_mb)))
"""


def run_child(kind: str, argv: list[str]) -> dict:
    """Run one step in a fresh interpreter; its exit code, seconds, peak RSS (MB)."""
    code = "import numpy as np\n" + CHILD
    done = subprocess.run([sys.executable, "-c", code, kind, *argv], capture_output=True,
                          text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if not lines:
        raise RuntimeError(f"{kind} {argv} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def gds507_rows(work: Path) -> list[dict]:
    from chemoshift.expression import demo_network

    run = work / "gds507"
    rows = []
    fit = run_child("cli", ["fit", "expression", str(GDS507), "--out", str(run),
                            "--no-progress"])
    record = json.loads((run / "run.json").read_text())
    rows.append(dict(row="gds507", step="fit (read, EB, draws, de.csv, report)", **fit,
                     stages=record.get("timings", {}), probes=record["data"]["n_probes"]))
    rows.append(dict(row="gds507", step="enrich (bundled KEGG_2016, every draw)",
                     **run_child("cli", ["enrich", str(run)])))
    rows.append(dict(row="gds507", step="network (bundled STRING file, every draw)",
                     **run_child("cli", ["network", str(run), "--network",
                                         str(demo_network())])))
    rows.append(dict(row="gds507", step="baseline: moderated t alone",
                     **run_child("baseline", [str(GDS507), "{}"])))
    return rows


def simulated_rows(work: Path, n_probes: int) -> tuple[list[dict], dict]:
    design = ArrayDesign(n_probes=n_probes, n_pairs=7)
    values, sheet, truth = simulate_arrays(design, seed=50)
    table, samples = work / "simulated.tsv", work / "simulated.samples.csv"
    values.rename_axis("probe").to_csv(table, sep="\t")
    sheet.to_csv(samples, index=False)
    run = work / "simulated"
    options = ["--samples", str(samples), "--pairs", "patient", "--group", "tissue",
               "--control", "normal"]
    fit = run_child("cli", ["fit", "expression", str(table), *options, "--out", str(run),
                            "--no-progress"])
    record = json.loads((run / "run.json").read_text())
    rows = [dict(row=f"simulated {n_probes:,}", step="fit (read, EB, draws, de.csv, report)",
                 **fit, stages=record.get("timings", {}), probes=n_probes)]
    baseline = run_child("baseline", [str(table), json.dumps(
        dict(samples=str(samples), pairs="patient", group="tissue", control="normal"))])
    rows.append(dict(row=f"simulated {n_probes:,}", step="baseline: moderated t alone",
                     **baseline))
    return rows, coverage(run, values, sheet, truth)


def coverage(run: Path, values: pd.DataFrame, sheet: pd.DataFrame, truth: pd.Series) -> dict:
    """95% interval coverage of the truth: de.csv's posterior intervals and the moderated
    t's classical ones (mean +- t quantile x moderated se), overall and for |effect| > 0.3."""
    from chemoshift.reports.expression.tables import moderated_t

    de = pd.read_csv(run / "de.csv", dtype={"probe": str}).set_index("probe").loc[truth.index]
    normal = values[sheet.loc[sheet.tissue == "normal", "sample"]].to_numpy()
    tumour = values[sheet.loc[sheet.tissue == "tumour", "sample"]].to_numpy()
    differences = tumour - normal
    classical = moderated_t(differences)
    n = differences.shape[1]
    se = np.abs(classical.log2fc / classical.t)
    half = stats.t.ppf(0.975, classical.df_total) * se
    true = truth.to_numpy()
    bayes_in = (true >= de["log2fc_q2.5"].to_numpy()) & (true <= de["log2fc_q97.5"].to_numpy())
    classical_in = np.abs(true - classical.log2fc) <= half
    real = np.abs(true) > 0.3
    width_bayes = (de["log2fc_q97.5"] - de["log2fc_q2.5"]).to_numpy()
    return dict(pairs=n, real_effects=int(real.sum()),
                bayes_95_coverage=float(bayes_in.mean()),
                bayes_95_coverage_real=float(bayes_in[real].mean()),
                classical_95_coverage=float(classical_in.mean()),
                classical_95_coverage_real=float(classical_in[real].mean()),
                bayes_median_width=float(np.median(width_bayes)),
                classical_median_width=float(np.median(2 * half)))


def nuts_check() -> dict:
    from chemoshift.data.geo import read_expression
    from chemoshift.expression_nuts import compare_with_nuts
    from chemoshift.models.expression import fit_hyper, probe_stats

    data = read_expression(GDS507)
    hyper = fit_hyper(probe_stats(data.differences))
    check = compare_with_nuts(data, hyper, n_probes=50, top=10)
    return {k: v for k, v in check.items()
            if not isinstance(v, list | dict)}


def machine() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return dict(cores=os.cpu_count(), load_average=list(os.getloadavg()),
                python=platform.python_version(), versions=versions,
                when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def print_table(rows: list[dict]) -> None:
    print(f"{'row':<18} {'step':<44} {'seconds':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['row']:<18} {r['step']:<44} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=50_000)
    parser.add_argument("--skip-nuts", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result: dict = dict(machine=machine(), baseline="classical moderated paired t alone "
                        "(limma eBayes; chemoshift.reports.expression.tables.moderated_t)")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows = gds507_rows(work)
        sim_rows, result["simulated_coverage"] = simulated_rows(work, args.probes)
        rows += sim_rows
    result["rows"] = rows
    fit_seconds = rows[0]["seconds"]
    result["target"] = dict(what="GDS507 fit on 2 cores", seconds=TARGET_GDS507_FIT_SECONDS,
                            measured=fit_seconds,
                            verdict="PASS" if fit_seconds < TARGET_GDS507_FIT_SECONDS
                            else "MISS")
    if not args.skip_nuts:
        result["nuts_check"] = nuts_check()
    print_table(rows)
    print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "machine")},
                     indent=1))
    write_text(args.out, json.dumps(result, indent=2, allow_nan=False,
                                    default=float) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
