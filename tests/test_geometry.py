"""The geometry benchmark's whitened model is the model in other coordinates: its steps a
draw compare trajectories only if ``q = mean + L u`` carries the same log density."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import geometry
from dose_response import design_for_size, simulate

from chemoshift.models.dose_response import build_model


def test_whitened_log_density_is_the_models_at_mean_plus_l_u():
    data, _ = simulate(design_for_size("24"), 5)
    model = build_model(data)
    point = model.initial_point()
    flat = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
    rng = np.random.default_rng(5)
    mean = flat + rng.normal(0, 0.05, flat.size)
    cholesky = np.tril(rng.normal(0, 0.01, (flat.size, flat.size)), -1) + 0.1 * np.eye(flat.size)
    whitened = geometry.whitened_model(model, mean, cholesky)
    u = rng.normal(0, 1, flat.size)
    q, start = mean + cholesky @ u, 0
    moved = {}
    for variable in model.value_vars:
        shape = point[variable.name].shape
        size = int(np.prod(shape))
        moved[variable.name] = q[start:start + size].reshape(shape)
        start += size
    expected = model.compile_logp()(moved)
    assert np.isclose(whitened.compile_logp()({"u": u}), expected, rtol=1e-10)
    # and the check can fail: another u is another density
    assert not np.isclose(whitened.compile_logp()({"u": u + 0.5}), expected, rtol=1e-6)
