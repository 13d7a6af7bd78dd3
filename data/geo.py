"""Expression data in: GEO SOFT (GDS and GSE family), GEO series matrix, plain tables.

Every reader returns one :class:`ExpressionData`: log2 values (probes x samples), the
gene symbol of each probe, and a sample sheet with the pair (patient) and group of each
sample. What the reader did is said in ``notes``:

- **Format** is detected from the content (gzipped or not): ``^DATASET`` (a GDS SOFT
  file), ``^SERIES`` / ``^PLATFORM`` / ``^SAMPLE`` (a GSE family SOFT file),
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
- **Pairs and groups**: a GDS file's subsets (``individual`` -> pair, ``disease state``
  or another two-level subset type -> group) with no options; otherwise
  ``pairs=`` / ``group=`` name a sample-sheet column (a GSE characteristic such as
  ``patient: 3`` is the column ``patient``). The control group is ``control=``, else
  the group named normal / control / healthy / non-tumour. Samples without a partner in
  the other group are listed in ``unpaired`` and left out of the paired model; several
  samples of one pair and group are averaged (noted).
- **Scale**: values on the MAS5 / counts scale are log2-transformed with GEO2R's rule
  (quantiles q99 > 100, or q99 - q0 > 50 with q25 > 0); values <= 0 become missing
  before the log. Values already on a log scale are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem

CONTROL_NAMES = ("normal", "control", "healthy", "non-tumour", "non-tumor", "nontumor",
                 "adjacent normal", "untreated")
SYMBOL_COLUMNS = ("IDENTIFIER", "Gene Symbol", "GENE_SYMBOL", "Symbol", "SYMBOL", "gene",
                  "Gene", "symbol", "gene_symbol")
GROUP_SUBSET_TYPES = ("disease state", "tissue", "cell type", "specimen", "protocol", "agent",
                      "genotype/variation", "other")


@dataclass(frozen=True)
class ExpressionData:
    """A paired two-group expression data set, validated and on the log2 scale.

    Attributes
    ----------
    values : log2 expression, shape (n_probes, n_samples); NaN where missing.
    probes : probe ids (n_probes,), unique.
    genes : gene symbol of each probe ("" when none), (n_probes,).
    samples : one row per sample of ``values``: ``sample``, ``pair``, ``group``,
        ``role`` (``control`` / ``treated``).
    control, treated : the two group names (the effect is treated - control).
    pairs : pair ids in model order; ``differences`` columns follow it.
    unpaired : samples left out for want of a partner.
    log_transformed : whether the reader took log2 of the file's values.
    notes : what the reader did, in words.
    sources : file path -> sha256 of its bytes.
    fmt : ``gds``, ``gse``, ``series_matrix`` or ``table``.
    """

    values: np.ndarray
    probes: np.ndarray
    genes: np.ndarray
    samples: pd.DataFrame
    control: str
    treated: str
    pairs: tuple[str, ...]
    unpaired: tuple[str, ...] = ()
    log_transformed: bool = False
    notes: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    fmt: str = "table"

    @property
    def differences(self) -> np.ndarray:
        """treated - control log2 values per pair, shape (n_probes, n_pairs)."""
        columns = []
        for pair in self.pairs:
            rows = self.samples[self.samples.pair == pair]
            mean = {role: np.nanmean(self.values[:, rows.index[rows.role == role]], axis=1)
                    if (rows.role == role).sum() > 1 else
                    self.values[:, rows.index[rows.role == role][0]]
                    for role in ("control", "treated")}
            columns.append(mean["treated"] - mean["control"])
        return np.column_stack(columns)

    @property
    def n_probes(self) -> int:
        return len(self.probes)


def read_expression(path: str | Path, *, pairs: str | None = None, group: str | None = None,
                    control: str | None = None, samples: str | Path | None = None,
                    annotation: str | Path | None = None) -> ExpressionData:
    """Read a GEO SOFT, series matrix or plain-table expression file (see module doc).

    Parameters
    ----------
    path : the expression file (``.gz`` or not).
    pairs, group : sample-sheet columns holding the pair (patient) and the group; a GDS
        file needs neither (its subsets say).
    control : the control group's name (default: the group called normal, control, ...).
    samples : a sample sheet (CSV/TSV, a ``sample`` column) for a plain table; default
        ``<stem>.samples.csv`` beside ``path``.
    annotation : a platform table (``ID`` + a symbol column) for a series matrix.

    Raises
    ------
    InputError listing every problem found.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "an expression file")])
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise InputError([Problem(name, None, None, f"a damaged gzip file ({error})",
                                      "a complete .gz file")]) from error
    text = _decode(raw)
    head = text.lstrip()[:4000]
    notes: list[str] = []
    sources = {name: digest}
    if (head.startswith("^DATABASE") and "^DATASET" in head) or head.startswith("^DATASET"):
        table, genes, sheet, fmt = _read_gds(text, name, notes)
        pairs, group = pairs or "individual", group or _gds_group_column(sheet)
    elif head.startswith(("^DATABASE", "^SERIES", "^PLATFORM", "^SAMPLE")):
        table, genes, sheet, fmt = _read_gse_family(text, name, notes)
    elif re.search(r"^!Series_", head, flags=re.M):
        table, genes, sheet, fmt = _read_series_matrix(text, name, notes)
        if annotation is not None:
            genes = _annotate(table.index, Path(annotation), notes, sources)
    else:
        table, genes = _read_plain(text, name, notes)
        sheet_path = Path(samples) if samples else path.with_name(
            path.name.split(".")[0] + ".samples.csv")
        if not sheet_path.is_file():
            raise InputError([Problem(str(sheet_path), None, None, "no sample sheet",
                                      "a sample sheet (CSV with a `sample` column and the "
                                      "pair and group columns) for a plain table")])
        sheet = _read_sheet(sheet_path)
        sources[str(sheet_path)] = hashlib.sha256(sheet_path.read_bytes()).hexdigest()
        fmt = "table"
    if samples is not None and fmt != "table":
        extra = _read_sheet(Path(samples))
        sheet = sheet.drop(columns=[c for c in extra.columns if c in sheet and c != "sample"])
        sheet = sheet.merge(extra, on="sample", how="left")
        sources[str(samples)] = hashlib.sha256(Path(samples).read_bytes()).hexdigest()
    return _assemble(table, genes, sheet, name, pairs=pairs, group=group, control=control,
                     notes=notes, sources=sources, fmt=fmt)


