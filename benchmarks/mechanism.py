"""Benchmark of the luciferase, Western blot and apoptosis models on their bundled examples.

Run from the repository root (prints a table; writes JSON atomically)::

    python benchmarks/mechanism.py            # each example twice: a priming run, then timed
    python benchmarks/mechanism.py --cold     # also the first (cold-cache) run's timings

Each bundled example (``chemoshift.data.example``: Huh7 and HepG2, three experiments) is
fitted end to end as ``chemoshift fit ASSAY`` does it (read, build, compile, sample at the
package defaults, posterior predictive, run directory with table and report), once to
prime PyTensor's and the nutpie callbacks' disk caches (a user's second run) and once
timed. Reported per assay: wall seconds (total, compile, sampling), max R-hat, min bulk
ESS, divergences, and against the truth stored beside the example: how many 95%
intervals of the table's headline rows hold the true value, and the classical estimate
beside. Target (issue): all the mechanism assays together well inside the demo's
two-minute warm budget on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift import mechanism
from chemoshift.data import run_dir as files
from chemoshift.inference.fit import SamplerSettings

OUT = Path(__file__).parent / "results" / "mechanism.json"
TARGET_SECONDS = 120.0


def truth_hits(assay: str, table: pd.DataFrame) -> tuple[int, int]:
    """95% intervals of the headline rows holding the stored truth: (inside, rows)."""
    path, _ = mechanism.demo_input(assay)
    truth = json.loads(path.with_name(f"{assay}_truth.json").read_text(encoding="utf-8"))
    values = []
    if assay == "luciferase":
        true = {(c["cell_line"], c["construct"]): np.exp(c["log_ratio"])
                for c in truth["contrasts"]}
        values = [(r, true[r.cell_line, r.construct]) for _, r in table.iterrows()]
    elif assay == "western":
        true = {(c["cell_line"], f"{c['dose']:g} nM"): np.exp(c["log_ratio"])
                for c in truth["contrasts"]}
        values = [(r, true[r.cell_line, r.dose]) for _, r in table.iterrows()]
    else:
        true = {(e["cell_line"], e["effect"]): e for e in truth["effects"]}
        for _, r in table[mechanism.mechanism_report.effect_rows(table)].iterrows():
            e = true[r.cell_line, r.effect]
            values.append((r, np.exp(e["log_odds_ratio"]) if r.scale == "odds_ratio"
                           else e["percentage_points"]))
    inside = sum(float(r["q2.5"]) <= v <= float(r["q97.5"]) for r, v in values)
    return int(inside), len(values)


def run(assay: str, folder: Path) -> dict:
    path, options = mechanism.demo_input(assay)
    start = time.perf_counter()
    result = mechanism.FITTERS[assay](path, settings=SamplerSettings(progress=False), **options)
    result.save(folder / assay)
    seconds = time.perf_counter() - start
    table = result.table()
    inside, rows = truth_hits(assay, table)
    d = result.diagnostics
    return dict(assay=assay, seconds=round(seconds, 2),
                compile_seconds=round(result.timings.get("compile_seconds", np.nan), 2),
                sampling_seconds=round(result.timings.get("sampling_seconds", np.nan), 2),
                max_rhat=round(d.max_rhat, 4), min_ess_bulk=round(d.min_ess_bulk),
                divergences=d.divergences, converged=d.passed,
                truth_inside_95=inside, rows=rows,
                headline=table.head(12).replace({np.nan: None}).to_dict("records"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also report the priming run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results, priming = [], []
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        for assay in mechanism.FITS:
            priming.append(run(assay, Path(first)))
        for assay in mechanism.FITS:
            results.append(run(assay, Path(second)))
    total = sum(r["seconds"] for r in results)
    print(f"{'assay':<11} {'wall s':>7} {'compile':>8} {'sample':>7} {'R-hat':>6} "
          f"{'ESS':>5} {'div':>4} truth in 95%")
    for r in results:
        print(f"{r['assay']:<11} {r['seconds']:>7.1f} {r['compile_seconds']:>8.1f} "
              f"{r['sampling_seconds']:>7.1f} {r['max_rhat']:>6.3f} {r['min_ess_bulk']:>5} "
              f"{r['divergences']:>4} {r['truth_inside_95']}/{r['rows']}")
    verdict = "PASS" if total < TARGET_SECONDS and all(r["converged"] for r in results) \
        else "MISS"
    print(f"all three, warm: {total:.1f} s (target < {TARGET_SECONDS:.0f} s with the rest of "
          f"the demo): {verdict}")
    record = dict(machine=dict(cores=os.cpu_count(), platform=platform.platform(),
                               load=os.getloadavg()),
                  versions=files.versions(), warm=results, warm_total_seconds=round(total, 2),
                  target_seconds=TARGET_SECONDS, verdict=verdict)
    if args.cold:
        record["cold"] = priming
    args.out.parent.mkdir(parents=True, exist_ok=True)
    files.write_json(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
