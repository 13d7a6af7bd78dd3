"""Expression data in: GEO SOFT (GDS and GSE family), GEO series matrix, plain tables.

Every reader returns one :class:`ExpressionData`: log2 values (probes x samples), the
gene symbol of each probe, and a sample sheet with the group (and, in a paired design,
the pair) of each sample. What the reader did is said in ``notes``:

- **Format** is detected from the content (gzipped or not): ``^DATASET`` (a GDS SOFT
  file), ``^SERIES`` / ``^PLATFORM`` / ``^SAMPLE`` (a GSE family SOFT file,
  :mod:`chemoshift.data.geo_family`: ``platform=`` chooses one of its platforms),
  ``!Series_`` lines (a series matrix), anything else a plain table (tab, comma or
  semicolon separated).
- **Gene symbols**: the GDS ``IDENTIFIER`` column; in a GSE family file the platform
  table's ``Gene Symbol`` / ``GENE_SYMBOL`` / ``Symbol`` column (the first symbol of a
  ``A /// B`` list); in a plain table a ``gene`` (or ``symbol``) column, else the first
  column. A series matrix has no symbols: ``annotation=`` names a platform table
  (``ID`` + a symbol column), else the probe ids stand in. Probes stay probes in the
  model (de.csv has one row per probe); where a gene list is needed (network,
  enrichment) a gene takes the **mean of its probes**: in each posterior draw the gene's
  log2 fold change is the mean of its probes' (classically: the mean of their moderated
  statistics). Not the largest: a maximum over probes is biased upward and favours genes
  with many probes. Probes without a symbol are left out of gene lists.
- **Groups**: ``group=`` names a sample-sheet column (a GDS subset type such as
  ``protocol`` or ``agent``; a GSE characteristic such as ``tissue: normal`` is the column
  ``tissue``). Without it: a GDS's ``disease state`` or other two-level subset type (the
  first of ``GROUP_SUBSET_TYPES``, noted with the others), else a column called
  ``group`` or ``source_name`` with two levels.
- **Design** (:mod:`chemoshift.data.expression_design`): ``design="auto"`` is paired when
  there is a pairs column (``pairs=``, a GDS ``individual`` subset, a ``pair`` column),
  else unpaired (two independent groups); ``design="paired"`` / ``"unpaired"`` say so.
  The control group is ``control=``, else the group named (or holding the word) normal,
  control, ... Values on the counts / MAS5 scale are log2-transformed (GEO2R's rule).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.expression_design import (
    CONTROL_NAMES,
    ExpressionData,
    assemble,
    choose_design,
    needs_log2,
)
from chemoshift.data.geo_family import SYMBOL_COLUMNS, numeric_table, read_gse_family
from chemoshift.data.geo_family import table_between as _table_between
from chemoshift.data.text_tables import decode, read_table, read_text, split_table

__all__ = ["CONTROL_NAMES", "ExpressionData", "expression_from_frame", "needs_log2",
           "read_expression"]

GROUP_SUBSET_TYPES = ("disease state", "tissue", "cell type", "specimen", "protocol", "agent",
                      "genotype/variation", "other")
GROUP_COLUMNS = ("group", "source_name", "source_name_ch1")  # auto group of a sheet


def read_expression(path: str | Path, *, pairs: str | None = None, group: str | None = None,
                    control: str | None = None, samples: str | Path | None = None,
                    annotation: str | Path | None = None, design: str = "auto",
                    platform: str | None = None) -> ExpressionData:
    """Read a GEO SOFT, series matrix or plain-table expression file (see module doc).

    Parameters
    ----------
    path : the expression file (``.gz`` or not).
    pairs, group : sample-sheet columns holding the pair (patient) and the group; a GDS
        file needs neither (its subsets say; ``group`` may name a subset type).
    control : the control group's name (default: the group called normal, control, ...).
    samples : a sample sheet (CSV/TSV, a ``sample`` column) for a plain table; default
        ``<stem>.samples.csv`` beside ``path``. For other formats its columns are added.
    annotation : a platform table (``ID`` + a symbol column) for a series matrix.
    design : ``auto`` (paired when a pairs column is there), ``paired`` or ``unpaired``.
    platform : the GPL id to read from a GSE family file with several platforms.

    Raises
    ------
    InputError listing every problem found.
    """
    path = Path(path)
    name = str(path)
    text, digest = _load(path)
    notes: list[str] = []
    sources = {name: digest}
    table, genes, sheet, fmt = _read_format(text, path, notes, sources, samples=samples,
                                            annotation=annotation, platform=platform)
    if samples is not None and fmt != "table":
        extra, _ = _read_sheet(Path(samples))
        sheet = sheet.drop(columns=[c for c in extra.columns if c in sheet and c != "sample"])
        sheet = sheet.merge(extra, on="sample", how="left")
        sources[str(samples)] = hashlib.sha256(Path(samples).read_bytes()).hexdigest()
    if group is None:
        group = (_gds_group_column(sheet, notes) if fmt == "gds" else
                 _sheet_group_column(sheet, notes))
    default_pairs = "individual" if fmt == "gds" else None
    design, pairs, reason = choose_design(design, pairs or default_pairs, sheet, name,
                                          pairs_named=pairs is not None)
    return assemble(table, genes, sheet, name, design=design, design_reason=reason,
                    pairs=pairs, group=group, control=control, notes=notes, sources=sources,
                    fmt=fmt)


def _load(path: Path) -> tuple[str, str]:
    """(decoded text, sha256 of the file's bytes); gzip is detected from the bytes."""
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "an expression file")])
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    text = decode(raw, name, "expression values (GEO SOFT, series matrix or a table)")
    if not text.strip():
        raise InputError([Problem(name, 1, None, "an empty file", "a GEO SOFT file, a series "
                                  "matrix, or a table: a header line, then one probe a line")])
    return text, digest


