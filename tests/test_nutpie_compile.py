"""The disk-cached nutpie compile path gives nutpie's own draws, keys graphs, swaps data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import nutpie
import pymc as pm
import pytest

from chemoshift.inference import nutpie_compile
from chemoshift.inference.nutpie_compile import _Graph, compile_for_nutpie

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def small_model(y: np.ndarray, group: np.ndarray, scale: float = 1.0) -> pm.Model:
    """A small hierarchical model with data containers, a constant and a deterministic."""
    with pm.Model(coords={"group": range(group.max() + 1), "obs": range(len(y))}) as model:
        index = pm.Data("group_index", group, dims="obs")
        observed = pm.Data("y_observed", y, dims="obs")
        mu = pm.Normal("mu", 0, scale)
        sd = pm.HalfNormal("sd", 1)
        effect = pm.Normal("effect", mu, sd, dims="group")
        pm.Deterministic("effect_exp", pm.math.exp(effect), dims="group")
        pm.Normal("y", effect[index], 0.5, observed=observed, dims="obs")
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(4), 5)
    return rng.normal(group * 0.5, 0.5), group


@pytest.fixture(scope="module")
def nutpie_compiled(data):
    """nutpie's own compile of the small model: the reference every path must match."""
    return nutpie.compile_pymc_model(small_model(*data))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(nutpie_compile.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def draws(compiled, seed=3) -> dict[str, np.ndarray]:
    trace = nutpie.sample(compiled, chains=2, draws=50, tune=50, progress_bar=False, seed=seed)
    return {name: trace.posterior[name].values for name in ("mu", "sd", "effect_exp")}


def assert_same_draws(got: np.ndarray, expected: np.ndarray) -> None:
    """nutpie's draws of the same log density. Both compile with fast-math, so LLVM may
    round a last bit differently on the two paths (a cold process inlines differently):
    equal to ~1e-6 over 50 draws, where a wrong density or wrong data would differ
    entirely."""
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_same_draws_as_nutpie_compile_fresh_and_from_cache(data, cache_dir, nutpie_compiled):
    model = small_model(*data)
    expected = draws(nutpie_compiled)
    fresh = draws(compile_for_nutpie(model))
    assert len(list(cache_dir.glob("*.signed"))) == 1
    loaded = draws(compile_for_nutpie(small_model(*data)))  # a new model object: from disk
    for name, values in expected.items():
        assert_same_draws(fresh[name], values)
        np.testing.assert_array_equal(loaded[name], fresh[name])  # the cache: the same bits


def test_loaded_functions_take_the_new_models_data(data, cache_dir, nutpie_compiled):
    y, group = data
    compile_for_nutpie(small_model(y, group))
    shifted = small_model(y + 10.0, group)  # same graph and shapes, other values: a hit
    assert _Graph(shifted, {"mu": 0, "sd_log__": 0, "effect": np.zeros(4)}).key == \
        _Graph(small_model(y, group), {"mu": 0, "sd_log__": 0, "effect": np.zeros(4)}).key
    expected = draws(nutpie_compiled.with_data(y_observed=y + 10.0))
    got = draws(compile_for_nutpie(shifted))
    assert_same_draws(got["mu"], expected["mu"])
    assert np.log(got["effect_exp"]).mean() > 5


def test_key_changes_with_constants_and_shapes(data):
    y, group = data
    point = {"mu": 0, "sd_log__": 0, "effect": np.zeros(4)}
    base = _Graph(small_model(y, group), point).key
    assert _Graph(small_model(y, group, scale=2.0), point).key != base  # a prior constant
    assert _Graph(small_model(y[:-5], group[:-5]), point).key != base  # a data shape
    bigger = {**point, "effect": np.zeros(5)}
    assert _Graph(small_model(y, group), bigger).key != base  # a free variable's shape


def test_corrupt_cache_entry_is_a_miss_and_rebuilt(data, cache_dir, nutpie_compiled):
    model = small_model(*data)
    compile_for_nutpie(model)
    (entry,) = cache_dir.glob("*.signed")
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])  # a write cut short
    again = draws(compile_for_nutpie(small_model(*data)))
    assert_same_draws(again["mu"], draws(nutpie_compiled)["mu"])
    key = entry.name.removesuffix(nutpie_compile.ENTRY_SUFFIX)
    assert nutpie_compile.read_entry(cache_dir, key) is not None  # rebuilt, signed again


