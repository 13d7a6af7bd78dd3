"""Reading a well file as labs write them: encoding, delimiter, header, column names, layout.

What comes out is a table of text cells with the package's column names, the file line
of every row, and plain-English notes of every conversion made. Validation (numbers,
design) is :mod:`chemoshift.data.dose_response`'s job.

- Bytes and encoding: :func:`chemoshift.data.file_text.file_text` (gzip undone; UTF-8,
  UTF-16 or Windows-1252, noted; a file that is not text refused naming what it is).
- Delimiter: ``,``, ``;`` or tab, whichever the header line uses most. In a ``;`` or
  tab file, decimal commas (``0,5``) in numeric columns are read as decimal points,
  noted; a file mixing decimal commas and points is refused.
- Header: a column named twice is refused (pandas would quietly rename the second).
- Wide replicates: ``columns={"response": ["rep1", "rep2"]}`` (also ``"rep1+rep2"``
  or ``"rep1,rep2"``) melts one response column per replicate into one row per well,
  ``replicate`` = the column's name; an empty cell is a missing well, skipped.
- Joined keys: a text key from several columns, ``columns={"cell_line": "strain+codon"}``,
  is their cells joined by a space (``wt aga``); the joined columns are used up.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.file_text import file_text

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_POINT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")
_NUMBERED = re.compile(r"^(.*?[A-Za-z])[\s_.\-]*(\d+)$")  # rep1, R_2, OD 3, replicate-4
ColumnMap = Mapping[str, "str | Sequence[str]"]


@dataclass(frozen=True)
class WellFile:
    """A well file read into text cells.

    Attributes
    ----------
    frame : one row per well, text cells, the package's column names (mapped ones renamed;
        in a wide file one row per replicate cell, its column name in ``replicate``).
    lines : file line of each row of ``frame`` (the header is line 1); in a table without
        lines (Parquet: ``row_kind`` ``"row"``), the 1-based row number in its file.
    source_columns : package name -> the user's column name (a tuple of names for wide
        replicate responses), for every column mapped with ``columns=``.
    notes : what the reader did that a user must know.
    sha256 : hash of the file's bytes (empty for rows of a table: their reader hashes them).
    files : the file of each row of ``frame`` when they come from several (a Parquet
        dataset), else None (the one file read).
    row_kind : ``"line"`` (a text file's lines) or ``"row"`` (a table's rows).
    """

    frame: pd.DataFrame
    lines: np.ndarray
    source_columns: dict[str, str | tuple[str, ...]]
    notes: tuple[str, ...]
    sha256: str
    files: np.ndarray | None = None
    row_kind: str = "line"


def read_well_file(path: str | Path, columns: ColumnMap | None, *, known: Sequence[str],
                   numeric: Sequence[str] = ("concentration", "response")) -> WellFile:
    """Read ``path`` into a :class:`WellFile`; raise :class:`InputError` listing every problem.

    ``known`` are the package's column names (targets of ``columns``); ``numeric`` the
    columns whose decimal commas are converted in ``;`` and tab files.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "a CSV file of wells")])
    raw = path.read_bytes()
    notes: list[str] = []
    text = file_text(raw, name, notes)
    fast = _unquoted_table(text, name, notes)
    if fast is not None:
        frame, lines, delimiter = fast
    else:
        header, rows, lines, delimiter = _split(text, name, notes)
        frame = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(
            columns=header, dtype=str)
    return _shape(frame, np.asarray(lines, dtype=int), columns, known, numeric, name, notes,
                  hashlib.sha256(raw).hexdigest(), separator=DELIMITERS.get(delimiter))


