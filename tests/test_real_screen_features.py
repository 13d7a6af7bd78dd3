"""What real screens have (cliffs, an outlier beside a cliff, inactive drugs, bottoms that
vary, viability fractions), in the simulator; and the model's choices that follow the
data: per-curve forms of slopes and bottoms, and slopes bounded by the dose steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from chemoshift.data.dose_response import validate_wells
from chemoshift.data.simulate_dose_response import (
    ScreenDesign,
    hts_design,
    real_screen_design,
    simulate_screen,
)
from chemoshift.models.dose_response import build_model
from chemoshift.models.dose_response_design import Design


@pytest.fixture(scope="module")
def real_screen():
    return simulate_screen(real_screen_design(), seed=1)


def curve_means(wells: pd.DataFrame, truth_curve: dict) -> pd.Series:
    mine = wells[(wells.cell_line == truth_curve["cell_line"])
                 & (wells.drug == truth_curve["drug"]) & (wells.well_type == "sample")]
    return mine.groupby("concentration").response.mean()


def test_features_are_off_by_default_and_leave_earlier_screens_unchanged():
    plain = simulate_screen(hts_design(), seed=5)[0]
    explicit = simulate_screen(hts_design(cliff_fraction=0.0, inactive_drugs=0,
                                          normalise=False), seed=5)[0]
    assert plain.equals(explicit)


def test_a_cliff_falls_between_two_adjacent_doses(real_screen):
    wells, truth = real_screen
    cliffs = [c for c in truth["curves"] if c["cliff"] and c["bottom"] < 0.3]
    assert len(cliffs) >= 10  # one curve in ten of 216
    steepest = []
    for curve in cliffs:
        drops = -np.diff(curve_means(wells, curve).to_numpy())
        steepest.append(drops.max() / max(drops.sum(), 1e-9))
    # most of the fall happens in one step (Hill 6-20 over half-log doses)
    assert np.median(steepest) > 0.6, steepest


def test_an_outlier_reads_high_two_doses_past_the_cliff(real_screen):
    wells, truth = real_screen
    beside = [c for c in truth["curves"] if c["outlier_beside_cliff"]]
    assert beside
    curve = beside[0]
    mine = wells[(wells.cell_line == curve["cell_line"]) & (wells.drug == curve["drug"])
                 & (wells.well_type == "sample")]
    doses = np.sort(mine.concentration.unique())
    past = doses[np.log10(doses) > curve["log10_ic50_by_experiment"][0]]
    at = mine[mine.concentration == past[min(2, len(past) - 1)]].response
    expected = curve["bottom"]  # fractions of the top: the plateau there
    assert at.max() > expected + 0.12  # 0.2 of the top above it, less the noise


def test_inactive_drugs_have_no_effect_in_range(real_screen):
    wells, truth = real_screen
    inactive = ["drug25", "drug26", "drug27"]
    for drug in inactive:
        mine = wells[wells.drug == drug]
        highest = np.log10(mine.concentration.max())
        above = [c["log10_ic50"] - highest for c in truth["curves"] if c["drug"] == drug]
        assert np.mean(above) > 0.8  # 1-1.5 decades, moved by the cell lines' effects
        at_top_dose = mine[mine.concentration == mine.concentration.max()].response.mean()
        assert at_top_dose > 0.75  # hardly any effect where the doses stop


def test_viability_fractions_have_no_blanks_and_vehicles_near_one(real_screen):
    wells, _ = real_screen
    assert "blank" not in set(wells.well_type)
    assert wells[wells.well_type == "vehicle"].response.mean() == pytest.approx(1.0, abs=0.02)


def test_bottoms_are_centred_only_where_they_vary_and_the_data_pin_them():
    alike = Design.from_data(validate_wells(simulate_screen(ScreenDesign(experiments=3),
                                                            seed=2)[0].astype(str)))
    assert not alike.bottom_pinned.any() and alike.bottom_spread < 0.3
    varied = Design.from_data(validate_wells(simulate_screen(
        ScreenDesign(experiments=3, bottom_curve_sd=0.5), seed=2)[0].astype(str)))
    assert varied.bottom_pinned.all() and varied.bottom_spread > 0.3


def test_cliff_curves_keep_non_centred_slopes(real_screen):
    wells, truth = real_screen
    data = validate_wells(wells.astype(str), response_kind="other")
    design = Design.from_data(data)
    labels = list(data.coords["curve"])
    cliff = np.array([c["cliff"] for c in sorted(
        truth["curves"], key=lambda c: labels.index(
            " | ".join((c["cell_line"], c["drug"], c["treatment"]))))])
    inactive = np.isin(data.curves.drug.to_numpy(), ["drug25", "drug26", "drug27"])
    assert design.slope_in_view[inactive].mean() < 0.1  # flat: noise is no transition
    smooth = ~cliff & ~inactive
    assert design.slope_in_view[smooth].mean() > 0.85  # smooth curves pin their slope
    assert design.slope_in_view[cliff].mean() < design.slope_in_view[smooth].mean()
    model = build_model(data)
    free = {rv.name for rv in model.free_RVs}
    assert {"log_hill_pinned", "log_hill_free_z", "logit_bottom_pinned",
            "logit_bottom_free_z"} <= free
    np.testing.assert_array_equal(model["pinned_hill"].get_value(), design.slope_in_view)


def test_one_compiled_model_serves_data_sets_whose_curves_chose_differently():
    # the forms are data (masks), not structure: two screens of one shape, different choices
    first, second = (build_model(validate_wells(simulate_screen(real_screen_design(), seed=s)[0]
                                                .astype(str), response_kind="other"))
                     for s in (1, 2))
    assert ({rv.name: rv.type.shape for rv in first.free_RVs}
            == {rv.name: rv.type.shape for rv in second.free_RVs})
    assert not np.array_equal(first["pinned_hill"].get_value(),
                              second["pinned_hill"].get_value())


def test_hill_slopes_stay_below_what_the_dose_steps_resolve(real_screen):
    wells, _ = real_screen
    data = validate_wells(wells.astype(str), response_kind="other")
    design = Design.from_data(data)
    # half-log doses: a 10-90% transition one step (0.5 log10) wide is a Hill slope 3.82
    assert design.hill_max == pytest.approx(np.log10(81) / 0.5)
    model = build_model(data)
    hill = pm.draw(model["hill"], draws=200, random_seed=3)  # prior draws, many steep
    assert (hill < design.hill_max).all()
    assert np.quantile(hill, 0.999) > 0.9 * design.hill_max.max()  # it approaches the bound


def test_run_record_says_how_each_quantity_was_written(real_screen):
    from chemoshift.models import model_forms

    wells, _ = real_screen
    forms = model_forms(validate_wells(wells.astype(str), response_kind="other"))
    assert forms["log_hill"]["of"] == 216 and 0 < forms["log_hill"]["centred"] < 216
    assert forms["log_top"]["centred"] == 8 and forms["top_fixed_sd"] < 0.05  # fractions
    assert forms["hill_max"] == pytest.approx(3.8165, abs=1e-3)
