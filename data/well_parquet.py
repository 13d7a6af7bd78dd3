"""Wells in Parquet: one file, or a folder of them (a dataset; ``key=value`` folders read
as hive partition columns), read by :mod:`pyarrow.dataset`.

Two reads, both bounded by what they need: the distinct values of one column, reading
that column alone (a screen's shard plan), and the rows a predicate on one column keeps
(a shard): each file's column is read first, then only the row groups holding kept rows.
Cells become text as a CSV's would (numbers written shortest round-trip, null as an empty
cell, whitespace trimmed), so the column mapping
(:func:`~chemoshift.data.well_files.well_table`) and the validation are the CSV's own. A
problem names the row's file and its row number in that file, 1-based, as ``row N`` (a
Parquet file has no lines).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.well_files import WellFile, well_table

MAGIC = b"PAR1"
EXPECTED = "a Parquet file, or a folder of Parquet files"


def is_parquet(path: str | Path) -> bool:
    """A folder (a dataset), or a file starting with Parquet's magic bytes."""
    path = Path(path)
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == MAGIC


def open_dataset(path: str | Path) -> ds.Dataset:
    """The Parquet file or folder at ``path``; InputError when it is not one, is empty, or
    names a column twice."""
    name = str(path)
    try:
        dataset = ds.dataset(name, format="parquet", partitioning="hive")
    except (OSError, pa.ArrowException) as error:
        raise InputError([Problem(name, None, None, f"unreadable as Parquet ({error})",
                                  EXPECTED)]) from error
    if not dataset.files:
        raise InputError([Problem(name, None, None, "a folder with no Parquet file", EXPECTED)])
    seen: set[str] = set()
    twice = [c for c in dataset.schema.names if c in seen or seen.add(c)]
    if twice:
        raise InputError([Problem(name, None, c, "column named twice", "each column once")
                          for c in dict.fromkeys(twice)])
    return dataset


def column_names(dataset: ds.Dataset) -> list[str]:
    return list(dataset.schema.names)


def distinct_values(dataset: ds.Dataset, column: str, name: str) -> set[str]:
    """The distinct cells (as text) of ``column``, reading that column alone (``name``:
    the file or folder, for messages)."""
    values: set[str] = set()
    try:
        for batch in dataset.to_batches(columns=[column]):
            values.update(pc.unique(_text(batch.column(0))).to_pylist())
    except (OSError, pa.ArrowException) as error:
        raise InputError([Problem(name, None, column, f"unreadable ({error})",
                                  "a column of text or numbers")]) from error
    return values


def read_rows(dataset: ds.Dataset, column: str, keep: Callable[[pd.Series], np.ndarray], *,
              columns: Mapping | None, known: Sequence[str], name: str) -> WellFile:
    """The rows whose ``column`` cell ``keep`` (text cells -> bool array) keeps, every
    column as text, in file order (files in natural order of their paths), mapped like a
    CSV's; ``lines`` are row numbers in each row's file (``files``)."""
    frames, lines, files = [], [], []
    for fragment in sorted(dataset.get_fragments(), key=lambda f: _natural(f.path)):
        try:
            cells = _text(fragment.to_table(columns=[column], schema=dataset.schema).column(0))
            hits = np.flatnonzero(_kept(cells, keep))
            if not hits.size:
                continue
            groups = fragment.row_groups
            sizes = np.array([g.num_rows for g in groups])
            ends = np.cumsum(sizes)
            group_of = np.searchsorted(ends, hits, side="right")
            chosen = np.unique(group_of)
            # each hit's position within the chosen row groups, read back to back
            before = np.concatenate([[0], np.cumsum(sizes[chosen])[:-1]])
            local = hits - (ends - sizes)[group_of] + before[np.searchsorted(chosen, group_of)]
            table = fragment.subset(row_group_ids=[groups[g].id for g in chosen]).to_table(
                schema=dataset.schema).take(pa.array(local))
        except (OSError, pa.ArrowException) as error:  # a damaged file: the same every try
            raise InputError([Problem(fragment.path, None, None, f"unreadable ({error})",
                                      EXPECTED)]) from error
        frames.append(_text_frame(table, fragment.path))
        lines.append(hits + 1)
        files.extend([fragment.path] * len(hits))
    frame = (pd.concat(frames, ignore_index=True) if frames else
             pd.DataFrame(columns=column_names(dataset), dtype=str))
    return well_table(frame, np.concatenate(lines) if lines else np.array([], dtype=int),
                      columns, known=known, name=name, files=files, row_kind="row")


def _text(array: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Cells as a CSV holds them: text, null as empty, surrounding whitespace trimmed."""
    return pc.utf8_trim_whitespace(pc.fill_null(pc.cast(array, pa.string()), ""))


def _kept(cells: pa.ChunkedArray, keep: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``keep`` asked of each distinct cell once (a shard column has few), then spread."""
    distinct = pc.unique(cells)
    kept = distinct.filter(pa.array(np.asarray(keep(pd.Series(distinct.to_pylist(),
                                                               dtype=str)), dtype=bool)))
    return pc.is_in(cells, value_set=kept).to_numpy(zero_copy_only=False)


def _text_frame(table: pa.Table, name: str) -> pd.DataFrame:
    columns, problems = {}, []
    for column, array in zip(table.column_names, table.columns, strict=True):
        try:
            columns[column] = _text(array).to_pandas()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            problems.append(Problem(name, None, column, f"a column of {array.type}",
                                    "a column of text or numbers"))
    if problems:
        raise InputError(problems)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows)).astype(str)


def _natural(path: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]

