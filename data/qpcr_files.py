"""Reading a Ct file as instruments and labs export it: long or wide, into one row per reaction.

The text layer (encoding, delimiter, duplicated headers, blank lines) is
:mod:`chemoshift.data.well_files`'s; this module maps the user's columns to ours and
melts a wide file (one Ct column per gene) into one row per reaction. Cells stay text;
:mod:`chemoshift.data.qpcr` validates them.

- long: ``gene`` and ``ct`` (or ``cq``) columns, one row per reaction;
- wide: one Ct column per gene; the gene columns are those named by ``genes``, or else
  every column that is not a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.well_files import DELIMITERS, _decode, _split

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
    ``layout`` ``"long"`` or ``"wide"``.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    source: dict[str, str]
    layout: str
    notes: tuple[str, ...]
    sha256: str


def read_ct_file(path: str | Path, columns: Mapping[str, str] | None = None,
                 genes: Sequence[str] | None = None) -> CtFile:
    """Read ``path`` into a :class:`CtFile`; raise :class:`InputError` listing every problem."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "a CSV file of Cts")])
    raw = path.read_bytes()
    if raw.startswith(b"PK\x03\x04"):
        raise InputError([Problem(name, None, None, "a binary file (an Excel workbook?)",
                                  "a text file of Cts: save the sheet as CSV")])
    notes: list[str] = []
    header, rows, lines, delimiter = _split(_decode(raw, notes), name, notes)
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


def _rename(frame: pd.DataFrame, columns: dict[str, str], name: str):
    problems: list[Problem] = []
    known = (*KEYS, *LONG)
    renames, source = {}, {}
    for ours, theirs in columns.items():
        if ours not in known:
            problems.append(Problem(name, None, theirs, f"--columns maps to unknown name {ours!r}",
                                    f"one of {sorted(known)}"))
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
    lower = {str(c).strip().lower(): c for c in frame.columns if c not in renames}
    for alias, ours in ALIASES.items():
        if alias in lower and ours not in frame.columns and ours not in renames.values():
            renames[lower[alias]] = ours
            source[ours] = lower[alias]
    for ours in known:  # Condition, Sample, Gene, Ct in any case
        if ours in lower and lower[ours] != ours and ours not in renames.values():
            renames[lower[ours]] = ours
            source[ours] = lower[ours]
    if problems:
        raise InputError(problems)
    return frame.rename(columns=renames), source


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