def _read_format(text: str, path: Path, notes: list[str], sources: dict, *,
                 samples: str | Path | None, annotation: str | Path | None,
                 platform: str | None) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, str]:
    """(values probe x sample, gene symbols, sample sheet, format) by the file's content."""
    name = str(path)
    head = text.lstrip()[:4000]
    family = head.startswith(("^DATABASE", "^SERIES", "^PLATFORM", "^SAMPLE"))
    if (head.startswith("^DATABASE") and "^DATASET" in head) or head.startswith("^DATASET"):
        family = False
        table, genes, sheet, fmt = _read_gds(text, name, notes)
    elif family:
        table, genes, sheet = read_gse_family(text, name, notes, platform)
        genes, fmt = _clean_symbols(genes), "gse"
    elif re.search(r"^!Series_", head, flags=re.M):
        table, genes, sheet, fmt = _read_series_matrix(text, name, notes)
        if annotation is not None:
            genes = _annotate(table.index, Path(annotation), notes, sources)
    else:
        table, genes, sheet = _read_plain(text, name, notes, lambda columns: _plain_sheet(
            path, samples, sources, columns))
        fmt = "table"
    if platform is not None and not family:
        raise InputError([Problem(name, None, None, f"--platform {platform} for a {fmt} "
                                  "file", "--platform only with a GSE family SOFT file")])
    return table, genes, sheet, fmt


