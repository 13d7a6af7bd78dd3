"""Cell-viability wells: the tidy schema, its validation, and the typed table models read.

Schema (one row per well; only ``concentration`` and ``response`` are required):

=================  ===========================================================================
column             meaning
=================  ===========================================================================
cell_line          cell line, e.g. ``Huh7`` (absent: one cell line)
drug               drug, e.g. ``5-FU`` (absent: one drug)
treatment          transfection arm, e.g. ``miR-379`` (absent: one arm)
control            the arm this row's treatment is compared with, e.g. ``miR-NC``; empty for
                   a control arm (optional; ``--control TREATMENT=CONTROL`` does the same)
concentration      drug concentration, >= 0; 0 marks a vehicle well
unit               unit of ``concentration`` (``nM``, ``uM``, ``mM``, ``ug/mL``, ...); molar
                   units are converted to uM and mass units to ug/mL; absent: ``--unit``
response           the reading: raw absorbance (CCK-8, 450 nm) or % viability
plate              plate (or experiment) the well sat on; tops vary by plate (absent: one)
replicate          replicate well number within a plate (optional)
well               well position such as ``B7`` (optional; checked for duplicates)
well_type          ``sample``, ``vehicle`` (drug-free, concentration 0) or ``blank``
                   (medium only; subtracted per plate); absent: vehicle where concentration
                   is 0, sample elsewhere
=================  ===========================================================================

Vehicle wells enter the model as data at concentration 0 (no pre-division), so the
top of each curve is estimated with its uncertainty rather than fixed by a mean.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.units import unit_family

KEYS = ("cell_line", "drug", "treatment")
REQUIRED = ("concentration", "response")
OPTIONAL = ("cell_line", "drug", "treatment", "control", "unit", "plate", "replicate", "well",
            "well_type")
WELL_TYPES = ("sample", "vehicle", "blank")
RESPONSE_KINDS = ("absorbance", "percent_viability", "other")  # other: e.g. biomass
MIN_CONCENTRATIONS = 3
SINGLE_LEVEL = "-"  # level given to a key column the file does not have


@dataclass(frozen=True)
class DoseResponseData:
    """Validated viability wells with the coords a model needs.

    Attributes
    ----------
    wells : DataFrame, one row per sample or vehicle well (blanks already subtracted)
        columns ``cell_line, drug, treatment, plate, well_type, concentration``
        (in ``unit``), ``log10_concentration`` (NaN for vehicle wells), ``response``,
        ``curve`` and ``top_group`` (integer codes into ``curves`` / ``top_groups``),
        ``source_row`` (line in the input file).
    curves : DataFrame, one row per curve (cell line x drug x treatment)
        ``cell_line, drug, treatment, control`` (empty for arms without one),
        ``min_concentration, max_concentration`` (tested non-zero range, ``unit``).
    top_groups : DataFrame, one row per plate x cell line x treatment (shared vehicle top).
    unit : internal concentration unit.
    response_kind : ``absorbance``, ``percent_viability`` or ``other``.
    keys_present : the key columns the input file had (outputs keep only these).
    controls : treatment -> its matched control treatment.
    sources : input file path -> sha256 of its bytes.
    """

    wells: pd.DataFrame
    curves: pd.DataFrame
    top_groups: pd.DataFrame
    unit: str
    response_kind: str
    keys_present: tuple[str, ...]
    controls: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def coords(self) -> dict[str, list[str]]:
        """Levels of every axis, in the order the model and the outputs use."""
        treated = [t for t in self.levels("treatment") if t in self.controls]
        return {
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
    columns: dict[str, str] | None = None,
    controls: dict[str, str] | None = None,
    unit: str = "uM",
    response_kind: str = "absorbance",
) -> DoseResponseData:
    """Read and validate a CSV of wells.

    Parameters
    ----------
    path : CSV file, one row per well (schema in this module's docstring).
    columns : package column name -> the file's column name, e.g.
        ``{"concentration": "conc", "response": "rootl"}``.
    controls : treatment -> control treatment; overrides a ``control`` column.
    unit : unit of ``concentration`` when the file has no ``unit`` column.
    response_kind : ``absorbance`` (raw; blanks subtracted), ``percent_viability`` or ``other``.

    Raises
    ------
    InputError listing every problem as ``file:row:column: found; expected ...``.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file", "a CSV file of wells")])
    raw_bytes = path.read_bytes()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise InputError([Problem(name, None, None, f"unreadable as CSV ({error})",
                                  "a comma-separated file with a header line")]) from error
    frame = _rename(frame, columns or {}, name)
    wells = validate_wells(frame, name, controls=controls, unit=unit, response_kind=response_kind)
    return _with_sources(wells, {name: hashlib.sha256(raw_bytes).hexdigest()})


def _rename(frame: pd.DataFrame, columns: dict[str, str], name: str) -> pd.DataFrame:
    problems = []
    known = set(REQUIRED) | set(OPTIONAL)
    for ours, theirs in columns.items():
        if ours not in known:
            problems.append(Problem(name, None, theirs, f"--columns maps to unknown name {ours!r}",
                                    f"one of {sorted(known)}"))
        elif theirs not in frame.columns:
            problems.append(Problem(name, None, theirs, "column not in the file",
                                    f"one of the file's columns {list(frame.columns)}"))
        elif ours in frame.columns and ours != theirs:
            problems.append(Problem(name, None, ours, f"--columns maps {theirs!r} onto {ours!r}, "
                                    "which the file already has",
                                    f"to rename or drop the file's own {ours!r} column"))
    if problems:
        raise InputError(problems)
    return frame.rename(columns={theirs: ours for ours, theirs in columns.items()})


def _with_sources(data: DoseResponseData, sources: dict[str, str]) -> DoseResponseData:
    return dataclasses.replace(data, sources=sources)


def validate_wells(
    frame: pd.DataFrame,
    name: str = "<table>",
    *,
    controls: dict[str, str] | None = None,
    unit: str = "uM",
    response_kind: str = "absorbance",
) -> DoseResponseData:
    """Validate a table of wells (strings or numbers) into :class:`DoseResponseData`.

    ``name`` is used in error messages in place of a file name.
    """
    problems: list[Problem] = []
    frame = frame.reset_index(drop=True)  # row label i is line i + 2 of the file

    def add(i: int | None, column: str | None, found: str, expected: str) -> None:
        """Record a problem at row label ``i`` (None: the whole file or column)."""
        problems.append(Problem(name, None if i is None else int(i) + 2, column, found, expected))

    missing = [c for c in REQUIRED if c not in frame.columns]
    for column in missing:
        add(None, column, "column missing",
            f"a column named {column!r} (or map yours with --columns {column}=YOUR_NAME); "
            f"the file has {list(frame.columns)}")
    if response_kind not in RESPONSE_KINDS:
        add(None, None, f"response kind {response_kind!r}", f"one of {RESPONSE_KINDS}")
    if problems:
        raise InputError(problems)

    table = pd.DataFrame(index=frame.index)
    keys_present = tuple(k for k in KEYS if k in frame.columns)
    for column in (*KEYS, "plate", "replicate", "well", "control"):
        default = SINGLE_LEVEL if column in KEYS else ("1" if column == "plate" else "")
        values = frame[column] if column in frame.columns else pd.Series(default, frame.index)
        table[column] = values.astype(str).str.strip()
    table.loc[table.plate == "", "plate"] = "1"

    concentration = pd.to_numeric(frame["concentration"], errors="coerce")
    declared_blank = (frame["well_type"].astype(str).str.strip().str.lower() == "blank"
                      if "well_type" in frame.columns else pd.Series(False, frame.index))
    concentration = concentration.where(~declared_blank, 0.0)  # a blank has no dose
    bad = ~np.isfinite(concentration.to_numpy(dtype=float)) | (concentration < 0).to_numpy()
    for i in np.flatnonzero(bad):
        add(i, "concentration", f"{frame['concentration'].iloc[i]!r}",
            "a finite number >= 0 (0 for vehicle wells)")
    response = pd.to_numeric(frame["response"], errors="coerce")
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

    units = frame["unit"].astype(str).str.strip() if "unit" in frame.columns else None
    factor, internal_unit = _convert_units(units, unit, table, add)
    table["concentration"] = concentration * factor
    table["response"] = response
    if problems:
        raise InputError(problems)

    table = _subtract_blanks(table)
    table, controls = _check_design(table, controls, keys_present, add)
    if problems:
        raise InputError(problems)
    return _assemble(table, internal_unit, response_kind, keys_present, controls)


def _convert_units(units, default_unit, table, add) -> tuple[np.ndarray | float, str]:
    """Convert concentrations to one unit per family; mixed families are an error."""
    if units is None:
        _, factor, internal = unit_family(default_unit)
        return factor, internal
    dosed = (table.well_type != "blank") & (units != "")
    # an empty unit cell (a vehicle or blank row, say) takes the file's first unit
    fallback = units[dosed].iloc[0] if dosed.any() else default_unit
    units = units.where(units != "", fallback)
    families = units.map(lambda u: unit_family(u)[0])
    sample = table.well_type != "blank"
    if families[sample].nunique() > 1:
        for i in np.flatnonzero((sample & (families != unit_family(fallback)[0])).to_numpy()):
            add(i, "unit", f"{units.iloc[i]!r} while earlier rows use {fallback!r}",
                "one unit, or units convertible into each other (pM, nM, uM, mM, M; "
                "or pg/mL, ng/mL, ug/mL, mg/mL)")
        return 1.0, fallback
    return units.map(lambda u: unit_family(u)[1]).to_numpy(), unit_family(fallback)[2]


def _subtract_blanks(table: pd.DataFrame) -> pd.DataFrame:
    """Subtract each plate's mean blank (medium-only) reading; drop the blank wells."""
    blank = table.well_type == "blank"
    if blank.any():
        plate_blank = table[blank].groupby("plate").response.mean()
        offset = table.plate.map(plate_blank).fillna(0.0)
        table = table.assign(response=table.response - offset)
    return table[~blank].copy()


def _check_design(table, controls, keys_present, add):
    """Matched controls, enough concentrations per curve, no duplicated wells."""
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
                "a control arm that names no control of its own (leave its control cell empty)")
    treatments = set(table.treatment)
    for treatment, control in controls.items():
        if treatment not in treatments:
            add(None, "treatment", f"--control names treatment {treatment!r}, not in the file",
                f"one of {sorted(treatments)}")
        if control not in treatments:
            add(None, "control", f"control {control!r} of treatment {treatment!r} has no wells",
                f"one of the file's treatments {sorted(treatments)}")
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

    where = ["plate", "well"] if (table.well != "").all() else None
    if where is None and (table.replicate != "").all():
        where = [*curve_keys, "plate", "well_type", "concentration", "replicate"]
    if where is not None:
        first_seen = table.groupby(where, sort=False).ngroup()
        first_label = pd.Series(table.index, table.index).groupby(first_seen).transform("first")
        for i in table.index[table.duplicated(where, keep="first")]:
            add(i, "well" if "well" in where else "replicate",
                f"duplicated well ({', '.join(f'{c}={table.at[i, c]}' for c in where)}), "
                f"first seen on line {first_label[i] + 2}", "each well once")
    return table, controls


