"""Run a sampler on a built model: one path for every assay."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pymc as pm
from xarray import DataTree

from chemoshift.inference.diagnostics import Diagnostics, diagnose


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample. Defaults are the usual NUTS ones but for the target acceptance:
    hierarchical curve models have tight, curved posteriors, and 0.95 removes the
    occasional divergence that 0.9 leaves, for about 1.7x the sampling time."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 20261126
    sampler: Literal["nutpie", "pymc"] = "nutpie"
    target_accept: float = 0.95
    cores: int | None = None  # None: all available
    progress: bool = True
    posterior_predictive: bool = True


@dataclass
class FitResult:
    """A sampled posterior with its diagnostics and where the time went (seconds)."""

    datatree: DataTree
    diagnostics: Diagnostics
    settings: SamplerSettings
    timings: dict[str, float] = field(default_factory=dict)


DEFAULT_SETTINGS = SamplerSettings()


def compile_model(model: pm.Model):
    """Compile a model for nutpie once, to reuse on data of the same shape (``fit(reuse=)``).

    Compiling costs more than sampling at study size; a recovery study or a sharded
    screen compiles once and swaps the data.
    """
    import nutpie

    return nutpie.compile_pymc_model(model)


def fit(model: pm.Model, settings: SamplerSettings = DEFAULT_SETTINGS,
        check: list[str] | None = None, reuse=None) -> FitResult:
    """Sample ``model`` and diagnose the result.

    Parameters
    ----------
    model : a built PyMC model (pure: coords, dims, observed data).
    settings : sampler, draws, tune, chains, seed.
    check : posterior variables whose R-hat / ESS decide the verdict; default: every
        free parameter of the model.
    reuse : a ``compile_model`` result for a model of the same structure, shapes and
        coords; the data of ``model`` are swapped in instead of compiling again (nutpie).

    Returns
    -------
    FitResult whose ``datatree`` has posterior, sample_stats, observed_data,
    constant_data and (unless switched off) posterior_predictive groups.
    """
    timings: dict[str, float] = {}
    if settings.sampler == "nutpie":
        datatree = _sample_nutpie(model, settings, timings, reuse)
    elif settings.sampler == "pymc":
        start = time.perf_counter()
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            datatree = pm.sample(
                draws=settings.draws, tune=settings.tune, chains=settings.chains,
                cores=_cores(settings), random_seed=settings.seed, nuts_sampler="pymc",
                target_accept=settings.target_accept, progressbar=settings.progress,
                compute_convergence_checks=False)
        timings["sampling_seconds"] = time.perf_counter() - start
    else:
        raise ValueError(f"sampler {settings.sampler!r}; expected 'nutpie' or 'pymc'")

    if settings.posterior_predictive:
        start = time.perf_counter()
        with model:
            predictive = pm.sample_posterior_predictive(
                datatree, random_seed=np.random.default_rng(settings.seed + 1),
                progressbar=False)
        datatree["posterior_predictive"] = predictive["posterior_predictive"]
        timings["posterior_predictive_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    names = check or [rv.name for rv in model.free_RVs]
    diagnostics = diagnose(datatree, names)
    timings["diagnostics_seconds"] = time.perf_counter() - start
    return FitResult(datatree=datatree, diagnostics=diagnostics, settings=settings,
                     timings=timings)


def _sample_nutpie(model: pm.Model, settings: SamplerSettings, timings: dict,
                   reuse) -> DataTree:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    start = time.perf_counter()
    if reuse is None:
        compiled = compile_model(model)
    else:
        in_graph = {variable.name for variable in reuse.shared_var_keys}
        compiled = reuse.with_data(**{v.name: v.get_value() for v in model.data_vars
                                      if v.name in in_graph})
    timings["compile_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    datatree = nutpie.sample(
        compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
        cores=_cores(settings), seed=settings.seed, target_accept=settings.target_accept,
        progress_bar=settings.progress, save_warmup=False)
    timings["sampling_seconds"] = time.perf_counter() - start
    patch_nutpie_idata(datatree, model, sampling_time=timings["sampling_seconds"])
    return datatree


def _cores(settings: SamplerSettings) -> int:
    """Cores to sample on: as asked, else all (PyMC's own default is half the cores)."""
    return settings.cores or min(settings.chains, os.cpu_count() or 1)
