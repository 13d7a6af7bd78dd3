"""Cell-viability wells: the tidy schema, its validation, and the typed table models read.

Schema (one row per well; only ``concentration`` and ``response`` are required):

=================  ===========================================================================
column             meaning
=================  ===========================================================================
cell_line          cell line, e.g. ``Huh7`` (absent: one cell line)
drug               drug, e.g. ``5-FU`` (absent: one drug). A vehicle well whose drug is empty
                   or reads ``DMSO``, ``vehicle``, ``none``, ``control`` or ``medium`` (any
                   case) is a shared control: kept with drug ``""`` and curve -1, it sets the
                   top of every curve of its experiment x plate x cell line x treatment
                   (dropped, with a note, when no curve has its cell line and treatment)
treatment          transfection arm, e.g. ``miR-379`` (absent: one arm)
control            the arm this row's treatment is compared with, e.g. ``miR-NC``; empty for
                   a control arm (optional; ``--control TREATMENT=CONTROL`` does the same)
concentration      drug concentration, >= 0; 0 marks a vehicle well
unit               unit of ``concentration`` (``nM``, ``uM``, ``µmol/L``, ``ug/mL``, ``mg/L``,
                   ...); one unit family per drug, drugs may differ; molar units are
                   converted to uM and mass units to ug/mL, others kept as written; an empty
                   cell takes its drug's unit; absent: ``--unit``
response           the reading: raw absorbance (CCK-8, 450 nm) or % viability; or one column
                   per replicate, named with ``columns={"response": ["rep1", "rep2"]}``
experiment         independent repeat (transfection batch, biological replicate); plates
                   nest in it (absent: one experiment, ``"1"``)
plate              plate the well sat on; tops vary by experiment x plate (absent: one)
replicate          replicate well number within a plate (optional)
well               well position such as ``B7`` (optional; checked for duplicates)
well_type          ``sample``, ``vehicle`` (drug-free, concentration 0) or ``blank``
                   (medium only; subtracted per plate); absent: vehicle where concentration
                   is 0, sample elsewhere
=================  ===========================================================================

Vehicle wells enter the model as data at concentration 0 (no pre-division), so the
top of each curve is estimated with its uncertainty rather than fixed by a mean. Other
columns are kept out of the model and listed in ``DoseResponseData.unknown_columns``;
what the reader did that a user must know (no blanks on a plate, shared vehicle wells,
an encoding or decimal-comma conversion) is in ``DoseResponseData.notes``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.units import convert_units
from chemoshift.data.well_files import (
    column_label,
    missing_column,
    no_rows,
    numbers,
    read_well_file,
)

KEYS = ("cell_line", "drug", "treatment")
REQUIRED = ("concentration", "response")
OPTIONAL = ("cell_line", "drug", "treatment", "control", "unit", "experiment", "plate",
            "replicate", "well", "well_type")
WELL_TYPES = ("sample", "vehicle", "blank")
RESPONSE_KINDS = ("absorbance", "percent_viability", "other")  # other: e.g. biomass
MIN_CONCENTRATIONS = 3
SINGLE_LEVEL = "-"  # level given to a key column the file does not have
SHARED_VEHICLE_DRUGS = ("", "dmso", "vehicle", "none", "control", "medium")
ONE_EXPERIMENT_NOTE = (
    "one experiment: the data cannot tell how far experiments disagree, so each curve's IC50 "
    "carries the prior's experiment-to-experiment variation (experiment_sd, 0.15 log10) "
    "instead of a measured one (repeat the experiment, and give an experiment column, for "
    "intervals that rest on the data)")


@dataclass(frozen=True)
class DoseResponseData:
    """Validated viability wells with the coords a model needs.

    Attributes
    ----------
    wells : DataFrame, one row per sample or vehicle well (blanks already subtracted)
        columns ``cell_line, drug, treatment, experiment, plate, replicate, well_type``,
        ``concentration`` (in ``unit``: the well's drug's internal unit, "" for shared
        vehicle wells), ``log10_concentration`` (NaN for vehicle wells), ``response``,
        ``curve`` and ``top_group`` (integer codes into ``curves`` / ``top_groups``;
        ``curve`` is -1 for shared vehicle wells, whose drug is ""), ``source_row``
        (line in the input file; from Parquet, the row in its file, counted from 1).
    curves : DataFrame, one row per curve (cell line x drug x treatment)
        ``cell_line, drug, treatment, control`` (empty for arms without one), ``unit``,
        ``min_concentration, max_concentration`` (tested non-zero range, in ``unit``).
    top_groups : DataFrame, one row per experiment x plate x cell line x treatment
        (shared vehicle top); columns ``experiment, plate, cell_line, treatment``.
    unit : internal concentration unit of every curve, or ``"mixed"`` when drugs differ
        (then read ``curves.unit``).
    response_kind : ``absorbance``, ``percent_viability`` or ``other``.
    keys_present : the key columns the input file had (outputs keep only these).
    controls : treatment -> its matched control treatment.
    sources : input file path -> sha256 of its bytes.
    notes : plain-English statements of what the reader did that a user must know.
    unknown_columns : the file's columns neither in the schema nor mapped (its names).
    has_experiments : whether the file had an ``experiment`` column.
    """

    wells: pd.DataFrame
    curves: pd.DataFrame
    top_groups: pd.DataFrame
    unit: str
    response_kind: str
    keys_present: tuple[str, ...]
    controls: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    has_experiments: bool = False

    @property
    def coords(self) -> dict[str, list[str]]:
        """Levels of every axis, in the order the model and the outputs use."""
        treated = [t for t in self.levels("treatment") if t in self.controls]
        return {
            "experiment": list(pd.unique(self.wells.experiment)),
            "cell_line": self.levels("cell_line"),
            "drug": self.levels("drug"),
            "treatment": self.levels("treatment"),
            "control": [t for t in self.levels("treatment") if t not in self.controls],
            "treated": treated,
            "curve": [" | ".join(r) for r in self.curves[list(KEYS)].itertuples(index=False)],
            "top_group": [" | ".join(r) for r in self.top_groups.itertuples(index=False)],
            "well": [str(i) for i in range(len(self.wells))],
        }

    def levels(self, key: str) -> list[str]:
        """Levels of a key column in order of first appearance."""
        return list(pd.unique(self.curves[key]))

    @property
    def response_scale(self) -> float:
        """Typical untreated reading (response units): median of vehicle, else top decile."""
        vehicle = self.wells.loc[self.wells.well_type == "vehicle", "response"]
        if len(vehicle):
            return float(np.median(vehicle))
        return float(np.quantile(self.wells.response, 0.9))


def read_dose_response(
    path: str | Path,
    *,
    columns: Mapping[str, str | Sequence[str]] | None = None,
    controls: dict[str, str] | None = None,
    unit: str = "uM",
    response_kind: str = "absorbance",
) -> DoseResponseData:
    """Read and validate a file of wells (comma, semicolon or tab separated).

    Parameters
    ----------
    path : CSV file, one row per well (schema in this module's docstring); UTF-8,
        UTF-16 with a byte-order mark, or Windows-1252 (see :mod:`chemoshift.data.well_files`).
    columns : package column name -> the file's column name, e.g.
        ``{"concentration": "conc", "response": "rootl"}``. ``response`` may name one
        column per replicate (wide layout): a list ``["rep1", "rep2"]`` or a string
        ``"rep1+rep2"`` (or ``"rep1,rep2"``); each non-empty cell becomes a well whose
        ``replicate`` is the column's name.
    controls : treatment -> control treatment; overrides a ``control`` column.
    unit : unit of ``concentration`` when the file has no ``unit`` column.
    response_kind : ``absorbance`` (raw; blanks subtracted), ``percent_viability`` or ``other``.

    Raises
    ------
    InputError listing every problem as ``file:row:column: found; expected ...``; a
    column mapped with ``columns`` is named as ``theirs (ours)``.
    """
    name = str(path)
    file = read_well_file(path, columns, known=(*REQUIRED, *OPTIONAL))
    data = validate_wells(file.frame, name, controls=controls, unit=unit,
                          response_kind=response_kind, source_columns=file.source_columns,
                          lines=file.lines)
    return dataclasses.replace(data, sources={name: file.sha256},
                               notes=(*file.notes, *data.notes))


def validate_wells(
    frame: pd.DataFrame,
    name: str = "<table>",
    *,
    controls: dict[str, str] | None = None,
    unit: str = "uM",
    response_kind: str = "absorbance",
    source_columns: Mapping[str, str | tuple[str, ...]] | None = None,
    lines: Sequence[int] | None = None,
    files: Sequence[str] | None = None,
    row_kind: str = "line",
) -> DoseResponseData:
    """Validate a table of wells (strings or numbers) into :class:`DoseResponseData`.

    ``name`` is used in error messages in place of a file name; ``lines`` is the file
    line of each row (default: row i is line i + 2, below a header); ``source_columns``
    maps our column names to the user's, so messages name both (``conc (concentration)``).
    A table read from several files (a Parquet dataset) gives each row's file in
    ``files`` (messages name it in place of ``name``) and ``row_kind="row"`` (``lines``
    are then 1-based row numbers in each file: messages say ``row N``).
    """
    problems: list[Problem] = []
    frame = frame.reset_index(drop=True)  # row label i is line line_of[i] of the file
    if frame.isna().to_numpy().any():  # a frame's missing cells (NaN, None) as empty cells
        frame = frame.astype(object).where(frame.notna(), "")
    line_of = np.arange(len(frame)) + 2 if lines is None else np.asarray(lines, dtype=int)
    source_columns = dict(source_columns or {})
    wide = not isinstance(source_columns.get("response", ""), str)

    def add(i: int | None, column: str | None, found: str, expected: str, *,
            option: str | None = None) -> None:
        """Record a problem at row label ``i`` (None: the whole file or column);
        ``option``: the read option whose value caused it."""
        replicate = frame.at[i, "replicate"] if wide and i is not None else None
        label = None if column is None else column_label(column, source_columns, replicate)
        if i is None:
            problems.append(Problem(name, None, label, found, expected, option=option))
        else:
            problems.append(Problem(name if files is None else str(files[i]), int(line_of[i]),
                                    label, found, expected, row_kind, option))

    def place(i: int, seen_from: int) -> str:
        """Where row label ``i`` is, said from row label ``seen_from``'s file."""
        where = f"{row_kind} {line_of[i]}"
        if files is not None and files[i] != files[seen_from]:
            where += f" of {files[i]}"
        return where

    if frame.empty:
        raise InputError([no_rows(name, "wells", row_kind)])
    problems += [missing_column(name, c, frame.columns) for c in REQUIRED
                 if c not in frame.columns]
    if response_kind not in RESPONSE_KINDS:
        add(None, None, f"response kind {response_kind!r}", f"one of {RESPONSE_KINDS}")
    if problems:
        raise InputError(problems)

    notes: list[str] = []
    unknown = tuple(str(c) for c in frame.columns if c not in (*REQUIRED, *OPTIONAL))
    if unknown:
        notes.append(f"column{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} "
                     f"{'are' if len(unknown) > 1 else 'is'} not in the schema and not used "
                     "(map one with --columns NAME=COLUMN)")
    table = pd.DataFrame(index=frame.index)
    keys_present = tuple(k for k in KEYS if k in frame.columns)
    for column in (*KEYS, "experiment", "plate", "replicate", "well", "control"):
        default = SINGLE_LEVEL if column in KEYS else (
            "1" if column in ("experiment", "plate") else "")
        values = frame[column] if column in frame.columns else pd.Series(default, frame.index)
        table[column] = values.astype(str).str.strip()
    table.loc[table.experiment == "", "experiment"] = "1"
    table.loc[table.plate == "", "plate"] = "1"

    concentration = numbers(frame["concentration"])
    declared_blank = (frame["well_type"].astype(str).str.strip().str.lower() == "blank"
                      if "well_type" in frame.columns else pd.Series(False, frame.index))
    concentration = concentration.where(~declared_blank, 0.0)  # a blank has no dose
    bad = ~np.isfinite(concentration.to_numpy(dtype=float)) | (concentration < 0).to_numpy()
    for i in np.flatnonzero(bad):
        add(i, "concentration", f"{frame['concentration'].iloc[i]!r}",
            "a finite number >= 0 (0 for vehicle wells)")
    response = numbers(frame["response"])
    for i in np.flatnonzero(~np.isfinite(response.to_numpy(dtype=float))):
        add(i, "response", f"{frame['response'].iloc[i]!r}", "a finite number")

    if "well_type" in frame.columns:
        well_type = frame["well_type"].astype(str).str.strip().str.lower()
        for i in np.flatnonzero(~well_type.isin(WELL_TYPES).to_numpy()):
            add(i, "well_type", f"{frame['well_type'].iloc[i]!r}", f"one of {WELL_TYPES}")
        drug_in_vehicle = (well_type == "vehicle") & concentration.notna() & (concentration != 0)
        for i in np.flatnonzero(drug_in_vehicle.to_numpy()):
            add(i, "concentration", f"{frame['concentration'].iloc[i]!r} in a vehicle well",
                "0 (a vehicle well has no drug)")
        for i in np.flatnonzero(((well_type == "sample") & (concentration == 0)).to_numpy()):
            add(i, "well_type", "'sample' at concentration 0",
                "'vehicle' for a drug-free well, or a concentration > 0")
    else:
        well_type = pd.Series(np.where(concentration == 0, "vehicle", "sample"), frame.index)
    table["well_type"] = well_type
    if "drug" in keys_present:  # a vehicle well naming no drug is its plate's shared control
        shared = (well_type == "vehicle") & table.drug.str.lower().isin(SHARED_VEHICLE_DRUGS)
        table.loc[shared, "drug"] = ""

    units = frame["unit"].astype(str).str.strip() if "unit" in frame.columns else None
    factor, table["unit"] = convert_units(units, unit, table.well_type, table.drug,
                                          "drug" in keys_present, add)
    table["concentration"] = concentration * factor
    table["response"] = response
    if problems:
        raise InputError(problems)

    table = _subtract_blanks(table, response_kind, notes)
    def user_name(column: str) -> str:
        """The user's name of one of our columns."""
        theirs = source_columns.get(column, column)
        return theirs if isinstance(theirs, str) else column

    table, controls = _check_design(table, controls, keys_present, wide, add, place, user_name)
    if problems:
        raise InputError(problems)
    data = _assemble(table, response_kind, keys_present, controls, notes, line_of)
    return dataclasses.replace(data, unknown_columns=unknown,
                               has_experiments="experiment" in frame.columns)


def _subtract_blanks(table: pd.DataFrame, response_kind: str, notes: list[str]) -> pd.DataFrame:
    """Subtract each plate's mean blank (medium-only) reading; drop the blank wells."""
    blank = table.well_type == "blank"
    plate = ["experiment", "plate"]
    plate_blank = table[blank].groupby(plate).response.mean()
    offset = pd.MultiIndex.from_frame(table[plate]).map(plate_blank.to_dict().get)
    offset = pd.Series(offset, table.index, dtype=float)
    if response_kind == "absorbance" and offset[~blank].isna().any():
        plates = table[~blank & offset.isna()][plate].drop_duplicates()
        several = table.experiment.nunique() > 1
        named = [f"{p} (experiment {e})" if several else p for e, p in plates.itertuples(
            index=False)]
        if not blank.any() and table.plate.eq("1").all():
            notes.append("the file has no blank (medium-only) wells: its readings are used as "
                         "they are")
        else:
            notes.append(f"plate{'s' if len(named) > 1 else ''} {', '.join(named)} "
                         f"ha{'ve' if len(named) > 1 else 's'} no blank (medium-only) wells: "
                         "their readings are used as they are")
    table = table.assign(response=table.response - offset.fillna(0.0))
    return table[~blank].copy()


def _check_design(table, controls, keys_present, wide, add, place, user_name):
    """Matched controls, enough concentrations per curve, no duplicated wells."""
    given = "controls" if controls is not None else None  # from the read option
    if controls is None:
        named = table[table.control != ""]
        first = named.drop_duplicates("treatment")  # the control a treatment names first
        controls = dict(zip(first.treatment, first.control, strict=True))
        for i in named.index[named.control != named.treatment.map(controls)]:
            add(i, "control", f"{table.at[i, 'control']!r} for treatment "
                f"{table.at[i, 'treatment']!r}, which named "
                f"{controls[table.at[i, 'treatment']]!r} before", "one control per treatment")
    for treatment, control in controls.items():
        if control == treatment or control in controls:
            add(None, "control", f"{treatment!r} is compared with {control!r}, which is "
                + ("itself" if control == treatment else f"compared with {controls[control]!r}"),
                "a control arm that names no control of its own (leave its control cell empty)",
                option=given)
    treatments = set(table.treatment)
    for treatment, control in controls.items():
        if treatment not in treatments:
            add(None, "treatment", f"--control names treatment {treatment!r}, not in the file",
                f"one of {sorted(treatments)}", option=given)
        if control not in treatments:
            naming = table.index[table.control == control]  # the control column's first
            add(naming[0] if given is None and len(naming) else None, "control",
                f"control {control!r} of treatment {treatment!r} has no wells",
                f"one of the file's treatments {sorted(treatments)}", option=given)
    if controls:
        controlled = set(controls) | set(controls.values())
        for treatment in sorted(treatments - controlled):
            add(table.index[table.treatment == treatment][0], "treatment",
                f"treatment {treatment!r} has no matched control",
                "every treatment to be a control or to name one (control column or "
                f"--control {treatment}=CONTROL)")

    samples = table[table.well_type == "sample"]
    if samples.empty:
        add(None, "concentration", "no sample wells (no concentration above 0)",
            "at least one curve of doses")
    curve_keys = list(KEYS)
    for keys, group in samples.groupby(curve_keys, sort=False):
        n = group.concentration.nunique()
        if n < MIN_CONCENTRATIONS:
            add(group.index[0], "concentration",
                f"curve {_describe(keys, keys_present)} has {n} distinct "
                f"concentration(s)", f"at least {MIN_CONCENTRATIONS} non-zero concentrations")
        treatment = keys[2]
        if treatment in controls:
            mate = (samples.cell_line == keys[0]) & (samples.drug == keys[1]) & (
                samples.treatment == controls[treatment])
            if not mate.any():
                add(group.index[0], "treatment",
                    f"curve {_describe(keys, keys_present)} has no matched "
                    f"control curve", f"wells of {controls[treatment]!r} for the same cell line "
                    "and drug")

    where = ["experiment", "plate", "well"] if (table.well != "").all() else None
    if where is not None and wide:
        where.append("replicate")  # one row of a wide file holds one well per replicate
    if where is None and (table.replicate != "").all():
        where = ["experiment", *curve_keys, "plate", "well_type", "concentration", "replicate"]
    if where is not None:
        shown = [c for c in where if c != "experiment" or table.experiment.nunique() > 1]
        first_seen = table.groupby(where, sort=False).ngroup()
        first_label = pd.Series(table.index, table.index).groupby(first_seen).transform("first")
        for i in table.index[table.duplicated(where, keep="first")]:
            keys = ", ".join(f"{user_name(c)}={table.at[i, c]}" for c in shown)
            add(i, "well" if "well" in where else "replicate", f"duplicated well ({keys}), "
                f"first seen on {place(first_label[i], i)}", "each well once")
    return table, controls


def _describe(keys, keys_present) -> str:
    named = [f"{k}={v}" for k, v in zip(KEYS, keys, strict=True) if k in keys_present]
    return "(" + ", ".join(named) + ")" if named else "(the only curve)"


def _assemble(table, response_kind, keys_present, controls, notes, line_of) -> DoseResponseData:
    table = table.assign(source_row=line_of[table.index.to_numpy()])
    samples = table[table.well_type == "sample"]
    curves = (samples.groupby(list(KEYS), sort=False)
              .agg(unit=("unit", "first"), min_concentration=("concentration", "min"),
                   max_concentration=("concentration", "max")).reset_index())
    curves["control"] = [controls.get(t, "") for t in curves.treatment]
    curves = curves[[*KEYS, "control", "unit", "min_concentration", "max_concentration"]]
    # vehicle wells belong to the curves of their cell line x drug x treatment; shared
    # vehicle wells (drug "") to every curve of their plate, cell line and treatment
    curve_index = pd.MultiIndex.from_frame(curves[list(KEYS)])
    wells = table[table.well_type.isin(["sample", "vehicle"])].reset_index(drop=True)
    wells["curve"] = curve_index.get_indexer(pd.MultiIndex.from_frame(wells[list(KEYS)]))
    shared = (wells.drug == "") & (wells.well_type == "vehicle") & ("drug" in keys_present)
    arms = pd.MultiIndex.from_frame(curves[["cell_line", "treatment"]].drop_duplicates())
    served = arms.get_indexer(pd.MultiIndex.from_frame(wells[["cell_line", "treatment"]])) >= 0
    _note_vehicles(wells, shared, served, keys_present, notes)
    if (curves.control != "").any() and table.experiment.nunique() <= 1:
        notes.append(ONE_EXPERIMENT_NOTE)
    wells = wells[(wells.curve >= 0) | (shared & served)].reset_index(drop=True)
    wells.loc[wells.drug == "", "unit"] = ""
    top_keys = ["experiment", "plate", "cell_line", "treatment"]
    top_groups = wells[top_keys].drop_duplicates().reset_index(drop=True)
    wells["top_group"] = pd.MultiIndex.from_frame(top_groups).get_indexer(
        pd.MultiIndex.from_frame(wells[top_keys]))
    with np.errstate(divide="ignore"):
        wells["log10_concentration"] = np.where(
            wells.well_type == "sample", np.log10(wells.concentration), np.nan)
    columns = [*KEYS, "experiment", "plate", "replicate", "well_type", "concentration", "unit",
               "log10_concentration", "response", "curve", "top_group", "source_row"]
    units = curves.unit.unique()
    return DoseResponseData(
        wells=wells[columns], curves=curves, top_groups=top_groups,
        unit=units[0] if len(units) == 1 else "mixed", response_kind=response_kind,
        keys_present=keys_present, controls=dict(controls), notes=tuple(notes),
    )


def _note_vehicles(wells, shared, served, keys_present, notes) -> None:
    """Say which vehicle wells pin tops across drugs, and which inform nothing."""
    def where(rows) -> str:
        keys = [k for k in ("cell_line", "treatment") if k in keys_present]
        found = wells[rows][keys].drop_duplicates().itertuples(index=False)
        return "; ".join(", ".join(f"{k}={v}" for k, v in zip(keys, r, strict=True))
                         for r in found) if keys else "the only arm"

    used, unused = shared & served, shared & ~served
    if used.any():
        plates = ", ".join(pd.unique(wells.plate[used]))
        notes.append(f"{int(used.sum())} vehicle well(s) naming no drug (empty, DMSO, vehicle, "
                     f"...) are shared controls: each sets the top of every curve of its plate "
                     f"({plates}), cell line and treatment")
    if unused.any():
        notes.append(f"{int(unused.sum())} vehicle well(s) naming no drug were not used: no "
                     f"curve has their cell line and treatment ({where(unused)})")
    orphans = (wells.curve < 0) & ~shared
    if orphans.any():
        drugs = ", ".join(pd.unique(wells.drug[orphans]))
        notes.append(f"{int(orphans.sum())} vehicle well(s) of drug(s) {drugs} were not used: no "
                     "curve of that drug has their cell line and treatment")
