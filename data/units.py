"""Concentration units: spellings users write, and the one unit each family is kept in."""

from __future__ import annotations

# factor that converts a value in the unit into the family's internal unit
MOLAR_TO_UM = {
    "pm": 1e-6, "nm": 1e-3, "um": 1.0, "µm": 1.0, "μm": 1.0, "micromolar": 1.0,
    "mm": 1e3, "m": 1e6,
}
MASS_TO_UG_PER_ML = {
    "pg/ml": 1e-6, "ng/ml": 1e-3, "ug/ml": 1.0, "µg/ml": 1.0, "μg/ml": 1.0,
    "mg/l": 1.0, "mg/ml": 1e3, "g/l": 1e3,
}
INTERNAL_UNIT = {"molar": "uM", "mass": "ug/mL"}


def unit_family(unit: str) -> tuple[str, float, str]:
    """Return (family, factor to the internal unit, internal unit name) for a unit.

    Units outside the molar and mass-per-volume families (``g/ha``, ``mM`` of a
    herbicide, ``%``) are their own family and kept as written (factor 1).
    """
    key = unit.strip().lower().replace(" ", "")
    if key in MOLAR_TO_UM:
        return "molar", MOLAR_TO_UM[key], INTERNAL_UNIT["molar"]
    if key in MASS_TO_UG_PER_ML:
        return "mass", MASS_TO_UG_PER_ML[key], INTERNAL_UNIT["mass"]
    return unit.strip(), 1.0, unit.strip()
