"""Western blot lanes (densitometry): the tidy schema, its validation, the typed table.

Schema (one row per lane):

===========  ==========================================================================
column       meaning
===========  ==========================================================================
target       target band intensity (e.g. IGF1R), > 0, background-subtracted densitometry
loading      loading-control band intensity (e.g. β-actin) of the same lane, > 0
condition    arm, e.g. ``miR-NC`` / ``miR-379``
dose         optional: numeric dose of the arm (e.g. mimic 0 / 40 / 80, in ``dose_unit``)
cell_line    optional: cell line (each has its own groups and contrasts)
blot         optional: membrane; lanes on one blot share exposure (a blot effect)
experiment   optional: independent repeat; blots nest in it (absent: one)
lane         optional: lane number on the blot (checked for duplicates)
band         instead of target and loading: which band a row measured (one row per band)
intensity    with band: the row's densitometry
===========  ==========================================================================

A file of one row per band (``band``, ``intensity``: ImageJ's measurements) and a
background lane on each blot (``background_lane``) are read by
:mod:`chemoshift.data.western_files`; a lane without a condition is refused with the
``--background-lane`` option named.

Groups are cell line x condition x dose. Each group of a condition with a control
(``controls``, or the one condition named like a control: NC, control, mock, ...) is
compared with the control's group at the same dose, or with the control's only group; a
condition without a control but with dose 0 and higher doses is compared with its own
dose 0. A condition with two or more compared doses gets a dose ladder, and the table a
P(monotone decrease).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError
from chemoshift.data.log_ratio_files import LogRatioTable, contrast_rows, log_ratio_table
from chemoshift.data.mechanism_files import Checker, read_rows, resolve_controls, unknown_note
from chemoshift.data.western_files import (
    LONG,
    is_long,
    pair_bands,
    refuse_unlabelled_lanes,
    subtract_background,
)

REQUIRED = ("target", "loading", "condition")
OPTIONAL = ("dose", "cell_line", "blot", "experiment", "lane")
BANDS = ("target", "loading")


@dataclass(frozen=True)
class WesternData:
    """Validated Western blot lanes.

    Attributes
    ----------
    lanes : DataFrame, one row per lane: ``cell_line, condition, dose`` (float, NaN when
        the input has none), ``dose_label`` (text), ``experiment, blot, lane, target,
        loading, log_ratio`` (natural log of target / loading), ``group``, ``source_row``.
    groups : DataFrame, one row per cell line x condition x dose (``cell_line,
        condition, dose_label``).
    controls : condition -> its control condition.
    contrasts : one row per reported fold change, ``weights`` (contrast, group).
    has_dose : whether the input had a ``dose`` column.
    dose_unit : unit of the doses (labels only).
    """

    lanes: pd.DataFrame
    groups: pd.DataFrame
    controls: dict[str, str]
    contrasts: pd.DataFrame
    weights: np.ndarray
    has_dose: bool = False
    dose_unit: str = "nM"
    keys_present: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    has_experiments: bool = False

    def log_ratio_table(self) -> LogRatioTable:
        names = [" | ".join(map(str, r)) for r in self.groups.itertuples(index=False)]
        return log_ratio_table(self.lanes, ["experiment", "blot"], self.contrasts,
                               self.weights, names)

    @property
    def experiments(self) -> list[str]:
        return list(pd.unique(self.lanes.experiment))


def read_western(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    controls: Mapping[str, str] | None = None,
    dose_unit: str = "nM",
    background_lane: str | None = None,
    loading_band: str | None = None,
) -> WesternData:
    """Read and validate a file (or DataFrame) of blot lanes.

    Parameters
    ----------
    source : CSV file, one row per lane; or a frame with the same columns.
    columns : package column name -> your column, e.g. ``{"target": "IGF1R"}``.
    controls : condition -> control condition, e.g. ``{"miR-379": "miR-NC"}``.
    dose_unit : unit of the ``dose`` column, for labels (default nM).
    background_lane : the lane label of each blot's background (empty) lane: its reading
        is subtracted from the blot's other lanes (per band), then it is left out.
    loading_band : in a file of one row per band, the loading control's band name
        (default: the one band named like a loading control: actin, GAPDH, H3, ...).

    Raises
    ------
    InputError listing every problem as ``file:row:column: found; expected ...``.
    """
    rows = read_rows(source, columns, known=(*REQUIRED, *OPTIONAL, *LONG),
                     numeric=(*BANDS, "dose", "intensity"), what="lanes")
    long = is_long(rows.frame)
    if not long:
        Checker(rows).require(REQUIRED)
    done = []
    if background_lane is not None:
        rows, note = subtract_background(rows, str(background_lane),
                                         ("intensity",) if long else BANDS)
        done.append(note)
    else:
        refuse_unlabelled_lanes(rows)
    if long:
        rows, note = pair_bands(rows, loading_band)
        done.append(note)
    check = Checker(rows)
    check.require(REQUIRED)
    frame = rows.frame
    table = pd.DataFrame(index=frame.index)
    table["cell_line"] = check.text("cell_line")
    table["condition"] = check.text("condition", required=True)
    table["experiment"] = check.text("experiment", default="1")
    table["blot"] = check.text("blot", default="1")
    table["lane"] = check.text("lane", default="")
    for band in BANDS:
        table[band] = check.number(band, "a band intensity > 0 (background-subtracted "
                                   "densitometry)", lambda v: v > 0)
    has_dose = "dose" in frame.columns
    table["dose"] = _doses(frame, table, check) if has_dose else np.nan
    check.raise_if_any()
    table["dose_label"] = [_dose_label(d, dose_unit) for d in table.dose]
    table["log_ratio"] = np.log(table.target / table.loading)
    if (table.lane != "").all():
        check.duplicates(table, ["experiment", "blot", "lane"], "lane")

    notes = (list(rows.notes) + done
             + unknown_note(check.unknown_columns((*REQUIRED, *OPTIONAL))))
    conditions = list(pd.unique(table.condition))
    dosed_alone = has_dose and table.dose.eq(0).any() and table.dose.gt(0).any()
    if controls or not dosed_alone:
        controls = resolve_controls(conditions, controls, "condition", "--control", check)
    else:  # dose 0 of a condition may be its own control: name one only where it reads so
        quiet = Checker(rows)
        controls = resolve_controls(conditions, None, "condition", "--control", quiet)
    check.raise_if_any()

    groups = (table[["cell_line", "condition", "dose_label", "dose"]]
              .drop_duplicates(["cell_line", "condition", "dose_label"])
              .sort_values(["dose"], kind="stable", na_position="first"))
    groups = groups.iloc[np.argsort(pd.Categorical(groups.cell_line, pd.unique(
        table.cell_line)).codes, kind="stable")].reset_index(drop=True)
    table["group"] = pd.MultiIndex.from_frame(groups[["cell_line", "condition", "dose_label"]]
                                              ).get_indexer(pd.MultiIndex.from_frame(
                                                  table[["cell_line", "condition", "dose_label"]]))
    keys_present = ("cell_line",) if "cell_line" in frame.columns else ()
    contrasts, weights = _contrasts(groups, controls, keys_present, check)
    check.raise_if_any()
    if table.experiment.nunique() == 1:
        notes.append("one experiment: lanes are the only replicates, so the intervals cannot "
                     "include experiment-to-experiment variation")
    table["source_row"] = rows.lines[table.index.to_numpy()]
    lanes = table[["cell_line", "condition", "dose", "dose_label", "experiment", "blot", "lane",
                   "target", "loading", "log_ratio", "group", "source_row"]]
    return WesternData(
        lanes=lanes.reset_index(drop=True), groups=groups[["cell_line", "condition",
                                                           "dose_label"]],
        controls=controls, contrasts=contrasts, weights=weights, has_dose=has_dose,
        dose_unit=dose_unit, keys_present=keys_present, sources={rows.name: rows.sha256},
        notes=tuple(notes), unknown_columns=check.unknown_columns((*REQUIRED, *OPTIONAL)),
        has_experiments="experiment" in frame.columns)


def _doses(frame, table, check: Checker) -> pd.Series:
    """Doses >= 0; a condition's lanes all have a dose or none has."""
    raw = frame["dose"].astype(str).str.strip()
    empty = raw == ""
    dose = pd.to_numeric(raw.where(~empty, "nan"), errors="coerce")
    for i in np.flatnonzero((~empty & ~(np.isfinite(dose) & (dose >= 0))).to_numpy()):
        check.add(i, "dose", repr(raw.iloc[i]), "a dose >= 0 (0 for no mimic), or an empty "
                  "cell for every lane of a condition without doses")
    mixed = empty.groupby(table.condition).transform(lambda e: 0 < e.sum() < len(e))
    for i in np.flatnonzero((mixed & empty).to_numpy()):
        check.add(i, "dose", "an empty cell", f"a dose, as the other lanes of condition "
                  f"{table.condition.iloc[i]!r} have")
    return dose


