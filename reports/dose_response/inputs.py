"""The validated inputs a run directory keeps (wells.csv, curves.csv), read for reports.

Names stay text (a cell line called ``01`` is a name, not a number), and shared vehicle
wells are matched to the curves they serve: a well with ``curve`` = -1 (no drug) pins
the top of every curve of its top group (experiment x plate x cell line x treatment),
so it is drawn with, and fitted as a vehicle well of, each of those curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TEXT = ("cell_line", "drug", "treatment", "control", "plate", "experiment", "unit", "well",
        "well_type", "replicate")


def read_wells(run_dir: Path) -> pd.DataFrame:
    """wells.csv: one row per well; ``log10_concentration`` NaN for vehicle wells."""
    return pd.read_csv(Path(run_dir) / "wells.csv", dtype=dict.fromkeys(TEXT, str),
                       keep_default_na=False, na_values={"log10_concentration": [""],
                                                         "response": [""]})


def count_experiments(wells: pd.DataFrame) -> int:
    """Independent experiments among the wells (1 without an ``experiment`` column)."""
    if "experiment" not in wells.columns:
        return 1
    return max(int(wells["experiment"].astype(str).replace("", np.nan).nunique()), 1)


def read_curves(run_dir: Path) -> pd.DataFrame:
    """curves.csv: one row per curve, in the model's curve order."""
    return pd.read_csv(Path(run_dir) / "curves.csv", dtype=dict.fromkeys(TEXT, str),
                       keep_default_na=False)


def with_shared_vehicles(wells: pd.DataFrame) -> pd.DataFrame:
    """Wells of the curves, each shared vehicle well (``curve`` < 0) copied onto every curve
    that has a dosed or own vehicle well in the same top group. Row order: the curves'
    own wells first, then the copies."""
    own = wells[wells.curve >= 0]
    shared = wells[wells.curve < 0]
    if shared.empty or "top_group" not in wells.columns:
        return own
    served = own[["curve", "top_group"]].drop_duplicates()
    copies = shared.drop(columns="curve").merge(served, on="top_group", how="inner")
    return pd.concat([own, copies[own.columns]], ignore_index=True)


def wells_by_curve(wells: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """curve code -> its wells, shared vehicle wells included."""
    return {int(c): group for c, group in with_shared_vehicles(wells).groupby("curve")}


def top_groups_of(wells: pd.DataFrame, n_curves: int) -> list[np.ndarray]:
    """Each curve's top groups (codes into the posterior's ``top_group``)."""
    own = wells[wells.curve >= 0].groupby("curve").top_group.unique()
    return [np.asarray(own.get(c, []), dtype=int) for c in range(n_curves)]