def _plain_sheet(path: Path, samples: str | Path | None, sources: dict,
                 columns: list[str]) -> pd.DataFrame:
    """The sample sheet of a plain table: ``samples``, else ``<stem>.samples.csv``; each of
    its samples must be one of the table's ``columns`` (refused naming the sheet's line)."""
    sheet_path = Path(samples) if samples else path.with_name(
        path.name.split(".")[0] + ".samples.csv")
    if not sheet_path.is_file():
        raise InputError([Problem(str(sheet_path), None, None, "no sample sheet",
                                  "a sample sheet (CSV with a `sample` column and the "
                                  "group column, and the pair column of a paired design) "
                                  "for a plain table")])
    sources[str(sheet_path)] = hashlib.sha256(sheet_path.read_bytes()).hexdigest()
    sheet, lines = _read_sheet(sheet_path)
    absent = np.flatnonzero(~sheet["sample"].isin(columns).to_numpy())
    if absent.size:
        raise InputError([Problem(str(sheet_path), int(lines[i]), "sample", f"sample "
                                  f"{sheet['sample'].iat[i]!r} is no column of {path.name}",
                                  f"one of its sample columns {list(columns)[:8]}")
                          for i in absent[:50]])
    return sheet


# -- formats ---------------------------------------------------------------------------------


def _read_gds(text: str, name: str, notes: list[str]):
    lines = text.splitlines()
    subsets, current, value_type = [], None, ""
    for line in lines:
        if line.startswith("!dataset_value_type"):
            value_type = line.partition("=")[2].strip()
        elif line.startswith("^SUBSET"):
            current = {}
            subsets.append(current)
        elif current is not None and line.startswith("!subset_"):
            key, _, value = line.partition("=")
            current[key.strip()[len("!subset_"):]] = value.strip()
        elif line.startswith("!dataset_table_begin"):
            break
    read = _table_between(lines, "!dataset_table_begin", "!dataset_table_end", name)
    frame = read.frame
    if "ID_REF" not in frame or "IDENTIFIER" not in frame:
        raise InputError([Problem(name, read.header_line, None, f"table columns "
                                  f"{list(frame.columns)[:4]}",
                                  "ID_REF and IDENTIFIER columns in a GDS table")])
    sample_columns = [c for c in frame.columns if c.startswith("GSM")]
    sheet = pd.DataFrame({"sample": sample_columns})
    for subset in subsets:
        kind = subset.get("type", "other")
        for sample in subset.get("sample_id", "").split(","):
            sheet.loc[sheet["sample"] == sample.strip(), kind] = subset.get("description", "")
    table = numeric_table(frame.set_index("ID_REF")[sample_columns], name, read.lines,
                          "ID_REF")
    genes = frame.set_index("ID_REF")["IDENTIFIER"].to_numpy(str)
    notes.append(f"GDS SOFT file: {len(table)} probes, {len(sample_columns)} samples; gene "
                 "symbols from the IDENTIFIER column; groups (and pairs) from the subsets")
    _check_value_type(value_type, table.to_numpy(float), notes)
    return table, _clean_symbols(genes), sheet, "gds"


def _check_value_type(value_type: str, values: np.ndarray, notes: list[str]) -> None:
    """A note where the GDS's declared ``value_type`` disagrees with the scale its values
    show (GEO2R's rule, :func:`needs_log2`): the values decide, and the note says so."""
    if not value_type:
        return
    declared_log = any(word in value_type.lower() for word in ("log", "transformed"))
    linear = needs_log2(values)
    if declared_log == (not linear):
        return
    shown = "the counts / MAS5 scale" if linear else "a log scale"
    notes.append(f"value_type says {value_type!r} but the values are on {shown} (GEO2R's "
                 f"rule: 99th percentile {np.nanquantile(values, 0.99):.3g}): read on the "
                 "scale the values show")


def _gds_group_column(sheet: pd.DataFrame, notes: list[str]) -> str:
    """The GDS subset type of the groups: the first of ``GROUP_SUBSET_TYPES`` with two
    levels, else any other two-level type; noted with the other two-level types."""
    two = [c for c in sheet.columns if c not in ("sample", "individual")
           and sheet[c].nunique() == 2]
    chosen = next((k for k in GROUP_SUBSET_TYPES if k in two), two[0] if two else None)
    if chosen is None:
        return "disease state"
    others = [c for c in two if c != chosen]
    notes.append(f"groups from the GDS subset type {chosen!r}" + (
        f" (also two-level: {', '.join(others)}; --group TYPE chooses)" if others else ""))
    return chosen


