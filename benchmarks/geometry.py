"""What sets the dose-response posterior's trajectory length: correlations, or curvature?

Run from the repository root (prints a table; writes JSON atomically)::

    python benchmarks/geometry.py --bottoms             # ~5 min on 2 cores
    python benchmarks/geometry.py --dense               # slow: ~30 min on the 400 screen
    python benchmarks/geometry.py --size 24 --dense --bottoms --draws 300   # a smoke run

On one benchmark screen (``benchmarks/dose_response.py``'s ``SIZES``), nutpie's NUTS at the
package's target_accept (0.9), 300 tuning steps, two chains:

--dense
    The baseline is the model as fitted (diagonal mass matrix). Its draws, with their
    unconstrained values, give a covariance; the model is then sampled again in
    coordinates whitened by it (``q = mean + L u``, ``L L' = covariance``): a dense mass
    matrix, the most any linear rewrite of the model (marginalising its linear IC50 terms
    included) could do for the trajectories. Fewer steps a draw there would mean
    correlations set the tree depth; as many mean the curvature does.
--bottoms
    The screen simulated with bottoms that vary between the curves of a drug (logit sd
    ``--bottom-sd``, as in real screens) instead of the benchmark's identical ones,
    sampled with non-centred (the default) and centred curve bottoms.

Each row prints leapfrog steps a draw, the final step size and the slowest bulk ESS a
draw, with the ratio of steps a draw to the baseline's. Measured 2026-11-28 on the
400-curve screen: dense 54 steps a draw against 31 (the scales ~1.8x better a draw);
varying bottoms: slowest 0.037 ESS a draw non-centred, 0.25 centred.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dose_response import design_for_size, simulate, write_json

CHAINS, TUNE, TARGET_ACCEPT = 2, 300, 0.9


def sample(compiled, seed: int, draws: int, **options):
    """nutpie's NUTS as the benchmark rows run it; returns (trace, seconds)."""
    import nutpie

    start = time.perf_counter()
    trace = nutpie.sample(compiled, draws=draws, tune=TUNE, chains=CHAINS, cores=CHAINS,
                          seed=seed, target_accept=TARGET_ACCEPT, progress_bar=False,
                          **options)
    return trace, time.perf_counter() - start


def row(label: str, trace, seconds: float, values: np.ndarray, names: np.ndarray) -> dict:
    """Steps a draw, step size and the slowest bulk ESS a draw of (chain, draw, k) values
    whose columns are named by ``names``."""
    from chemoshift.inference.rank_diagnostics import rank_diagnostics

    stats = trace["sample_stats"]
    draws = values.shape[0] * values.shape[1]
    ess = np.asarray(rank_diagnostics(values)["ess_bulk"]) / draws
    slowest = int(np.nanargmin(ess))
    return dict(label=label, seconds=seconds, steps_per_draw=float(stats["n_steps"].mean()),
                step_size=float(stats["step_size"].isel(draw=-1).mean()),
                min_bulk_ess_per_draw=float(ess[slowest]), slowest=str(names[slowest]))


def unconstrained(model, trace) -> tuple[np.ndarray, np.ndarray]:
    """(chain, draw, k) unconstrained values of the model's free variables, in the order
    of ``model.value_vars``, and each column's variable name."""
    posterior = trace["posterior"].to_dataset()
    transformed = trace["unconstrained_posterior"].to_dataset()
    columns, names = [], []
    for variable in model.value_vars:
        source = transformed if variable.name in transformed else posterior
        values = source[variable.name].values
        columns.append(values.reshape(*values.shape[:2], -1))
        names += [variable.name] * columns[-1].shape[2]
    return np.concatenate(columns, axis=2), np.array(names)


def whitened_model(model, mean: np.ndarray, cholesky: np.ndarray):
    """``model``'s log density in coordinates ``u`` with ``q = mean + cholesky @ u`` (``q``
    the free variables raveled in the order of ``model.value_vars``)."""
    import pymc as pm
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs
    from pytensor.graph.replace import graph_replace

    [log_density], q = join_nonshared_inputs(model.initial_point(), [model.logp()],
                                             model.value_vars)
    with pm.Model() as whitened:
        u = pm.Flat("u", shape=len(mean))
        position = pt.as_tensor(mean) + pt.as_tensor(cholesky) @ u
        pm.Potential("log_density", graph_replace(log_density, {q: position}, strict=False))
    return whitened