# -- formats ---------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _table_between(lines: list[str], begin: str, end: str, name: str) -> pd.DataFrame:
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(begin))
    except StopIteration:
        raise InputError([Problem(name, None, None, f"no {begin} line",
                                  "a complete GEO file")]) from None
    stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(end)), None)
    if stop is None:
        raise InputError([Problem(name, len(lines), None, f"no {end} line (file truncated?)",
                                  "a complete GEO file")])
    body = "\n".join(lines[start + 1:stop])
    return pd.read_csv(io.StringIO(body), sep="\t", dtype=str, keep_default_na=False,
                       quoting=3).rename(columns=lambda c: c.strip('"'))


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
    frame = _table_between(lines, "!dataset_table_begin", "!dataset_table_end", name)
    if "ID_REF" not in frame or "IDENTIFIER" not in frame:
        raise InputError([Problem(name, None, None, f"table columns {list(frame.columns)[:4]}",
                                  "ID_REF and IDENTIFIER columns in a GDS table")])
    sample_columns = [c for c in frame.columns if c.startswith("GSM")]
    sheet = pd.DataFrame({"sample": sample_columns})
    for subset in subsets:
        kind = subset.get("type", "other")
        for sample in subset.get("sample_id", "").split(","):
            sheet.loc[sheet["sample"] == sample.strip(), kind] = subset.get("description", "")
    table = _numeric_table(frame.set_index("ID_REF")[sample_columns], name)
    genes = frame.set_index("ID_REF")["IDENTIFIER"].to_numpy(str)
    notes.append(f"GDS SOFT file: {len(table)} probes, {len(sample_columns)} samples; gene "
                 "symbols from the IDENTIFIER column; pairs and groups from the subsets")
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


def _gds_group_column(sheet: pd.DataFrame) -> str:
    for kind in GROUP_SUBSET_TYPES:
        if kind in sheet and sheet[kind].nunique() == 2:
            return kind
    candidates = [c for c in sheet.columns if c not in ("sample", "individual")
                  and sheet[c].nunique() == 2]
    return candidates[0] if candidates else "disease state"


def _read_gse_family(text: str, name: str, notes: list[str]):
    blocks = re.split(r"^(?=\^)", text, flags=re.M)
    platform, samples = None, {}
    characteristics: dict[str, dict[str, str]] = {}
    for block in blocks:
        lines = block.splitlines()
        if not lines:
            continue
        if lines[0].startswith("^PLATFORM") and platform is None:
            platform = _table_between(lines, "!platform_table_begin", "!platform_table_end",
                                      name)
        elif lines[0].startswith("^SAMPLE"):
            sample = lines[0].partition("=")[2].strip()
            found = {}
            for line in lines:
                if line.lower().startswith("!sample_characteristics_ch1"):
                    key, _, value = line.partition("=")[2].strip().partition(":")
                    if value:
                        found[key.strip()] = value.strip()
                elif line.startswith("!Sample_source_name_ch1"):
                    found.setdefault("source_name", line.partition("=")[2].strip())
            characteristics[sample] = found
            table = _table_between(lines, "!sample_table_begin", "!sample_table_end", name)
            samples[sample] = table.set_index(table.columns[0])["VALUE"]
    if not samples:
        raise InputError([Problem(name, None, None, "no ^SAMPLE blocks",
                                  "a GSE family SOFT file with sample tables")])
    frame = pd.DataFrame(samples)
    table = _numeric_table(frame, name)
    genes = np.array(table.index, dtype=str)
    if platform is not None:
        column = next((c for c in SYMBOL_COLUMNS if c in platform), None)
        if column:
            symbols = platform.set_index(platform.columns[0])[column]
            genes = symbols.reindex(table.index).fillna("").to_numpy(str)
            notes.append(f"gene symbols from the platform table's {column!r} column")
    sheet = pd.DataFrame([{"sample": s, **characteristics.get(s, {})} for s in table.columns])
    notes.append(f"GSE family SOFT file: {len(table)} probes, {table.shape[1]} samples")
    return table, _clean_symbols(genes), sheet, "gse"


