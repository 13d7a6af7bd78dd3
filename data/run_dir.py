"""The run directory is the saved model: plain files written atomically, read back by reports.

A run directory holds ``posterior.nc`` (ArviZ DataTree, netCDF), ``run.json`` (versions,
seed, input hashes, settings, timings, diagnostics), the validated input tables
(``wells.csv``, ``curves.csv``), and the tables and report the reports layer writes.
Nothing is pickled and nothing hides in netCDF attributes, so a newer chemoshift can
read an older run.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from xarray import DataTree

from chemoshift.data.errors import InputError, Problem

_UMASK = os.umask(0)
os.umask(_UMASK)
RECORD = "run.json"
POSTERIOR = "posterior.nc"
PACKAGES = ("chemoshift", "pymc", "pytensor", "nutpie", "arviz", "arviz-base", "arviz-stats",
            "arviz-plots", "numpy", "pandas", "xarray", "scipy", "h5netcdf", "matplotlib",
            "networkx", "jinja2")


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give what open() would
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def check_run_dir(run_dir: Path, *, overwrite: bool = False) -> tuple[str, str] | None:
    """Why ``run_dir`` cannot take a new run, as (what is there, what to do); None if it
    can: it must be new or empty, or with ``overwrite`` a chemoshift run directory (one
    with run.json), which the new run replaces whole once it is complete. A folder of
    other files is never replaced."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        return "is a file, not a folder", "a folder: choose another --out"
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return None
    if not (run_dir / RECORD).is_file():
        return ("holds other files and is not a chemoshift run directory (no run.json)",
                "a new or empty folder: choose another --out")
    if not overwrite:
        return ("already holds a complete run (run.json)",
                "--overwrite (Python: overwrite=True) to replace it, or another --out")
    return None


class RunLocked(InputError):
    """Another process is writing the run directory (or study folder) this one would write."""


_HELD: dict[Path, list] = {}  # lock file -> [descriptor, depth, pid]: re-entrant in a process


def lock_path(target: Path) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` beside it."""
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}.lock"


@contextmanager
def run_lock(target: Path):
    """Hold an exclusive lock on ``target`` (a run directory or a study folder) while a run
    writes it: ``fcntl.flock`` on ``.<name>.lock`` beside it, which the system releases
    when the process ends however it ends (SIGKILL included), so no lock is ever stale.
    Re-entrant within a process. Raises :class:`RunLocked` naming the process that holds
    it; on release the lock file is removed."""
    lock = lock_path(target)
    held = _HELD.get(lock)
    if held is not None and held[2] == os.getpid():
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 4096, 0).decode("utf-8", "replace").strip()
            os.close(descriptor)
            raise RunLocked([Problem(
                str(target), None, None,
                f"is being written by another run ({holder or 'a process starting up'})",
                "that run to finish first, or another --out")]) from None
        # the holder before us removes the file on release: the lock must be on the file
        # that is at the path now, not on one unlinked after we opened it
        try:
            current = os.stat(lock)
            mine = os.fstat(descriptor)
            if (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                break
        except FileNotFoundError:
            pass
        os.close(descriptor)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"process {os.getpid()}: {' '.join(sys.argv)[:300]}; since "
                          f"{now()}\n".encode(), 0)
    _HELD[lock] = [descriptor, 1, os.getpid()]
    try:
        yield
    finally:
        _HELD.pop(lock, None)
        lock.unlink(missing_ok=True)  # while still holding it: see the loop above
        os.close(descriptor)


def clean_leftovers(target: Path) -> list[Path]:
    """Remove what runs killed midway left beside ``target``: staging folders
    (``.<name>.*.partial``) and retired runs (``.<name>.*.old``). Call it holding
    ``run_lock(target)``: every run writing ``target`` holds that lock, so a leftover
    found then belongs to no live run. Returns what was removed."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    for pattern in (f".{target.name}.*.partial", f".{target.name}.*.old",
                    f".{target.name}.old"):
        for leftover in target.parent.glob(pattern):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


@contextmanager
def staged_run_dir(run_dir: Path):
    """Yield an empty staging folder beside ``run_dir``; on success it replaces ``run_dir``
    whole, so a run that dies midway leaves the previous run (or nothing) behind.

    Holds ``run_lock(run_dir)`` throughout and first removes what killed runs left. The
    staging folder (``.<name>.XXXX.partial``) is hidden and named for what it is, so it
    never passes for a run directory. Where Linux can swap two folders in one step, an
    earlier run is exchanged for the new one: at every instant one of them is in place.
    """
    run_dir = Path(run_dir)
    with run_lock(run_dir):
        clean_leftovers(run_dir)
        staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", suffix=".partial",
                                        dir=run_dir.parent))
        retired = staging.with_suffix(".old")
        try:
            yield staging
            os.chmod(staging, 0o777 & ~_UMASK)
            if not (run_dir.is_dir() and _exchange(staging, run_dir)):
                if run_dir.exists():  # no atomic exchange here: a kill between the two
                    os.replace(run_dir, retired)  # renames leaves neither run in place
                os.replace(staging, run_dir)
        finally:
            for leftover in (staging, retired):
                if leftover.exists():
                    shutil.rmtree(leftover)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex), read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(content: dict) -> str:
    """SHA-256 (hex) of a JSON-able record, keys sorted: the key of a reusable result."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")


def write_json(path: Path, record: dict) -> None:
    write_text(path, json.dumps(record, indent=2, default=_jsonable, allow_nan=True) + "\n")


def write_datatree(path: Path, datatree: DataTree) -> None:
    """Write a DataTree to netCDF (h5netcdf), dropping per-draw text the format cannot hold."""
    clean = datatree.copy()
    for group in clean.groups:
        node = clean[group]
        text = [n for n, v in node.data_vars.items() if v.dtype == object]
        if text:
            clean[group] = node.to_dataset().drop_vars(text)
    encoding = {
        group: {name: {"compression": "gzip", "compression_opts": 4}
                for name in clean[group].data_vars}
        for group in clean.groups
    }
    with atomic_path(path) as temporary:
        clean.to_netcdf(temporary, engine="h5netcdf", encoding=encoding)


def read_datatree(run_dir: Path) -> DataTree:
    with xr.open_datatree(Path(run_dir) / POSTERIOR, engine="h5netcdf") as tree:
        return tree.load()


def read_record(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / RECORD).read_text(encoding="utf-8"))


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Callable):
        return getattr(value, "__name__", repr(value))
    raise TypeError(f"cannot record {type(value).__name__} in run.json")
