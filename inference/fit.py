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

from chemoshift.inference.advice import advise
from chemoshift.inference.diagnostics import MIN_ESS, Diagnostics, Units, diagnose
from chemoshift.models.potentials import only_prior_potentials

PREDICTIVE_DRAWS = 500  # posterior predictive draws kept (every k-th posterior draw)
FIRST_LOOK = 2000  # draws in all (every chain's together) at an extended fit's first look
SMALL_DATA = 300  # observations below which the target acceptance rate is raised


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample.

    ``chains`` defaults to the machine's cores (at least 2, so R-hat can compare chains; at most 4).
    Four chains find more (R-hat flagged a 70/30 two-mode posterior in 90% of fits against two
    chains' 70%) but on two cores cost 1.4x the wall time of two chains of twice the length
    (``benchmarks/chains.py``), so the default stays a chain per core; a fit whose chains disagree
    advises ``--chains 4``. nutpie runs every chain at once (two a core when there are more chains
    than cores). ``tune`` steps adapt the step size and mass matrix (300 settle them on every design
    and reference set we fit; issue 8). ``draws`` per chain is the first look at the posterior
    (None: ``FIRST_LOOK`` draws shared by the chains, 1,000 a chain with two). With ``extend`` (the
    default) nutpie's chains run on while the posterior is checked, up to ``max_batches`` x the
    first look: next where the ESS so far says the target will be met (with 10% to spare, rounded up
    to a multiple of a quarter of the first look). The fit keeps the first ``n`` draws of every
    chain, ``n`` the first check at which bulk and tail ESS reach ``MIN_ESS`` (or something more
    draws cannot fix shows: a divergence, chains that disagree, low E-BFMI). The kept draws depend
    on the seed and the posterior only, never on how fast the machine is. (Stopping at the first
    passing check selects slightly optimistic ESS estimates; the margin is small beside the 400
    bar.) PyMC's sampler extends by whole batches of ``chains`` chains instead (their own tuning,
    seeds ``seed + batch``). Set ``extend=False`` for exactly ``chains x draws``. ``target_accept``
    None picks by data size: 0.9 (hierarchical curve posteriors are tight and curved; on the study
    design it gave no divergences where 0.8 left a few, and on an HTS-shaped screen 0.8's shorter
    trajectories mixed so much worse that the fit took longer), and 0.99 below ``SMALL_DATA``
    observations, where a few wells leave the noise scales weakly identified (drc's secalonic, 7
    wells: 4 divergences at 0.9, none at 0.95 or 0.99) and sampling costs a second either way.
    """

    draws: int | None = None  # None: FIRST_LOOK draws in all, shared by the chains
    tune: int = 300
    chains: int | None = None  # None: the machine's cores, clamped to 2-4
    seed: int = 20261126
    sampler: Literal["nutpie", "pymc"] = "nutpie"
    target_accept: float | None = None  # None: 0.9, or 0.99 for small data
    cores: int | None = None  # None: all available
    progress: bool = True
    posterior_predictive: bool = True
    extend: bool = True
    max_batches: int = 6  # real-shaped 216-curve screens needed 1,750-4,000 draws a chain

    @property
    def first_draws(self) -> int:
        """Draws per chain at the first look: ``draws``, else ``FIRST_LOOK`` shared by the
        chains (1,000 a chain with two, 500 with four)."""
        if self.draws is not None:
            return self.draws
        return max(FIRST_LOOK // self.n_chains, 100)

    def checkpoints(self) -> list[int]:
        """Draws per chain at which an extended nutpie fit may look at its posterior."""
        first = self.first_draws
        if not self.extend:
            return [first]
        step = max(first // 4, 1)
        return list(range(first, first * self.max_batches + 1, step))

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
        check: list[str] | None = None, reuse=None, units: Units | None = None,
        reported: tuple[str, ...] = ()) -> FitResult:
    """Sample ``model`` and diagnose the result.

    Parameters
    ----------
    model : a built PyMC model (pure: coords, dims, observed data).
    settings : sampler, draws, tune, chains, seed.
    check : posterior variables whose R-hat / ESS decide the verdict; default: every
        free parameter of the model.
    reuse : a ``compile_model`` result for a model of the same structure, shapes and
        coords; the data of ``model`` are swapped in instead of compiling again (nutpie).
    units : which elements belong to which unit (a dose-response curve): a unit whose own
        parameters fail is named, and the rest of the fit stands on its own diagnostics.
    reported : variables whose per-element diagnostics the tables report.

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
    def check_draws(datatree: DataTree) -> Diagnostics:
        return diagnose(datatree, names, units=units, reported=reported)

    if settings.sampler == "nutpie":
        datatree, diagnostics = _sample_nutpie(model, settings, check_draws, reuse, timings)
    else:
        batches = []
        for batch in range(settings.max_batches if settings.extend else 1):
            batches.append(_sample_pymc(model, settings, settings.seed + batch, timings))
            datatree = _join_chains(batches)
            diagnostics = check_draws(datatree)
            if diagnostics.passed or not diagnostics.only_short_of_ess:
                break
        timings["batches"] = len(batches)
        timings["draws_per_chain"] = settings.first_draws
    diagnostics = dataclasses.replace(
        diagnostics, advice=advise(diagnostics, settings, timings.get("draws_per_chain")))

    if settings.posterior_predictive:
        start = time.perf_counter()
        posterior = datatree["posterior"].to_dataset()
        step = max(1, -(-posterior.sizes["chain"] * posterior.sizes["draw"]
                        // PREDICTIVE_DRAWS))
        thinned = datatree.copy()  # with its constant_data: the data are the trace's own
        thinned["posterior"] = posterior.isel(draw=slice(None, None, step))
        with model, warnings.catch_warnings():  # a thinned posterior: checks need hundreds
            if only_prior_potentials(model):  # in the draws the replicates start from:
                # PyMC's warning about potentials does not apply (chemoshift.models.potentials)
                warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
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


def _sample_pymc(model: pm.Model, settings: SamplerSettings, seed: int,
                 timings: dict) -> DataTree:
    """One batch of ``settings.n_chains`` PyMC chains: tuning, then the first look's draws."""
    start = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        datatree = pm.sample(
            draws=settings.first_draws, tune=settings.tune, chains=settings.n_chains,
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


def _sample_nutpie(model: pm.Model, settings: SamplerSettings, check_draws, compiled,
                   timings: dict) -> tuple[DataTree, Diagnostics]:
    """nutpie's chains, run until the posterior passes at a check point (see
    :class:`SamplerSettings`): the first ``n`` draws of each chain and their diagnostics."""
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    in_graph = {variable.name for variable in compiled.shared_var_keys}
    compiled = compiled.with_data(**{v.name: v.get_value() for v in model.data_vars
                                     if v.name in in_graph})
    checkpoints = settings.checkpoints()
    progress = _Progress(settings.tune)
    start = time.perf_counter()
    sampler = nutpie.sample(
        compiled, draws=checkpoints[-1], tune=settings.tune, chains=settings.n_chains,
        cores=_cores(settings), seed=settings.seed, target_accept=settings.target_accept,
        progress_bar=settings.progress, save_warmup=False, blocking=False,
        progress_callback=progress, progress_rate=100)
    whole = None  # the finished trace, once every chain has run its last draw
    kept, checks = checkpoints[0], 0
    try:
        while True:
            while progress.draws < kept and not _finished(sampler):
                time.sleep(0.05)
            if whole is None and (kept == checkpoints[-1] or _finished(sampler)):
                whole = sampler.wait()
            datatree = _first_draws(sampler.inspect() if whole is None else whole.copy(), kept)
            diagnostics = check_draws(datatree)
            checks += 1
            if (diagnostics.passed or not diagnostics.only_short_of_ess
                    or kept == checkpoints[-1]):
                break
            kept = _next_look(checkpoints, kept, diagnostics)
    finally:
        if not _finished(sampler):
            sampler.cancel()
    seconds = time.perf_counter() - start
    patch_nutpie_idata(datatree, model, sampling_time=seconds)
    timings["sampling_seconds"] += seconds
    timings["draws_per_chain"] = kept
    timings["checks"] = checks
    return datatree, diagnostics


def _next_look(checkpoints: list[int], kept: int, diagnostics: Diagnostics) -> int:
    """The check point where the ESS per draw so far reaches ``MIN_ESS`` with 10% to spare
    (the next one when ESS is not what falls short), judged on what more draws can fix
    (units whose chains disagree are left out), and no further than twice the draws kept:
    a tail ESS read off the first 1,000 draws can be a fifth of what 2,000 give (a
    real-shaped screen jumped to the 6,000 cap and ended with twice the ESS it needed)."""
    ess = diagnostics.min_ess_extendable
    wanted = kept * 1.1 * MIN_ESS / ess if 0 < ess < MIN_ESS else kept + 1
    wanted = min(wanted, 2 * kept)
    return next((n for n in checkpoints if n > kept and n >= wanted), checkpoints[-1])


def _finished(sampler) -> bool:
    """Whether nutpie's background sampler is done (its check times out while it runs)."""
    try:
        return bool(sampler.is_finished)
    except TimeoutError:
        return False


class _Progress:
    """nutpie's progress callback: the fewest post-tuning draws any chain has finished."""

    def __init__(self, tune: int):
        self.tune = tune
        self.draws = 0

    def __call__(self, chains) -> None:
        if chains:
            self.draws = min(chain.finished_draws for chain in chains) - self.tune


def _first_draws(datatree: DataTree, n: int) -> DataTree:
    """The first ``n`` post-tuning draws of every chain (chains still running are ragged)."""
    for group in ("posterior", "sample_stats"):
        dataset = datatree[group].to_dataset()
        if dataset.sizes["draw"] < n:
            raise RuntimeError(f"nutpie returned {dataset.sizes['draw']} draws, expected {n}")
        datatree[group] = dataset.isel(draw=slice(0, n))
    return datatree


def _cores(settings: SamplerSettings) -> int:
    """Chains run at once: as asked; else nutpie runs every chain at once (threads, two a
    core when there are more chains than cores: an extended fit looks at all chains
    together, and nutpie starts a chain only when one before it has finished), PyMC one
    process a core (its own default is half the cores)."""
    if settings.cores:
        return settings.cores
    if settings.sampler == "nutpie":
        return settings.n_chains
    return min(settings.n_chains, os.cpu_count() or 1)