def dense(model, seed: int, draws: int, pilot_draws: int) -> list[dict]:
    """The model as fitted, then in coordinates whitened by its draws' covariance."""
    import nutpie

    from chemoshift.inference.fit import compile_model

    trace, seconds = sample(compile_model(model), seed, pilot_draws, store_unconstrained=True)
    values, names = unconstrained(model, trace)
    rows = [row("diagonal mass matrix (the fit's)", trace, seconds, values, names)]
    centred = values - values.mean(axis=1, keepdims=True)  # each chain about its own mean
    flat = centred.reshape(-1, centred.shape[2])
    covariance = flat.T @ flat / len(flat)
    covariance = 0.95 * covariance + 0.05 * np.diag(np.diag(covariance))  # keep it definite
    cholesky = np.linalg.cholesky(covariance)
    mean = values.reshape(-1, values.shape[2]).mean(axis=0)
    compiled = nutpie.compile_pymc_model(whitened_model(model, mean, cholesky),
                                         backend="numba")
    trace, seconds = sample(compiled, seed, draws, init_mean=np.zeros(len(mean)))
    whitened = mean + trace["posterior"]["u"].values @ cholesky.T
    rows.append(row(f"dense (whitened by {flat.shape[0]:,} draws)", trace, seconds,
                    whitened, names))
    return rows


def bottoms(size: str, seed: int, draws: int, bottom_sd: float) -> list[dict]:
    """Bottoms varying between curves, sampled non-centred and centred."""
    from chemoshift.inference.fit import compile_model
    from chemoshift.models.dose_response import build_model

    design = dataclasses.replace(design_for_size(size), bottom_curve_sd=bottom_sd)
    data, _ = simulate(design, seed)
    rows = []
    for form in ("non_centred", "centred"):
        model = build_model(data, bottom_parameterisation=form)
        trace, seconds = sample(compile_model(model), seed, draws, store_unconstrained=True)
        values, names = unconstrained(model, trace)
        rows.append(row(f"bottoms vary (logit sd {bottom_sd:g}), {form} curve bottoms",
                        trace, seconds, values, names))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="400", help="a benchmarks/dose_response.py size")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--draws", type=int, default=1000, help="draws a chain a row")
    parser.add_argument("--pilot-draws", type=int, default=4000,
                        help="draws a chain of the baseline whose covariance whitens")
    parser.add_argument("--dense", action="store_true")
    parser.add_argument("--bottoms", action="store_true")
    parser.add_argument("--bottom-sd", type=float, default=0.5)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "geometry.json")
    args = parser.parse_args(argv)
    if not (args.dense or args.bottoms):
        parser.error("choose --dense, --bottoms or both")

    from chemoshift.models.dose_response import build_model

    rows = []
    if args.dense:
        data, _ = simulate(design_for_size(args.size), args.seed)
        rows += dense(build_model(data), args.seed, args.draws, args.pilot_draws)
    if args.bottoms:
        rows += bottoms(args.size, args.seed, args.draws, args.bottom_sd)
    baseline = rows[0]["steps_per_draw"]
    print(f"{args.size} screen, nutpie NUTS, {CHAINS} chains, {TUNE} tuning steps, "
          f"target_accept {TARGET_ACCEPT}; ratio: steps a draw / the first row's")
    print(f"{'':58s} {'steps':>6s} {'ratio':>6s} {'step':>6s} {'ESS/draw':>9s}  slowest")
    for r in rows:
        print(f"{r['label']:58s} {r['steps_per_draw']:6.1f} {r['steps_per_draw'] / baseline:6.2f}"
              f" {r['step_size']:6.3f} {r['min_bulk_ess_per_draw']:9.3f}  {r['slowest']}")
    write_json(args.out, dict(size=args.size, seed=args.seed, draws=args.draws,
                              machine=dict(cpus=os.cpu_count(),
                                           processor=platform.processor()),
                              rows=rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
