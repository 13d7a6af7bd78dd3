"""The model's coords, dims, terms and deterministics, without real sampling."""

from __future__ import annotations

import pandas as pd
import pymc as pm
import pytest
from pymc.testing import mock_sample

from chemoshift.data.dose_response import validate_wells
from chemoshift.models.dose_response import build_model


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
            "shift_mean", "shift_drug_sd", "curve_sd", "curve_effect", "hill_curve_sd",
            "bottom_curve_sd", "top_group_sd", "sigma", "nu"} <= free_names(study_model)
    assert isinstance(study_model["response"].owner.op, type(pm.StudentT.dist(1).owner.op))


def test_single_curve_is_the_same_model_with_fewer_terms():
    wells = pd.DataFrame({"concentration": [0, 0, 1, 1, 3, 3, 10, 10, 30, 30],
                          "response": [8, 7.5, 7, 6.8, 4, 4.2, 1, 1.1, 0.6, 0.5]})
    model = build_model(validate_wells(wells))
    assert free_names(model) == {"drug_mean", "log_hill_drug", "bottom_drug", "log_top_mean",
                                 "sigma", "nu"}


def test_curve_parameterisation_choice(study_wells):
    data = validate_wells(study_wells)
    assert "curve_effect" in free_names(build_model(data, curve_parameterisation="centred"))
    non_centred = build_model(data, curve_parameterisation="non_centred")
    assert "curve_effect_z" in free_names(non_centred)
    assert "curve_effect" not in free_names(non_centred)
    with pytest.raises(ValueError, match="expected auto, centred or non_centred"):
        build_model(data, curve_parameterisation="sideways")


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