def _read_series_matrix(text: str, name: str, notes: list[str]):
    lines = text.splitlines()
    sheet_rows: dict[str, list[list[str]]] = {}
    for line in lines:
        if line.startswith("!Sample_"):
            key, *values = [v.strip().strip('"') for v in line.split("\t")]
            sheet_rows.setdefault(key[len("!Sample_"):], []).append(values)
    frame = _table_between(lines, "!series_matrix_table_begin", "!series_matrix_table_end",
                           name)
    frame = frame.set_index(frame.columns[0])
    table = _numeric_table(frame, name)
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


def _read_plain(text: str, name: str, notes: list[str]):
    first = text.splitlines()[0] if text else ""
    sep = max(("\t", ",", ";"), key=first.count)
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    if frame.shape[1] < 3:
        raise InputError([Problem(name, None, None, f"{frame.shape[1]} column(s)",
                                  "a gene x sample table: an id column and sample columns")])
    gene_column = next((c for c in frame.columns if c.lower() in ("gene", "symbol",
                                                                  "gene_symbol")), None)
    id_column = frame.columns[0]
    value_columns = [c for c in frame.columns if c not in (id_column, gene_column)]
    if frame[id_column].duplicated().any():
        dup = frame[id_column][frame[id_column].duplicated()].iloc[0]
        raise InputError([Problem(name, None, id_column, f"duplicated id {dup!r}",
                                  "one row per probe or gene")])
    table = _numeric_table(frame.set_index(id_column)[value_columns], name)
    genes = (frame[gene_column] if gene_column else frame[id_column]).to_numpy(str)
    notes.append(f"plain table: {len(table)} rows, {len(value_columns)} samples; gene "
                 f"symbols from column {gene_column or id_column!r}")
    return table, _clean_symbols(genes)


def _read_sheet(path: Path) -> pd.DataFrame:
    text = _decode(path.read_bytes())
    first = text.splitlines()[0] if text else ""
    sep = max(("\t", ",", ";"), key=first.count)
    sheet = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    if "sample" not in sheet:
        raise InputError([Problem(str(path), None, "sample", "no `sample` column",
                                  "a sample sheet with a `sample` column naming the "
                                  "expression table's columns")])
    return sheet


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
    text = _decode(path.read_bytes())
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    first = text.splitlines()[0] if text else ""
    sep = max(("\t", ",", ";"), key=first.count)
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)


