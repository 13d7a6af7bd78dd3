"""Compile a PyMC model for nutpie with C entry points that numba caches on disk.

nutpie calls the model's log density through two C callbacks (log density with gradient,
and the expansion of a draw into the stored variables). Its own numba path builds them
so that numba cannot cache them ("uses dynamic globals"), and compiling a callback links
PyTensor's compiled log density into it, which LLVM optimises again: 20-40 s in every
process on the study model, however warm PyTensor's own cache is (measured: the graph
itself loads from PyTensor's cache in 0.5 s; any numba function calling it costs ~25 s).

Here the two callbacks are generated as source keyed by PyTensor's own cache keys of the
two compiled graphs plus the data layout, and registered with PyTensor's numba cache, so
the first process writes them to disk and every later one loads them in about a second.
The callbacks read the shared data from nutpie's own ``user_data`` record, so
``CompiledPyMCModel.with_data`` keeps working unchanged. When PyTensor cannot key a graph
(an Op without a cache key), or nutpie's internals are not what this module expects, it
falls back to ``nutpie.compile_pymc_model``: slower, never wrong.

The log density is compiled with PyTensor's fast-math flags (reassociation lets LLVM
vectorise the sums over wells: 582 against 936 us a gradient on the 400-curve screen).
With them, LLVM optimises a callback compiled in the same process as a freshly compiled
log density (a machine's first, cold run) differently from one linking the cached
density (every later run), so the same seed drew different numbers on a first run and a
second. A cold compile therefore runs in a child process that fills the disk caches,
and the caller then loads from them as every later run does: first and later runs draw
the same bits (``tests/test_nutpie_compile.py`` checks it in two processes). A child
that fails (no ``cloudpickle`` of the model, a crash) falls back to compiling in the
process: correct, possibly not bit-identical to later runs.

The disk cache is the one pickle chemoshift reads (run directories and inputs are
netCDF, CSV, JSON and TOML, never unpickled). Its entries live in the user's own cache
folder and are signed: each file is a header, an HMAC-SHA256 of the entry's key and
bytes under a secret only chemoshift writes (``secret.key``, mode 0600, in the cache
folder), then the pickle (``<key>.signed``; unsigned ``.pkl`` entries of earlier versions
are never read). An entry that is corrupt (cut short by a kill, damaged), or
foreign (written without the secret, or copied under another key's name), is deleted
unread and rebuilt; a cache folder or secret that another user owns or can write is not
used at all. The model reaches the compile child through a pipe, never a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import pickle
import secrets
import stat
import tempfile
import warnings
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pymc as pm

CALLBACK_VERSION = "chemoshift-nutpie-callbacks-4"  # bump when the generated source changes


def compile_for_nutpie(model: pm.Model):
    """A ``nutpie`` compiled model of ``model`` whose callbacks come from the disk cache.

    Returns a ``nutpie.compile_pymc.CompiledPyMCModel`` (``with_data`` and
    ``nutpie.sample`` work as with ``nutpie.compile_pymc_model``).
    """
    import nutpie
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=True):
        try:
            return _compile_cached(model)
        except _CannotCache as reason:
            warnings.warn(f"nutpie callbacks not cacheable ({reason}); compiling uncached",
                          RuntimeWarning, stacklevel=2)
            return nutpie.compile_pymc_model(model)


_CHILD = "CHEMOSHIFT_COMPILE_CHILD"  # set in the child process that fills the caches
CACHE_ENV = "CHEMOSHIFT_NUTPIE_CACHE"  # the cache folder, when not beside PyTensor's


def _compile_in_child(model: pm.Model) -> bool:
    """Compile ``model`` in a child process that writes the disk caches; True on success."""
    import subprocess
    import sys

    import cloudpickle

    try:
        done = subprocess.run(  # the model through a pipe: no file another could swap
            [sys.executable, "-c", "from chemoshift.inference import nutpie_compile as c; "
             "c._child_main()"],
            input=cloudpickle.dumps(model),
            env={**os.environ, _CHILD: "1", CACHE_ENV: str(_cache_dir())},
            capture_output=True)
    except Exception as error:  # any failure: compile in this process instead
        warnings.warn(f"compile child not started ({error}); compiling in this process: "
                      "a first run may not draw what later runs draw", RuntimeWarning,
                      stacklevel=3)
        return False
    if done.returncode != 0:  # said, not hidden: a silent fallback broke cold/warm identity
        said = done.stderr.decode("utf-8", "replace").strip()
        last = (said.splitlines() or ["no message"])[-1]
        warnings.warn(f"compile child failed ({last}); compiling in this process: a first "
                      "run may not draw what later runs draw", RuntimeWarning, stacklevel=3)
    return done.returncode == 0


@contextmanager
def _compile_lock(key: str):
    """Hold an exclusive lock on ``key``'s cache entry while it is compiled: processes that
    start together (a screen's workers) compile a model once; the others wait, then load
    it. The operating system drops the lock when its holder dies, killed or not."""
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / f"{key}.lock", "a")
    except OSError:  # a cache folder that cannot be written: compile unlocked
        handle = None
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _child_main() -> None:
    """The child of ``_compile_in_child``: compile the model its parent pipes to its
    standard input into the caches."""
    import sys

    import cloudpickle

    compile_for_nutpie(cloudpickle.loads(sys.stdin.buffer.read()))


class _CannotCache(Exception):
    """The model or the installed nutpie does not fit the cached path."""


def _compile_cached(model: pm.Model):
    import numba
    from numba.core.errors import NumbaWarning
    from pymc.initial_point import make_initial_point_fn
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    try:
        from nutpie import compile_pymc as nutpie_pymc
        make_functions = nutpie_pymc._make_functions
        nutpie_pymc._rv_dict_to_flat_array_wrapper  # noqa: B018 (used below: must exist)
        make_user_data = nutpie_pymc.make_user_data
        prepare_dims_and_coords = nutpie_pymc._prepare_dims_and_coords
        wrap_with_lock = nutpie_pymc._wrap_with_lock
        compiled_class = nutpie_pymc.CompiledPyMCModel
    except (ImportError, AttributeError) as error:
        raise _CannotCache(f"nutpie internals changed: {error}") from error

    pymc_initial_point_fn = wrap_with_lock(make_initial_point_fn(
        model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
        return_transformed=True))
    graph = _Graph(model, pymc_initial_point_fn(0))
    functions = _load_functions(graph)
    if functions is None and graph.key is not None and not os.environ.get(_CHILD):
        with _compile_lock(graph.key):  # one cold compile a model, however many processes
            functions = _load_functions(graph)  # another process may have filled it
            if functions is None and _compile_in_child(model):
                functions = _load_functions(graph)  # a first run loads what later runs do
    if functions is None:
        functions = make_functions(model, mode="NUMBA", compute_grad=True,
                                   join_expanded=True,
                                   pymc_initial_point_fn=pymc_initial_point_fn)
        _store_functions(graph, functions)
    (n_dim, n_expanded, logp_fn_pt, expand_fn_pt, _, shape_info,
     reparameterized_names) = functions
    n_free = len(model.free_RVs)
    initial_point_fn = nutpie_pymc._rv_dict_to_flat_array_wrapper(
        pymc_initial_point_fn, names=shape_info[0][:n_free], shapes=shape_info[2][:n_free])

    logp_jit, expand_jit = logp_fn_pt.vm.jit_fn, expand_fn_pt.vm.jit_fn
    graph_keys = [CACHED_SRC_FUNCTIONS.get(getattr(f, "py_func", None))
                  for f in (logp_jit, expand_jit)]
    if None in graph_keys:
        raise _CannotCache("PyTensor gave a graph no cache key")

    shared_data, shared_var_keys = {}, {}
    for variable in [*logp_fn_pt.get_shared(), *expand_fn_pt.get_shared()]:
        if variable in shared_var_keys:
            continue
        key = f"shared{len(shared_var_keys)}"  # stable names: the layout enters the key
        shared_data[key] = np.array(variable.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_var_keys[variable] = key
    user_data = make_user_data(shared_var_keys, shared_data)
    layout = _Layout(user_data.dtype, shared_data)

    logp_keys = [shared_var_keys[v] for v in logp_fn_pt.get_shared()]
    expand_keys = [shared_var_keys[v] for v in expand_fn_pt.get_shared()]
    signature = hashlib.sha256(repr((
        CALLBACK_VERSION, numba.__version__, graph_keys, n_dim, n_expanded,
        layout.describe(logp_keys), layout.describe(expand_keys),
    )).encode()).hexdigest()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumbaWarning)
        logp = _callback(_logp_source(n_dim, layout, logp_keys), "chemoshift_logp",
                         logp_jit, f"{signature}_logp", _logp_signature())
        expand = _callback(_expand_source(n_dim, n_expanded, layout, expand_keys),
                           "chemoshift_expand", expand_jit, f"{signature}_expand",
                           _expand_signature())

    dims, coords = prepare_dims_and_coords(model, shape_info, reparameterized_names)
    return compiled_class(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp, compiled_expand_func=expand,
        initial_point_func=initial_point_fn, shared_data=shared_data,
        shared_var_keys=shared_var_keys, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_fn_pt, expand_func=expand_fn_pt,
        reparameterized_names=reparameterized_names)


class _Graph:
    """A model's graph as nutpie compiles it: its shared inputs and a key for the disk cache.

    ``key`` hashes everything the compiled functions depend on except the data values:
    the log density and the stored variables as graphs before rewriting (each Op with its
    parameters, each constant's values, each shared variable's name, type and shape, the
    value of integer scalars such as dimension lengths), the names and shapes of the
    free variables, and the versions of the libraries that rewrite and compile them.
    None when an Op has no stable description (then nothing is cached).
    """

    def __init__(self, model: pm.Model, initial_point: dict[str, np.ndarray]):
        from pytensor.graph.traversal import toposort

        outputs = [model.logp(), *model.unobserved_value_vars]
        self.shared: dict = {}
        self._digest = hashlib.sha256()
        self._ids: dict = {}
        self.key: str | None = None
        for node in toposort(outputs):
            for variable in node.inputs:
                if variable.owner is None:
                    self._leaf(variable)
            op = node.op
            described = f"{type(op).__module__}.{type(op).__qualname__}"
            described += repr(op._props_dict()) if getattr(op, "__props__", None) else str(op)
            if " at 0x" in described:
                return
            self._feed("op", described, [self._ids[v] for v in node.inputs],
                       [str(v.type) for v in node.outputs])
            for variable in node.outputs:
                self._ids[variable] = len(self._ids)
        for variable in outputs:
            if variable.owner is None:
                self._leaf(variable)
        self._feed("outputs", [self._ids[v] for v in outputs], [v.name for v in outputs],
                   sorted((k, np.shape(v)) for k, v in initial_point.items()),
                   model.check_bounds, CALLBACK_VERSION,
                   [version(p) for p in ("pymc", "pytensor", "nutpie", "numba", "numpy")])
        self.key = self._digest.hexdigest()

    def _feed(self, *parts) -> None:
        self._digest.update(repr(parts).encode())

    def _leaf(self, variable) -> None:
        from pytensor.graph.basic import Constant

        if variable in self._ids:
            return
        self._ids[variable] = len(self._ids)
        if isinstance(variable, Constant):
            data = np.ascontiguousarray(variable.data)
            self._feed("constant", str(variable.type), data.shape, data.dtype.str,
                       hashlib.sha256(data.tobytes()).hexdigest())
        elif hasattr(variable, "get_value"):
            value = np.asarray(variable.get_value())
            self.shared[variable.name] = variable
            exact = value.ndim == 0 and value.dtype.kind in "iu"  # a dimension's length
            self._feed("shared", variable.name, str(variable.type), value.shape,
                       value.item() if exact else None)
        else:
            self._feed("input", variable.name, str(variable.type))


def _cache_dir() -> Path:
    """``$CHEMOSHIFT_NUTPIE_CACHE``, else beside PyTensor's compiled code (clearing
    PyTensor's cache clears this too)."""
    import pytensor

    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(pytensor.config.compiledir) / "chemoshift_nutpie"


def _load_functions(graph: _Graph):
    """nutpie's compiled PyTensor functions for ``graph``'s model from the disk cache, or None.

    The cache holds the rewritten, compiled log density and expansion functions (the
    rewrites are most of a warm compile); the key is the model's graph before rewriting
    with its shapes and constants, not its data, whose current values are set into the
    loaded functions' shared variables.
    """
    if graph.key is None:
        return None
    payload = read_entry(_cache_dir(), graph.key)
    if payload is None:
        return None
    try:
        n_dim, n_expanded, logp_fn, expand_fn, shape_info, reparameterized = \
            pickle.loads(payload)
    except Exception:  # signed by us but not loadable here (a library changed): a miss
        (_cache_dir() / f"{graph.key}{ENTRY_SUFFIX}").unlink(missing_ok=True)
        return None
    for variable in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if variable.name not in graph.shared:
            return None
        variable.set_value(graph.shared[variable.name].get_value())
    return n_dim, n_expanded, logp_fn, expand_fn, None, shape_info, reparameterized


def _store_functions(graph: _Graph, functions: tuple) -> None:
    """Write nutpie's compiled functions for ``graph``'s model to the disk cache, atomically."""
    if graph.key is None:
        return
    import cloudpickle

    n_dim, n_expanded, logp_fn, expand_fn, _, shape_info, reparameterized = functions
    try:  # cloudpickle: OpFromGraph holds closures
        payload = cloudpickle.dumps((n_dim, n_expanded, logp_fn, expand_fn, shape_info,
                                     reparameterized), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a cache that cannot be written costs time, not results
        return
    write_entry(_cache_dir(), graph.key, payload)


ENTRY_HEADER = b"chemoshift compile cache 1\n"
ENTRY_SUFFIX = ".signed"
SECRET = "secret.key"


def _private(path: Path, *, folder: bool = False) -> bool:
    """Whether ``path`` is this user's own and no one else can write it (a secret: nor
    read it). A secret's symbolic link is not followed; a folder's is."""
    try:
        info = os.stat(path) if folder else os.lstat(path)
    except OSError:
        return False
    if info.st_uid != os.getuid():
        return False
    if folder:
        return stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o022
    return stat.S_ISREG(info.st_mode) and not info.st_mode & 0o077


def _secret(folder: Path, *, create: bool) -> bytes | None:
    """The cache folder's signing secret (32 random bytes, mode 0600, written only by
    chemoshift); made on first use when ``create``. None where it cannot be trusted."""
    path = folder / SECRET
    if create and not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            mode = os.lstat(folder).st_mode
            if os.lstat(folder).st_uid == os.getuid() and mode & 0o022:
                os.chmod(folder, stat.S_IMODE(mode) & ~0o022)  # our own: others may not write
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".secret.")
            with os.fdopen(handle, "wb") as file:  # mkstemp: mode 0600
                file.write(secrets.token_bytes(32))
            try:
                os.link(temporary, path)  # never replaces a secret another process made
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        except OSError:
            return None
    if not (_private(folder, folder=True) and _private(path)):
        return None
    secret = path.read_bytes()
    return secret if len(secret) == 32 else None


def _signature(secret: bytes, key: str, payload: bytes) -> bytes:
    return hmac.new(secret, key.encode() + b"\0" + payload, hashlib.sha256).digest()


def read_entry(folder: Path, key: str) -> bytes | None:
    """The pickled bytes of cache entry ``key`` if chemoshift signed them for that key;
    None on a miss. A corrupt or foreign entry is deleted, never unpickled."""
    path = folder / f"{key}{ENTRY_SUFFIX}"
    if not path.is_file():
        return None
    secret = _secret(folder, create=False)
    if secret is None:  # a folder or secret we cannot trust: not read, not deleted
        return None
    try:
        content = path.read_bytes()
    except OSError:
        return None
    size = len(ENTRY_HEADER) + 32
    payload = content[size:]
    if (not content.startswith(ENTRY_HEADER) or not hmac.compare_digest(
            content[len(ENTRY_HEADER):size], _signature(secret, key, payload))):
        path.unlink(missing_ok=True)  # rebuilt by the caller
        return None
    return payload


def write_entry(folder: Path, key: str, payload: bytes) -> None:
    """Write cache entry ``key`` (pickled bytes), signed, atomically; nothing on failure."""
    secret = _secret(folder, create=True)
    if secret is None:
        return
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(ENTRY_HEADER + _signature(secret, key, payload) + payload)
        os.replace(temporary, folder / f"{key}{ENTRY_SUFFIX}")
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


class _Layout:
    """Where each shared array's pointer, size and shape sit in nutpie's user_data record.

    The record (``nutpie.compile_pymc.make_user_data``) is packed 8-byte words: pointers,
    then sizes, then each array's shape; the callbacks read it as a uint64 array.
    """

    def __init__(self, dtype: np.dtype, shared_data: dict[str, np.ndarray]):
        if dtype.itemsize % 8:
            raise _CannotCache("user_data record is not made of 8-byte words")
        self.n_words = dtype.itemsize // 8
        shared, base = dtype.fields["shared"]
        self.words: dict[str, tuple[int, int, list[int]]] = {}
        self.arrays = {key: (value.ndim, value.dtype) for key, value in shared_data.items()}
        for key, (ndim, _) in self.arrays.items():
            offsets = [base + shared.fields[part][1] + shared[part].fields[key][1]
                       for part in ("data", "size", "shape")]
            if any(offset % 8 for offset in offsets):
                raise _CannotCache("user_data field not aligned to 8 bytes")
            pointer, size, shape = (offset // 8 for offset in offsets)
            self.words[key] = (pointer, size, [shape + i for i in range(ndim)])

    def describe(self, keys: list[str]) -> list:
        return [(self.words[k], self.arrays[k][0], self.arrays[k][1].str) for k in keys]

    def unpack(self, keys: list[str]) -> str:
        """Source lines making arrays ``a0, a1, ...`` of ``keys`` from ``words``."""
        lines = []
        for i, key in enumerate(keys):
            pointer, _, shape_words = self.words[key]
            dtype = self.arrays[key][1]
            shape = "".join(f"int(words[{w}])," for w in shape_words)
            lines.append(f"        a{i} = carray(as_pointer(words[{pointer}]), ({shape}), "
                         f"np.{dtype.name})")
        return "\n".join(lines)


def _logp_source(n_dim: int, layout: _Layout, keys: list[str]) -> str:
    arrays = "".join(f", a{i}" for i in range(len(keys)))
    return f"""
def chemoshift_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
        words = carray(user_data_, ({layout.n_words},), np.uint64)
{layout.unpack(keys) or "        pass"}
        logp_value, gradient = graph(x{arrays})
        logp[()] = logp_value
        out[...] = gradient
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_value):
            return 4
    except Exception:
        return 1
    return 0
"""


def _expand_source(n_dim: int, n_expanded: int, layout: _Layout, keys: list[str]) -> str:
    arrays = "".join(f", a{i}" for i in range(len(keys)))
    return f"""
def chemoshift_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
        words = carray(user_data_, ({layout.n_words},), np.uint64)
{layout.unpack(keys) or "        pass"}
        (values,) = graph(x{arrays})
        out[...] = values
    except Exception:  # noqa: BLE001
        return -2
    return 0
"""


def _callback(source: str, name: str, graph, cache_key: str, signature):
    """A numba C callback compiled from ``source``, cached on disk under ``cache_key``."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    function = compile_numba_function_src(
        source, name,
        global_env={"__name__": __name__, "np": np, "carray": numba.carray, "graph": graph,
                    "as_pointer": address_as_void_pointer},
        cache_key=cache_key)
    return numba.cfunc(signature, cache=True)(function)


def _logp_signature():
    from numba import types

    return types.int64(types.uint64, types.CPointer(types.double),
                       types.CPointer(types.double), types.CPointer(types.double),
                       types.voidptr)


def _expand_signature():
    from numba import types

    return types.int64(types.uint64, types.uint64, types.CPointer(types.double),
                       types.CPointer(types.double), types.voidptr)
