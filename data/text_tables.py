"""Text tables of the omics readers (expression tables, sample sheets, GEO tables, STRING
TSVs, GMT files), cell by cell with the file line of every row, for messages that say
``file:line:column``.

- **Bytes**: read by :mod:`chemoshift.data.file_text`, as every table file is (gzip,
  encodings, a file that is not text refused naming what it is).
- **Rows**: fields split by the delimiter the header uses most (tab, comma, semicolon),
  quotes honoured, CRLF or LF; blank lines are no rows; a row with more fields than the
  header is refused, a shorter one padded with empty cells; a column named twice refused.

The qPCR readers use :mod:`chemoshift.data.well_files` (the dose-response family's text
layer) instead; this module is the same job for files that are no well tables.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.file_text import file_text

DELIMITERS = ("\t", ",", ";")


@dataclass(frozen=True)
class TextTable:
    """A table of text cells: ``frame`` (the header's column names), ``lines`` the file
    line of each row (header = ``header_line``)."""

    frame: pd.DataFrame
    lines: np.ndarray
    header_line: int = 1


def decode(raw: bytes, name: str, what: str) -> str:
    """The text of a file's bytes, by the package's one reading of bytes
    (:func:`chemoshift.data.file_text.file_text`: gzip undone, the encoding found, a file
    that is not text refused naming what it is). ``what``: the file expected, for the
    message of a missing file (:func:`read_text`)."""
    return file_text(raw, name, [])


def read_text(path: str | Path, what: str) -> str:
    """:func:`decode` of a file that exists (refused, naming it, when it does not)."""
    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(str(path), None, None, "no such file", what)])
    return decode(path.read_bytes(), str(path), what)


def split_table(lines: list[str], name: str, *, first_line: int = 1,
                delimiter: str | None = None, quoting: bool = True,
                row: str = "row") -> TextTable:
    """The table of ``lines`` (its first non-blank line the header); ``first_line`` is the
    file line of ``lines[0]``; ``delimiter`` None: the one the header uses most;
    ``quoting`` False: quotes are cells' text (GEO tables), only stripped around a cell;
    ``row`` what a row is (``probe``, ``sample``, ``edge``), for messages."""
    numbered = [(first_line + i, line) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise InputError([Problem(name, first_line, None, "no header line (an empty table)",
                                  f"a header line naming the columns, then one {row} a line")])
    header_line, header_text = numbered[0]
    if delimiter is None:
        delimiter = max(DELIMITERS, key=lambda d: (header_text.count(d), d == "\t"))
    problems: list[Problem] = []
    cells = [_fields(text, delimiter, quoting, name, line) for line, text in numbered]
    header = [c.strip() for c in cells[0]]
    seen: dict[str, int] = {}
    for position, column in enumerate(header, 1):
        if column and column in seen:
            problems.append(Problem(name, header_line, column, f"column named twice (columns "
                                    f"{seen[column]} and {position})", "each column once"))
        seen.setdefault(column, position)
    rows, row_lines = [], []
    for (line, _), fields in zip(numbered[1:], cells[1:], strict=True):
        fields = [f.strip() for f in fields]
        if any(fields[len(header):]):
            problems.append(Problem(name, line, None, f"{len(fields)} fields where the header "
                                    f"has {len(header)}", "one field per header column"))
            continue
        rows.append(fields[:len(header)] + [""] * (len(header) - len(fields)))
        row_lines.append(line)
    if problems:
        raise InputError(problems[:50])
    header = [c or f"(column {j + 1})" for j, c in enumerate(header)]
    frame = (pd.DataFrame(rows, columns=header, dtype=object) if rows else
             pd.DataFrame(columns=header, dtype=object))
    return TextTable(frame, np.asarray(row_lines, dtype=int), header_line)


def _fields(text: str, delimiter: str, quoting: bool, name: str, line: int) -> list[str]:
    if not quoting:
        return [f.strip().strip('"') for f in text.split(delimiter)]
    try:
        return next(csv.reader([text], delimiter=delimiter, skipinitialspace=True))
    except (csv.Error, StopIteration) as error:
        raise InputError([Problem(name, line, None, f"unreadable ({error})",
                                  "a delimited text line, quotes closed on it")]) from None


def read_table(text: str, name: str, row: str = "row") -> TextTable:
    """:func:`split_table` of a whole file's text (quotes honoured)."""
    return split_table(text.splitlines(), name, row=row)
