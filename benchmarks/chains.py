"""Two long chains or four short ones: which finds more, and what each costs (issue 20).

Run from the repository root (prints tables; writes JSON atomically)::

    python benchmarks/chains.py [--seeds 20] [--screens real216,24] [--out ...]

Baseline: **two chains, one a core** (chemoshift 0.5's default on 2 cores), against four
chains, two a core (four threads on two cores), with the same draws in total at the first
look (2 x 1000 against 4 x 500) and the same tuning a chain (300 steps).

detection
    A posterior with two modes of unequal mass that no chain crosses between (a curve whose
    data allow two explanations, reduced to its essence: ``theta``'s likelihood is a 70/30
    mixture of Normals 16 sds apart, beside 30 well-behaved parameters). Over ``--seeds``
    seeds: how often R-hat > 1.01 flags it. Where a chain lands depends on its start only,
    so with probability p of the larger mode two chains miss it with p**2 + q**2 (0.58 at
    p = 0.7) and four with p**4 + q**4 (0.25).
cost
    The dose-response model at its defaults on the real-shaped 216-curve screen
    (``real_screen_design``) and the study screen: wall seconds to the verdict (warm
    compile, sampling with the extension to ESS 400), draws a chain kept, gradients, slowest
    ESS per second, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pymc as pm

from chemoshift.data.run_dir import write_text
from chemoshift.inference.fit import SamplerSettings, compile_model, fit
from chemoshift.models.dose_response import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dose_response import design_for_size, machine_info, simulate

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "chains.json"
LAYOUTS = {"2 chains x 1000 (baseline)": dict(chains=2, draws=1000, cores=2),
           "4 chains x 500 (2 a core)": dict(chains=4, draws=500, cores=4)}


def two_modes() -> pm.Model:
    """theta: a 70/30 mixture of Normal(-2, 0.25) and Normal(2, 0.25); x: 30 Normals."""
    with pm.Model() as model:
        theta = pm.Normal("theta", 0.0, 3.0)
        pm.Potential("modes", pm.math.logsumexp(pm.math.stack([
            np.log(0.7) + pm.logp(pm.Normal.dist(-2.0, 0.25), theta),
            np.log(0.3) + pm.logp(pm.Normal.dist(2.0, 0.25), theta)])))
        pm.Normal("x", 0.0, 1.0, shape=30)
    return model


def detection(seeds: int) -> list[dict]:
    model = two_modes()
    compiled = compile_model(model)
    rows = []
    for name, layout in LAYOUTS.items():
        flagged, seconds = [], []
        for seed in range(seeds):
            settings = SamplerSettings(seed=seed, progress=False, posterior_predictive=False,
                                       extend=False, tune=300, **layout)
            start = time.perf_counter()
            result = fit(model, settings, check=["theta"], reuse=compiled)
            seconds.append(time.perf_counter() - start)
            flagged.append(result.diagnostics.max_rhat > 1.01)
        rows.append(dict(layout=name, seeds=seeds, detected=float(np.mean(flagged)),
                         seconds=float(np.median(seconds))))
        print(f"  {name:28} R-hat > 1.01 in {np.mean(flagged):.0%} of {seeds} fits",
              flush=True)
    return rows


def cost(screens: list[str], seed: int) -> list[dict]:
    rows = []
    for screen in screens:
        data, _ = simulate(design_for_size(screen), seed)
        model = build_model(data)
        compiled = compile_model(model)  # the cache primed: the timed fits compile warm
        baseline = None
        for name, layout in LAYOUTS.items():
            settings = SamplerSettings(seed=seed, progress=False, posterior_predictive=False,
                                       **layout)
            start = time.perf_counter()
            result = fit(build_model(data), settings, reuse=compiled)
            seconds = time.perf_counter() - start
            stats = result.datatree["sample_stats"]
            ess = min(result.diagnostics.min_ess_bulk, result.diagnostics.min_ess_tail)
            row = dict(screen=screen, layout=name, seconds=round(seconds, 1),
                       converged=result.diagnostics.passed,
                       draws_per_chain=result.timings.get("draws_per_chain"),
                       gradients=int(stats["n_steps"].sum()),
                       min_ess=round(ess), ess_per_second=round(ess / seconds, 1))
            baseline = baseline or row
            row["seconds_ratio"] = round(seconds / baseline["seconds"], 2)
            rows.append(row)
            print(f"  {screen:8} {name:28} {seconds:6.1f} s ({row['seconds_ratio']:.2f} x) "
                  f"{'converged' if row['converged'] else 'NOT CONVERGED':13} "
                  f"{row['draws_per_chain']} draws a chain, {row['gradients']:,} gradients, "
                  f"ESS {ess:.0f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--screens", default="real216,24")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print("detection (two modes, 70/30):")
    found = detection(args.seeds)
    print("cost (dose-response model, defaults):")
    spent = cost([s for s in args.screens.split(",") if s], args.seed)
    record = dict(benchmark="chemoshift chains", machine=machine_info(),
                  settings=dataclasses.asdict(SamplerSettings()) | vars(args) | {"out": None},
                  detection=found, cost=spent)
    write_text(args.out, json.dumps(record, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
