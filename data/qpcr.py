"""qPCR Cts: the schema, its validation, and the typed table the model reads.

One row per reaction (long: ``gene`` and ``ct``/``cq`` columns) or one Ct column per
gene (wide; read by :mod:`chemoshift.data.qpcr_files`). Keys: ``condition`` (required;
``condition=COLUMN`` maps yours), ``sample``, ``technical_replicate``, ``replicate``,
``plate``, ``experiment``, ``well`` and ``dose`` (a number per condition).

The unit of replication is the biological sample, and every file says what it is. A long
file needs ``sample`` (``sample=COLUMN`` maps yours): the biological sample each reaction
was measured in. Rows of one sample and gene are its technical replicates, and a target
is normalised to the reference reactions of its own sample; a long file without one is
refused, as its rows would otherwise each count as a biological replicate. A wide file
is Livak & Schmittgen's table: each row one biological sample (named by ``sample``, else
by ``replicate`` within its condition, else by its line).

A Ct cell reading ``Undetermined``, ``No Ct``, ``N/A``, ``NA``, ``NaN``, ``-`` or empty
is a missing Ct (status ``undetermined``), and a Ct above ``max_cycle`` a non-detect
(``above_limit``): neither is an error nor replaced by a number; the model reads each as
censored or as a failed reaction. Negative, non-numeric or absurd (< 5) Cts are errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.qpcr_files import read_ct_file
from chemoshift.data.qpcr_folders import read_ct_folder
from chemoshift.data.qpcr_plates import check_plate_agreement, drop_copied_plates, leave_out_plates
from chemoshift.data.qpcr_references import (
    Dilutions,
    check_detected,
    parse_references,
    read_dilutions,
)
from chemoshift.data.qpcr_wells import (
    apply_sample_sheet,
    check_repeated_wells,
    drop_copied_wells,
    drop_unused_wells,
)

__all__ = ["Dilutions", "QpcrData", "read_qpcr", "validate_qpcr"]
MISSING = {"", "undetermined", "no ct", "noct", "n/a", "na", "nan", "-", "none", "no cq"}
MIN_CT = 5.0  # a Ct below this is no amplification curve anyone measured
MAX_CYCLE = 40.0
CONDITION_HINT = ("; or --condition COLUMN; or, when the file names samples but not their "
                  "conditions, a sample sheet --samples SHEET.csv with columns sample and "
                  "condition")
EFFICIENCY_RANGE = (1.0, 2.2)  # fold per cycle; 2 is perfect doubling


@dataclass(frozen=True)
class QpcrData:
    """Validated Cts.

    Attributes
    ----------
    reactions : one row per reaction: ``line`` (file line), ``sample``, ``condition``,
        ``gene``, ``ct`` (cycles; NaN when missing), ``status`` (``detected``,
        ``undetermined``, ``above_limit``), ``plate``, ``experiment``.
    samples : one row per biological sample: ``sample``, ``condition``, ``experiment``,
        ``label`` (how the user names it).
    genes : one row per gene: ``gene``, ``role`` (``target`` / ``reference``), ``group``
        (genes normalised together; one loading per sample and group), ``reference``
        (the group's first reference: the classical ΔCt's), ``efficiency`` (given, or
        NaN: estimated from the dilutions, or 2).
    conditions : condition levels in file order; ``comparisons`` (condition, control) pairs.
    doses : condition -> dose (only with a dose column).
    dilutions : a dilution series for joint efficiency estimation, or None.
    """

    reactions: pd.DataFrame
    samples: pd.DataFrame
    genes: pd.DataFrame
    conditions: tuple[str, ...]
    comparisons: tuple[tuple[str, str], ...]
    max_cycle: float = MAX_CYCLE
    doses: dict[str, float] = field(default_factory=dict)
    dilutions: Dilutions | None = None
    notes: tuple[str, ...] = ()
    layout: str = "long"
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def coords(self) -> dict[str, list[str]]:
        """Model coordinates (``bio_sample``: a dimension named ``sample`` beside
        chain/draw makes ArviZ warn that dimensions may be misnamed)."""
        groups = list(dict.fromkeys(self.genes.group))
        return {"gene": list(self.genes.gene), "condition": list(self.conditions),
                "bio_sample": list(self.samples["sample"]), "group": groups,
                "comparison": [f"{c} vs {k}" for c, k in self.comparisons],
                "experiment": sorted(set(self.samples.experiment)),
                "plate": sorted(set(self.reactions.plate))}


def read_qpcr(
    path: str | Path,
    *,
    references: str | Sequence[str] | Mapping[str, str] | None = None,
    condition: str | None = None,
    sample: str | None = None,
    controls: Mapping[str, str] | None = None,
    columns: Mapping[str, str] | None = None,
    genes: Sequence[str] | None = None,
    max_cycle: float = MAX_CYCLE,
    efficiency: Mapping[str, float] | None = None,
    dilutions: str | Path | None = None,
    dose: str | None = None,
    samples: str | Path | None = None,
    exclude_plates: Sequence[str] | None = None,
) -> QpcrData:
    """Read and validate a Ct file (or a folder of plate maps or of one-gene files:
    :mod:`chemoshift.data.qpcr_folders`); raise :class:`InputError` listing every problem.

    ``references``: ``"GAPDH"``, ``["GAPDH", "ACTB"]`` (every other gene is a target of
    them) or per target ``"miR-379:RNU48,IGF1R:GAPDH"`` / ``{"miR-379": "RNU48"}``.
    ``condition`` / ``sample`` / ``dose``: your condition, biological-sample and dose
    columns (a long file needs a sample column). ``controls``: condition -> its control
    (default: every condition against the first in the file). ``samples``: a sample sheet
    (CSV: ``sample``, ``condition``, optionally ``experiment`` and ``dose``) giving each
    sample of a file without a condition column its condition. ``exclude_plates``: plates
    to leave out, named as the plate column (a folder's plate paths) names them; plates
    that contradict each other are refused (:mod:`chemoshift.data.qpcr_plates`).
    """
    columns = dict(columns or {})
    for ours, theirs in (("condition", condition), ("sample", sample), ("dose", dose)):
        if theirs:
            columns[ours] = theirs
    picked = list(genes) if genes else None
    file = (read_ct_folder(path, columns, picked) if Path(path).is_dir()
            else read_ct_file(path, columns, picked))
    file = leave_out_plates(file, exclude_plates or (), str(path))
    file = drop_copied_wells(drop_copied_plates(drop_unused_wells(file), str(path)))
    file = check_repeated_wells(file, str(path))
    if samples is not None:
        file = apply_sample_sheet(file, samples, str(path))
    data = validate_qpcr(file.frame, str(path), lines=file.lines, source=file.source,
                         layout=file.layout, references=references, controls=controls,
                         max_cycle=max_cycle, efficiency=efficiency, files=file.files,
                         ct_columns=file.ct_columns)
    references_read = list(data.genes.gene[data.genes.role == "reference"])
    labels = data.samples.set_index("sample")["label"]
    plate_notes = check_plate_agreement(data.reactions, references_read, str(path), labels)
    sources = dict(file.hashes) or {str(path): file.sha256}
    if dilutions is not None:
        series = read_dilutions(dilutions)
        fixed = set(data.genes.gene[data.genes.efficiency.notna()])
        given = [g for g in series.genes if g in fixed]
        if given:
            raise InputError([Problem(str(dilutions), None, "gene", f"{given} have both a "
                                      "dilution series and --efficiency",
                                      "one source of efficiency per gene")])
        sources[str(dilutions)] = series.sha256
        data = dataclasses.replace(data, dilutions=series)
    return dataclasses.replace(data, sources=sources, notes=(*file.notes, *data.notes,
                                                                 *plate_notes))


def validate_qpcr(frame: pd.DataFrame, name: str, *, lines=None, source=None, layout="long",
                  references=None, controls=None, max_cycle: float = MAX_CYCLE,
                  efficiency=None, files=None, ct_columns=None) -> QpcrData:
    """Validate a frame of text cells with our column names (one row per reaction; a
    ``"long"`` frame needs ``sample``, a melted ``"wide"`` one makes each row a sample).

    ``lines``, ``files`` (default: ``name`` for every row) and ``ct_columns`` (default: the
    ct column's name) say where each row's cells are, for messages; (reaction,) arrays.
    """
    source = dict(source or {})
    frame = frame.astype(str).apply(lambda s: s.str.strip()).reset_index(drop=True)
    lines = np.arange(2, len(frame) + 2) if lines is None else np.asarray(lines)
    names = np.full(len(frame), name, dtype=object) if files is None else np.asarray(files)
    problems: list[Problem] = []

    def label(column: str) -> str:
        return f"{source[column]} ({column})" if column in source else column

    theirs = [source.get(c, c) for c in frame.columns  # the file's columns, as it names them
              if layout == "long" or c not in ("gene", "ct")]
    if layout != "long" and "gene" in frame.columns:  # a wide file's Ct columns: its genes
        theirs += list(pd.unique(frame["gene"]))
    for column in ("condition", "gene", "ct"):
        if column not in frame.columns:
            problems.append(Problem(name, None, column, "column missing",
                                    f"a {column!r} column (or --columns {column}=YOURS"
                                    + (CONDITION_HINT if column == "condition" else "") + ")"
                                    f"; the file has {theirs}"))
    if layout == "long" and "sample" not in frame.columns:
        problems.append(_no_sample_column(name, frame.columns, theirs))
    if problems:
        raise InputError(problems)
    if not max_cycle > MIN_CT:
        raise InputError([Problem(name, None, None, f"--max-cycle {max_cycle}",
                                  f"a cycle limit above {MIN_CT}, e.g. 40")])
    if frame.empty:
        raise InputError([Problem(name, 2 if files is None else None, None,
                                  "no reactions (a header and no rows)",
                                  "one row per reaction below the header")])
    for column, what in (("condition", "condition"), ("sample", "biological sample"),
                         ("gene", "gene")):
        if column not in frame:
            continue
        for i in np.flatnonzero(frame[column].to_numpy() == ""):
            problems.append(Problem(names[i], int(lines[i]), label(column), "empty",
                                    f"the {what} of every reaction"))
    where = (np.asarray(ct_columns, dtype=object) if ct_columns is not None
             else np.full(len(frame), label("ct"), dtype=object) if layout == "long"
             else (frame["gene"] + " (ct)").to_numpy(dtype=object))
    ct, status = _read_cts(frame["ct"], max_cycle, lines, names, where, problems)
    table = pd.DataFrame({"line": lines, "condition": frame["condition"], "gene": frame["gene"],
                          "ct": ct, "status": status})
    for key in ("plate", "experiment"):
        table[key] = frame[key].replace("", "1") if key in frame else "1"
    table["label"], table["sample"] = _samples(frame, lines)
    table["file"] = names
    doses = _doses(frame, table, lines, names, label, problems)
    _check_sample_conditions(table, label("experiment"), problems)
    conditions = tuple(dict.fromkeys(table.condition))
    if len(conditions) < 2 and not problems:
        problems.append(Problem(name, None, label("condition"), f"one condition {conditions}",
                                "at least two conditions to compare"))
    gene_names = list(dict.fromkeys(table.gene))
    genes = parse_references(references, gene_names, name, problems)
    comparisons = _comparisons(controls, conditions, name, label("condition"), problems)
    _add_efficiencies(genes, efficiency, name, label("gene"), problems)
    if problems:
        raise InputError(problems)
    undetected = check_detected(table, genes, comparisons, where, problems)
    if problems:
        raise InputError(problems)
    samples = (table.drop_duplicates("sample")[["sample", "condition", "experiment", "label"]]
               .reset_index(drop=True))
    notes = [*_notes(table, conditions, controls), *undetected]
    return QpcrData(reactions=table.drop(columns=["label", "file"]), samples=samples, genes=genes,
                    conditions=conditions, comparisons=comparisons, max_cycle=float(max_cycle),
                    doses=doses, notes=tuple(notes), layout=layout)


def _read_cts(cells: pd.Series, max_cycle, lines, names, columns, problems):
    """Ct numbers (NaN when missing) and each reaction's status; ``lines``, ``names`` and
    ``columns`` (reaction,) say where each cell is."""
    ct = np.full(len(cells), np.nan)
    status = np.full(len(cells), "detected", dtype=object)
    for i, cell in enumerate(cells):
        name, where = names[i], columns[i]
        if cell.lower() in MISSING:
            status[i] = "undetermined"
            continue
        try:
            value = float(cell)
        except ValueError:
            problems.append(Problem(name, int(lines[i]), where, repr(cell),
                                    "a Ct (cycles), or Undetermined / empty for no Ct"))
            continue
        if not np.isfinite(value) or value < MIN_CT:
            problems.append(Problem(name, int(lines[i]), where, repr(cell),
                                    f"a Ct of at least {MIN_CT:g} cycles (negative or tiny Cts "
                                    "are no amplification curve)"))
        elif value > max_cycle:
            status[i] = "above_limit"
        else:
            ct[i] = value
    return ct, status


def _no_sample_column(name: str, columns, theirs) -> Problem:
    """The refusal of a long file that does not say what a biological sample is."""
    return Problem(
        name, None, "sample",
        "column missing in a long file (one row per reaction): each reaction would count as "
        "its own biological sample, so technical replicate wells would count as biological "
        "replicates and a target would lose its pairing with the reference reactions of the "
        "same sample",
        "a 'sample' column naming the biological sample each reaction was measured in "
        "(--sample COLUMN or --columns sample=COLUMN maps yours"
        + ("; --sample replicate if its 'replicate' numbers the biological samples of a "
           "condition" if "replicate" in columns else "")
        + ("; --sample folder if each folder below the one given holds one biological "
           "replicate's plates" if "folder" in columns else "")
        + "), or a wide Livak-style table: one row per biological sample, one Ct column per "
        f"gene; the file has {list(theirs)}")


def _samples(frame: pd.DataFrame, lines: np.ndarray):
    """Each reaction's sample label and its key (unique across conditions and experiments).

    A long file has a sample column (checked before). Without one a wide row is one
    sample, named by its ``replicate`` when there is one, else by its line.
    """
    if "sample" in frame:
        label = frame["sample"]
    elif "replicate" in frame:
        label = frame["condition"] + " " + frame["replicate"]
    else:
        label = "line " + pd.Series(lines, index=frame.index).astype(str)
    experiment = frame["experiment"] if "experiment" in frame else pd.Series("", index=frame.index)
    key = experiment + "/" + frame["condition"] + "/" + label
    return label.to_numpy(), key.to_numpy()


def _doses(frame, table, lines, names, label, problems) -> dict[str, float]:
    if "dose" not in frame:
        return {}
    doses: dict[str, float] = {}
    for i, cell in enumerate(frame["dose"]):
        if cell == "":
            continue
        try:
            value = float(cell)
        except ValueError:
            value = np.nan
        condition = table.condition.iat[i]
        if not np.isfinite(value) or value < 0:
            problems.append(Problem(names[i], int(lines[i]), label("dose"), repr(cell),
                                    "a dose >= 0 (e.g. 0, 40, 80) or empty"))
        elif doses.setdefault(condition, value) != value:
            problems.append(Problem(names[i], int(lines[i]), label("dose"), f"{cell!r} for "
                                    f"{condition!r}, which has dose {doses[condition]:g} "
                                    "elsewhere", "one dose per condition"))
    return doses


def _check_sample_conditions(table, column, problems) -> None:
    for _sample, rows in table.groupby("sample", sort=False):
        if rows.experiment.nunique() > 1:
            problems.append(Problem(rows.file.iloc[0], int(rows.line.iloc[0]), column,
                                    f"sample {rows.label.iloc[0]!r} in several experiments",
                                    "each sample in one experiment"))


def _comparisons(controls, conditions, name, column, problems):
    if not controls:
        return tuple((c, conditions[0]) for c in conditions[1:])
    pairs = []
    for condition, control in dict(controls).items():
        for level in (condition, control):
            if level not in conditions:
                problems.append(Problem(name, None, column, f"--control names {level!r}",
                                        f"one of the file's conditions {list(conditions)}",
                                        option="controls"))
        if condition == control:
            problems.append(Problem(name, None, column, f"--control {condition}={control}",
                                    "a condition compared with another condition",
                                    option="controls"))
        pairs.append((condition, control))
    return tuple(pairs)


def _add_efficiencies(genes: pd.DataFrame, efficiency, name, column, problems) -> None:
    genes["efficiency"] = np.nan
    low, high = EFFICIENCY_RANGE
    for gene, value in dict(efficiency or {}).items():
        if gene not in set(genes.gene):
            problems.append(Problem(name, None, column, f"--efficiency names {gene!r}",
                                    f"one of the file's genes {list(genes.gene)}",
                                    option="efficiency"))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = np.nan
        if not low < value <= high:
            problems.append(Problem(name, None, gene, f"--efficiency {gene}={value}",
                                    f"fold per cycle in ({low:g}, {high:g}], 2 = perfect",
                                    option="efficiency"))
        genes.loc[genes.gene == gene, "efficiency"] = value


def _notes(table, conditions, controls) -> list[str]:
    notes = []
    if not controls and len(conditions) > 1:
        notes.append(f"no --control given: every condition is compared with {conditions[0]!r}"
                     " (the file's first)")
    missing = table[table.status != "detected"]
    for gene, rows in missing.groupby("gene", sort=False):
        above = int((rows.status == "above_limit").sum())
        notes.append(f"{gene}: {len(rows)} missing Ct(s) ({above} above the cycle limit); the "
                     "model reads each as censored (non-detect) or as a failed reaction")
    return notes
