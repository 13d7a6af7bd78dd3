"""The geometry benchmark's whitened model is the model in other coordinates: its steps a
draw compare trajectories only if ``q = mean + L u`` carries the same log density."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import geometry
from dose_response import design_for_size, simulate
from pymc.blocking import DictToArrayBijection, RaveledVars

from chemoshift.models.dose_response import build_model


def test_whitened_log_density_is_the_models_at_mean_plus_l_u():
    data, _ = simulate(design_for_size("24"), 5)
    model = build_model(data)
    point = model.initial_point()
    raveled = DictToArrayBijection.map({v.name: point[v.name] for v in model.value_vars})
    rng = np.random.default_rng(5)
    mean = raveled.data + rng.normal(0, 0.05, raveled.data.size)
    size = raveled.data.size
    cholesky = np.tril(rng.normal(0, 0.01, (size, size)), -1) + 0.1 * np.eye(size)
    whitened = geometry.whitened_model(model, mean, cholesky)
    u = rng.normal(0, 1, size)
    moved = DictToArrayBijection.rmap(RaveledVars(mean + cholesky @ u, raveled.point_map_info))
    expected = model.compile_logp()(moved)
    logp = whitened.compile_logp()  # compiled once: the compile is the test's cost
    assert np.isclose(logp({"u": u}), expected, rtol=1e-10)
    # and the check can fail: another u is another density
    assert not np.isclose(logp({"u": u + 0.5}), expected, rtol=1e-6)
