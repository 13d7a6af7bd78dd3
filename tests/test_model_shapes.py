"""The model's coords, dims, terms and deterministics, without real sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc.testing import mock_sample

from chemoshift.data.dose_response import validate_wells
from chemoshift.data.simulate_dose_response import ScreenDesign, screen_design, simulate_screen
from chemoshift.models.dose_response import _noise, build_model, model_terms


@pytest.fixture(scope="module")
def study_model(study_wells):
    return build_model(validate_wells(study_wells))


def free_names(model: pm.Model) -> set[str]:
    return {rv.name for rv in model.free_RVs}


def test_every_axis_is_a_named_coord(study_model):
    coords = study_model.coords
    assert list(coords["cell_line"]) == ["Huh7", "HepG2"]
    assert list(coords["drug"]) == ["5-FU", "PTX", "DOX"]
    assert len(coords["curve"]) == 24 and len(coords["comparison"]) == 12
    assert len(coords["top_group"]) == 8  # one plate per cell line x arm
    for rv in [*study_model.free_RVs, *study_model.deterministics]:
        if rv.ndim:
            assert study_model.named_vars_to_dims.get(rv.name), f"{rv.name} has no dims"


def test_quantities_users_ask_for_are_deterministics_with_dims(study_model):
    dims = study_model.named_vars_to_dims
    assert dims["log10_ic50"] == ("curve",)
    assert dims["log10_ic50_absolute"] == ("curve",)
    assert dims["log10_shift"] == ("comparison",)
    assert dims["fold_shift"] == ("comparison",)
    assert dims["log10_shift_drug"] == ("treated", "drug")
    assert dims["log10_shift_pooled"] == ("treated",)


def test_study_design_has_every_hierarchical_term(study_model):
    assert {"drug_mean", "cell_line_effect", "cell_line_drug_effect", "control_effect",
            "shift_mean", "log10_shift_drug_z", "shift_cell_line_z", "log10_ic50_pinned",
            "hill_curve_sd", "bottom_curve_sd", "top_group_sd", "noise_floor",
            "noise_cv"} <= free_names(study_model)
    assert "Huber" in str(study_model["response"].owner.op)  # log-concave, robust: models/huber
    assert "vehicle_response" in study_model.named_vars  # vehicle wells are data


def test_scales_of_factors_with_few_levels_are_fixed_not_learnt(study_wells):
    terms = model_terms(validate_wells(study_wells))
    # two cell lines, two control arms, 9 identified curve deviations: a scale learnt
    # from so few values is a funnel
    for name in ("cell_line_effect", "cell_line_drug_effect", "control_effect",
                 "curve_effect"):
        assert terms[name]["scale"] == "fixed", name
    # ... except where the shift's interval must follow the data: drugs and cell lines that
    # disagree (issue 21), learnt from 6 and 4 values, non-centred
    for name in ("shift_cell_line", "shift_drug"):
        assert terms[name]["scale"] == "learnt", name
    assert terms["hill_curve"]["scale"] == "learnt"  # 21 curve slopes around 3 drug means
    wide, _ = simulate_screen(screen_design(10, 2, replicates=1), seed=0)
    wide_terms = model_terms(validate_wells(wide.astype(str)))
    assert wide_terms["cell_line_effect"]["scale"] == "learnt"  # ten cell lines
    assert wide_terms["shift_cell_line"]["scale"] == "learnt"


def test_two_curve_design_learns_no_scale():
    wells = pd.DataFrame({
        "treatment": ["a"] * 10 + ["b"] * 10, "control": [""] * 10 + ["a"] * 10,
        "concentration": [0, 0, 1, 1, 3, 3, 10, 10, 30, 30] * 2,
        "response": [8, 7.5, 7, 6.8, 4, 4.2, 1, 1.1, 0.6, 0.5] * 2})
    model = build_model(validate_wells(wells))
    assert not {name for name in free_names(model) if name.endswith("_sd")}


def test_noise_grows_with_the_signal(study_model):
    sigma_floor, cv = pm.draw([study_model["noise_floor"], study_model["noise_cv"]],
                              draws=2000, random_seed=2)
    assert sigma_floor.min() > 0 and cv.min() > 0
    scale = _noise(np.array([0.0, 0.5, 2.0]), 0.01, 0.1).eval()
    np.testing.assert_allclose(scale, [0.01, np.hypot(0.01, 0.05), np.hypot(0.01, 0.2)])


def test_experiments_add_experiment_level_ic50s():
    wells, _ = simulate_screen(ScreenDesign(experiments=3, replicates=1), seed=3)
    model = build_model(validate_wells(wells.astype(str)))
    assert list(model.coords["experiment"]) == ["E1", "E2", "E3"]
    assert model.named_vars_to_dims["log10_ic50_experiment"] == ("curve_experiment",)
    assert len(model.coords["curve_experiment"]) == 3 * len(model.coords["curve"])
    assert {"experiment_curve_sd", "experiment_shared_sd"} <= free_names(model)


def test_single_curve_is_the_same_model_with_fewer_terms():
    wells = pd.DataFrame({"concentration": [0, 0, 1, 1, 3, 3, 10, 10, 30, 30],
                          "response": [8, 7.5, 7, 6.8, 4, 4.2, 1, 1.1, 0.6, 0.5]})
    model = build_model(validate_wells(wells))
    assert free_names(model) == {"drug_mean", "log_hill_drug", "bottom_drug", "log_top_mean",
                                 "noise_floor", "noise_cv"}


def test_curve_parameterisation_choice(study_wells):
    data = validate_wells(study_wells)
    assert "log10_ic50" in free_names(build_model(data, curve_parameterisation="centred"))
    non_centred = build_model(data, curve_parameterisation="non_centred")
    assert "curve_effect_z" in free_names(non_centred)
    assert "log10_ic50" not in free_names(non_centred)
    with pytest.raises(ValueError, match="expected auto, centred or non_centred"):
        build_model(data, curve_parameterisation="sideways")


def test_bottom_parameterisation_choice(study_wells):
    data = validate_wells(study_wells)
    auto = build_model(data)
    assert not auto["pinned_bottom"].get_value().any()  # alike bottoms: all non-centred
    assert "logit_bottom_z" in free_names(build_model(data, bottom_parameterisation="non_centred"))
    centred = build_model(data, bottom_parameterisation="centred")
    assert "logit_bottom" in free_names(centred)
    assert "logit_bottom_z" not in free_names(centred)


def test_shift_is_treated_minus_matched_control(study_model):
    ic50, shift, fold = pm.draw([study_model["log10_ic50"], study_model["log10_shift"],
                                 study_model["fold_shift"]], random_seed=1)  # a prior draw
    curves = list(study_model.coords["curve"])
    treated = curves.index("HepG2 | DOX | miR-379")
    control = curves.index("HepG2 | DOX | miR-NC")
    comparison = list(study_model.coords["comparison"]).index("HepG2 | DOX | miR-379 vs miR-NC")
    assert shift[comparison] == pytest.approx(ic50[treated] - ic50[control])
    assert fold[comparison] == pytest.approx(10 ** shift[comparison])


def test_model_samples_and_names_outputs(study_model):
    with study_model:
        datatree = mock_sample(draws=5)  # prior draws in the shape of a posterior
    posterior = datatree["posterior"]
    assert posterior["log10_ic50"].dims == ("chain", "draw", "curve")
    assert posterior["fold_shift"].dims == ("chain", "draw", "comparison")
    assert "log10_concentration" in datatree["constant_data"]


def test_simulated_bottoms_vary_between_curves_only_when_asked():
    same = simulate_screen(ScreenDesign(), seed=4)
    varied = simulate_screen(ScreenDesign(bottom_curve_sd=0.5), seed=4)
    by_drug = pd.DataFrame(same[1]["curves"]).groupby("drug").bottom
    assert (by_drug.nunique() == 1).all()
    varied_by_drug = pd.DataFrame(varied[1]["curves"]).groupby("drug").bottom
    assert (varied_by_drug.nunique() > 1).all()
    assert varied_by_drug.mean().between(0.0, 1.0).all()
    # the other draws are untouched when bottoms do not vary: earlier screens are unchanged
    assert same[0].equals(simulate_screen(ScreenDesign(bottom_curve_sd=0.0), seed=4)[0])
