"""Dual-luciferase wells: the tidy schema, its validation, and the typed table models read.

Schema (one row per well):

===========  ==========================================================================
column       meaning
===========  ==========================================================================
firefly      firefly luminescence (RLU), > 0: the reporter carrying the 3'UTR
renilla      Renilla luminescence (RLU), > 0: the transfection normaliser
construct    reporter construct, e.g. ``IGF1R-3'UTR-WT`` / ``IGF1R-3'UTR-MUT``
treatment    co-transfected arm, e.g. ``miR-379`` / ``miR-NC`` (absent: constructs compared)
cell_line    optional: cell line (each has its own groups and contrasts)
experiment   optional: transfection batch (independent repeat); absent: one
plate        optional: plate the well sat on (with ``well``, checked for duplicates)
well         optional: well position such as ``B7``
===========  ==========================================================================

The reference construct (``construct_control``, default: the one construct whose name
reads ``MUT``/mutant) is the one the miRNA should not repress; the interaction is the
repression of every other construct beyond the reference's. A reading at or below 0,
below ``background`` (RLU, the empty-well reading) or at a detector ceiling
(``saturation``; else a maximum repeated in several wells, or a known 16/24/31/32-bit
ceiling) is refused with its file line: a clipped or background-level ratio is no ratio;
``drop_nonpositive`` leaves wells with a reading <= 0 out instead, each named in a note.

A file without a ``treatment`` column is a construct comparison (promoter or enhancer
fragments against an empty vector): every construct is compared with the reference
construct (``construct_control``, default: the one construct named like an empty vector
or control: VV, empty, vector, basic, NC, control), per cell line. The tables then list
the constructs under ``treatment`` (``construct`` reads ``-``) and the reference as
``control``; a ratio above 1 is a construct more active than the reference.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.log_ratio_files import LogRatioTable, contrast_rows, log_ratio_table
from chemoshift.data.mechanism_files import (
    SINGLE_LEVEL,
    Checker,
    Rows,
    read_rows,
    resolve_controls,
    unknown_note,
)

REQUIRED = ("firefly", "renilla", "construct")
OPTIONAL = ("treatment", "cell_line", "experiment", "plate", "well")
CHANNELS = ("firefly", "renilla")
CEILINGS = (2**16 - 1, 2**24 - 1, 2**31 - 1, 2**32 - 1)  # readers' integer ceilings
MUTANT = re.compile(r"(^|[^a-z])(mut|mutant|mutated|mt)([^a-z]|$)", re.IGNORECASE)
EMPTY_VECTOR = re.compile(r"(^|[^a-z])(vv|ev|empty|vector|basic|nc|neg|negative|control|ctrl)"
                          r"([^a-z]|$)", re.IGNORECASE)
POSITIVE = ("a luminescence reading > 0 (RLU; a well without light has no ratio: "
            "--drop-nonpositive leaves such wells out, each named in the notes)")


@dataclass(frozen=True)
class LuciferaseData:
    """Validated luciferase wells.

    Attributes
    ----------
    wells : DataFrame, one row per well: ``cell_line, construct, treatment, experiment,
        plate, well, firefly, renilla, log_ratio`` (natural log of firefly / renilla),
        ``group`` (code into ``groups``), ``source_row`` (file line).
    groups : DataFrame, one row per cell line x construct x treatment.
    reference_construct : the construct the interaction is measured against.
    controls : treatment -> its control treatment.
    contrasts : DataFrame, one row per reported ratio (see ``log_ratio_table``), with
        ``weights`` (contrast, group).
    keys_present : optional key columns the input had (``cell_line``).
    """

    wells: pd.DataFrame
    groups: pd.DataFrame
    reference_construct: str
    controls: dict[str, str]
    contrasts: pd.DataFrame
    weights: np.ndarray
    keys_present: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    has_experiments: bool = False

    def log_ratio_table(self) -> LogRatioTable:
        return log_ratio_table(self.wells, ["experiment", "cell_line"], self.contrasts,
                               self.weights, group_names(self.groups))

    @property
    def experiments(self) -> list[str]:
        return list(pd.unique(self.wells.experiment))


def group_names(groups: pd.DataFrame) -> list[str]:
    return [" | ".join(map(str, row)) for row in groups.itertuples(index=False)]


def read_luciferase(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    controls: Mapping[str, str] | None = None,
    construct_control: str | None = None,
    background: float | None = None,
    saturation: float | None = None,
    drop_nonpositive: bool = False,
) -> LuciferaseData:
    """Read and validate a luciferase file (or DataFrame) of wells.

    Parameters
    ----------
    source : CSV file (comma, semicolon or tab separated), one row per well; or a frame.
    columns : package column name -> your column, e.g. ``{"firefly": "Fluc"}``.
    controls : treatment -> control treatment, e.g. ``{"miR-379": "miR-NC"}`` (default:
        the one treatment whose name reads like a control: NC, control, scramble, ...).
    construct_control : the reference (mutant) construct.
    background : RLU; a reading below it is refused (default: only readings <= 0).
    saturation : RLU ceiling of the luminometer; a reading at or above it is refused.
    drop_nonpositive : leave out wells with a firefly or Renilla reading <= 0 (noted)
        instead of refusing the file.

    Raises
    ------
    InputError listing every problem as ``file:row:column: found; expected ...``.
    """
    rows = read_rows(source, columns, known=(*REQUIRED, *OPTIONAL), numeric=CHANNELS,
                     what="wells")
    Checker(rows).require(REQUIRED)
    dropped: list[str] = []
    if drop_nonpositive:
        rows, dropped = _drop_nonpositive(rows)
    check = Checker(rows)
    frame = rows.frame
    by_construct = "treatment" not in frame.columns
    table = pd.DataFrame(index=frame.index)
    for column in ("construct", "treatment"):
        table[column] = check.text(column, required=not (by_construct and column == "treatment"))
    table["cell_line"] = check.text("cell_line")
    table["experiment"] = check.text("experiment", default="1")
    table["plate"] = check.text("plate", default="1")
    table["well"] = check.text("well", default="")
    for channel in CHANNELS:
        table[channel] = check.number(channel, POSITIVE, lambda v: v > 0)
    _check_readings(table, check, background, saturation)
    if (table.well != "").all():
        check.duplicates(table, ["experiment", "plate", "well"], "well")
    check.raise_if_any()

    notes = list(rows.notes) + dropped
    unknown = check.unknown_columns((*REQUIRED, *OPTIONAL))
    notes += unknown_note(unknown)
    table["log_ratio"] = np.log(table.firefly / table.renilla)
    if by_construct:
        reference = _empty_vector(table, construct_control, check)
        check.raise_if_any()
        table["treatment"], table["construct"] = table.construct, SINGLE_LEVEL
        controls = _construct_controls(table, reference, controls, check)
        notes.append(f"no treatment column: each construct is compared with the reference "
                     f"construct {reference!r} in its cell line (the tables list the "
                     f"constructs under treatment, {reference!r} as control; a ratio above 1 "
                     "is a construct more active than the reference)")
    else:
        controls = resolve_controls(list(pd.unique(table.treatment)), controls, "treatment",
                                    "--control", check)
        reference = _reference_construct(table, construct_control, check)
    check.raise_if_any()

    groups = table[["cell_line", "construct", "treatment"]].drop_duplicates().reset_index(
        drop=True)
    index = pd.MultiIndex.from_frame(groups)
    table["group"] = index.get_indexer(pd.MultiIndex.from_frame(
        table[["cell_line", "construct", "treatment"]]))
    keys_present = ("cell_line",) if "cell_line" in frame.columns else ()
    contrasts, weights = (_construct_contrasts(groups, controls, keys_present, check)
                          if by_construct else
                          _contrasts(groups, controls, reference, keys_present, check))
    check.raise_if_any()
    if table.experiment.nunique() == 1:
        notes.append("one experiment (transfection): wells are the only replicates, so the "
                     "intervals cannot include experiment-to-experiment variation")
    table["source_row"] = rows.lines[table.index.to_numpy()]
    wells = table[["cell_line", "construct", "treatment", "experiment", "plate", "well",
                   "firefly", "renilla", "log_ratio", "group", "source_row"]]
    return LuciferaseData(
        wells=wells.reset_index(drop=True), groups=groups, reference_construct=reference,
        controls=controls, contrasts=contrasts, weights=weights, keys_present=keys_present,
        sources={rows.name: rows.sha256}, notes=tuple(notes), unknown_columns=unknown,
        has_experiments="experiment" in frame.columns)


def _drop_nonpositive(rows: Rows) -> tuple[Rows, list[str]]:
    """``rows`` without the wells whose firefly or Renilla reading is a number <= 0, and
    the note naming each (file line, column as the user's file names it)."""
    frame = rows.frame
    readings = {c: pd.to_numeric(frame[c].astype(str).str.strip(), errors="coerce")
                for c in CHANNELS}
    out = np.zeros(len(frame), dtype=bool)
    named = []
    for channel, values in readings.items():
        low = (values <= 0).to_numpy()
        out |= low
        label = f"{rows.source_columns.get(channel, channel)}"
        named += [f"line {rows.lines[i]} ({label} {values.iat[i]:g})" for i in np.flatnonzero(low)]
    if not out.any():
        return rows, []
    kept = dataclasses.replace(rows, frame=frame[~out].reset_index(drop=True),
                               lines=rows.lines[~out])
    return kept, [f"{int(out.sum())} well(s) with a reading <= 0 left out (--drop-nonpositive): "
                  f"{', '.join(named)} of {rows.name}; a well without light has no "
                  "firefly/Renilla ratio (if it was a real reading below detection, the "
                  "construct's ratio is a little high)"]


def _given_construct(given: str, constructs: list[str], check: Checker) -> str:
    """The construct named by ``--construct-control``, checked against the input's."""
    if given not in constructs:
        check.add(None, "construct", f"--construct-control {given!r} is not a construct "
                  "of the input", f"one of {constructs}", option="construct_control")
    return given


def _empty_vector(table, given, check: Checker) -> str:
    """The reference construct of a construct comparison: ``given``, else the one construct
    named like an empty vector or a control (VV, empty, vector, basic, NC, control)."""
    constructs = list(pd.unique(table.construct))
    if given is not None:
        return _given_construct(given, constructs, check)
    named = [c for c in constructs if EMPTY_VECTOR.search(c)]
    if len(named) != 1 or len(constructs) < 2:
        check.add(None, "construct", f"no treatment column, and {len(named) or 'no'} "
                  f"construct(s) read as the reference (empty vector) {named or ''}".rstrip(),
                  "the construct every other is compared with named: --construct-control NAME "
                  f"(one of {constructs}), or a treatment column (--columns treatment=COLUMN)")
        return ""
    return named[0]


def _construct_controls(table, reference, given, check: Checker) -> dict[str, str]:
    """Construct -> the reference: every other construct, or those ``given`` names."""
    constructs = [c for c in pd.unique(table.treatment) if c != reference]
    if given:
        return resolve_controls(list(pd.unique(table.treatment)), given, "construct",
                                "--control", check)
    return {c: reference for c in constructs}


def _construct_contrasts(groups, controls, keys_present, check: Checker):
    """Each construct / its reference, in every cell line holding both."""
    code = {tuple(r): i for i, r in enumerate(groups.itertuples(index=False))}
    rows = []
    for cell_line in pd.unique(groups.cell_line):
        prefix = [cell_line] if keys_present else []
        for construct, reference in controls.items():
            mine = (cell_line, SINGLE_LEVEL, construct)
            base = (cell_line, SINGLE_LEVEL, reference)
            if mine not in code:
                continue  # the construct was not transfected into this cell line
            if base not in code:
                where = f" in cell line {cell_line!r}" if keys_present else ""
                check.add(None, "construct", f"construct {construct!r}{where} has no wells of "
                          f"the reference {reference!r}", "wells of the reference construct "
                          "beside every construct, in each cell line")
                continue
            rows.append(dict(name=" | ".join([*prefix, f"{construct} vs {reference}"]),
                             kind="construct", cell_line=cell_line, construct=SINGLE_LEVEL,
                             treatment=construct, control=reference,
                             plus=[code[mine]], minus=[code[base]]))
    if not rows:
        check.add(None, "construct", "no construct has wells beside its reference",
                  "wells of each construct and of the reference construct")
    return contrast_rows(rows, len(groups))


def _check_readings(table, check: Checker, background, saturation) -> None:
    """Refuse background-level and saturated readings (one problem per cell)."""
    for channel in CHANNELS:
        values = table[channel]
        finite = values[np.isfinite(values) & (values > 0)]
        if background is not None:
            for i in finite.index[finite < background]:
                check.add(i, channel, f"{values[i]:g} RLU, below the background {background:g}",
                          "a reading above background (leave the well out, or lower "
                          "--background)")
        if finite.empty:
            continue
        top = finite.max()
        if saturation is not None:
            clipped = finite.index[finite >= saturation]
            why = f"at or above the saturation ceiling {saturation:g}"
        elif finite.isin(CEILINGS).any():
            clipped = finite.index[finite.isin(CEILINGS)]
            why = "a luminometer's integer ceiling"
        elif (finite == top).sum() >= 2 and top >= 1000:
            clipped = finite.index[finite == top]
            why = f"the channel's maximum {top:g}, repeated in {len(clipped)} wells"
        else:
            continue
        for i in clipped:
            check.add(i, channel, f"{values[i]:g} RLU: a saturated reading ({why})",
                      "a reading below the luminometer's ceiling (dilute the lysate or shorten "
                      "the integration, and leave the well out)")


def _reference_construct(table, given, check: Checker) -> str:
    constructs = list(pd.unique(table.construct))
    if len(constructs) < 2:
        check.add(None, "construct", f"one construct {constructs}",
                  "a wild-type and a reference (mutant) construct")
        return given or ""
    if given is not None:
        return _given_construct(given, constructs, check)
    mutants = [c for c in constructs if MUTANT.search(c)]
    if len(mutants) != 1:
        check.add(None, "construct", f"{'no' if not mutants else 'several'} construct(s) "
                  f"read as the mutant ({mutants or constructs})",
                  "the reference construct named: --construct-control NAME")
    return mutants[0] if len(mutants) == 1 else ""


def _contrasts(groups, controls, reference, keys_present, check: Checker):
    """Each construct's treated / control ratio, then each construct's interaction with
    the reference construct, per cell line."""
    code = {tuple(r): i for i, r in enumerate(groups.itertuples(index=False))}
    constructs = list(pd.unique(groups.construct))
    rows = []
    for cell_line in pd.unique(groups.cell_line):
        prefix = [cell_line] if keys_present else []
        for treatment, control in controls.items():
            for construct in constructs:
                treated, base = (cell_line, construct, treatment), (cell_line, construct, control)
                missing = [g for g in (treated, base) if g not in code]
                if missing:
                    where = f" in cell line {cell_line!r}" if keys_present else ""
                    check.add(None, "treatment", f"construct {construct!r}{where} has no wells "
                              f"of {', '.join(repr(g[2]) for g in missing)}",
                              f"wells of {treatment!r} and of its control {control!r} for "
                              "every construct")
                    continue
                rows.append(dict(name=" | ".join([*prefix, construct, f"{treatment} vs {control}"]),
                                 kind="construct", cell_line=cell_line, construct=construct,
                                 treatment=treatment, control=control,
                                 plus=[code[treated]], minus=[code[base]]))
            for construct in constructs:
                ref_t, ref_c = (cell_line, reference, treatment), (cell_line, reference, control)
                own_t, own_c = (cell_line, construct, treatment), (cell_line, construct, control)
                if construct == reference or not all(g in code for g in (ref_t, ref_c, own_t,
                                                                         own_c)):
                    continue
                pair = f"{construct} / {reference}"
                rows.append(dict(name=" | ".join([*prefix, f"interaction {pair}",
                                                  f"{treatment} vs {control}"]),
                                 kind="interaction", cell_line=cell_line, construct="interaction",
                                 construct_pair=pair, treatment=treatment, control=control,
                                 plus=[code[own_t], code[ref_c]], minus=[code[own_c],
                                                                          code[ref_t]]))
    if not rows:
        check.add(None, "treatment", "no construct has wells of a treatment and its control",
                  "wells of each treatment and its control")
    return contrast_rows(rows, len(groups))