def _describe(keys, keys_present) -> str:
    named = [f"{k}={v}" for k, v in zip(KEYS, keys, strict=True) if k in keys_present]
    return "(" + ", ".join(named) + ")" if named else "(the only curve)"


def _assemble(table, unit, response_kind, keys_present, controls) -> DoseResponseData:
    table = table.assign(source_row=table.index.to_numpy() + 2)
    samples = table[table.well_type == "sample"]
    curves = (samples.groupby(list(KEYS), sort=False)
              .concentration.agg(min_concentration="min", max_concentration="max").reset_index())
    curves["control"] = [controls.get(t, "") for t in curves.treatment]
    curves = curves[[*KEYS, "control", "min_concentration", "max_concentration"]]
    # vehicle wells belong to the curves of their cell line x drug x treatment
    curve_index = pd.MultiIndex.from_frame(curves[list(KEYS)])
    wells = table[table.well_type.isin(["sample", "vehicle"])].reset_index(drop=True)
    wells["curve"] = curve_index.get_indexer(pd.MultiIndex.from_frame(wells[list(KEYS)]))
    wells = wells[wells.curve >= 0].reset_index(drop=True)  # vehicles of no curve inform nothing
    top_keys = ["plate", "cell_line", "treatment"]
    top_groups = wells[top_keys].drop_duplicates().reset_index(drop=True)
    wells["top_group"] = pd.MultiIndex.from_frame(top_groups).get_indexer(
        pd.MultiIndex.from_frame(wells[top_keys]))
    with np.errstate(divide="ignore"):
        wells["log10_concentration"] = np.where(
            wells.well_type == "sample", np.log10(wells.concentration), np.nan)
    columns = [*KEYS, "plate", "replicate", "well_type", "concentration", "log10_concentration",
               "response", "curve", "top_group", "source_row"]
    return DoseResponseData(
        wells=wells[columns], curves=curves, top_groups=top_groups, unit=unit,
        response_kind=response_kind, keys_present=keys_present, controls=dict(controls),
    )
