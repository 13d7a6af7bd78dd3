"""What one gradient of the dose-response model costs, and how far a rewrite could cut it.

Run from the repository root (prints a table; writes JSON atomically)::

    python benchmarks/gradient_floor.py                 # the 400-curve screen
    python benchmarks/gradient_floor.py --size hts216 --repeats 1000

On one benchmark screen (``benchmarks/dose_response.py``'s ``SIZES``) it times, in
microseconds a call, single-threaded, with PyTensor's fast-math flags as the fits use:

model
    The baseline: the model's whole log density and gradient, compiled by PyTensor's numba
    backend as nutpie calls it (``model.logp_dlogp_function``).
likelihood (PyTensor)
    The dosed wells' Huber likelihood (``chemoshift.models.huber.huber_logp``, as the model's)
    and its gradient alone (gathers, four-parameter curve, signal-dependent noise), in the
    same backend.
likelihood (fused loop)
    A hand-written numba loop computing the same log density and gradient in one pass over
    the wells (checked against PyTensor's to 1e-8 relative before it is timed): what a
    custom fused Op could reach.
forward only / exp / log
    The fused loop without the gradient, and one ``exp`` or ``log`` a well: the floor set
    by the transcendental functions a well costs (the sigmoid's ``exp``, the noise's ``log``
    and ``sqrt``; the Huber loss itself is arithmetic, and ``sqrt`` is one hardware
    instruction, so it is not timed alone).

Each is printed with its ratio to the baseline. With ``--depth``, it also samples the
screen at nutpie's default tree depth and capped at ``--max-depth`` (default 4), and
prints leapfrog steps and the slowest bulk ESS per draw of each: whether the long
trajectories are needed. The question it answers (issue 8): the 400-curve screen takes
31 leapfrog steps a draw on ~3,000 parameters; at 0.6-1 ms a gradient, two chains of
1,300 iterations cannot finish in under 30 s, whatever the bookkeeping around them.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dose_response import design_for_size, simulate, write_json

LN10 = math.log(10.0)


def wells_of(data) -> dict[str, np.ndarray]:
    """The dosed wells as the model indexes them: concentrations, responses, indices."""
    from chemoshift.models.dose_response_design import Design

    design = Design.from_data(data)
    dosed = design.dosed
    return dict(x=dosed.log10_concentration.to_numpy(float), y=dosed.response.to_numpy(float),
                curve=dosed.curve.to_numpy(np.int64),
                curve_experiment=np.asarray(design.dosed_curve_experiment, np.int64),
                top_group=dosed.top_group.to_numpy(np.int64))


def parameters(wells: dict, seed: int) -> tuple:
    """Plausible parameter values at which to time and compare the likelihoods:
    ``(ic50, hill, bottom, top, floor, cv)``."""
    rng = np.random.default_rng(seed)
    n_ce = wells["curve_experiment"].max() + 1
    n_curve, n_top = wells["curve"].max() + 1, wells["top_group"].max() + 1
    top = np.full(n_top, float(np.median(wells["y"]))) * np.exp(rng.normal(0, 0.05, n_top))
    return (rng.normal(0.0, 0.3, n_ce), np.exp(rng.normal(0.0, 0.2, n_curve)),
            rng.uniform(0.05, 0.3, n_curve), top, 0.02 * float(np.median(wells["y"])), 0.1)


def pytensor_likelihood(wells: dict):
    """The dosed wells' Huber log likelihood (the model's ``huber_logp``, summed over wells)
    and its gradient, compiled by PyTensor's numba backend; inputs ic50, hill, bottom, top,
    floor, cv."""
    import pytensor
    import pytensor.tensor as pt

    from chemoshift.data.curve import four_parameter_response
    from chemoshift.models.dose_response import _noise
    from chemoshift.models.huber import huber_logp

    ic50, hill, bottom, top = (pt.dvector(n) for n in ("ic50", "hill", "bottom", "top"))
    floor, cv = (pt.dscalar(n) for n in ("floor", "cv"))
    mu = four_parameter_response(wells["x"], ic50[wells["curve_experiment"]],
                                 hill[wells["curve"]], bottom[wells["curve"]],
                                 top[wells["top_group"]], sigmoid=pt.sigmoid)
    logp = huber_logp(wells["y"], mu, _noise(mu, floor, cv)).sum()
    inputs = [ic50, hill, bottom, top, floor, cv]
    with pytensor.config.change_flags(numba__fastmath=True):
        return pytensor.function(inputs, [logp, *pytensor.grad(logp, inputs)], mode="NUMBA")


def fused_kernels():
    """The same likelihood as one numba loop: (log density without its constant
    ``-log Z(k)`` a well, gradients), and the forward pass alone.

    A well's term is ``-rho(u) - log(sigma)`` with ``var = floor^2 + cv^2 mu^2``,
    ``sigma = sqrt(var)``, ``u = (y - mu) / sigma`` and Huber's ``psi(u) = rho'(u)`` (``u``
    within ``k``, ``k sign(u)`` beyond): ``d/d var = (psi(u) u - 1) / (2 var)``,
    ``d/d mu = psi(u) / sigma + d/d var * 2 cv^2 mu``; the rest is the curve's chain rule."""
    import numba

    from chemoshift.models.huber import HUBER_K

    k = HUBER_K

    @numba.njit(fastmath=True)
    def value_and_grad(x, y, curve, ce, group, ic50, hill, bottom, top, floor, cv,
                       g_ic50, g_hill, g_bottom, g_top):
        g_ic50[:] = 0.0
        g_hill[:] = 0.0
        g_bottom[:] = 0.0
        g_top[:] = 0.0
        logp = g_floor = g_cv = 0.0
        for w in range(x.shape[0]):
            c, e, g = curve[w], ce[w], group[w]
            dx = x[w] - ic50[e]
            s = 1.0 / (1.0 + math.exp(LN10 * hill[c] * dx))
            fraction = bottom[c] + (1.0 - bottom[c]) * s
            mu = top[g] * fraction
            var = floor * floor + cv * cv * mu * mu
            sigma = math.sqrt(var)
            u = (y[w] - mu) / sigma
            if abs(u) <= k:
                psi = u
                rho = 0.5 * u * u
            else:
                psi = k if u > 0.0 else -k
                rho = k * abs(u) - 0.5 * k * k
            logp += -rho - 0.5 * math.log(var)
            d_var = (psi * u - 1.0) / (2.0 * var)
            d_mu = psi / sigma + d_var * 2.0 * cv * cv * mu
            g_floor += d_var * 2.0 * floor
            g_cv += d_var * 2.0 * cv * mu * mu
            g_top[g] += d_mu * fraction
            d_fraction = d_mu * top[g]
            g_bottom[c] += d_fraction * (1.0 - s)
            d_s = d_fraction * (1.0 - bottom[c]) * s * (1.0 - s)
            g_hill[c] -= d_s * LN10 * dx
            g_ic50[e] += d_s * LN10 * hill[c]
        return logp, g_floor, g_cv

    @numba.njit(fastmath=True)
    def forward(x, y, curve, ce, group, ic50, hill, bottom, top, floor, cv):
        logp = 0.0
        for w in range(x.shape[0]):
            c = curve[w]
            s = 1.0 / (1.0 + math.exp(LN10 * hill[c] * (x[w] - ic50[ce[w]])))
            mu = top[group[w]] * (bottom[c] + (1.0 - bottom[c]) * s)
            var = floor * floor + cv * cv * mu * mu
            a = abs(y[w] - mu) / math.sqrt(var)
            rho = 0.5 * a * a if a <= k else k * a - 0.5 * k * k
            logp += -rho - 0.5 * math.log(var)
        return logp

    @numba.njit(fastmath=True)
    def one_exp(x):
        total = 0.0
        for w in range(x.shape[0]):
            total += math.exp(x[w])
        return total

    @numba.njit(fastmath=True)
    def one_log(x):
        total = 0.0
        for w in range(x.shape[0]):
            total += math.log(1.0 + x[w] * x[w])
        return total

    return value_and_grad, forward, one_exp, one_log


