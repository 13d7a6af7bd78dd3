"""Apoptosis counts (PI or annexin V staining, flow cytometry): schema, validation, table.

Schema (one row per sample; a sample is one stained tube, the model's observation):

===========  ==========================================================================
column       meaning
===========  ==========================================================================
apoptotic    PI-positive (or annexin-positive) cells counted, an integer >= 0
total        cells acquired (e.g. 20,000), an integer >= apoptotic and > 0
treatment    transfection arm, e.g. ``miR-379`` / ``miR-NC``
drug         drug arm, e.g. ``DOX 0.5 µM`` / ``vehicle``
cell_line    optional: cell line (e.g. Huh7, HepG2)
experiment   optional: independent repeat; absent: one
sample       optional: the tube's label within its group and experiment (e.g. 1, 2, 3);
             absent or empty: every row is a tube of its own
===========  ==========================================================================

Tubes of one group (cell line x treatment x drug) in one experiment are replicates
inside that experiment, not independent repeats of the group: the model gives each
group x experiment cell its own deviation (:mod:`chemoshift.models.apoptosis`). Rows that
share a tube (same cell line, experiment, treatment, drug and ``sample``) are repeated
counts of that tube (re-acquisitions): their counts are summed into one sample, which is
exact for the beta-binomial (given the tube's fraction, each count is binomial), and a
note says so.

The drug control (``drug_control``; default: the drug level named vehicle, control,
DMSO or none) and the treatment control (``controls``; default: the one level named like a
control, e.g. ``miR-NC``) define the 2 x 2 per cell line: miR effect without the drug,
with it, and their interaction. Every cell line needs every cell of that 2 x 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.mechanism_files import (
    SINGLE_LEVEL,
    Checker,
    read_rows,
    resolve_controls,
    unknown_note,
)

REQUIRED = ("apoptotic", "total", "treatment", "drug")
OPTIONAL = ("cell_line", "experiment", "sample")
DRUG_CONTROLS = ("vehicle", "control", "dmso", "none")


@dataclass(frozen=True)
class ApoptosisData:
    """Validated apoptosis samples.

    Attributes
    ----------
    samples : DataFrame, one row per sample (tube): ``cell_line, treatment, drug,
        experiment, sample`` (label; ``-`` when the input has none), ``apoptotic, total``
        (integers, summed over a tube's rows), ``group`` (code into ``groups``), ``batch``
        (code into ``batches``: experiment x cell line), ``cell`` (code into ``cells``:
        group x experiment), ``source_row`` (the tube's first file line).
    groups : DataFrame, one row per cell line x treatment x drug.
    batches : list of ``experiment | cell_line`` names.
    controls : treatment -> its control treatment.
    drug_control : the drug level without the drug; ``drugs`` the others.
    """

    samples: pd.DataFrame
    groups: pd.DataFrame
    batches: list[str]
    controls: dict[str, str]
    drug_control: str
    drugs: list[str]
    keys_present: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    has_experiments: bool = False

    @property
    def experiments(self) -> list[str]:
        return list(pd.unique(self.samples.experiment))

    @property
    def group_names(self) -> list[str]:
        return [" | ".join(r) for r in self.groups.itertuples(index=False)]

    @property
    def cells(self) -> list[str]:
        """Group x experiment names (``group name | experiment``), in code order."""
        first = self.samples.drop_duplicates("cell").sort_values("cell")
        names = self.group_names
        return [f"{names[g]} | {e}" for g, e in zip(first.group, first.experiment, strict=True)]

    def effects(self) -> pd.DataFrame:
        """One row per effect: ``name, cell_line, treatment, control, drug, effect`` and the
        group codes ``a, b, c, d`` it compares: logit a - logit b (miR vs control at one
        drug level), minus (logit c - logit d) for the interaction (-1 where unused)."""
        code = {tuple(r): i for i, r in enumerate(self.groups.itertuples(index=False))}
        rows = []
        for cell_line in dict.fromkeys(self.groups.cell_line):
            for treatment, control in self.controls.items():
                def arm(t, d, cell_line=cell_line):
                    return code[cell_line, t, d]
                base = (arm(treatment, self.drug_control), arm(control, self.drug_control))
                rows.append((cell_line, treatment, control, self.drug_control,
                             "mir_without_drug", *base, -1, -1))
                for drug in self.drugs:
                    with_drug = (arm(treatment, drug), arm(control, drug))
                    rows.append((cell_line, treatment, control, drug, "mir_with_drug",
                                 *with_drug, -1, -1))
                    rows.append((cell_line, treatment, control, drug, "interaction",
                                 *with_drug, *base))
        table = pd.DataFrame(rows, columns=["cell_line", "treatment", "control", "drug",
                                            "effect", "a", "b", "c", "d"])
        table.insert(0, "name", [f"{i}: {r.cell_line} | {r.treatment} | {r.drug} | {r.effect}"
                                 for i, r in enumerate(table.itertuples())])
        return table


def read_apoptosis(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    controls: Mapping[str, str] | None = None,
    drug_control: str | None = None,
) -> ApoptosisData:
    """Read and validate a file (or DataFrame) of apoptosis samples.

    Parameters
    ----------
    source : CSV file, one row per sample; or a frame with the same columns.
    columns : package column name -> your column, e.g. ``{"apoptotic": "PI_pos"}``.
    controls : treatment -> control treatment, e.g. ``{"miR-379": "miR-NC"}``.
    drug_control : the drug level without drug (default: vehicle, control, DMSO or none).

    Raises
    ------
    InputError listing every problem as ``file:row:column: found; expected ...``.
    """
    rows = read_rows(source, columns, known=(*REQUIRED, *OPTIONAL),
                     numeric=("apoptotic", "total"), what="samples")
    check = Checker(rows)
    check.require(REQUIRED)
    frame = rows.frame
    table = pd.DataFrame(index=frame.index)
    table["cell_line"] = check.text("cell_line")
    table["treatment"] = check.text("treatment", required=True)
    table["drug"] = check.text("drug", required=True)
    table["experiment"] = check.text("experiment", default="1")
    whole = "a whole number of cells"
    table["apoptotic"] = check.number("apoptotic", f"{whole} >= 0",
                                      lambda v: (v >= 0) & (v == np.round(v)))
    table["total"] = check.number("total", f"{whole} acquired, > 0",
                                  lambda v: (v > 0) & (v == np.round(v)))
    over = np.isfinite(table.apoptotic) & np.isfinite(table.total) & (table.total > 0) & (
        table.apoptotic > table.total)  # a total of 0 is refused above
    for i in np.flatnonzero(over.to_numpy()):
        check.add(i, "apoptotic", f"{table.apoptotic[i]:g} apoptotic of {table.total[i]:g} "
                  "cells acquired", "a count no larger than total")
    check.raise_if_any()

    controls = resolve_controls(list(pd.unique(table.treatment)), controls, "treatment",
                                "--control", check)
    drug_control = _drug_control(list(pd.unique(table.drug)), drug_control, check)
    check.raise_if_any()
    groups = table[["cell_line", "treatment", "drug"]].drop_duplicates().reset_index(drop=True)
    present = set(groups.itertuples(index=False, name=None))
    drugs = [d for d in pd.unique(table.drug) if d != drug_control]
    for cell_line in pd.unique(groups.cell_line):
        for treatment, control in controls.items():
            for drug in (drug_control, *drugs):
                for arm in (treatment, control):
                    if (cell_line, arm, drug) not in present:
                        where = f"cell line {cell_line!r}, " if "cell_line" in frame else ""
                        check.add(None, "treatment", f"no samples of {where}treatment {arm!r} "
                                  f"with drug {drug!r}", "every treatment x drug cell of the "
                                  "design (miR and its control, with and without the drug)")
    check.raise_if_any()
    table["sample"] = check.text("sample", default="")
    table["source_row"] = rows.lines[table.index.to_numpy()]
    _refuse_repeated_samples(table, check, "sample" in frame.columns)
    check.raise_if_any()
    pasted = _identical_unlabelled(table)
    table, repeated = _tubes(table)
    table["group"] = pd.MultiIndex.from_frame(groups).get_indexer(
        pd.MultiIndex.from_frame(table[["cell_line", "treatment", "drug"]]))
    batch_label = table.experiment + " | " + table.cell_line
    batches = list(pd.unique(batch_label))
    table["batch"] = pd.Categorical(batch_label, batches).codes.astype("int64")
    cell_label = table.group.astype(str) + " @ " + table.experiment
    table["cell"] = pd.Categorical(cell_label, pd.unique(cell_label)).codes.astype("int64")
    table["apoptotic"] = table.apoptotic.astype("int64")
    table["total"] = table.total.astype("int64")
    unknown = check.unknown_columns((*REQUIRED, *OPTIONAL))
    notes = list(rows.notes) + unknown_note(unknown)
    if repeated:
        lines = ", ".join(map(str, repeated[:5])) + (", ..." if len(repeated) > 5 else "")
        notes.append(f"{len(repeated)} sample(s) on several rows (first at lines {lines}): "
                     "counts of one tube summed, as repeated acquisitions of it")
    if pasted:
        notes.append(f"{len(pasted)} row(s) repeat an earlier row's group, experiment and "
                     f"counts (lines "
                     f"{', '.join(f'{a} and {b}' for a, b in pasted[:5])}"
                     f"{', ...' if len(pasted) > 5 else ''}): counted as tubes of their own; "
                     "if a row was pasted twice, leave the copy out (a sample column tells "
                     "tubes apart)")
    if table.experiment.nunique() == 1:
        notes.append("one experiment: samples are the only replicates")
    samples = table[["cell_line", "treatment", "drug", "experiment", "sample", "apoptotic",
                     "total", "group", "batch", "cell", "source_row"]].reset_index(drop=True)
    return ApoptosisData(
        samples=samples, groups=groups, batches=batches, controls=controls,
        drug_control=drug_control, drugs=drugs,
        keys_present=("cell_line",) if "cell_line" in frame.columns else (),
        sources={rows.name: rows.sha256}, notes=tuple(notes), unknown_columns=unknown,
        has_experiments="experiment" in frame.columns)


TUBE = ["cell_line", "treatment", "drug", "experiment"]  # a label names a tube within these


def _refuse_repeated_samples(table: pd.DataFrame, check: Checker, labelled: bool) -> None:
    """Refuse a sample entered twice: a labelled tube on two rows with the same counts (a
    pasted row: a re-acquisition counts afresh), and, where the labels name tubes across
    the whole sheet (each label in one group and experiment, as ``S01``-``S24``), a label
    in two groups or experiments."""
    if not labelled:
        return
    mine = table[table["sample"] != ""]
    first = mine.groupby([*TUBE, "sample", "apoptotic", "total"], sort=False).source_row
    first_line = first.transform("first")
    named = check.named("sample")
    for i in mine.index[first_line != mine.source_row]:
        check.add(i, "sample", f"{named} {table.at[i, 'sample']!r} again with the same counts "
                  f"({table.at[i, 'apoptotic']:g} of {table.at[i, 'total']:g}) as on line "
                  f"{first_line[i]}: a row entered twice",
                  "each sample once (a re-acquisition of a tube has counts of its own; "
                  "leave the copy out)")
    cell = mine[TUBE].astype(str).agg(" | ".join, axis=1)
    cells_of = cell.groupby(mine["sample"]).nunique()
    if len(cells_of) < 4 or (cells_of == 1).mean() < 0.75:
        return  # labels restart in each group (1, 2, 3): a label names a tube with its group
    for label in cells_of.index[cells_of > 1]:
        rows = mine.index[mine["sample"] == label]
        where = [r for r in rows if cell[r] != cell[rows[0]]]
        for i in where:
            check.add(i, "sample", f"{named} {label!r} also on line "
                      f"{table.at[rows[0], 'source_row']} ({cell[rows[0]]}), here in "
                      f"{cell[i]}: one sample in two groups or experiments",
                      f"each {named} label on one tube (the labels of this sheet name one "
                      "tube each)")


def _identical_unlabelled(table: pd.DataFrame) -> list[tuple[int, int]]:
    """(first line, repeating line) of unlabelled rows equal to an earlier row in every
    cell: a pasted row or two tubes that counted alike, which no column tells apart."""
    unlabelled = table[table["sample"] == ""]
    keys = [*TUBE, "apoptotic", "total"]
    repeat = unlabelled.duplicated(keys)
    first = unlabelled.groupby(keys, sort=False).source_row.transform("first")
    return [(int(first[i]), int(unlabelled.at[i, "source_row"]))
            for i in unlabelled.index[repeat]]


def _tubes(table: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """One row per tube. Rows sharing cell line, treatment, drug, experiment and a non-empty
    ``sample`` label are summed (counts) and keep their first file line; an unlabelled row
    is a tube of its own (label ``-``). Returns the tubes and the first file lines of the
    tubes that had several rows."""
    keys = ["cell_line", "treatment", "drug", "experiment", "sample"]
    unlabelled = table["sample"].eq("")
    own = pd.Series(-1 - np.arange(len(table)), index=table.index)
    tube = table.groupby(keys, sort=False).ngroup().where(~unlabelled, own)
    size = tube.map(tube.value_counts())
    table = table.assign(sample=table["sample"].where(~unlabelled, SINGLE_LEVEL))
    if size.max() == 1:
        return table, []
    summed = table.groupby(tube.to_numpy(), sort=False).agg(
        {**dict.fromkeys([*keys, "source_row"], "first"), "apoptotic": "sum", "total": "sum"})
    repeated = sorted(table.source_row[size > 1].groupby(tube[size > 1]).first().astype(int))
    return summed.reset_index(drop=True), repeated


def _drug_control(levels: list[str], given: str | None, check: Checker) -> str:
    if given is not None:
        if given not in levels:
            check.add(None, "drug", f"--drug-control {given!r} is not a drug level of the input",
                      f"one of {levels}", option="drug_control")
        return given
    named = [level for level in levels if level.lower() in DRUG_CONTROLS]
    if len(named) != 1 or len(levels) < 2:
        check.add(None, "drug", f"drug levels {levels}: {'no' if not named else 'several'} "
                  f"level named {' / '.join(DRUG_CONTROLS)}" if len(levels) >= 2
                  else f"one drug level {levels}",
                  "a drug level and its control (name it: --drug-control LEVEL)")
        return ""
    return named[0]


def effect_weights(effects: pd.DataFrame, n_groups: int) -> np.ndarray:
    """(effect, group) weights: logit a - logit b - (logit c - logit d)."""
    weights = np.zeros((len(effects), n_groups))
    for k, (a, b, c, d) in enumerate(effects[["a", "b", "c", "d"]].itertuples(index=False)):
        weights[k, a] += 1
        weights[k, b] -= 1
        if c >= 0:
            weights[k, c] -= 1
            weights[k, d] += 1
    return weights
