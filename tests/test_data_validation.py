"""Every kind of bad input gets one clear message naming file, row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chemoshift.data import InputError, read_dose_response
from chemoshift.data.dose_response import validate_wells


def problems_of(path, **options) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_dose_response(path, **options)
    return [str(p) for p in caught.value.problems]


def test_valid_study_file_gives_curves_and_coords(study_wells, write_csv):
    data = read_dose_response(write_csv(study_wells))
    assert len(data.curves) == 24  # 2 cell lines x 3 drugs x 4 arms
    assert data.controls == {"si-IGF1R": "si-NC", "miR-379": "miR-NC"}
    assert data.coords["treated"] == ["si-IGF1R", "miR-379"]
    assert data.coords["control"] == ["si-NC", "miR-NC"]
    assert set(data.wells.well_type) == {"sample", "vehicle"}  # blanks subtracted and dropped
    assert len(data.sources) == 1 and len(next(iter(data.sources.values()))) == 64  # sha256


def test_missing_columns_are_named_with_the_fix(study_wells, write_csv):
    path = write_csv(study_wells.drop(columns=["response", "concentration"]))
    messages = problems_of(path)
    assert len(messages) == 2
    assert messages[0].startswith(f"{path}:concentration: column missing")
    assert "--columns concentration=YOUR_NAME" in messages[0]


def test_non_numeric_and_negative_concentrations_name_their_rows(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[5, "concentration"] = "ten"
    frame.loc[9, "concentration"] = "-1"
    path = write_csv(frame)
    messages = problems_of(path)
    # file line = row index + 2 (the header is line 1)
    assert f"{path}:7:concentration: 'ten'; expected a finite number >= 0" in messages[0]
    assert f"{path}:11:concentration: '-1'" in messages[1]


def test_nan_response_is_named(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[3, "response"] = "NaN"
    frame.loc[4, "response"] = ""
    messages = problems_of(write_csv(frame))
    assert [m.split(":")[1:3] for m in messages] == [["5", "response"], ["6", "response"]]
    assert "expected a finite number" in messages[0]


def test_treatment_without_matched_control_curve(study_wells, write_csv):
    frame = study_wells[~((study_wells.treatment == "miR-NC") & (study_wells.drug == "DOX")
                          & (study_wells.cell_line == "HepG2"))]
    messages = problems_of(write_csv(frame))
    assert any("curve (cell_line=HepG2, drug=DOX, treatment=miR-379) has no matched control curve"
               in m for m in messages), messages


def test_treatment_with_no_control_named(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[frame.treatment == "miR-379", "control"] = ""
    messages = problems_of(write_csv(frame))
    assert any("treatment 'miR-379' has no matched control" in m and ":treatment:" in m
               for m in messages), messages


def test_control_named_on_the_command_line_must_exist(study_wells, write_csv):
    messages = problems_of(write_csv(study_wells), controls={"miR-379": "mock"})
    assert any("control 'mock' of treatment 'miR-379' has no wells" in m for m in messages)


def test_curve_with_fewer_than_three_concentrations(study_wells, write_csv):
    frame = study_wells.copy()
    curve = (frame.cell_line == "Huh7") & (frame.drug == "PTX") & (frame.treatment == "si-NC")
    keep = frame.concentration.astype(float).isin(sorted(
        frame[curve].concentration.astype(float).unique())[:3])  # vehicle + 2 doses
    messages = problems_of(write_csv(frame[~curve | keep]))
    assert any("curve (cell_line=Huh7, drug=PTX, treatment=si-NC) has 2 distinct" in m
               and "at least 3" in m for m in messages), messages


def test_duplicated_wells_point_to_the_first(study_wells, write_csv):
    frame = pd.concat([study_wells, study_wells.iloc[[10]]], ignore_index=True)
    path = write_csv(frame)
    messages = problems_of(path)
    assert len(messages) == 1
    line = len(frame) + 1
    assert messages[0].startswith(f"{path}:{line}:well: duplicated well (plate=P01, well=")
    assert "first seen on line 12" in messages[0]


def test_mixed_units_are_refused_but_convertible_units_converted(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[20, "unit"] = "ug/mL"
    messages = problems_of(write_csv(frame))
    assert any(":22:unit: 'ug/mL' while earlier rows use 'uM'" in m for m in messages), messages

    converted = study_wells.copy()
    nanomolar = converted.drug == "PTX"
    converted.loc[nanomolar, "concentration"] = (
        converted.loc[nanomolar, "concentration"].astype(float) * 1000).astype(str)
    converted.loc[nanomolar, "unit"] = "nM"
    data = read_dose_response(write_csv(converted, "nanomolar.csv"))
    reference = read_dose_response(write_csv(study_wells, "micromolar.csv"))
    np.testing.assert_allclose(data.wells.concentration, reference.wells.concentration, rtol=1e-9)
    assert data.unit == "uM"


def test_blank_wells_are_subtracted_per_plate(study_wells):
    data = validate_wells(study_wells)
    frame = study_wells.astype({"response": float})
    blank = frame[frame.well_type == "blank"].groupby("plate").response.mean()
    first = frame[frame.well_type != "blank"].iloc[0]
    assert data.wells.response.iloc[0] == pytest.approx(first.response - blank[first.plate])


def test_single_curve_without_key_columns_is_valid(write_csv):
    frame = pd.DataFrame({"conc": [0, 0, 1, 1, 3, 3, 10, 10], "rootl": [8, 7.5, 7, 6.8, 4, 4.2,
                                                                        1, 1.1]})
    data = read_dose_response(write_csv(frame), columns={"concentration": "conc",
                                                         "response": "rootl"}, unit="mM")
    assert data.keys_present == ()
    assert len(data.curves) == 1 and data.unit == "uM"
    assert data.curves.max_concentration.iloc[0] == pytest.approx(10_000.0)  # 10 mM in uM


def test_columns_mapping_to_a_missing_column_is_reported(write_csv):
    frame = pd.DataFrame({"conc": [1, 2, 3], "y": [1, 2, 3]})
    messages = problems_of(write_csv(frame), columns={"concentration": "dose"})
    assert "dose: column not in the file" in messages[0]


def test_every_problem_is_reported_at_once(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[1, "concentration"] = "x"
    frame.loc[2, "response"] = "y"
    frame.loc[3, "well_type"] = "empty"
    assert len(problems_of(write_csv(frame))) == 3


def test_infinite_concentration_is_refused(write_csv):
    frame = pd.DataFrame({"concentration": ["inf", "1", "2", "3"], "response": [1, 1, 1, 1]})
    assert ":2:concentration: 'inf'; expected a finite number" in problems_of(write_csv(frame))[0]


def test_a_file_without_doses_is_refused(write_csv):
    frame = pd.DataFrame({"concentration": [0, 0], "response": [1.0, 1.1]})
    assert "no sample wells" in problems_of(write_csv(frame))[0]


def test_a_control_must_not_name_a_control_itself(study_wells, write_csv):
    frame = study_wells.copy()
    frame.loc[frame.treatment == "si-NC", "control"] = "si-NC"  # control of itself
    messages = problems_of(write_csv(frame))
    assert any("'si-NC' is compared with 'si-NC', which is itself" in m for m in messages)
    chained = {"si-IGF1R": "si-NC", "si-NC": "miR-NC", "miR-379": "miR-NC"}
    messages = problems_of(write_csv(study_wells, "chained.csv"), controls=chained)
    assert any("'si-IGF1R' is compared with 'si-NC', which is compared with 'miR-NC'" in m
               for m in messages)


def test_conflicting_controls_name_the_row_that_disagrees(study_wells, write_csv):
    frame = study_wells.copy()
    row = frame.index[frame.treatment == "miR-379"][5]
    frame.loc[row, "control"] = "si-NC"
    messages = problems_of(write_csv(frame))
    assert any(m.split(":")[1:3] == [str(row + 2), "control"] and "named 'miR-NC' before" in m
               for m in messages), messages


def test_mapping_onto_a_column_the_file_has_is_refused(write_csv):
    frame = pd.DataFrame({"concentration": [1, 2, 3], "dose": [1, 2, 3], "response": [3, 2, 1]})
    messages = problems_of(write_csv(frame), columns={"concentration": "dose"})
    assert "maps 'dose' onto 'concentration', which the file already has" in messages[0]


def test_empty_unit_cells_take_the_files_unit(write_csv):
    frame = pd.DataFrame({"well_type": ["blank", "vehicle", "sample", "sample", "sample"],
                          "unit": ["", "", "ng/mL", "ng/mL", "ng/mL"],
                          "concentration": ["", "0", "10", "50", "100"],
                          "response": [0.1, 1.0, 0.9, 0.5, 0.2]})
    data = read_dose_response(write_csv(frame))
    assert data.unit == "ug/mL"
    assert data.curves.max_concentration.iloc[0] == pytest.approx(0.1)  # 100 ng/mL
