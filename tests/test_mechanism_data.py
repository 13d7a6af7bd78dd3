"""Reading luciferase, Western blot and apoptosis files: what is accepted, and every
refusal with its place (file:row:column) and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from chemoshift.data.apoptosis import read_apoptosis
from chemoshift.data.errors import InputError
from chemoshift.data.luciferase import read_luciferase
from chemoshift.data.simulate_mechanism import (
    simulate_apoptosis,
    simulate_luciferase,
    simulate_western,
)
from chemoshift.data.western import read_western


@pytest.fixture
def wells() -> pd.DataFrame:
    return simulate_luciferase(seed=3)[0].astype(str)


@pytest.fixture
def lanes() -> pd.DataFrame:
    return simulate_western(seed=3)[0].astype(str)


@pytest.fixture
def samples() -> pd.DataFrame:
    return simulate_apoptosis(seed=3)[0].astype(str)


def refusal(read, source, **options) -> str:
    with pytest.raises(InputError) as caught:
        read(source, **options)
    return str(caught.value)


# -- accepted ---------------------------------------------------------------------------

def test_luciferase_file_reads_with_defaults_found_by_name(write_csv, wells):
    data = read_luciferase(write_csv(wells))
    assert data.reference_construct == "IGF1R-3'UTR-MUT"
    assert data.controls == {"miR-379": "miR-NC"}
    assert list(data.contrasts.kind).count("interaction") == 2  # one per cell line
    assert len(data.sources) == 1 and len(next(iter(data.sources.values()))) == 64


def test_semicolons_decimal_commas_and_mapped_columns_are_read(tmp_path, wells):
    renamed = wells.rename(columns={"firefly": "Fluc", "renilla": "Rluc"})
    renamed["Fluc"] = renamed["Fluc"] + ",5"
    path = tmp_path / "luc.csv"
    renamed.to_csv(path, sep=";", index=False)
    data = read_luciferase(path, columns={"firefly": "Fluc", "renilla": "Rluc"})
    assert (data.wells.firefly % 1 == 0.5).all()
    assert any("decimal commas" in note for note in data.notes)


def test_western_doses_compare_with_the_control_and_form_a_ladder(lanes):
    data = read_western(lanes)
    assert list(data.contrasts.dose[:2]) == ["40 nM", "80 nM"]
    assert set(data.contrasts.control) == {"miR-NC 80 nM"}


def test_western_dose_zero_is_its_own_control_when_no_condition_reads_as_one(lanes):
    own = lanes[lanes.condition == "miR-379"].copy()
    zero = own[own.dose == "40.0"].assign(dose="0")
    data = read_western(pd.concat([own, zero]).drop(columns="lane"))
    assert set(data.contrasts.control) == {"miR-379 0 nM"}


def test_apoptosis_design_and_default_controls(samples):
    data = read_apoptosis(samples)
    assert data.drug_control == "vehicle" and data.drugs == ["DOX 0.5 uM"]
    assert list(data.effects().effect[:3]) == ["mir_without_drug", "mir_with_drug",
                                               "interaction"]


# -- luciferase refusals ----------------------------------------------------------------

def test_missing_column_names_it_and_the_fix(write_csv, wells):
    message = refusal(read_luciferase, write_csv(wells.drop(columns="renilla")))
    assert "renilla: column missing" in message and "--columns renilla=" in message


@pytest.mark.parametrize("value", ["0", "-5", "n/a"])
def test_zero_negative_or_text_renilla_is_refused_with_its_line(write_csv, wells, value):
    wells.loc[4, "renilla"] = value
    message = refusal(read_luciferase, write_csv(wells))
    assert ":6:renilla:" in message and "> 0" in message


def test_reading_below_background_is_refused(write_csv, wells):
    wells.loc[0, "firefly"] = "50"
    message = refusal(read_luciferase, write_csv(wells), background=100)
    assert ":2:firefly:" in message and "below the background 100" in message


def test_repeated_channel_maximum_is_saturation(write_csv, wells):
    wells.loc[[0, 5], "firefly"] = "9999999"
    message = refusal(read_luciferase, write_csv(wells))
    assert message.count("saturated") == 2


@pytest.mark.parametrize("ceiling, options", [("65535", {}), ("5000000", {"saturation": 5e6})])
def test_detector_ceiling_or_stated_saturation_is_refused(write_csv, wells, ceiling, options):
    wells.loc[3, "renilla"] = ceiling
    message = refusal(read_luciferase, write_csv(wells), **options)
    assert ":5:renilla:" in message and "saturated" in message


def test_mapped_column_is_named_as_the_user_wrote_it(write_csv, wells):
    wells = wells.rename(columns={"renilla": "Rluc"})
    wells.loc[0, "Rluc"] = "0"
    message = refusal(read_luciferase, write_csv(wells), columns={"renilla": "Rluc"})
    assert "Rluc (renilla)" in message


def test_empty_construct_and_duplicated_well_are_refused(write_csv, wells):
    wells.loc[2, "construct"] = ""
    wells.loc[1, "well"] = wells.loc[0, "well"]
    message = refusal(read_luciferase, write_csv(wells))
    assert "construct: an empty cell" in message
    assert "duplicated" in message and "first seen on line 2" in message


@pytest.mark.parametrize("controls, found", [
    ({"miR-379": "miR-X"}, "names control 'miR-X', not in the input"),
    ({"miR-379": "miR-379"}, "which is itself"),
])
def test_controls_that_do_not_exist_or_name_themselves_are_refused(write_csv, wells, controls,
                                                                   found):
    assert found in refusal(read_luciferase, write_csv(wells), controls=controls)


def test_unnamed_control_is_asked_for(write_csv, wells):
    wells["treatment"] = wells.treatment.replace({"miR-NC": "mimic-B"})
    assert "--control TREATMENT=CONTROL" in refusal(read_luciferase, write_csv(wells))


def test_reference_construct_must_exist_or_be_named(write_csv, wells):
    assert "not a construct" in refusal(read_luciferase, write_csv(wells),
                                        construct_control="WT2")
    wells["construct"] = wells.construct.str.replace("MUT", "B")
    assert "--construct-control NAME" in refusal(read_luciferase, write_csv(wells))


def test_one_construct_is_refused(write_csv, wells):
    only = wells[wells.construct == "IGF1R-3'UTR-WT"]
    assert "one construct" in refusal(read_luciferase, write_csv(only),
                                      construct_control="IGF1R-3'UTR-WT")


def test_construct_without_control_wells_is_refused(write_csv, wells):
    drop = (wells.construct == "IGF1R-3'UTR-MUT") & (wells.treatment == "miR-NC")
    message = refusal(read_luciferase, write_csv(wells[~drop]))
    assert "has no wells of 'miR-NC'" in message


def test_unknown_mapping_target_and_frame_column_are_refused(wells):
    assert "unknown name" in refusal(read_luciferase, wells, columns={"fluc": "firefly"})
    assert "not in the frame" in refusal(read_luciferase, wells, columns={"firefly": "F"})


# -- Western refusals -------------------------------------------------------------------

@pytest.mark.parametrize("column, value, expected", [
    ("target", "0", "band intensity > 0"), ("loading", "x", "band intensity > 0"),
    ("dose", "-40", "a dose >= 0"), ("dose", "", "a dose, as the other lanes"),
])
def test_bad_bands_and_doses_are_refused_with_their_line(write_csv, lanes, column, value,
                                                          expected):
    lanes.loc[1, column] = value
    message = refusal(read_western, write_csv(lanes))
    assert f":3:{column}:" in message and expected in message


def test_duplicated_lane_is_refused(write_csv, lanes):
    lanes.loc[1, "lane"] = lanes.loc[0, "lane"]
    assert "duplicated" in refusal(read_western, write_csv(lanes))


def test_western_without_a_control_is_refused(write_csv, lanes):
    lanes["condition"] = lanes.condition.replace({"miR-NC": "mimic-B"})
    assert "--control" in refusal(read_western, write_csv(lanes))


def test_control_missing_in_a_cell_line_is_refused(write_csv, lanes):
    drop = (lanes.cell_line == "HepG2") & (lanes.condition == "miR-NC")
    assert "has no lanes of its control" in refusal(read_western, write_csv(lanes[~drop]))


def test_control_at_several_other_doses_is_refused(write_csv, lanes):
    extra = lanes[lanes.condition == "miR-NC"].assign(dose="20", lane="9")
    lanes = pd.concat([lanes, extra])
    assert "no dose-matched lanes" in refusal(read_western, write_csv(lanes))


# -- apoptosis refusals -----------------------------------------------------------------

@pytest.mark.parametrize("column, value, expected", [
    ("apoptotic", "-1", "whole number of cells >= 0"),
    ("apoptotic", "10.5", "whole number of cells >= 0"),
    ("apoptotic", "25000", "no larger than total"),
    ("total", "0", "acquired, > 0"),
])
def test_bad_counts_are_refused_with_their_line(write_csv, samples, column, value, expected):
    samples.loc[2, column] = value
    message = refusal(read_apoptosis, write_csv(samples))
    assert ":4:" in message and expected in message


def test_drug_control_must_exist_or_be_named(write_csv, samples):
    assert "not a drug level" in refusal(read_apoptosis, write_csv(samples),
                                         drug_control="DMSO")
    samples["drug"] = samples.drug.replace({"vehicle": "medium"})
    assert "--drug-control LEVEL" in refusal(read_apoptosis, write_csv(samples))


def test_missing_cell_of_the_two_by_two_is_refused(write_csv, samples):
    drop = (samples.treatment == "miR-379") & (samples.drug == "vehicle") & (
        samples.cell_line == "Huh7")
    message = refusal(read_apoptosis, write_csv(samples[~drop]))
    assert "no samples of cell line 'Huh7', treatment 'miR-379' with drug 'vehicle'" in message