def _numeric_table(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Text cells -> floats; empty / null / NA cells -> NaN; anything else is an error."""
    frame = frame.replace({"": np.nan, "null": np.nan, "NA": np.nan, "NaN": np.nan,
                           "nan": np.nan, "NULL": np.nan})
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna() & frame.notna()
    if bad.to_numpy().any():
        rows, cols = np.nonzero(bad.to_numpy())
        problems = [Problem(name, None, str(frame.columns[c]),
                            f"probe {frame.index[r]}: {frame.iat[r, c]!r}", "a number")
                    for r, c in zip(rows[:20], cols[:20], strict=True)]
        raise InputError(problems)
    if numbers.index.duplicated().any():
        raise InputError([Problem(name, None, None, f"duplicated probe id "
                                  f"{numbers.index[numbers.index.duplicated()][0]!r}",
                                  "unique probe ids")])
    return numbers


def _clean_symbols(genes: np.ndarray) -> np.ndarray:
    """``A /// B`` -> ``A``; '---' and blanks -> ''."""
    out = np.array([g.split("///")[0].strip() for g in genes.astype(str)], dtype=object)
    out[np.isin(out, ["---", "nan", "NA", "null"]) | np.char.startswith(out.astype(str), "--")
        ] = ""
    return out.astype(str)


# -- pairs, groups, scale ----------------------------------------------------------------------


def needs_log2(values: np.ndarray) -> bool:
    """GEO2R's rule: counts / MAS5 scale when q99 > 100, or q99 - q0 > 50 with q25 > 0."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    q0, q25, q99 = np.quantile(finite, [0, 0.25, 0.99])
    return bool(q99 > 100 or (q99 - q0 > 50 and q25 > 0))


def _assemble(table: pd.DataFrame, genes: np.ndarray, sheet: pd.DataFrame, name: str, *,
              pairs: str | None, group: str | None, control: str | None, notes: list[str],
              sources: dict, fmt: str) -> ExpressionData:
    problems = []
    for option, column in (("pairs", pairs), ("group", group)):
        if column is None:
            problems.append(Problem(name, None, None, f"no --{option} column given",
                                    f"--{option} COLUMN naming the sample-sheet column "
                                    f"(columns: {list(sheet.columns)})"))
        elif column not in sheet:
            problems.append(Problem(name, None, column, f"--{option}: no such column",
                                    f"one of {list(sheet.columns)}"))
    if problems:
        raise InputError(problems)
    missing = sorted(set(sheet["sample"]) - set(table.columns))
    if missing:
        raise InputError([Problem(name, None, "sample", f"sample(s) {missing[:5]} not in the "
                                  "expression table", "sample names equal to its columns")])
    sheet = sheet.copy()
    sheet["pair"] = sheet[pairs].astype(str).str.strip().replace({"nan": ""})
    sheet["group"] = sheet[group].astype(str).str.strip().replace({"nan": ""})
    sheet = sheet[(sheet["pair"] != "") & (sheet["group"] != "")]
    levels = list(pd.unique(sheet["group"]))
    if len(levels) != 2:
        raise InputError([Problem(name, None, group, f"{len(levels)} group(s) {levels}",
                                  "exactly two groups (control and treated)")])
    if control is None:
        named = [g for g in levels if g.lower() in CONTROL_NAMES]
        if len(named) != 1:
            raise InputError([Problem(name, None, group, f"groups {levels}",
                                      "--control GROUP naming the control group")])
        control = named[0]
    elif control not in levels:
        raise InputError([Problem(name, None, group, f"--control {control!r} not a group",
                                  f"one of {levels}")])
    treated = next(g for g in levels if g != control)
    sheet["role"] = np.where(sheet["group"] == control, "control", "treated")
    complete = sheet.groupby("pair")["role"].nunique()
    paired = [p for p in pd.unique(sheet["pair"]) if complete.get(p, 0) == 2]
    unpaired = tuple(sheet.loc[~sheet["pair"].isin(paired), "sample"])
    if len(paired) < 2:
        raise InputError([Problem(name, None, pairs, f"{len(paired)} complete pair(s)",
                                  "at least two pairs with a control and a treated sample")])
    if unpaired:
        notes.append(f"{len(unpaired)} unpaired sample(s) left out of the paired model: "
                     f"{', '.join(unpaired)}")
    used = sheet[sheet["pair"].isin(paired)]
    repeats = used.groupby(["pair", "role"]).size()
    if (repeats > 1).any():
        notes.append(f"{int((repeats > 1).sum())} pair x group cell(s) hold several samples: "
                     "their log2 values are averaged")
    values = table[list(used["sample"])].to_numpy(float)
    log_transformed = needs_log2(values)
    if log_transformed:
        nonpositive = int((values <= 0).sum())
        values = np.where(values > 0, values, np.nan)
        values = np.log2(values)
        notes.append("values on the counts / MAS5 scale (GEO2R's rule): log2-transformed"
                     + (f"; {nonpositive} value(s) <= 0 set missing" if nonpositive else ""))
    else:
        notes.append("values already on a log scale: kept as they are")
    samples = used[["sample", "pair", "group", "role"]].reset_index(drop=True)
    notes.append(f"{len(paired)} complete pairs; effect = {treated} - {control} (log2)")
    return ExpressionData(values=values, probes=np.asarray(table.index, dtype=str),
                          genes=genes, samples=samples, control=control, treated=treated,
                          pairs=tuple(paired), unpaired=unpaired,
                          log_transformed=log_transformed, notes=tuple(notes),
                          sources=dict(sources), fmt=fmt)


def expression_from_frame(values: pd.DataFrame, sheet: pd.DataFrame, *, pairs: str = "pair",
                          group: str = "group", control: str | None = None,
                          genes: Mapping[str, str] | None = None) -> ExpressionData:
    """An :class:`ExpressionData` from a probe x sample frame (index = probe ids) and a
    sample sheet with ``sample`` and the pair and group columns (for scripts, simulations)."""
    symbols = np.array([(genes or {}).get(p, p) for p in values.index], dtype=str)
    digest = hashlib.sha256(values.to_csv().encode()).hexdigest()
    return _assemble(values.astype(float), symbols, sheet, "<DataFrame>", pairs=pairs,
                     group=group, control=control, notes=[], sources={"<DataFrame>": digest},
                     fmt="frame")
