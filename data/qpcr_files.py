"""Reading a Ct file as instruments and labs export it: long or wide, into one row per reaction.

The text layer (encoding, delimiter, duplicated headers, blank lines) is
:mod:`chemoshift.data.well_files`'s; this module maps the user's columns to ours and
melts a wide file (one Ct column per gene) into one row per reaction. Cells stay text;
:mod:`chemoshift.data.qpcr` validates them.

- long: ``gene`` and ``ct`` (or ``cq``) columns, one row per reaction;
- wide: one Ct column per gene; the gene columns are those named by ``genes``, or else
  every column that is not a key;
- one gene: a ``ct`` (or ``cq``) column and no ``gene`` column, beside key columns only
  (the qpcr package's ``Name;Ct`` files): the gene is named by the file's name. A folder
  of such files (or of plate maps) is :mod:`chemoshift.data.qpcr_folders`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.file_text import file_text
from chemoshift.data.well_files import DELIMITERS, _split

KEYS = ("condition", "sample", "technical_replicate", "replicate", "plate", "experiment", "well",
        "dose")
LONG = ("gene", "ct")
ALIASES = {"cq": "ct", "target": "gene", "tech_rep": "technical_replicate",
           "technical replicate": "technical_replicate"}


@dataclass(frozen=True)
class CtFile:
    """A Ct file as text cells, one row per reaction (a wide file melted).

    ``frame`` has our column names (``gene``, ``ct`` and the keys present); ``lines``
    the file line of each row; ``source`` our name -> the user's column for every renamed
    column (in a wide file ``ct`` of a row is read from the column named by its gene);
    ``layout`` ``"long"`` or ``"wide"``. Read from a folder: ``files`` the file of each
    row, ``ct_columns`` where a row's Ct cell sits when that is no column name (a plate
    map's ``5 (well C5)``), ``hashes`` file -> sha256 of every file read.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    source: dict[str, str]
    layout: str
    notes: tuple[str, ...]
    sha256: str
    files: np.ndarray | None = None
    ct_columns: np.ndarray | None = None
    hashes: dict[str, str] = field(default_factory=dict)


