"""The run directory is the saved model: plain files written atomically, read back by reports.

A run directory holds ``posterior.nc`` (ArviZ DataTree, netCDF), ``run.json`` (versions,
seed, input hashes, settings, timings, diagnostics), the validated input tables
(``wells.csv``, ``curves.csv``), and the tables and report the reports layer writes.
Nothing is pickled and nothing hides in netCDF attributes, so a newer chemoshift can
read an older run.
"""

from __future__ import annotations

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


def check_run_dir(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot take a new run (None if it can): it must be new, empty, or
    a chemoshift run directory (one with run.json), which the new run replaces whole."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        return f"{run_dir} is a file, not a folder"
    if run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / RECORD).is_file():
        return (f"{run_dir} holds other files and is not a chemoshift run directory "
                "(no run.json); choose a new --out")
    return None


@contextmanager
def staged_run_dir(run_dir: Path):
    """Yield an empty staging folder beside ``run_dir``; on success it replaces ``run_dir``
    whole, so a run that dies midway leaves the previous run (or nothing) behind."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", suffix=".partial",
                                    dir=run_dir.parent))
    retired = staging.with_suffix(".old")
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_UMASK)
        if run_dir.exists():
            os.replace(run_dir, retired)
        os.replace(staging, run_dir)
    finally:
        for leftover in (staging, retired):
            if leftover.exists():
                shutil.rmtree(leftover)


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