def check_fused(wells: dict, params: tuple, pytensor_fn, fused) -> float:
    """Largest relative difference between the fused loop's and PyTensor's log density and
    gradient (the fused loop leaves out the constant ``-log Z(k)`` a well; it is added here)."""
    from chemoshift.models.huber import HUBER_K, log_normaliser

    ic50, hill, bottom, top, *_ = params
    expected = pytensor_fn(*params)
    grads = [np.zeros_like(a) for a in (ic50, hill, bottom, top)]
    logp, g_floor, g_cv = fused(*_loop_args(wells), *params, *grads)
    logp -= len(wells["x"]) * log_normaliser(HUBER_K)
    got = [logp, *grads, g_floor, g_cv]
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))
                     / max(float(np.max(np.abs(np.asarray(b)))), 1e-12))
               for a, b in zip(got, expected, strict=True))


def _loop_args(wells: dict) -> tuple:
    return (wells["x"], wells["y"], wells["curve"], wells["curve_experiment"],
            wells["top_group"])


def microseconds(call, repeats: int) -> float:
    """Median of five timings of ``repeats`` calls, in microseconds a call."""
    call()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        times.append((time.perf_counter() - start) / repeats * 1e6)
    return float(np.median(times))


def time_gradients(data, model, size: str, seed: int, repeats: int) -> dict:
    import pytensor
    from pymc.blocking import DictToArrayBijection

    wells = wells_of(data)
    with pytensor.config.change_flags(numba__fastmath=True):
        model_fn = model.logp_dlogp_function(mode="NUMBA", ravel_inputs=True)
    model_fn.set_extra_values({})
    point = model.initial_point()
    flat = DictToArrayBijection.map({v.name: point[v.name] for v in model_fn._grad_vars}).data
    params = parameters(wells, seed)
    likelihood = pytensor_likelihood(wells)
    fused, forward, one_exp, one_log = fused_kernels()
    difference = check_fused(wells, params, likelihood, fused)
    if not difference < 1e-8:
        raise SystemExit(f"the fused loop disagrees with PyTensor: {difference:.2e}")
    grads = [np.zeros_like(a) for a in params[:4]]
    loop = _loop_args(wells)
    rows = {
        "model": microseconds(lambda: model_fn(flat), repeats),
        "likelihood (PyTensor)": microseconds(lambda: likelihood(*params), repeats),
        "likelihood (fused loop)": microseconds(lambda: fused(*loop, *params, *grads), repeats),
        "forward only (fused loop)": microseconds(lambda: forward(*loop, *params), repeats),
        "one exp a well": microseconds(lambda: one_exp(wells["x"]), repeats),
        "one log a well": microseconds(lambda: one_log(wells["x"]), repeats),
    }
    return dict(size=size, dosed_wells=len(wells["x"]), wells=len(data.wells),
                parameters=int(flat.size), microseconds=rows, fused_max_rel_diff=difference)