class _Trap:
    """A pickle that, if ever loaded, would leave a file behind: what a planted cache
    entry could do with any code it liked."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _signed(cache_dir: Path, key: str, payload: bytes) -> Path:
    nutpie_compile.write_entry(cache_dir, key, payload)
    return cache_dir / f"{key}{nutpie_compile.ENTRY_SUFFIX}"


def test_a_foreign_cache_entry_is_deleted_unread(tmp_path, cache_dir):
    import pickle

    marker = tmp_path / "executed"
    _signed(cache_dir, "a" * 64, pickle.dumps("ours"))  # the folder has its secret
    planted = cache_dir / f"{'b' * 64}{nutpie_compile.ENTRY_SUFFIX}"
    planted.write_bytes(pickle.dumps(_Trap(marker)))  # no header, no signature
    assert nutpie_compile.read_entry(cache_dir, "b" * 64) is None
    forged = nutpie_compile.ENTRY_HEADER + bytes(32) + pickle.dumps(_Trap(marker))
    planted.write_bytes(forged)  # a header and a signature made without the secret
    assert nutpie_compile.read_entry(cache_dir, "b" * 64) is None
    assert not planted.exists() and not marker.exists()  # deleted, never unpickled
    assert pickle.loads(nutpie_compile.read_entry(cache_dir, "a" * 64)) == "ours"


def test_an_entry_under_another_keys_name_is_refused(cache_dir):
    import pickle

    entry = _signed(cache_dir, "a" * 64, pickle.dumps("model a"))
    moved = cache_dir / f"{'c' * 64}{nutpie_compile.ENTRY_SUFFIX}"
    moved.write_bytes(entry.read_bytes())  # signed, but for key a
    assert nutpie_compile.read_entry(cache_dir, "c" * 64) is None and not moved.exists()


def test_a_secret_others_can_read_is_not_trusted(cache_dir):
    import pickle

    entry = _signed(cache_dir, "a" * 64, pickle.dumps("model a"))
    (cache_dir / nutpie_compile.SECRET).chmod(0o644)
    assert nutpie_compile.read_entry(cache_dir, "a" * 64) is None
    assert entry.exists()  # not trusted, not used; left for its owner


def test_with_data_swaps_values(data, cache_dir):
    y, group = data
    compiled = compile_for_nutpie(small_model(y, group))
    swapped = draws(compiled.with_data(y_observed=y + 10.0))
    assert np.log(swapped["effect_exp"]).mean() > 5


COLD_WARM = """
import sys, numpy as np, nutpie
sys.path.insert(0, {tests!r})
from test_nutpie_compile import small_model
from chemoshift.inference.nutpie_compile import compile_for_nutpie
rng = np.random.default_rng(0)
group = np.repeat(np.arange(4), 5)
model = small_model(rng.normal(group * 0.5, 0.5), group)
trace = nutpie.sample(compile_for_nutpie(model), chains=2, draws=50, tune=50, seed=3,
                      progress_bar=False)
np.save({out!r}, trace.posterior["effect_exp"].values)
"""


@pytest.mark.slow
def test_a_cold_first_process_draws_what_every_warm_one_draws(tmp_path):
    """A machine's first run (empty caches: everything compiled in the process) and its
    second (everything loaded from disk) give the same draws for the same seed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}/pytensor",
           "NUMBA_CACHE_DIR": f"{tmp_path}/numba"}
    for run in ("cold", "warm"):
        script = COLD_WARM.format(tests=str(Path(__file__).parent),
                                  out=str(tmp_path / f"{run}.npy"))
        subprocess.run([sys.executable, "-c", script], env=env, check=True,
                       capture_output=True)
    np.testing.assert_array_equal(np.load(tmp_path / "cold.npy"),
                                  np.load(tmp_path / "warm.npy"))