def _unquoted_table(text: str, name: str, notes: list[str]):
    """:func:`_split`'s table, its lines and delimiter, read by pandas' C parser (a million
    wells in seconds, not a minute) for a file without quotes, where each line is one row;
    None for a file the csv module must read (quotes, a row longer than the header, an
    unnamed column), whose problems :func:`_split` words."""
    if '"' in text:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as the csv module splits lines
    first, _, body = text.partition("\n")
    if not first.strip():
        return None
    header, _, _, delimiter = _split(first, name, notes)
    if len(header) != first.count(delimiter) + 1 or not body.strip():
        del notes[len(notes) - (delimiter != ","):]  # _split says it again
        return None
    try:  # the first row sets the width; a longer row later is a ParserError
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # never lose cells
            frame = pd.read_csv(io.StringIO(body), sep=delimiter, header=None, dtype=str,
                                na_filter=False, skip_blank_lines=False,
                                quoting=csv.QUOTE_NONE, engine="c", index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
        frame = None
    if frame is None or frame.shape[1] > len(header):  # a row longer than the header
        del notes[len(notes) - (delimiter != ","):]
        return None
    for j in range(frame.shape[1], len(header)):  # rows shorter than the header
        frame[j] = ""
    frame = frame.apply(lambda column: column.str.strip())
    kept = (frame != "").any(axis=1).to_numpy()  # a blank line is no well
    lines = (np.arange(len(frame)) + 2)[kept]
    frame = frame[kept].reset_index(drop=True)
    frame.columns = header
    return frame, lines, delimiter


def well_table(frame: pd.DataFrame, lines: Sequence[int], columns: ColumnMap | None, *,
               known: Sequence[str], name: str, files: Sequence[str] | None = None,
               row_kind: str = "row", sha256: str = "",
               numeric: Sequence[str] = ("concentration", "response")) -> WellFile:
    """A table of text cells under the user's column names, read from a file that is not
    delimited text (Parquet: :mod:`chemoshift.data.well_parquet`), into a :class:`WellFile`:
    the same ``columns=`` mapping, wide replicates and joined keys as
    :func:`read_well_file`. ``lines`` is each row's number in its file (``files``, or
    ``name``), counted as ``row_kind`` says."""
    return _shape(frame.reset_index(drop=True), np.asarray(lines, dtype=int), columns, known,
                  numeric, name, [], sha256, files=files, row_kind=row_kind)


def _shape(frame, lines, columns, known, numeric, name, notes, sha256, *, separator=None,
           files=None, row_kind="line") -> WellFile:
    """Map the user's columns to ours, read decimal commas (a ';' or tab file: ``separator``),
    melt wide replicates; the rest of :func:`read_well_file` and :func:`well_table`."""
    frame, source_columns, wide = _map_columns(frame, dict(columns or {}), known, name,
                                               numeric)
    if separator is not None and separator != DELIMITERS[","]:
        frame = _decimal_commas(frame, lines, [*numeric, *wide], name, separator,
                                notes, source_columns)
    files = None if files is None else np.asarray(files, dtype=object)
    if wide:
        frame, rows = _melt_replicates(frame, np.arange(len(frame)), wide, notes)
        lines, files = lines[rows], None if files is None else files[rows]
    elif "response" not in frame.columns:
        _refuse_unnamed_replicates(frame, known, name)
    return WellFile(frame.reset_index(drop=True), np.asarray(lines, dtype=int), source_columns,
                    tuple(notes), sha256, files, row_kind)


def _split(text: str, name: str, notes: list[str]):
    """Header names, rows of cells (padded to the header), each row's file line, delimiter."""
    physical = text.splitlines()
    if not physical or not physical[0].strip():
        raise InputError([Problem(name, 1, None, "no header line",
                                  "a header line naming the columns, then one row per well")])
    counts = {d: physical[0].count(d) for d in DELIMITERS}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if delimiter != ",":
        notes.append(f"fields are separated by {DELIMITERS[delimiter]}s (read from the header)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True)
    problems: list[Problem] = []
    header = [cell.strip() for cell in next(reader)]
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if column and column in seen:
            problems.append(Problem(name, 1, column, f"column named twice (columns "
                                    f"{seen[column]} and {position})", "each column once"))
        seen.setdefault(column, position)
    rows, lines, previous = [], [], reader.line_num
    spanning = None  # the first line of the last row read that spans several lines
    for cells in _rows(reader, name):
        start, previous = previous + 1, reader.line_num
        spanning = start if previous > start else None
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is no well
        extra = cells[len(header):]
        if any(cell.strip() for cell in extra):
            hint = (" (decimal commas in a comma-separated file? write 0.5, or separate fields "
                    "with ';')" if delimiter == "," else "")
            problems.append(Problem(name, start, None, f"{len(cells)} fields where the header "
                                    f"has {len(header)}{hint}", "one field per header column"))
            continue
        rows.append([cell.strip() for cell in cells[:len(header)]]
                    + [""] * (len(header) - len(cells)))
        lines.append(start)
    if spanning is not None and text.count('"') % 2:
        problems.append(Problem(name, spanning, None, 'a quote (") opened on this line and '
                                f"never closed: lines {spanning}-{previous} were read as one "
                                "row", "each quote closed on the line it opens (or no quotes)"))
    if problems:
        raise InputError(problems)
    # an unnamed column (a trailing delimiter in a spreadsheet export) with no values is noise
    keep = [j for j, column in enumerate(header) if column or any(r[j] for r in rows)]
    header = [header[j] or f"(column {j + 1})" for j in keep]
    return header, [[r[j] for j in keep] for r in rows], lines, delimiter


def _rows(reader, name):
    try:
        yield from reader
    except csv.Error as error:
        raise InputError([Problem(name, reader.line_num, None, f"unreadable ({error})",
                                  "a delimited text file, quotes closed on each line")]) from error


def _map_columns(frame, columns, known, name, numeric=("concentration", "response")):
    """Rename the user's columns to ours; a list (or 'a+b', 'a,b') for response is wide,
    for a text key (not in ``numeric``) the columns' cells joined by a space."""
    problems: list[Problem] = []
    renames: dict[str, str] = {}
    source_columns: dict[str, str | tuple[str, ...]] = {}
    wide: tuple[str, ...] = ()
    joined: dict[str, tuple[str, ...]] = {}
    def refuse(column, found, expected):
        problems.append(Problem(name, None, column, found, expected, option="columns"))

    for ours, theirs in columns.items():
        several = ours == "response" or ours not in numeric  # replicates, or a joined key
        if isinstance(theirs, str) and theirs not in frame.columns and several:
            # 'rep1+rep2' lists columns; a name that merely holds '+' or ',' ('PI+ cells')
            # is one column, and named whole when the file lacks it
            parts = [part.strip() for part in re.split(r"[+,]", theirs) if part.strip()]
            if len(parts) > 1 and any(part in frame.columns for part in parts):
                theirs = parts
        listed = theirs if isinstance(theirs, str) else " + ".join(map(str, theirs))
        if ours not in known:
            refuse(listed, f"--columns maps to unknown name {ours!r}", f"one of {sorted(known)}")
            continue
        if not isinstance(theirs, str):
            theirs = tuple(str(t) for t in theirs)
            if not several:
                refuse(listed, f"several columns {list(theirs)} for {ours}", "one column "
                       "(only response takes one column per replicate; a text key joins "
                       "several)")
                continue
            if ours != "response":
                joined[ours] = theirs
            if len(set(theirs)) != len(theirs):
                refuse(listed, f"a column listed twice in {list(theirs)}",
                       "each replicate column once")
            if "replicate" in frame.columns or "replicate" in columns:
                refuse("replicate", "a replicate column beside replicate response columns "
                       f"{list(theirs)}", "one of the two layouts")
        for column in ([theirs] if isinstance(theirs, str) else theirs):
            if column not in frame.columns:
                refuse(column, "column not in the file" + did_you_mean(column, frame.columns),
                       f"one of the file's columns {list(frame.columns)}")
        if ours in frame.columns and ours != theirs:
            refuse(ours, f"--columns maps {listed!r} onto {ours!r}, which the file already "
                   "has", f"to rename or drop the file's own {ours!r} column")
        if isinstance(theirs, str):
            renames[theirs] = ours
            if theirs != ours:
                source_columns[ours] = theirs
        elif ours not in joined:
            wide = theirs
            source_columns[ours] = theirs
        else:
            source_columns[ours] = theirs
    if problems:
        raise InputError(problems)
    keys = {ours: frame[list(parts)].apply(lambda row: " ".join(c for c in row if c), axis=1)
            for ours, parts in joined.items()}
    used = {c for parts in joined.values() for c in parts if c not in renames}
    frame = frame.drop(columns=sorted(used)).rename(columns=renames)
    for ours, values in keys.items():
        frame[ours] = values.to_numpy(dtype=object) if len(values) else []
    return frame, source_columns, wide


def _decimal_commas(frame, lines, numeric, name, separator, notes, source_columns):
    """In a ';' or tab file, read 0,5 as 0.5 in numeric columns; refuse mixed decimal marks."""
    numeric = [c for c in numeric if c in frame.columns]
    cells = frame[numeric].stack() if numeric else pd.Series(dtype=str)
    comma = cells[cells.str.match(_COMMA_DECIMAL.pattern)]
    both = cells[cells.str.contains(".", regex=False) & cells.str.contains(",", regex=False)]
    if comma.empty and both.empty:
        return frame
    example = (f"{comma.iloc[0]!r} on line {lines[comma.index[0][0]]}" if len(comma)
               else "none")
    problems = []
    for (i, column), cell in cells.items():
        if "." in cell and ("," in cell or _POINT_DECIMAL.match(cell)):
            problems.append(Problem(
                name, int(lines[i]), column_label(column, source_columns),
                f"{cell!r} in a {separator}-separated file with decimal commas (e.g. {example}):"
                " the decimal mark is ambiguous",
                "one decimal mark throughout: 0,5 everywhere (or 0.5 everywhere)"))
    if problems:
        raise InputError(problems)
    frame = frame.copy()
    for column in numeric:
        frame[column] = frame[column].str.replace(",", ".", regex=False)
    notes.append(f"numbers were written with decimal commas (e.g. {example}): read 0,5 as 0.5 "
                 f"in {', '.join(column_label(c, source_columns) for c in numeric)}")
    return frame


_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"  # 12, -0.5, .5, 1e-3, 1.2E+05


def numbers(cells: pd.Series) -> pd.Series:
    """Cells as floats: a decimal number (``12``, ``-0.5``, ``1.2e-3``, spaces around it
    aside) as its value, any other cell (``n.d.``, ``OVRFLW``, ``inf``, empty) NaN.

    Arrow's cast reads a million cells in a fraction of a second where
    ``pd.to_numeric(errors="coerce")`` takes seconds; a column already numeric is kept.
    """
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(
            cells.dtype):
        return cells.astype(float)
    try:
        text = pc.utf8_trim_whitespace(pa.array(cells.astype(str), type=pa.string()))
        plain = pc.match_substring_regex(text, _NUMBER)
        values = pc.cast(pc.if_else(plain, text, pa.scalar(None, pa.string())), pa.float64())
        return pd.Series(values.to_numpy(zero_copy_only=False), index=cells.index)
    except (pa.ArrowException, TypeError, ValueError):  # a cell Arrow cannot hold as text
        values = pd.to_numeric(cells, errors="coerce")
        return values.where(np.isfinite(values.astype(float)))


def column_label(column: str, source_columns: Mapping, replicate: str | None = None) -> str:
    """The user's name for one of our columns, ours in brackets: ``conc (concentration)``."""
    theirs = source_columns.get(column)
    if theirs is None:
        return column
    if not isinstance(theirs, str):
        theirs = replicate if replicate else "+".join(theirs)
    return f"{theirs} ({column})"


def _melt_replicates(frame, lines, wide, notes):
    """One row per non-empty replicate cell, in file order; ``replicate`` = its column."""
    values = frame[list(wide)].to_numpy()
    present = values != ""
    rows, reps = np.nonzero(present)
    melted = frame.drop(columns=list(wide)).iloc[rows].reset_index(drop=True)
    melted["response"] = values[rows, reps]
    melted["replicate"] = np.asarray(wide, dtype=object)[reps]
    missing = int((~present).sum())
    note = (f"replicate columns {', '.join(wide)} melted into one well per cell "
            f"({len(melted)} wells from {len(frame)} rows)")
    if missing:
        note += f"; {missing} empty cell(s) were taken as missing wells and skipped"
    notes.append(note)
    return melted, np.asarray(lines, dtype=int)[rows]


def replicate_like_columns(frame: pd.DataFrame, known: Sequence[str]) -> list[str]:
    """Two or more numeric columns sharing a prefix and ending in a number (rep1, rep2)."""
    groups: dict[str, list[str]] = {}
    for column in frame.columns:
        match = _NUMBERED.match(str(column))
        if column in known or not match:
            continue
        cells = frame[column][frame[column] != ""].str.replace(",", ".", regex=False)
        if len(cells) and pd.to_numeric(cells, errors="coerce").notna().all():
            groups.setdefault(match.group(1).lower(), []).append(column)
    return max((g for g in groups.values() if len(g) >= 2), key=len, default=[])


def _refuse_unnamed_replicates(frame, known, name) -> None:
    replicates = replicate_like_columns(frame, known)
    if not replicates:
        return  # validation names the missing column
    problems = [Problem(name, None, "response", "column missing; the file has replicate-like "
                        f"columns {', '.join(repr(c) for c in replicates)}",
                        "one row per well with a 'response' column, or name the replicate "
                        f"columns: --columns response={'+'.join(replicates)}")]
    problems += [missing_column(name, c, frame.columns) for c in ("concentration",)
                 if c not in frame.columns]
    raise InputError(problems)


def missing_column(name: str, column: str, present) -> Problem:
    return Problem(name, None, column, "column missing" + did_you_mean(column, present),
                   f"a column named {column!r} (or map yours with --columns "
                   f"{column}=YOUR_NAME); the file has {list(present)}")


def did_you_mean(column: str, present) -> str:
    """`` (the file has 'Concentraton': a misspelling?)`` when one of ``present`` is close
    to ``column`` (case, spaces and punctuation aside), else ``""``."""
    def key(text):
        return re.sub(r"[\s_.\-]+", "", str(text).lower())

    names = {key(p): str(p) for p in present}
    close = difflib.get_close_matches(key(column), list(names), n=1, cutoff=0.8)
    return f" (the file has {names[close[0]]!r}: a misspelling?)" if close else ""


def no_rows(name: str, what: str = "wells", row_kind: str = "line") -> Problem:
    """The problem of a table with a header and nothing below it."""
    one = what[:-1] if what.endswith("s") else what
    return Problem(name, 2 if row_kind == "line" else None, None,
                   f"no {what}: a header line and nothing below it" if row_kind == "line"
                   else f"no {what}: no rows", f"one row per {one} below the header")
