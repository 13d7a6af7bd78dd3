"""A GEO GSE family SOFT file -> one platform's probe x sample table and its sample sheet.

A family file (``GSE781_family.soft.gz`` as GEO and GEOquery give it) holds ``^SERIES``,
one ``^PLATFORM`` block per array type (with the annotation table) and one ``^SAMPLE``
block per array (its own ``ID_REF VALUE ...`` table). One platform is read at a time:
``platform=`` names it, and must when the family has more than one (the arrays of two
platforms measure different probes: GSE781's U133A and U133B halves are two data sets).

The sample sheet has ``sample`` (GSM id), ``title``, ``source_name``
(``!Sample_source_name_ch1``, with the words all samples' source names start with
removed, noted) and one column per characteristic (``!Sample_characteristics_ch1 =
patient: 3`` is the column ``patient``). Gene symbols come from the platform table's
``Gene Symbol`` column (or another of ``SYMBOL_COLUMNS``); without one the probe ids
stand in.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.text_tables import TextTable, split_table

SYMBOL_COLUMNS = ("IDENTIFIER", "Gene Symbol", "GENE_SYMBOL", "Symbol", "SYMBOL", "gene",
                  "Gene", "symbol", "gene_symbol")


@dataclass
class _Block:
    """One ^PLATFORM or ^SAMPLE block: its id, first line (1-based) and lines."""

    kind: str
    accession: str
    line: int
    lines: list[str] = field(default_factory=list)

    def value(self, key: str) -> str:
        """The first ``!key = value`` of the block ('' when absent); key case-insensitive."""
        key = key.lower()
        for text in self.lines:
            if text.lower().startswith(key) and text[len(key):].lstrip().startswith("="):
                return text.partition("=")[2].strip()
        return ""


def read_gse_family(text: str, name: str, notes: list[str], platform: str | None
                    ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(values probe x sample, gene symbol per probe, sample sheet) of one platform.

    text : the decoded file; name : its path (for messages); platform : a GPL id, or None
    when the family has a single platform. Raises an InputError naming the file and the
    platforms when the choice is missing or wrong.
    """
    platforms, samples = _blocks(text)
    if not samples:
        raise InputError([Problem(name, None, None, "no ^SAMPLE blocks",
                                  "a GSE family SOFT file with sample tables")])
    chosen = _choose_platform(platforms, samples, name, platform)
    own = [s for s in samples if (s.value("!Sample_platform_id") or chosen) == chosen]
    table = pd.concat([_sample_values(s, name) for s in own], axis=1, sort=False)
    genes = np.array(table.index, dtype=str)
    block = next((p for p in platforms if p.accession == chosen), None)
    symbols = _platform_symbols(block, name) if block is not None else None
    if symbols is not None:
        column, mapping = symbols
        genes = mapping.reindex(table.index).fillna("").to_numpy(str)
        notes.append(f"gene symbols from platform {chosen}'s {column!r} column")
    else:
        notes.append(f"no gene-symbol column in platform {chosen}'s table: probe ids stand in")
    sheet = _sheet(own, notes)
    notes.append(f"GSE family SOFT file, platform {chosen}: {len(table)} probes, "
                 f"{table.shape[1]} samples" + (f" (of {len(samples)} in the family)"
                                                if len(own) < len(samples) else ""))
    return table, genes, sheet


def _blocks(text: str) -> tuple[list[_Block], list[_Block]]:
    """The ^PLATFORM and ^SAMPLE blocks of a family file, in file order."""
    platforms, samples = [], []
    starts = [m.start() for m in re.finditer(r"^\^", text, flags=re.M)] + [len(text)]
    line = text.count("\n", 0, starts[0]) + 1
    for begin, end in itertools.pairwise(starts):
        chunk = text[begin:end]
        head, _, accession = chunk[:200].partition("\n")[0].partition("=")
        kind = head.strip("^ \r").upper()
        if kind in ("PLATFORM", "SAMPLE"):
            block = _Block(kind, accession.strip(), line, chunk.splitlines())
            (platforms if kind == "PLATFORM" else samples).append(block)
        line += chunk.count("\n")
    return platforms, samples


def _choose_platform(platforms: list[_Block], samples: list[_Block], name: str,
                     platform: str | None) -> str:
    counts: dict[str, int] = {}
    for sample in samples:
        key = sample.value("!Sample_platform_id") or (platforms[0].accession if platforms
                                                      else "")
        counts[key] = counts.get(key, 0) + 1
    titles = {p.accession: p.value("!Platform_title") for p in platforms}
    listing = "; ".join(f"{gpl} {titles.get(gpl, '')} ({n} samples)".replace("  ", " ")
                        for gpl, n in counts.items())
    if platform is not None and platform not in counts:
        raise InputError([Problem(name, None, None, f"--platform {platform}: no samples of "
                                  f"it in this GSE family file (platforms: {listing})",
                                  f"--platform one of {sorted(counts)}")])
    if platform is None and len(counts) > 1:
        raise InputError([Problem(name, None, None, f"a GSE family SOFT file with "
                                  f"{len(counts)} platforms: {listing}",
                                  "--platform GPL... choosing one (each platform is a "
                                  f"separate data set), e.g. --platform {next(iter(counts))}")])
    return platform or next(iter(counts))


