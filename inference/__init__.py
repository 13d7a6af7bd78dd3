"""Sampling, diagnostics, run directories and the ``chemoshift`` command line."""

from chemoshift.inference.diagnostics import Diagnostics, diagnose
from chemoshift.inference.fit import FitResult, SamplerSettings, fit

__all__ = ["Diagnostics", "FitResult", "SamplerSettings", "diagnose", "fit"]