def read_ct_file(path: str | Path, columns: Mapping[str, str] | None = None,
                 genes: Sequence[str] | None = None) -> CtFile:
    """Read ``path`` into a :class:`CtFile`; raise :class:`InputError` listing every problem."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "a CSV file of Cts")])
    raw = path.read_bytes()
    text = _text(raw, name, notes := [])
    header, rows, lines, delimiter = _split(text, name, notes)
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame, source = _rename(frame, dict(columns or {}), name)
    if "gene" in frame.columns and "ct" in frame.columns:
        layout, out_lines = "long", np.asarray(lines, dtype=int)
        if genes:
            frame_genes = set(frame["gene"])
            missing = [g for g in genes if g not in frame_genes]
            if missing:
                raise InputError([Problem(name, None, source.get("gene", "gene"),
                                          f"--genes {missing} not in the file",
                                          f"genes of the file {sorted(frame_genes)}")])
            keep = frame["gene"].isin(list(genes)).to_numpy()
            frame, out_lines = frame[keep], out_lines[keep]
    elif "ct" in frame.columns and all(c in (*KEYS, "ct") for c in frame.columns):
        layout, out_lines = "long", np.asarray(lines, dtype=int)
        frame = frame.assign(gene=path.stem)
        notes.append(f"one gene per file: a Ct column and no gene column, so every Ct is of "
                     f"gene {path.stem!r} (the file's name); fit a folder of such files, one "
                     "per gene, by giving the folder")
    elif "gene" in frame.columns:  # a gene column is no Ct column of a wide table
        raise InputError([Problem(name, 1, "ct", f"a gene column ({source.get('gene', 'gene')})"
                                  " but no Ct column", "a 'ct' or 'cq' column beside it (or "
                                  "--columns ct=YOURS); the file has "
                                  f"{[source.get(c, c) for c in frame.columns]}")])
    elif "ct" in frame.columns:  # a Ct column is no gene of a wide table
        others = [c for c in frame.columns if c not in (*KEYS, "ct")]
        raise InputError([Problem(name, None, source.get("ct", "ct"), "a Ct column but no gene "
                                  f"column, beside columns {others} that are no key",
                                  "a long file (--columns gene=COLUMN naming the gene of each "
                                  "row) or one gene per file: name its sample column with "
                                  f"--sample {others[0]} (the gene is then the file's name)")])
    else:
        layout = "wide"
        frame, out_lines = _melt(frame, np.asarray(lines, dtype=int), genes, name)
    if delimiter != ",":
        commas = frame["ct"].str.contains(",", regex=False)
        if commas.any():
            frame = frame.assign(ct=frame["ct"].str.replace(",", ".", regex=False))
            notes.append(f"Cts were written with decimal commas in a {DELIMITERS[delimiter]}-"
                         "separated file: read 25,3 as 25.3")
    return CtFile(frame.reset_index(drop=True), out_lines, source, layout, tuple(notes),
                  hashlib.sha256(raw).hexdigest())


def _text(raw: bytes, name: str, notes: list[str]) -> str:
    """The text of a Ct file's bytes (:func:`chemoshift.data.file_text.file_text`: gzip
    undone, the encoding found, a file that is not text refused naming what it is)."""
    return file_text(raw, name, notes)


def _rename(frame: pd.DataFrame, columns: dict[str, str], name: str):
    """Our names for the user's columns (``columns``: ours -> theirs), then the aliases
    (``Cq``, ``Target``, any case). A key may join several columns, ``plate=rep+plate``:
    their cells joined by a space (plate names that repeat across replicate folders)."""
    problems: list[Problem] = []
    known = (*KEYS, *LONG)
    renames, source, joined = {}, {}, {}
    for ours, theirs in columns.items():
        parts = ([part.strip() for part in theirs.split("+")]
                 if "+" in theirs and theirs not in frame.columns else None)
        if ours not in known:
            problems.append(Problem(name, None, theirs, f"--columns maps to unknown name {ours!r}",
                                    f"one of {sorted(known)}"))
        elif parts is not None and ours in KEYS:
            missing = [part for part in parts if part not in frame.columns]
            problems += [Problem(name, None, part, "column not in the file", "one of the "
                                 f"file's columns {list(frame.columns)}") for part in missing]
            if ours in frame.columns and ours not in parts:
                problems.append(Problem(name, None, ours, f"--columns joins {theirs!r} into "
                                        f"{ours!r}, which the file already has", "its own "
                                        f"{ours!r} among the joined columns, or another name"))
            joined[ours], source[ours] = parts, theirs
        elif theirs not in frame.columns:
            problems.append(Problem(name, None, theirs, "column not in the file",
                                    f"one of the file's columns {list(frame.columns)}"))
        elif ours in frame.columns and ours != theirs:
            problems.append(Problem(name, None, ours, f"--columns maps {theirs!r} onto {ours!r}, "
                                    "which the file already has",
                                    f"to rename or drop the file's own {ours!r} column"))
        else:
            renames[theirs] = ours
            source[ours] = theirs
    if problems:
        raise InputError(problems)
    keys = {ours: frame[parts].apply(lambda row: " ".join(c for c in row if c), axis=1)
            for ours, parts in joined.items()}
    used = {part for parts in joined.values() for part in parts if part not in renames}
    frame = frame.drop(columns=sorted(used | (set(joined) & set(frame.columns))))
    lower = {str(c).strip().lower(): c for c in frame.columns if c not in renames}
    for alias, ours in ALIASES.items():
        if (alias in lower and ours not in frame.columns and ours not in renames.values()
                and ours not in joined):
            renames[lower[alias]] = ours
            source[ours] = lower[alias]
    for ours in known:  # Condition, Sample, Gene, Ct in any case
        if (ours in lower and lower[ours] != ours and ours not in renames.values()
                and ours not in joined):
            renames[lower[ours]] = ours
            source[ours] = lower[ours]
    frame = frame.rename(columns=renames)
    for ours, values in keys.items():
        frame[ours] = values.to_numpy(dtype=object) if len(values) else []
    return frame, source


def _melt(frame: pd.DataFrame, lines: np.ndarray, genes, name: str):
    """One row per (row, gene column) cell; ``gene`` = the column's name, ``ct`` its cell."""
    if genes:
        missing = [g for g in genes if g not in frame.columns]
        if missing:
            raise InputError([Problem(name, None, g, "--genes names a column not in the file",
                                      f"one of the file's columns {list(frame.columns)}")
                              for g in missing])
        gene_columns = list(genes)
    else:
        gene_columns = [c for c in frame.columns if c not in KEYS]
    if not gene_columns:
        raise InputError([Problem(name, None, None, "no Ct columns (every column is a key)",
                                  "one Ct column per gene (wide) or gene and ct columns "
                                  "(long)")])
    keys = [c for c in frame.columns if c in KEYS]
    values = frame[gene_columns].to_numpy(dtype=object)
    rows, cols = np.indices(values.shape)
    melted = frame[keys].iloc[rows.ravel()].reset_index(drop=True)
    melted["gene"] = np.asarray(gene_columns, dtype=object)[cols.ravel()]
    melted["ct"] = values.ravel()
    return melted, lines[rows.ravel()]