def _dose_label(dose: float, unit: str) -> str:
    return "" if not np.isfinite(dose) else f"{dose:g} {unit}"


def _contrasts(groups, controls, keys_present, check: Checker):
    """Each group vs its matched control group; see the module docstring for matching."""
    rows = []
    for cell_line, mine in groups.groupby("cell_line", sort=False):
        prefix = [cell_line] if keys_present else []
        for condition, own in mine.groupby("condition", sort=False):
            control = controls.get(condition)
            if control is not None:
                theirs = mine[mine.condition == control]
                if theirs.empty:
                    check.add(None, "condition", f"condition {condition!r}"
                              + (f" in cell line {cell_line!r}" if keys_present else "")
                              + f" has no lanes of its control {control!r}",
                              "lanes of the control on the same cell line")
                    continue
                pairs = []
                for g, row in own.iterrows():
                    same = theirs[theirs.dose_label == row.dose_label]
                    if len(same) == 0 and len(theirs) > 1:
                        check.add(None, "dose", f"condition {condition!r} at {row.dose_label!r}"
                                  f" has no dose-matched lanes of its control {control!r} "
                                  f"(which has {list(theirs.dose_label)})",
                                  "the control at the same dose, or at one dose only")
                        continue
                    pairs.append((g, (same if len(same) else theirs).index[0]))
            else:
                base = own[own.dose == 0]
                if base.empty or len(own) < 2:
                    continue  # a control condition: compared with, not compared
                pairs = [(g, base.index[0]) for g in own.index if g != base.index[0]]
            for g, h in pairs:
                label = " ".join(x for x in (groups.condition[h], groups.dose_label[h]) if x)
                rows.append(dict(
                    name=" | ".join([*prefix, condition, groups.dose_label[g],
                                     f"vs {label}"]).replace(" |  |", " |"),
                    kind="condition", cell_line=cell_line, condition=condition,
                    dose=groups.dose_label[g], control=label, plus=[g], minus=[h]))
    if not rows:
        check.add(None, "condition", "no condition has a control to be compared with",
                  "a control condition (--control CONDITION=CONTROL) or lanes at dose 0")
    if check.problems:
        raise InputError(check.problems)
    return contrast_rows(rows, len(groups))
