"""Posterior draws -> the IC50 and shift tables, on draws made up in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from chemoshift.reports.dose_response.tables import ONE_EXPERIMENT, shifts_table, summary_table

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


def test_ic50_quantiles_and_absolute_ic50_mostly_beyond_range_is_blank():
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


def test_relative_ic50_beyond_range_keeps_its_numbers():
    rng = np.random.default_rng(3)
    far = rng.normal(2.0, 0.1, (4000, 4))  # IC50 around 100, tested 0.01-10: extrapolated
    table = summary_table(posterior(far, far.copy()), CURVES, ["cell_line", "treatment"], "uM")
    relative = table[table.quantity == "ic50_relative"].iloc[0]
    assert relative["median"] == pytest.approx(100, rel=0.05)  # a number, not blank
    assert relative["q2.5"] < relative["median"] < relative["q97.5"]
    assert relative.hdi_low < relative.hdi_high
    assert relative.p_beyond_range == pytest.approx(1.0) and "beyond tested range" in relative.note
    absolute = table[table.quantity == "ic50_absolute"].iloc[0]
    assert np.isnan(absolute["median"])  # only the absolute IC50 goes blank


def test_unit_is_the_curves_own():
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 0.1, (400, 4))
    curves = CURVES.assign(unit=["uM", "uM", "ug/mL", ""])  # empty: fall back to the run's
    table = summary_table(posterior(values, values), curves, ["cell_line"], "uM")
    assert list(table.unit[:4]) == ["uM", "uM", "ug/mL", "uM"]


def test_shift_table_has_curve_and_pooled_rows_with_probabilities():
    rng = np.random.default_rng(1)
    shifts = rng.normal(-0.3, 0.1, (4000, 2))
    table = shifts_table(posterior(np.zeros((4000, 4)), np.zeros((4000, 4)), shifts), CURVES,
                         ["cell_line", "drug", "treatment"], margin=1.5)
    relative = table[table.quantity == "ic50_relative"]
    assert list(relative.cell_line) == ["A", "B", "all", "all"]  # 2 curves, per drug, pooled
    assert list(relative.drug) == ["d1", "d1", "d1", "all"]
    first = table.iloc[0]
    assert first["median"] == pytest.approx(10**-0.3, rel=0.02)
    assert first.p_sensitised == pytest.approx(1.0, abs=0.005)  # 3 sd below 0
    assert first.p_beyond_margin == pytest.approx(0.89, abs=0.03)  # P(z < (0.3-0.176)/0.1)


def test_absolute_shift_rows_follow_the_relative_rows_with_p_extrapolated():
    rng = np.random.default_rng(5)
    relative = rng.normal(0.0, 0.05, (4000, 4))
    relative[:, 3] += 1.5  # treated curve of line B: relative IC50 ~32, beyond 10
    absolute = relative + 0.2
    shifts = relative[:, [1, 3]] - relative[:, [0, 2]]
    table = shifts_table(posterior(relative, absolute, shifts), CURVES,
                         ["cell_line", "drug", "treatment"], margin=1.5)
    assert list(table.quantity) == ["ic50_relative"] * 4 + ["ic50_absolute"] * 2  # relative first
    absolute_rows = table[table.quantity == "ic50_absolute"]
    assert list(absolute_rows.cell_line) == ["A", "B"]  # no pooled absolute rows
    assert absolute_rows["median"].iloc[0] == pytest.approx(1.0, rel=0.03)  # same +0.2 on both
    assert table.p_extrapolated.iloc[0] == pytest.approx(0.0)
    assert table.p_extrapolated.iloc[1] == pytest.approx(1.0)  # line B treated is beyond range
    assert table.p_extrapolated.iloc[3] == pytest.approx(1.0)  # pooled: the largest it pools
    assert absolute_rows.note.iloc[1].startswith("beyond tested range")  # blank, said why
    assert np.isnan(absolute_rows["median"].iloc[1])
    assert not np.isnan(table["median"].iloc[1])  # the relative shift keeps its numbers


def test_absolute_shift_with_infinite_draws_is_blank_unless_its_interval_is_finite():
    rng = np.random.default_rng(6)
    relative = rng.normal(0.0, 0.05, (4000, 4))
    absolute = relative.copy()
    absolute[:, 1] = np.where(rng.random(4000) < 0.3, np.inf, absolute[:, 1])  # 30% never
    absolute[:, 3] = np.where(rng.random(4000) < 0.01, np.inf, absolute[:, 3])  # 1% never
    table = shifts_table(posterior(relative, absolute, relative[:, [1, 3]] - relative[:, [0, 2]]),
                         CURVES, ["cell_line", "drug", "treatment"], margin=1.5)
    line_a, line_b = table[table.quantity == "ic50_absolute"].to_dict("records")
    assert np.isnan(line_a["median"]) and "interval not finite" in line_a["note"]
    assert line_a["p_sensitised"] == pytest.approx(0.7 * 0.5, abs=0.03)  # +inf draws: not
    assert line_b["q2.5"] <= line_b["median"] <= line_b["q97.5"] < np.inf  # 1%: inside the tail
    assert line_b["note"] == ""


def test_without_a_cell_line_column_no_pooled_row_is_ambiguous():
    rng = np.random.default_rng(2)
    shifts = rng.normal(-0.3, 0.1, (4000, 2))
    table = shifts_table(posterior(np.zeros((4000, 4)), np.zeros((4000, 4)), shifts), CURVES,
                         ["drug", "treatment"], margin=1.5)
    relative = table[table.quantity == "ic50_relative"]
    assert list(relative.level) == ["curve", "curve", "pooled over drugs and cell lines"]


def test_rows_carry_their_own_diagnostics_and_a_failed_curve_marks_only_its_rows():
    rng = np.random.default_rng(9)
    values = rng.normal(0.0, 0.1, (1000, 4))
    shifts = values[:, [1, 3]] - values[:, [0, 2]]
    tree = posterior(values, values, shifts)
    figures = {"rhat": [1.001, 1.002, 1.003, 1.004], "ess_bulk": [900.0, 800, 700, 600],
               "ess_tail": [950.0, 850, 750, 650]}
    diagnostics = {  # curve 3 (B, mimic) failed on its own slope; the population passed
        "passed": False, "population_passed": True,
        "unit_failures": {"3": ["R-hat 1.470 (hill)"]},
        "elements": {"log10_ic50": figures, "log10_ic50_absolute": figures,
                     "log10_shift": {"rhat": [1.001, 1.2], "ess_bulk": [900.0, 40],
                                     "ess_tail": [900.0, 50]},
                     "log10_shift_pooled": {"rhat": [1.002], "ess_bulk": [1200.0],
                                            "ess_tail": [1100.0]}}}
    table = summary_table(tree, CURVES, ["cell_line", "treatment"], "uM", diagnostics)
    relative = table[table.quantity == "ic50_relative"]
    assert list(relative.converged) == [True, True, True, False]  # curve 3 alone
    assert list(relative.rhat) == figures["rhat"]
    assert list(relative.ess_tail) == figures["ess_tail"]
    assert list(table.columns[-4:]) == ["rhat", "ess_bulk", "ess_tail", "converged"]

    rows = shifts_table(tree, CURVES, ["cell_line", "drug", "treatment"], 1.5, diagnostics)
    per_comparison = rows[(rows.level == "curve") & (rows.quantity == "ic50_relative")]
    assert list(per_comparison.converged) == [True, False]  # B's comparison rests on curve 3
    assert per_comparison.rhat.iloc[1] == 1.2
    pooled = rows[rows.level == "pooled over drugs and cell lines"].iloc[0]
    assert pooled.converged and pooled.rhat == 1.002  # a population parameter stands alone
    absolute = rows[rows.quantity == "ic50_absolute"]
    assert list(absolute.converged) == [True, False]


def test_a_failed_population_marks_every_row():
    rng = np.random.default_rng(10)
    values = rng.normal(0.0, 0.1, (1000, 4))
    tree = posterior(values, values, values[:, [1, 3]] - values[:, [0, 2]])
    diagnostics = {"passed": False, "population_passed": False, "unit_failures": {}}
    table = summary_table(tree, CURVES, ["cell_line"], "uM", diagnostics)
    assert not table.converged.any()
    assert table.rhat.isna().all()  # a run without per-element figures: blank, not made up
    unknown = summary_table(tree, CURVES, ["cell_line"], "uM")  # no diagnostics: never converged
    assert unknown.rhat.isna().all() and not unknown.converged.any()
    rows = shifts_table(tree, CURVES, ["cell_line", "drug", "treatment"], 1.5, diagnostics)
    assert not rows.converged.any()


def test_one_experiment_says_its_shift_intervals_rest_on_wells_alone():
    rng = np.random.default_rng(11)
    values = rng.normal(0.0, 0.1, (1000, 4))
    tree = posterior(values, values, values[:, [1, 3]] - values[:, [0, 2]])
    keys = ["cell_line", "drug", "treatment"]
    one = shifts_table(tree, CURVES, keys, 1.5, experiments=1)
    assert one.note.str.contains(ONE_EXPERIMENT, regex=False).all()
    three = shifts_table(tree, CURVES, keys, 1.5, experiments=3)
    assert not three.note.str.contains("one experiment").any()


def test_rows_whose_width_moves_in_a_refit_at_another_fixed_scale_are_prior_sensitive():
    """A refit (half or twice a fixed scale) stored beside the posterior: rows resting on
    the first comparison widen by 40% there and are flagged; the second's do not move."""
    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 0.1, (4000, 4))
    shifts = rng.normal(-0.3, 0.1, (4000, 2))
    tree = posterior(values, values, shifts)
    keys = ["cell_line", "drug", "treatment"]
    assert not shifts_table(tree, CURVES, keys, 1.5).prior_sensitive.any()  # no refit
    wider = shifts * np.array([1.4, 1.0]) + np.array([0.12, 0.0])  # comparison A only
    refit = posterior(values, values, wider)
    tree["prior_sensitivity_twice"] = refit["posterior"].to_dataset()
    table = shifts_table(tree, CURVES, keys, 1.5)
    relative = table[table.quantity == "ic50_relative"]
    # rows: comparison A, comparison B, the drug row and the pooled row; the helper
    # `posterior` builds the drug and pooled draws from the first comparison (A's), so
    # every row but B's widens with it
    assert relative.prior_sensitive.tolist() == [True, False, True, True]
