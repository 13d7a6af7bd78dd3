"""Run a sampler on a built model: one path for every assay."""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pymc as pm
import xarray as xr
from xarray import DataTree

from chemoshift.inference.diagnostics import Diagnostics, diagnose

PREDICTIVE_DRAWS = 500  # posterior predictive draws kept (every k-th posterior draw)
SMALL_DATA = 300  # observations below which the target acceptance rate is raised


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample.

    ``chains`` defaults to the machine's cores (at least 2, so R-hat can compare chains;
    at most 4). ``draws`` per chain is where sampling starts: with ``extend`` (the
    default), a posterior whose bulk or tail ESS is short of ``MIN_ESS`` while nothing
    else is wrong gets another batch of ``chains`` chains of ``draws`` draws (their own
    tuning, seeds ``seed + batch``), up to ``max_batches`` batches in all, rather than
    a verdict the user must act on. Set ``extend=False`` for exactly ``chains x draws``.
    ``target_accept`` None picks by data size: 0.9 (hierarchical curve posteriors are
    tight and curved; on the study design it gave no divergences where 0.8 left a few, at
    ~1.4x fewer steps per draw than 0.95), and 0.99 below ``SMALL_DATA`` observations,
    where a few wells leave the noise scales weakly identified (drc's secalonic, 7 wells:
    4 divergences at 0.9, none at 0.95 or 0.99) and sampling costs a second either way.
    """

    draws: int = 1500
    tune: int = 500
    chains: int | None = None  # None: the machine's cores, clamped to 2-4
    seed: int = 20261126
    sampler: Literal["nutpie", "pymc"] = "nutpie"
    target_accept: float | None = None  # None: 0.9, or 0.99 for small data
    cores: int | None = None  # None: all available
    progress: bool = True
    posterior_predictive: bool = True
    extend: bool = True
    max_batches: int = 3

    def acceptance(self, n_observed: int) -> float:
        """The target acceptance rate for a model with ``n_observed`` observations."""
        if self.target_accept is not None:
            return self.target_accept
        return 0.99 if n_observed < SMALL_DATA else 0.9

    @property
    def n_chains(self) -> int:
        return self.chains or min(max(os.cpu_count() or 1, 2), 4)


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
    screen compiles once and swaps the data. Across processes the compiled functions
    come from disk caches (:mod:`chemoshift.inference.nutpie_compile`): a first
    compile of the study model takes 20-40 s, a later one about 5 s.
    """
    from chemoshift.inference.nutpie_compile import compile_for_nutpie

    return compile_for_nutpie(model)


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
    constant_data and (unless switched off) posterior_predictive groups; the posterior
    predictive holds about ``PREDICTIVE_DRAWS`` draws (every k-th posterior draw).
    """
    if settings.sampler not in ("nutpie", "pymc"):
        raise ValueError(f"sampler {settings.sampler!r}; expected 'nutpie' or 'pymc'")
    timings: dict[str, float] = {"compile_seconds": 0.0, "sampling_seconds": 0.0}
    names = check or [rv.name for rv in model.free_RVs]
    settings = dataclasses.replace(settings,
                                   target_accept=settings.acceptance(_n_observed(model)))
    if settings.sampler == "nutpie" and reuse is None:
        start = time.perf_counter()
        reuse = compile_model(model)
        timings["compile_seconds"] = time.perf_counter() - start
    batches = []
    for batch in range(settings.max_batches if settings.extend else 1):
        batches.append(_sample_batch(model, settings, settings.seed + batch, timings, reuse))
        datatree = _join_chains(batches)
        diagnostics = diagnose(datatree, names)
        if diagnostics.passed or not diagnostics.only_short_of_ess:
            break
    timings["batches"] = len(batches)

    if settings.posterior_predictive:
        start = time.perf_counter()
        posterior = datatree["posterior"].to_dataset()
        step = max(1, -(-posterior.sizes["chain"] * posterior.sizes["draw"]
                        // PREDICTIVE_DRAWS))
        thinned = datatree.copy()  # with its constant_data: the data are the trace's own
        thinned["posterior"] = posterior.isel(draw=slice(None, None, step))
        with model:  # replicated data sets from a thinned posterior: checks need hundreds
            predictive = pm.sample_posterior_predictive(
                thinned, random_seed=np.random.default_rng(settings.seed + 1),
                progressbar=False)
        datatree["posterior_predictive"] = predictive["posterior_predictive"]
        timings["posterior_predictive_seconds"] = time.perf_counter() - start

    return FitResult(datatree=datatree, diagnostics=diagnostics, settings=settings,
                     timings=timings)


def _n_observed(model: pm.Model) -> int:
    """Number of observed values (wells) in a model."""
    total = 0
    for rv in model.observed_RVs:
        data = model.rvs_to_values[rv]
        total += np.size(data.get_value() if hasattr(data, "get_value") else data.data)
    return int(total)


def _sample_batch(model: pm.Model, settings: SamplerSettings, seed: int, timings: dict,
                  compiled) -> DataTree:
    """One batch of ``settings.n_chains`` chains: tuning, then ``settings.draws`` draws."""
    start = time.perf_counter()
    if settings.sampler == "nutpie":
        datatree = _sample_nutpie(model, settings, seed, compiled)
    else:
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            datatree = pm.sample(
                draws=settings.draws, tune=settings.tune, chains=settings.n_chains,
                cores=_cores(settings), random_seed=seed, nuts_sampler="pymc",
                target_accept=settings.target_accept, progressbar=settings.progress,
                compute_convergence_checks=False)
    timings["sampling_seconds"] += time.perf_counter() - start
    return datatree


def _join_chains(batches: list[DataTree]) -> DataTree:
    """Batches of independent chains as one posterior: chains numbered on from batch to batch."""
    if len(batches) == 1:
        return batches[0]
    joined = batches[0].copy()
    for group in ("posterior", "sample_stats"):
        parts = [b[group].to_dataset() for b in batches]
        offset, renumbered = 0, []
        for part in parts:
            renumbered.append(part.assign_coords(chain=part.chain + offset))
            offset += part.sizes["chain"]
        joined[group] = xr.concat(renumbered, dim="chain", combine_attrs="override")
    return joined


def _sample_nutpie(model: pm.Model, settings: SamplerSettings, seed: int,
                   compiled) -> DataTree:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    in_graph = {variable.name for variable in compiled.shared_var_keys}
    compiled = compiled.with_data(**{v.name: v.get_value() for v in model.data_vars
                                     if v.name in in_graph})
    start = time.perf_counter()
    datatree = nutpie.sample(
        compiled, draws=settings.draws, tune=settings.tune, chains=settings.n_chains,
        cores=_cores(settings), seed=seed, target_accept=settings.target_accept,
        progress_bar=settings.progress, save_warmup=False)
    patch_nutpie_idata(datatree, model, sampling_time=time.perf_counter() - start)
    return datatree


def _cores(settings: SamplerSettings) -> int:
    """Cores to sample on: as asked, else all (PyMC's own default is half the cores)."""
    return settings.cores or min(settings.n_chains, os.cpu_count() or 1)