def tree_depth(model, seed: int, draws: int, max_depth: int) -> list[dict]:
    """Leapfrog steps a draw and the slowest bulk ESS a draw, at nutpie's default depth
    and capped at ``max_depth``."""
    from geometry import CHAINS, sample

    from chemoshift.inference.diagnostics import diagnose
    from chemoshift.inference.fit import compile_model

    compiled = compile_model(model)
    names = [rv.name for rv in model.free_RVs]
    rows = []
    for depth in (10, max_depth):
        trace, seconds = sample(compiled, seed, draws, maxdepth=depth)
        diagnostics = diagnose(trace, names)
        rows.append(dict(max_depth=depth, seconds=seconds,
                         steps_per_draw=float(trace["sample_stats"]["n_steps"].mean()),
                         min_bulk_ess_per_draw=diagnostics.min_ess_bulk / (CHAINS * draws),
                         max_rhat=diagnostics.max_rhat))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="400", help="a benchmarks/dose_response.py size")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeats", type=int, default=300, help="calls per timing")
    parser.add_argument("--depth", action="store_true",
                        help="also sample at the default and a capped tree depth")
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "gradient_floor.json")
    args = parser.parse_args(argv)

    from chemoshift.models.dose_response import build_model

    data, _ = simulate(design_for_size(args.size), args.seed)
    model = build_model(data)
    result = time_gradients(data, model, args.size, args.seed, args.repeats)
    baseline = result["microseconds"]["model"]
    print(f"{args.size} screen: {result['dosed_wells']:,} dosed wells, "
          f"{result['parameters']:,} parameters (single thread, fast-math)")
    print(f"{'':28s} {'us a call':>10s} {'x baseline':>11s}")
    for name, value in result["microseconds"].items():
        label = f"{name} (baseline)" if name == "model" else name
        print(f"{label:28s} {value:10.0f} {value / baseline:11.2f}")
    print(f"fused loop vs PyTensor's likelihood: max relative difference "
          f"{result['fused_max_rel_diff']:.1e}")
    if args.depth:
        result["tree_depth"] = tree_depth(model, args.seed, args.draws, args.max_depth)
        for row in result["tree_depth"]:
            print(f"max depth {row['max_depth']:2d}: {row['steps_per_draw']:.1f} steps a draw, "
                  f"slowest bulk ESS a draw {row['min_bulk_ess_per_draw']:.3f}, "
                  f"R-hat {row['max_rhat']:.3f}, {row['seconds']:.1f} s")
    result["machine"] = dict(cores=os.cpu_count(), load=os.getloadavg(),
                             python=platform.python_version())
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
