"""A screen's shards: their keys, folder names and seeds, and each shard's wells read on
the worker that fits it (the client reads the shard column alone).

The input is a CSV file, or Parquet: a file or a folder of files (a dataset, read by
:mod:`chemoshift.data.well_parquet`). From Parquet the client reads the shard column
alone, and each worker its shard's rows: the shard column of each file, then only the
row groups holding the shard's rows. Problems name the file, its line (CSV) or its row
(Parquet: ``row N``, 1-based within that file), and the user's column.

A shard holds the wells whose shard column reads its key, plus every shared vehicle and
blank well (a drug column reading empty, DMSO, vehicle, ...: they set the top of every
curve of their plate). Each shard's seed is derived from the run's seed and its key, so
a shard's numbers do not depend on which other shards ran or in which order.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data import run_dir as files
from chemoshift.data import well_parquet
from chemoshift.data.dose_response import (
    OPTIONAL,
    REQUIRED,
    SHARED_VEHICLE_DRUGS,
    DoseResponseData,
    validate_wells,
)
from chemoshift.data.errors import InputError, Problem
from chemoshift.data.well_files import read_well_file

SHARDS_FOLDER = "shards"


@dataclass(frozen=True)
class Shard:
    """One shard: its key (the shard column's value), folder name and sampler seed."""

    key: str
    name: str
    seed: int


def shard_name(key: str) -> str:
    """A folder name for ``key``: its safe characters and a short hash (keys that differ
    only in unsafe characters, or in case, get different folders)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:40] or "shard"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def shard_seed(seed: int, key: str) -> int:
    """The seed of shard ``key`` in a run seeded ``seed`` (32 bits)."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def plan_shards(path: str | Path, shard_by: str, *, seed: int,
                columns: Mapping[str, str] | None = None) -> list[Shard]:
    """The shards of ``path`` by its column ``shard_by`` (a package name such as ``drug``,
    mapped through ``columns`` like every other column), reading that column alone."""
    path = Path(path)
    column = (columns or {}).get(shard_by, shard_by)
    values = _read_column(path, column, shard_by)
    keys = sorted({v.strip() for v in values if v.strip().lower() not in SHARED_VEHICLE_DRUGS})
    if not keys:
        raise InputError([Problem(str(path), None, column, "no value to shard by",
                                  f"a {shard_by} column with at least one level")])
    return [Shard(key, shard_name(key), shard_seed(seed, key)) for key in keys]


def in_shard(cells: pd.Series, key: str) -> np.ndarray:
    """Which cells of the shard column belong to shard ``key``: its own, and the shared
    vehicle and blank wells (empty, DMSO, vehicle, ...)."""
    cells = cells.astype(str).str.strip()
    return ((cells == key) | cells.str.lower().isin(SHARED_VEHICLE_DRUGS)).to_numpy()


def input_hash(path: str | Path) -> str:
    """SHA-256 of the input: a file's bytes, or a Parquet folder's files (each one's path
    within the folder and bytes' hash, in order)."""
    path = Path(path)
    if not path.is_dir():
        return files.file_hash(path)
    digest = hashlib.sha256()
    for name in sorted(well_parquet.open_dataset(path).files):
        digest.update(f"{Path(name).relative_to(path)}\0{files.file_hash(Path(name))}\n"
                      .encode())
    return digest.hexdigest()


def _read_column(path: Path, column: str, shard_by: str) -> pd.Series:
    if well_parquet.is_parquet(path):
        dataset = well_parquet.open_dataset(path)
        names = well_parquet.column_names(dataset)
        if column not in names:
            raise InputError([Problem(str(path), None, column, "no such column",
                                      f"the column to shard by ({shard_by}; the file's "
                                      f"columns are {', '.join(names)})")])
        return pd.Series(sorted(well_parquet.distinct_values(dataset, column, str(path))),
                         dtype=str)
    if not path.is_file():
        raise InputError([Problem(str(path), None, None, "no such file",
                                  "a CSV file of wells, or a Parquet file or folder")])
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        header = handle.readline()
        delimiter = max(",;\t", key=header.count)
        names = next(csv.reader([header], delimiter=delimiter))
    if column not in [n.strip() for n in names]:
        raise InputError([Problem(str(path), 1, column, "no such column",
                                  f"the column to shard by ({shard_by}; the file's columns "
                                  f"are {', '.join(n.strip() for n in names)})")])
    names = [n.strip() for n in names]
    frame = pd.read_csv(path, sep=delimiter, usecols=[names.index(column)], dtype=str,
                        keep_default_na=False, encoding="utf-8-sig",
                        encoding_errors="replace")
    return frame.iloc[:, 0]


def read_shard(path: str | Path, shard_by: str, key: str, *,
               columns: Mapping[str, str] | None = None, controls: dict | None = None,
               unit: str = "uM", response_kind: str = "absorbance") -> DoseResponseData:
    """The validated wells of shard ``key`` (with the shared vehicle and blank wells);
    problems name the file's own lines (Parquet: each file's rows) and columns."""
    name = str(path)
    known = (*REQUIRED, *OPTIONAL)
    if well_parquet.is_parquet(path):
        dataset = well_parquet.open_dataset(path)
        column = (columns or {}).get(shard_by, shard_by)
        if column not in well_parquet.column_names(dataset):
            raise InputError([Problem(name, None, column, "no such column",
                                      f"the column to shard by ({shard_by})")])
        file = well_parquet.read_rows(dataset, column, lambda cells: in_shard(cells, key),
                                      columns=columns, known=known, name=name)
        rows, lines, row_files = file.frame, file.lines, file.files
    else:
        file = read_well_file(path, columns, known=known)
        keep = in_shard(file.frame[shard_by], key)
        rows, lines, row_files = file.frame[keep], np.asarray(file.lines)[keep], None
    data = validate_wells(rows, name, controls=controls, unit=unit,
                          response_kind=response_kind, source_columns=file.source_columns,
                          lines=lines, files=row_files, row_kind=file.row_kind)
    digest = hashlib.sha256(rows.to_csv(index=False).encode()).hexdigest()
    return dataclasses.replace(data, sources={f"{name} [{shard_by} = {key}]": digest},
                               notes=(*file.notes, *data.notes))