def _sheet_group_column(sheet: pd.DataFrame, notes: list[str]) -> str | None:
    """A sample-sheet column of two groups when none is named: the first of
    ``GROUP_COLUMNS`` with exactly two non-empty levels (noted), else None."""
    for column in GROUP_COLUMNS:
        if column in sheet:
            levels = {str(v).strip() for v in sheet[column]} - {"", "nan"}
            if len(levels) == 2:
                notes.append(f"groups from the {column!r} column (--group COLUMN chooses "
                             "another)")
                return column
    return None


def _read_series_matrix(text: str, name: str, notes: list[str]):
    lines = text.splitlines()
    sheet_rows: dict[str, list[list[str]]] = {}
    for line in lines:
        if line.startswith("!Sample_"):
            key, *values = [v.strip().strip('"') for v in line.split("\t")]
            sheet_rows.setdefault(key[len("!Sample_"):], []).append(values)
    read = _table_between(lines, "!series_matrix_table_begin", "!series_matrix_table_end",
                          name)
    frame = read.frame.set_index(read.frame.columns[0])
    table = numeric_table(frame, name, read.lines, read.frame.columns[0])
    sheet = pd.DataFrame({"sample": list(table.columns)})
    for key, rows in sheet_rows.items():
        for values in rows:
            if len(values) != len(sheet):
                continue
            if key.startswith("characteristics") and all(":" in v for v in values if v):
                column = values[0].partition(":")[0].strip() if values[0] else key
                sheet[column] = [v.partition(":")[2].strip() for v in values]
            elif key not in sheet:
                sheet[key] = values
    notes.append(f"series matrix: {len(table)} probes, {table.shape[1]} samples; no gene "
                 "symbols in the file (annotation= names a platform table)")
    return table, np.array(table.index, dtype=str), sheet, "series_matrix"


def _read_plain(text: str, name: str, notes: list[str], sheet_of):
    """(values probe x sample, gene symbols, sample sheet) of a plain table; ``sheet_of``
    reads the sample sheet given the table's columns. Columns the sheet does not name
    (descriptions, annotations) are not read, and said."""
    read = read_table(text, name, row="probe")
    frame = read.frame
    if frame.shape[1] < 3:
        raise InputError([Problem(name, read.header_line, None, f"{frame.shape[1]} column(s) "
                                  f"{list(frame.columns)[:3]}", "a gene x sample table: an id "
                                  "column and sample columns (tab, comma or semicolon "
                                  "separated)")])
    if frame.empty:
        raise InputError([Problem(name, read.header_line + 1, None, "a header line and no "
                                  "probe rows", "one row per probe (or gene) below the header")])
    gene_column = next((c for c in frame.columns if c.lower() in ("gene", "symbol",
                                                                  "gene_symbol")), None)
    id_column = frame.columns[0]
    value_columns = [c for c in frame.columns if c not in (id_column, gene_column)]
    blank = np.flatnonzero((frame[id_column] == "").to_numpy())
    if blank.size:
        raise InputError([Problem(name, int(read.lines[i]), id_column, "an empty id",
                                  "a probe (or gene) id in every row") for i in blank[:50]])
    sheet = sheet_of(value_columns)
    named = set(sheet["sample"])
    unread = [c for c in value_columns if c not in named]
    value_columns = [c for c in value_columns if c in named]
    table = numeric_table(frame.set_index(id_column)[value_columns], name, read.lines,
                          id_column)
    genes = (frame[gene_column] if gene_column else frame[id_column]).to_numpy(str)
    notes.append(f"plain table: {len(table)} rows, {len(value_columns)} samples; gene "
                 f"symbols from column {gene_column or id_column!r}" + (
                     f"; columns not in the sample sheet not read: {unread[:6]}"
                     if unread else ""))
    return table, _clean_symbols(genes), sheet


