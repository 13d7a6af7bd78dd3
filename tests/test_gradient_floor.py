"""The gradient-floor benchmark's fused likelihood is the model's likelihood: its figures
bound what a rewrite could gain only if the loop computes the same numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gradient_floor
from dose_response import design_for_size, simulate


def test_fused_loop_matches_pytensors_likelihood_and_gradient():
    data, _ = simulate(design_for_size("24"), 3)
    wells = gradient_floor.wells_of(data)
    params = gradient_floor.parameters(wells, 3)
    fused = gradient_floor.fused_kernels()[0]
    likelihood = gradient_floor.pytensor_likelihood(wells)
    assert gradient_floor.check_fused(wells, params, likelihood, fused) < 1e-8
    # and the check can fail: the loop at Hill slopes 1% off is caught
    wrong = list(params)
    wrong[1] = params[1] * 1.01
    assert gradient_floor.check_fused(wells, tuple(wrong), _shifted(wells, params), fused) > 1e-6


def _shifted(wells, params):
    """PyTensor's likelihood evaluated at ``params`` whatever it is called with."""
    function = gradient_floor.pytensor_likelihood(wells)
    return lambda *_: function(*params)


def test_the_loop_sees_every_dosed_well_once():
    data, _ = simulate(design_for_size("24"), 3)
    wells = gradient_floor.wells_of(data)
    assert len(wells["x"]) == int((data.wells.concentration > 0).sum())
    assert np.all(np.isfinite(wells["x"]))