def test_extended_fit_keeps_the_same_draws_for_a_seed(data):
    """Draws until the ESS target: the kept draws depend on the seed, not the machine's
    speed, and a chain's first draws are the same whether the fit stopped early or not."""
    from chemoshift.inference.fit import SamplerSettings, fit

    model = small_model(*data)
    settings = SamplerSettings(draws=40, tune=100, chains=2, progress=False,
                               posterior_predictive=False, seed=5)
    first, second = fit(model, settings), fit(model, settings)
    assert first.timings["draws_per_chain"] > 40  # 80 draws are short of ESS 400
    assert first.timings["draws_per_chain"] == second.timings["draws_per_chain"]
    np.testing.assert_array_equal(first.datatree.posterior["mu"].values,
                                  second.datatree.posterior["mu"].values)
    fixed = fit(model, SamplerSettings(draws=160, tune=100, chains=2, progress=False,
                                       posterior_predictive=False, seed=5, extend=False))
    kept = first.timings["draws_per_chain"]
    np.testing.assert_array_equal(first.datatree.posterior["mu"].values,
                                  fixed.datatree.posterior["mu"].values[:, :kept])


def test_a_model_with_an_op_from_graph_is_cached(data, cache_dir):
    """OpFromGraph's gradient holds closures that plain pickle refuses (the qPCR model
    recompiled in every process, 15-19 s, before the cache used cloudpickle)."""
    import pytensor.tensor as pt
    from pytensor.compile.builders import OpFromGraph

    x = pt.dscalar("x")
    softplus = OpFromGraph([x], [pt.log1p(pt.exp(x))])
    y, _ = data
    with pm.Model() as model:
        a = pm.Normal("a")
        pm.Normal("y", softplus(a), 1.0, observed=y)
    first = draws_of(compile_for_nutpie(model))
    assert len(list(cache_dir.glob("*.signed"))) == 1
    np.testing.assert_array_equal(draws_of(compile_for_nutpie(model)), first)


def draws_of(compiled) -> np.ndarray:
    trace = nutpie.sample(compiled, chains=2, draws=30, tune=30, progress_bar=False, seed=1)
    return trace.posterior["a"].values


def test_the_study_model_survives_the_trip_to_the_compile_child(tmp_path):
    """A cold compile runs in a child that unpickles the model: every distribution of the
    dose-response model (the Huber likelihood included) must keep its log density there.
    A CustomDist's class is made at run time, its log density registered only in the
    parent, so the child failed and the first run compiled in process: a cold and a warm
    run of seed 379 drew different numbers."""
    import subprocess
    import sys
    from importlib.resources import files

    import cloudpickle

    from chemoshift.data.dose_response import read_dose_response
    from chemoshift.models.dose_response import build_model

    model = build_model(read_dose_response(files("chemoshift.data.example")
                                           / "dose_response.csv"))
    path = tmp_path / "model.pkl"
    path.write_bytes(cloudpickle.dumps(model))
    script = ("import sys, cloudpickle; m = cloudpickle.loads(open(sys.argv[1], 'rb').read());"
              " m.logp(); print('ok')")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_a_cold_compile_holds_a_lock_other_processes_wait_on(tmp_path, monkeypatch):
    """Processes that start together (a screen's workers) compile a model once: while one
    holds the model's compile lock, another process cannot take it."""
    import subprocess
    import sys

    from chemoshift.inference import nutpie_compile

    monkeypatch.setenv(nutpie_compile.CACHE_ENV, str(tmp_path))
    probe = ("import fcntl, sys; f = open(sys.argv[1], 'a')\n"
             "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except BlockingIOError: sys.exit(7)\n")
    lock = tmp_path / "somekey.lock"
    with nutpie_compile._compile_lock("somekey"):
        held = subprocess.run([sys.executable, "-c", probe, str(lock)])
    free = subprocess.run([sys.executable, "-c", probe, str(lock)])
    assert (held.returncode, free.returncode) == (7, 0)
