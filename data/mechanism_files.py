"""What the luciferase, Western blot and apoptosis readers share.

Each of the three reads a file (or a DataFrame) of rows into text cells with the package's
column names (:func:`read_rows`, built on :mod:`chemoshift.data.well_files`: encodings,
``;``/tab files with decimal commas, duplicated headers, ``--columns``), then checks it
with a :class:`Checker` that names the user's column and the file line in every message
(``file:row:column: found; expected ...``) and raises one :class:`InputError` listing
every problem. Matched controls are found by :func:`resolve_controls`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.well_files import (
    column_label,
    did_you_mean,
    missing_column,
    no_rows,
    numbers,
    read_well_file,
)

FRAME_NAME = "<DataFrame>"  # stands for a file name in messages about a frame
SINGLE_LEVEL = "-"  # level of an optional key column the input does not have
# a command-line option -> the read option (a study file's key) it sets
OPTION_KEYS = {"--control": "controls", "--columns": "columns",
               "--construct-control": "construct_control", "--drug-control": "drug_control",
               "--background-lane": "background_lane", "--loading-band": "loading_band"}
CONTROL_NAMES = re.compile(r"(^|[^a-z])(nc|neg|negative|control|ctrl|scramble[d]?|mock|"
                           r"untreated|vehicle|none|dmso|empty)([^a-z]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Rows:
    """An input read into text cells: the package's column names, each row's file line."""

    frame: pd.DataFrame
    name: str  # the file's path, or FRAME_NAME
    lines: np.ndarray
    source_columns: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    sha256: str = ""


def read_rows(source: str | Path | pd.DataFrame, columns: Mapping[str, str] | None, *,
              known: Sequence[str], numeric: Sequence[str], what: str = "rows") -> Rows:
    """Read a CSV file (or take a DataFrame) into :class:`Rows` of text cells.

    ``known``: the package's column names (targets of ``columns``, package name -> the
    user's column); ``numeric``: columns whose decimal commas are read in ``;`` files;
    ``what`` a row is, plural (``wells``), for the refusal of an input without rows.
    """
    if isinstance(source, pd.DataFrame):
        return _frame_rows(source, dict(columns or {}), known, what)
    for ours, theirs in (columns or {}).items():
        if not isinstance(theirs, str):
            listed = " + ".join(map(str, theirs))
            raise InputError([Problem(str(source), None, listed, f"several columns for {ours}",
                                      "one column per name", option="columns")])
    file = read_well_file(source, columns, known=known, numeric=numeric)
    if file.frame.empty:
        raise InputError([no_rows(str(source), what)])
    return Rows(file.frame, str(source), file.lines, dict(file.source_columns), file.notes,
                file.sha256)


def _frame_rows(frame: pd.DataFrame, columns: dict, known: Sequence[str], what: str) -> Rows:
    problems = []
    for ours, theirs in columns.items():
        if ours not in known:
            problems.append(Problem(FRAME_NAME, None, str(theirs),
                                    f"columns maps to unknown name {ours!r}",
                                    f"one of {sorted(known)}"))
        elif theirs not in frame.columns:
            problems.append(Problem(FRAME_NAME, None, str(theirs), "column not in the frame"
                                    + did_you_mean(theirs, frame.columns),
                                    f"one of its columns {list(frame.columns)}"))
        elif ours in frame.columns and ours != theirs:
            problems.append(Problem(FRAME_NAME, None, ours, f"columns maps {theirs!r} onto "
                                    f"{ours!r}, which the frame already has",
                                    f"to rename or drop the frame's own {ours!r} column"))
    twice = frame.columns[frame.columns.duplicated()]
    problems += [Problem(FRAME_NAME, None, str(c), "column named twice", "each column once")
                 for c in dict.fromkeys(twice)]
    if problems:
        raise InputError(problems)
    if frame.empty:
        raise InputError([no_rows(FRAME_NAME, what, row_kind="row")])
    text = frame.rename(columns={v: k for k, v in columns.items()}).reset_index(drop=True)
    text.columns = [str(c) for c in text.columns]
    # missing cells (NaN, None, NA) as a file's empty cells, the rest as their text
    text = text.astype(object).where(text.notna(), "").astype(str)
    text = text.replace({"nan": "", "None": ""})
    digest = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
    return Rows(text, FRAME_NAME, np.arange(len(text)) + 2,
                {k: v for k, v in columns.items() if k != v}, (), digest)


class Checker:
    """Collects problems of one input, each at a row label of ``rows.frame``."""

    def __init__(self, rows: Rows):
        self.rows = rows
        self.problems: list[Problem] = []

    def add(self, i: int | None, column: str | None, found: str, expected: str, *,
            option: str | None = None) -> None:
        """A problem at row label ``i`` (None: the whole input) of ``column`` (ours; the
        message names the user's); ``option``: the read option that caused it."""
        label = None if column is None else column_label(column, self.rows.source_columns)
        line = None if i is None else int(self.rows.lines[i])
        self.problems.append(Problem(self.rows.name, line, label, found, expected,
                                     option=option))

    def named(self, column: str) -> str:
        """The user's name of one of our columns (ours when it was not mapped)."""
        return str(self.rows.source_columns.get(column, column))

    def require(self, required: Sequence[str]) -> None:
        """Stop here when a required column is missing (nothing else can be checked)."""
        frame = self.rows.frame
        missing = [missing_column(self.rows.name, c, frame.columns) for c in required
                   if c not in frame.columns]
        if missing:
            raise InputError(missing)

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(self.problems)

    def text(self, column: str, default: str = SINGLE_LEVEL, required: bool = False
             ) -> pd.Series:
        """A key column as stripped text; absent or empty cells take ``default`` (or are
        problems when ``required``)."""
        frame = self.rows.frame
        if column not in frame.columns:
            return pd.Series(default, index=frame.index, dtype=object)
        values = frame[column].astype(str).str.strip()
        empty = values == ""
        if required:
            for i in np.flatnonzero(empty.to_numpy()):
                self.add(i, column, "an empty cell", f"a {column} name")
        return values.where(~empty, default)

    def number(self, column: str, expected: str, valid=None) -> pd.Series:
        """A numeric column; cells that are not finite numbers, or fail ``valid`` (a
        function of the values giving a boolean Series), are problems."""
        raw = self.rows.frame[column].astype(str).str.strip()
        values = numbers(raw)
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if valid is not None:
            bad |= ~valid(values).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(bad):
            self.add(i, column, repr(raw.iloc[i]), expected)
        return values.astype(float)

    def unknown_columns(self, known: Sequence[str]) -> tuple[str, ...]:
        return tuple(str(c) for c in self.rows.frame.columns if c not in known)

    def duplicates(self, table: pd.DataFrame, keys: Sequence[str], column: str) -> None:
        """Refuse rows that repeat the same ``keys`` (e.g. experiment, plate, well)."""
        first = table.groupby(list(keys), sort=False).ngroup()
        first_row = pd.Series(table.index, table.index).groupby(first).transform("first")
        for i in table.index[table.duplicated(list(keys), keep="first")]:
            where = ", ".join(f"{self.named(k)}={table.at[i, k]}" for k in keys)
            self.add(i, column, f"duplicated ({where}), first seen on line "
                     f"{self.rows.lines[first_row[i]]}", f"each {column} once")


def unknown_note(unknown: Sequence[str]) -> list[str]:
    if not unknown:
        return []
    plural = len(unknown) > 1
    return [f"column{'s' * plural} {', '.join(map(repr, unknown))} "
            f"{'are' if plural else 'is'} not in the schema and not used "
            "(map one with --columns NAME=COLUMN)"]


def resolve_controls(levels: Sequence[str], given: Mapping[str, str] | None, column: str,
                     option: str, check: Checker) -> dict[str, str]:
    """Treatment -> its control, from ``given`` or, without it, the one level whose name
    reads like a control (NC, control, scramble, vehicle, mock, ...) for every other level.

    ``option`` names the command-line option in messages (``--control``).
    """
    levels = list(levels)
    if given:
        controls = {str(k).strip(): str(v).strip() for k, v in given.items()}
        for treatment, control in controls.items():
            for level, role in ((treatment, "treatment"), (control, "control")):
                if level not in levels:
                    check.add(None, column, f"{option} names {role} {level!r}, not in the "
                              "input" + did_you_mean(level, levels), f"one of {levels}",
                              option=OPTION_KEYS.get(option))
            if control == treatment or control in controls:
                check.add(None, column, f"{treatment!r} is compared with {control!r}, which "
                          + ("is itself" if control == treatment else "has a control of its own"),
                          "a control level that names no control of its own",
                          option=OPTION_KEYS.get(option))
        return controls
    candidates = [level for level in levels if CONTROL_NAMES.search(level)]
    if len(levels) < 2:
        check.add(None, column, f"one {column} level {levels}",
                  f"a level to compare and its control (two or more {column} levels)")
        return {}
    if len(candidates) != 1:
        check.add(None, column, f"{'no' if not candidates else 'several'} {column} level(s) "
                  f"read as the control ({candidates or levels})",
                  f"the control named: {option} TREATMENT=CONTROL")
        return {}
    return {level: candidates[0] for level in levels if level != candidates[0]}
