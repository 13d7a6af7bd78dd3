"""Concentration units: spellings users write, and the one unit each family is kept in.

Spellings are read case-insensitively with spaces ignored; the micro prefix may be
written ``u``, ``µ`` (micro sign U+00B5), ``μ`` (Greek mu U+03BC) or ``mc``. Molar units
(``pM``, ``nM``, ``uM``, ``mM``, ``M``; also ``nmol/L``, ``µmol/l``, ``micromolar``) are
converted to uM; mass-per-volume units (``pg/mL`` ... ``g/L``, ``mg/L``, ``µg/mL``) to ug/mL.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

INTERNAL_UNIT = {"molar": "uM", "mass": "ug/mL"}
# each SI prefix as a factor of micro (the internal units are uM and ug/mL)
_PREFIX_TO_MICRO = {"f": 1e-9, "p": 1e-6, "n": 1e-3, "u": 1.0, "m": 1e3, "": 1e6}
_WORD_PREFIX = {"femto": "f", "pico": "p", "nano": "n", "micro": "u", "milli": "m"}
_VOLUME_IN_ML = {"ml": 1.0, "l": 1e3, "dl": 1e2, "ul": 1e-3}
_MOLAR = re.compile(r"^([fpnum]?)(?:m|mol/l|mol/dm3|molar)$")
_MASS = re.compile(r"^([fpnum]?)g/(ml|l|dl|ul)$")
# what a micro sign becomes when UTF-8 is read as Windows-1252 (or the other way round)
MISDECODED_MICRO = ("\ufffd", "Âµ", "Î¼", "Ã‚", "Ãƒ", "Â")


def _normalise(unit: str) -> str:
    key = unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u")
    for word, prefix in _WORD_PREFIX.items():
        if key.startswith(word):
            key = prefix + key[len(word):]
    if key.startswith("mcg"):
        key = "u" + key[2:]
    return key


def unit_family(unit: str) -> tuple[str, float, str]:
    """Return (family, factor to the internal unit, internal unit name) for a unit.

    Units outside the molar and mass-per-volume families (``g/ha``, ``%``) are their
    own family and kept as written (factor 1).
    """
    key = _normalise(unit)
    molar = _MOLAR.match(key)
    if molar:
        return "molar", _PREFIX_TO_MICRO[molar.group(1)], INTERNAL_UNIT["molar"]
    mass = _MASS.match(key)
    if mass:
        factor = _PREFIX_TO_MICRO[mass.group(1)] / _VOLUME_IN_ML[mass.group(2)]
        return "mass", factor, INTERNAL_UNIT["mass"]
    return unit.strip(), 1.0, unit.strip()


def misdecoded(unit: str) -> bool:
    """True for a unit that carries a micro sign mangled by a wrong text encoding
    (``Âµg/mL``, ``Î¼M``, ``\\ufffdM``, or ``?M`` where a converter gave up)."""
    if any(mark in unit for mark in MISDECODED_MICRO):
        return True
    text = unit.strip()
    return text.startswith("?") and unit_family("u" + text[1:])[0] in INTERNAL_UNIT


def convert_units(units: pd.Series | None, default_unit: str, well_type: pd.Series,
                  drug: pd.Series, drug_named: bool, add: Callable) -> tuple:
    """Factor from each row's unit to its family's internal unit, and that internal unit.

    One unit family per drug (drugs may differ); an empty cell takes its drug's first
    unit, else the file's; ``units`` None (no unit column) means ``default_unit`` for all.
    A row whose unit is of another family than its drug's first is reported with
    ``add(row, "unit", found, expected)``.
    """
    if units is None:
        _, factor, internal = unit_family(default_unit)
        return factor, pd.Series(internal, well_type.index)
    for i in np.flatnonzero(units.map(misdecoded).to_numpy()):
        add(i, "unit", f"{units.iloc[i]!r}: a micro sign (µ) garbled by a wrong text encoding",
            "the file saved as UTF-8 (or Windows-1252), or u for µ (uM, ug/mL)")
    dosed = (well_type != "blank") & (units != "")
    file_unit = units[dosed].iloc[0] if dosed.any() else default_unit
    sample = well_type == "sample"
    # an empty unit cell (a vehicle or blank row, say) takes its drug's first unit
    drug_unit = units[sample & (units != "")].groupby(drug, sort=False).first()
    units = units.where(units != "", drug.map(drug_unit).fillna(file_unit))
    families = units.map(lambda u: unit_family(u)[0])
    drug_family = drug.map(drug_unit).fillna(file_unit).map(lambda u: unit_family(u)[0])
    for i in np.flatnonzero((sample & (families != drug_family)).to_numpy()):
        name = drug.iloc[i]
        add(i, "unit", f"{units.iloc[i]!r} while earlier rows use {drug_unit[name]!r}"
            + (f" (drug {name!r})" if drug_named else ""),
            "one unit per drug, or units convertible into each other (pM, nM, uM, mM, M; "
            "or pg/mL, ng/mL, ug/mL, mg/mL)")
    internal = drug.map(drug_unit).fillna(file_unit).map(lambda u: unit_family(u)[2])
    return units.map(lambda u: unit_family(u)[1]).to_numpy(), internal