def _sample_values(block: _Block, name: str) -> pd.Series:
    """The VALUE column of a sample's table (floats), indexed by its first column (ID_REF)."""
    try:
        read = table_between(block.lines, "!sample_table_begin", "!sample_table_end", name,
                             first_line=block.line)
    except InputError as error:
        raise InputError([Problem(name, p.row or block.line, p.column, f"sample "
                                  f"{block.accession}: {p.found}", p.expected)
                          for p in error.problems]) from None
    table = read.frame
    if "VALUE" not in table:
        raise InputError([Problem(name, read.header_line, None, f"sample {block.accession}'s "
                                  f"table has columns {list(table.columns)[:5]}",
                                  "ID_REF and VALUE columns")])
    try:
        values = numeric_table(table.set_index(table.columns[0])[["VALUE"]], name, read.lines,
                               table.columns[0])
    except InputError as error:
        raise InputError([Problem(name, p.row, p.column, f"sample {block.accession}: {p.found}",
                                  p.expected) for p in error.problems]) from None
    return values["VALUE"].rename(block.accession)


def _platform_symbols(block: _Block, name: str) -> tuple[str, pd.Series] | None:
    """(column, probe id -> symbol) from a platform block's table, None without one."""
    try:
        table = table_between(block.lines, "!platform_table_begin", "!platform_table_end",
                              name, first_line=block.line).frame
    except InputError:
        return None
    column = next((c for c in SYMBOL_COLUMNS if c in table), None)
    if column is None:
        return None
    symbols = table.drop_duplicates(table.columns[0]).set_index(table.columns[0])[column]
    return column, symbols


def _sheet(samples: list[_Block], notes: list[str]) -> pd.DataFrame:
    rows = []
    for block in samples:
        row = {"sample": block.accession, "title": block.value("!Sample_title"),
               "source_name": block.value("!Sample_source_name_ch1")}
        for text in block.lines:
            if text.lower().startswith("!sample_characteristics_ch1"):
                key, colon, value = text.partition("=")[2].strip().partition(":")
                if colon and key.strip():
                    row.setdefault(key.strip(), value.strip())
        rows.append(row)
    sheet = pd.DataFrame(rows)
    sheet["source_name"], prefix = strip_common_words(sheet["source_name"])
    if prefix:
        notes.append(f"source names shortened: the words every one starts with, {prefix!r}, "
                     "left out")
    return sheet


def strip_common_words(names: pd.Series) -> tuple[pd.Series, str]:
    """Leave out the leading words all (distinct, non-empty) names share, when each keeps
    at least one word; returns the names and the prefix removed ('' when none)."""
    distinct = [n.split() for n in pd.unique(names) if n]
    if len(distinct) < 2:
        return names, ""
    common = 0
    while all(len(w) > common + 1 for w in distinct) and len(
            {tuple(w[:common + 1]) for w in distinct}) == 1:
        common += 1
    if common == 0:
        return names, ""
    return (names.map(lambda n: " ".join(n.split()[common:]) if n else n),
            " ".join(distinct[0][:common]))


def table_between(lines: list[str], begin: str, end: str, name: str, first_line: int = 1,
                  row: str = "probe") -> TextTable:
    """The tab-separated table between a ``begin`` and an ``end`` line (all text cells,
    quotes around a cell stripped) with the file line of each row; ``first_line`` is the
    file line of ``lines[0]`` (for messages)."""
    start = next((i for i, line in enumerate(lines) if line.startswith(begin)), None)
    if start is None:
        raise InputError([Problem(name, None, None, f"no {begin} line",
                                  "a complete GEO file")])
    stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(end)), None)
    if stop is None:
        raise InputError([Problem(name, first_line + len(lines) - 1, None,
                                  f"no {end} line (file truncated?)", "a complete GEO file")])
    return split_table(lines[start + 1:stop], name, first_line=first_line + start + 1,
                       delimiter="\t", quoting=False, row=row)


MISSING_VALUES = {"", "null", "na", "nan", "n/a", "none"}


def numeric_table(frame: pd.DataFrame, name: str, lines=None, id_column: str | None = None
                  ) -> pd.DataFrame:
    """Text cells (index: probe ids) -> floats; empty / null / NA cells -> NaN; anything
    else (text, inf) is an error naming the file line (``lines``: (row,) file lines) and
    the column, and so is a probe id twice (both lines, the ``id_column``)."""
    text = frame.astype(str).apply(lambda column: column.str.strip())
    missing = text.apply(lambda column: column.str.lower().isin(MISSING_VALUES))
    numbers = text.mask(missing).apply(pd.to_numeric, errors="coerce").astype(float)
    bad = (numbers.isna() | np.isinf(numbers)) & ~missing
    lines = np.asarray(lines) if lines is not None else None
    problems: list[Problem] = []
    rows, cols = np.nonzero(bad.to_numpy())
    for r, c in zip(rows, cols, strict=True):
        line = int(lines[r]) if lines is not None else None
        problems.append(Problem(name, line, str(frame.columns[c]), f"probe {frame.index[r]}: "
                                f"{text.iat[r, c]!r}", "a number (finite; empty, null or NA "
                                "for a missing value)"))
        if len(problems) >= 50:
            break
    ids = pd.Series(frame.index.astype(str))
    for r in np.flatnonzero(ids.duplicated().to_numpy())[:50 - len(problems)]:
        first = int(np.flatnonzero((ids == ids[r]).to_numpy())[0])
        line = int(lines[r]) if lines is not None else None
        earlier = f" (first on line {int(lines[first])})" if lines is not None else ""
        problems.append(Problem(name, line, id_column, f"probe {ids[r]!r} again{earlier}",
                                "each probe id once"))
    if problems:
        raise InputError(problems)
    return numbers