def _read_sheet(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A sample sheet (text cells) and its rows' file lines; refused without a ``sample``
    column, with a sample listed twice or unnamed (naming its line)."""
    name = str(path)
    read = read_table(read_text(path, "a sample sheet (CSV with a `sample` column)"), name,
                      row="sample")
    sheet = read.frame
    if "sample" not in sheet:
        raise InputError([Problem(name, read.header_line, "sample", "no `sample` column "
                                  f"(columns {list(sheet.columns)[:6]})",
                                  "a sample sheet with a `sample` column naming the "
                                  "expression table's columns")])
    problems = [Problem(name, int(read.lines[i]), "sample", "an empty sample name",
                        "the expression table's column of each sample")
                for i in np.flatnonzero((sheet["sample"] == "").to_numpy())]
    repeated = sheet["sample"].duplicated() & (sheet["sample"] != "")
    for i in np.flatnonzero(repeated.to_numpy()):
        first = int(read.lines[int(np.flatnonzero((sheet["sample"] == sheet["sample"].iat[i])
                                                  .to_numpy())[0])])
        problems.append(Problem(name, int(read.lines[i]), "sample", f"sample "
                                f"{sheet['sample'].iat[i]!r} again (first on line {first})",
                                "each sample once"))
    if problems:
        raise InputError(problems[:50])
    return sheet, read.lines


def _annotate(probes: pd.Index, path: Path, notes: list[str], sources: dict) -> np.ndarray:
    sheet = _read_sheet_any(path)
    column = next((c for c in SYMBOL_COLUMNS if c in sheet), None)
    if column is None:
        raise InputError([Problem(str(path), None, None, f"columns {list(sheet.columns)[:6]}",
                                  f"a symbol column, one of {list(SYMBOL_COLUMNS)}")])
    sources[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    notes.append(f"gene symbols from {path.name}'s {column!r} column")
    return _clean_symbols(sheet.set_index(sheet.columns[0])[column].reindex(probes)
                          .fillna("").to_numpy(str))


def _read_sheet_any(path: Path) -> pd.DataFrame:
    text = read_text(path, "a platform table (ID and a gene-symbol column)")
    lines = ["" if line.startswith("#") else line for line in text.splitlines()]
    return split_table(lines, str(path), row="probe").frame


def _clean_symbols(genes: np.ndarray) -> np.ndarray:
    """``A /// B`` -> ``A``; '---' and blanks -> ''."""
    out = np.array([g.split("///")[0].strip() for g in genes.astype(str)], dtype=object)
    out[np.isin(out, ["---", "nan", "NA", "null"]) | np.char.startswith(out.astype(str), "--")
        ] = ""
    return out.astype(str)


def expression_from_frame(values: pd.DataFrame, sheet: pd.DataFrame, *,
                          pairs: str | None = None, group: str = "group",
                          control: str | None = None, genes: Mapping[str, str] | None = None,
                          design: str = "auto") -> ExpressionData:
    """An :class:`ExpressionData` from a probe x sample frame (index = probe ids) and a
    sample sheet with ``sample``, the group column and (paired) the pair column, for
    scripts and simulations. ``design="auto"``: paired when ``pairs`` is named or the
    sheet has a ``pair`` column."""
    symbols = np.array([(genes or {}).get(p, p) for p in values.index], dtype=str)
    digest = hashlib.sha256(values.to_csv().encode()).hexdigest()
    design, pairs, reason = choose_design(design, pairs, sheet, "<DataFrame>",
                                          pairs_named=pairs is not None)
    return assemble(values.astype(float), symbols, sheet, "<DataFrame>", design=design,
                    design_reason=reason, pairs=pairs, group=group, control=control, notes=[],
                    sources={"<DataFrame>": digest}, fmt="frame")
