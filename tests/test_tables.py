"""Posterior draws -> the IC50 and shift tables, on draws made up in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from chemoshift.reports.dose_response_tables import shifts_table, summary_table

CURVES = pd.DataFrame({
    "cell_line": ["A", "A", "B", "B"], "drug": ["d1"] * 4,
    "treatment": ["NC", "mimic", "NC", "mimic"], "control": ["", "NC", "", "NC"],
    "min_concentration": [0.01] * 4, "max_concentration": [10.0] * 4,
})


def posterior(log10_ic50: np.ndarray, absolute: np.ndarray, shifts: np.ndarray | None = None):
    """Wrap (sample, curve) arrays as a 1-chain posterior."""
    variables = {"log10_ic50": log10_ic50[None], "log10_ic50_absolute": absolute[None]}
    if shifts is not None:
        variables |= {"log10_shift": shifts[None], "log10_shift_drug": shifts[None, :, :1, None],
                      "log10_shift_pooled": shifts[None, :, :1]}
    return from_dict({"posterior": variables},
                     dims={"log10_ic50": ["curve"], "log10_ic50_absolute": ["curve"],
                           "log10_shift": ["comparison"],
                           "log10_shift_drug": ["treated", "drug"],
                           "log10_shift_pooled": ["treated"]},
                     coords={"treated": ["mimic"], "drug": ["d1"]})


def test_ic50_quantiles_and_beyond_range_probability():
    rng = np.random.default_rng(0)
    inside = rng.normal(0.0, 0.1, (4000, 4))  # IC50 around 1 (tested 0.01-10)
    absolute = inside.copy()
    absolute[:, 3] = np.where(rng.random(4000) < 0.7, np.inf, 0.5)  # 70% never reach half
    table = summary_table(posterior(inside, absolute), CURVES, ["cell_line", "treatment"], "uM")
    relative = table[table.quantity == "ic50_relative"].reset_index(drop=True)
    assert relative["median"].to_numpy() == pytest.approx(1.0, abs=0.02)
    assert relative["q2.5"].iloc[0] == pytest.approx(10 ** -0.196, rel=0.03)  # normal 2.5% point
    assert (relative.p_beyond_range == 0).all()
    beyond = table[table.quantity == "ic50_absolute"].iloc[3]
    assert beyond.p_beyond_range == pytest.approx(0.7, abs=0.03)
    assert np.isnan(beyond["median"]) and beyond.note == "beyond tested range (above)"
    assert list(table.columns[:3]) == ["cell_line", "treatment", "quantity"]


def test_shift_table_has_curve_and_pooled_rows_with_probabilities():
    rng = np.random.default_rng(1)
    shifts = rng.normal(-0.3, 0.1, (4000, 2))
    table = shifts_table(posterior(np.zeros((4000, 4)), np.zeros((4000, 4)), shifts), CURVES,
                         ["cell_line", "drug", "treatment"], margin=1.5)
    assert list(table.cell_line) == ["A", "B", "all", "all"]  # 2 curves, per drug, pooled
    assert list(table.drug) == ["d1", "d1", "d1", "all"]
    first = table.iloc[0]
    assert first["median"] == pytest.approx(10**-0.3, rel=0.02)
    assert first.p_sensitised == pytest.approx(1.0, abs=0.005)  # 3 sd below 0
    assert first.p_beyond_margin == pytest.approx(0.89, abs=0.03)  # P(z < (0.3-0.176)/0.1)


def test_without_a_cell_line_column_no_pooled_row_is_ambiguous():
    rng = np.random.default_rng(2)
    shifts = rng.normal(-0.3, 0.1, (4000, 2))
    table = shifts_table(posterior(np.zeros((4000, 4)), np.zeros((4000, 4)), shifts), CURVES,
                         ["drug", "treatment"], margin=1.5)
    assert list(table.level) == ["curve", "curve", "pooled over drugs and cell lines"]
