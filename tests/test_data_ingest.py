"""Real lab files: experiments, shared vehicle wells, notes, odd headers, wide replicates,
mixed units, unit spellings, encodings and European decimal commas (issue 7, items 6-7)."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from chemoshift.data import InputError, read_dose_response
from chemoshift.data.dose_response import validate_wells

DOSES = (1.0, 3.0, 10.0, 30.0)


def curve_rows(drug="A", treatment="NC", plate="P1", experiment=None, vehicle_drug=None,
               unit=None, scale=1.0) -> pd.DataFrame:
    """One curve: two vehicle wells and one well per dose (responses fall with dose)."""
    vehicle = drug if vehicle_drug is None else vehicle_drug
    rows = pd.DataFrame({
        "cell_line": "Huh7", "drug": [vehicle, vehicle, *[drug] * len(DOSES)],
        "treatment": treatment, "plate": plate,
        "concentration": [0.0, 0.0, *(d * scale for d in DOSES)],
        "response": [1.0, 1.02, 0.9, 0.7, 0.4, 0.2]})
    if experiment is not None:
        rows.insert(0, "experiment", experiment)
    if unit is not None:
        rows["unit"] = unit
    return rows


def problems_of(path, **options) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_dose_response(path, **options)
    return [str(p) for p in caught.value.problems]


def write_text(tmp_path, text: str, name="wells.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- 1. experiment ---

def test_without_an_experiment_column_every_well_is_experiment_one(study_wells, write_csv):
    data = read_dose_response(write_csv(study_wells))
    assert set(data.wells.experiment) == {"1"} and not data.has_experiments
    assert data.coords["experiment"] == ["1"]
    assert list(data.top_groups.columns) == ["experiment", "plate", "cell_line", "treatment"]
    assert data.coords["top_group"][0].startswith("1 | P01 | ")


def test_experiments_are_coords_and_split_the_top_groups(write_csv):
    frame = pd.concat([curve_rows(experiment="E2"), curve_rows(experiment="E1")],
                      ignore_index=True)  # same plate name in both: plates nest in experiments
    data = read_dose_response(write_csv(frame))
    assert data.has_experiments and data.coords["experiment"] == ["E2", "E1"]  # file order
    assert data.top_groups.experiment.tolist() == ["E2", "E1"]
    assert data.wells.top_group.tolist() == [0] * 6 + [1] * 6
    assert len(data.curves) == 1  # a curve pools its experiments


def test_a_well_repeated_in_another_experiment_is_not_a_duplicate(write_csv):
    frame = pd.concat([curve_rows(experiment="E1"), curve_rows(experiment="E2")],
                      ignore_index=True)
    frame["well"] = [f"A{i}" for i in range(6)] * 2
    assert len(read_dose_response(write_csv(frame)).wells) == 12
    frame.loc[11, "experiment"] = "E1"
    messages = problems_of(write_csv(frame, "dup.csv"))
    assert messages == [f"{write_csv(frame, 'dup.csv')}:13:well: duplicated well (experiment=E1, "
                        "plate=P1, well=A5), first seen on line 7; expected each well once"]


# --- 2. shared vehicle wells ---

@pytest.mark.parametrize("label", ["DMSO", "", "Vehicle", "medium", "none", "CONTROL"])
def test_shared_vehicle_wells_are_kept_with_curve_minus_one(write_csv, label):
    frame = pd.concat([curve_rows("A", vehicle_drug=label), curve_rows("B").iloc[2:]],
                      ignore_index=True)  # drug B has no vehicle wells of its own
    data = read_dose_response(write_csv(frame))
    shared = data.wells[data.wells.well_type == "vehicle"]
    assert len(shared) == 2 and (shared.drug == "").all() and (shared.curve == -1).all()
    assert set(data.wells.top_group) == {0}  # one top per plate x cell line x treatment
    assert data.coords["drug"] == ["A", "B"]
    assert any("2 vehicle well(s) naming no drug" in n and "shared controls" in n
               for n in data.notes), data.notes


def test_shared_vehicle_wells_of_an_arm_without_curves_are_dropped_with_a_note(write_csv):
    frame = pd.concat([curve_rows("A"), curve_rows("A", treatment="mock").iloc[:2]],
                      ignore_index=True)
    frame.loc[6:7, "drug"] = "DMSO"
    data = read_dose_response(write_csv(frame))
    assert len(data.wells) == 6 and (data.wells.curve == 0).all()
    assert any("2 vehicle well(s) naming no drug were not used" in n and "treatment=mock" in n
               for n in data.notes), data.notes


def test_vehicle_wells_naming_their_drug_keep_their_curve_beside_shared_ones(write_csv):
    frame = pd.concat([curve_rows("A"), curve_rows("B", vehicle_drug="DMSO")], ignore_index=True)
    vehicle = read_dose_response(write_csv(frame)).wells.query("well_type == 'vehicle'")
    assert vehicle.drug.tolist() == ["A", "A", "", ""]
    assert vehicle.curve.tolist() == [0, 0, -1, -1]


# --- 3. notes and unknown columns ---

def test_plates_without_blanks_are_named_in_the_notes(study_wells, write_csv):
    frame = study_wells[~((study_wells.well_type == "blank")
                          & study_wells.plate.isin(["P03", "P04"]))]
    data = read_dose_response(write_csv(frame))
    assert ("plates P03, P04 have no blank (medium-only) wells: their readings are used as they "
            "are") in data.notes
    assert not any("blank" in n for n in read_dose_response(write_csv(study_wells, "all.csv"))
                   .notes)


def test_missing_blanks_are_noted_only_for_absorbance(write_csv):
    path = write_csv(curve_rows())
    assert any("no blank" in n for n in read_dose_response(path).notes)
    assert not any("no blank" in n for n in read_dose_response(
        path, response_kind="percent_viability").notes)


def test_unknown_columns_are_listed_by_the_users_names(write_csv):
    frame = curve_rows().rename(columns={"concentration": "conc"})
    frame["comment"] = "ok"
    frame["OD_raw"] = 1.0
    data = read_dose_response(write_csv(frame), columns={"concentration": "conc"})
    assert data.unknown_columns == ("comment", "OD_raw")
    assert any("'comment', 'OD_raw'" in n and "not used" in n for n in data.notes)


# --- 4. duplicated header ---

def test_a_column_named_twice_is_refused_with_both_positions(tmp_path):
    text = "drug,concentration,response,plate,x,y,response\nA,0,1,P1,,,1.1\n"
    path = write_text(tmp_path, text)
    assert problems_of(path) == [f"{path}:1:response: column named twice (columns 3 and 7); "
                                 "expected each column once"]


# --- 5. wide replicate columns ---

WIDE = pd.DataFrame({"concentration": [0, 1, 3, 10], "rep1": [1.0, 0.9, 0.5, 0.2],
                     "rep2": [1.1, 0.8, "", 0.1], "rep3": [0.9, 0.85, 0.45, 0.15]})


@pytest.mark.parametrize("spelling", [["rep1", "rep2", "rep3"], ("rep1", "rep2", "rep3"),
                                      "rep1+rep2+rep3", "rep1,rep2,rep3", " rep1 + rep2+rep3 "])
def test_wide_replicate_columns_melt_into_one_well_per_cell(write_csv, spelling):
    data = read_dose_response(write_csv(WIDE), columns={"response": spelling})
    assert len(data.wells) == 11  # 12 cells, one empty: a missing well, not an error
    assert data.wells.replicate.tolist()[:6] == ["rep1", "rep2", "rep3", "rep1", "rep2", "rep3"]
    assert data.wells.source_row.tolist()[:4] == [2, 2, 2, 3]
    assert any("rep1, rep2, rep3 melted" in n and "1 empty cell" in n for n in data.notes)


def test_a_bad_replicate_cell_is_named_by_its_column(write_csv):
    frame = WIDE.copy()
    frame.loc[1, "rep2"] = "abc"
    path = write_csv(frame)
    assert problems_of(path, columns={"response": "rep1+rep2+rep3"}) == [
        f"{path}:3:rep2 (response): 'abc'; expected a finite number"]


@pytest.mark.parametrize("names", [("OD1", "OD2", "OD3"), ("R1", "R2", "R3"),
                                   ("replicate_1", "replicate_2", "replicate_3")])
def test_replicate_columns_without_a_response_column_are_refused_with_the_fix(write_csv, names):
    frame = WIDE.rename(columns=dict(zip(["rep1", "rep2", "rep3"], names, strict=True)))
    messages = problems_of(write_csv(frame))
    assert len(messages) == 1
    assert f"replicate-like columns {', '.join(map(repr, names))}" in messages[0]
    assert f"--columns response={'+'.join(names)}" in messages[0]


# --- 6. mixed units between drugs ---

def test_drugs_may_use_different_unit_families(write_csv):
    frame = pd.concat([curve_rows("A", unit="nM", scale=1000), curve_rows("B", unit="ng/mL")],
                      ignore_index=True)
    data = read_dose_response(write_csv(frame))
    assert data.unit == "mixed"
    assert data.curves.unit.tolist() == ["uM", "ug/mL"]
    assert data.curves.max_concentration.tolist() == pytest.approx([30.0, 0.03])
    assert data.wells.unit.tolist() == ["uM"] * 6 + ["ug/mL"] * 6


def test_one_drug_mixing_molar_and_mass_units_is_refused(write_csv):
    frame = pd.concat([curve_rows("A", unit="uM"), curve_rows("B", unit="ng/mL")],
                      ignore_index=True)
    frame.loc[4, "unit"] = "ug/mL"
    path = write_csv(frame)
    assert problems_of(path) == [
        f"{path}:6:unit: 'ug/mL' while earlier rows use 'uM' (drug 'A'); expected one unit per "
        "drug, or units convertible into each other (pM, nM, uM, mM, M; or pg/mL, ng/mL, "
        "ug/mL, mg/mL)"]


# --- 7. unit spellings and encodings ---

@pytest.mark.parametrize(("spelling", "unit", "factor"), [
    ("umol/L", "uM", 1.0), ("\u00b5mol/L", "uM", 1.0), ("\u03bcmol/l", "uM", 1.0),
    ("nmol/L", "uM", 1e-3), ("mmol/L", "uM", 1e3), ("mol/L", "uM", 1e6),
    ("\u03bcmol/L", "uM", 1.0), ("pmol/l", "uM", 1e-6), ("ug/L", "ug/mL", 1e-3),
    ("mcg/mL", "ug/mL", 1.0), ("ng/dL", "ug/mL", 1e-5)])  # uM, µM, ng/mL, mg/L: already read
def test_unit_spellings_are_converted(write_csv, spelling, unit, factor):
    data = read_dose_response(write_csv(curve_rows(unit=spelling)))
    assert data.unit == unit
    assert data.curves.max_concentration.iloc[0] == pytest.approx(30.0 * factor, rel=1e-9)


def test_a_windows_1252_file_with_a_micro_sign_is_read_and_noted(tmp_path):
    text = curve_rows(unit="\u00b5M").to_csv(index=False)
    data = read_dose_response(write_text(tmp_path, text, encoding="cp1252"))
    assert data.unit == "uM" and len(data.wells) == 6
    assert any("not UTF-8" in n and "Windows-1252" in n for n in data.notes), data.notes


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    text = curve_rows(unit="\u00b5M").to_csv(index=False)
    data = read_dose_response(write_text(tmp_path, text, encoding="utf-8-sig"))
    assert data.keys_present == ("cell_line", "drug", "treatment") and data.unit == "uM"
    assert data.unknown_columns == ()


@pytest.mark.parametrize("garbled", ["\u00c2\u00b5M", "\ufffdM", "\u00ce\u00bcM"])
def test_a_micro_sign_garbled_by_a_wrong_encoding_is_refused(write_csv, garbled):
    messages = problems_of(write_csv(curve_rows(unit=garbled)))
    assert len(messages) == 6 and "garbled by a wrong text encoding" in messages[0]
    assert ":2:unit:" in messages[0]


# --- 8. semicolons and decimal commas ---

def test_a_semicolon_file_with_decimal_commas_is_read_and_noted(tmp_path):
    text = "concentration;response\n0;1,25\n0,5;1,1\n1,5;0,6\n5;0,2\n"
    data = read_dose_response(write_text(tmp_path, text))
    assert data.curves.min_concentration.iloc[0] == pytest.approx(0.5)
    np.testing.assert_allclose(data.wells.response.to_numpy(), [1.25, 1.1, 0.6, 0.2])
    assert any("semicolons" in n for n in data.notes)
    assert any("decimal commas" in n and "'1,25' on line 2" in n for n in data.notes)


def test_a_tab_file_is_read(tmp_path):
    data = read_dose_response(write_text(tmp_path, "concentration\tresponse\n0\t1\n1\t0.8\n"
                                         "3\t0.5\n10\t0.1\n"))
    assert len(data.wells) == 4 and any("tabs" in n for n in data.notes)


def test_mixed_decimal_marks_are_refused_saying_what_was_detected(tmp_path):
    text = "concentration;response\n0;1,25\n0,5;1.100\n1,5;0,6\n5;0,2\n"
    path = write_text(tmp_path, text)
    assert problems_of(path) == [
        f"{path}:3:response: '1.100' in a semicolon-separated file with decimal commas (e.g. "
        "'1,25' on line 2): the decimal mark is ambiguous; expected one decimal mark "
        "throughout: 0,5 everywhere (or 0.5 everywhere)"]


def test_decimal_commas_in_a_comma_file_are_refused_by_field_count(tmp_path):
    path = write_text(tmp_path, "concentration,response\n0,1,25\n1,0,6\n")
    messages = problems_of(path)
    assert messages[0].startswith(f"{path}:2: 3 fields where the header has 2 (decimal commas")
    assert len(messages) == 2


def test_an_excel_workbook_is_refused_naming_it(tmp_path):
    path = tmp_path / "wells.csv"  # an .xlsx renamed: a ZIP of xl/ parts
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    assert problems_of(path) == [f"{path}: an Excel workbook (.xlsx); expected a CSV file: open "
                                 "it in Excel and save the table as CSV"]


# --- 9. messages name the user's column ---

def test_messages_name_the_users_column_with_ours_in_brackets(write_csv):
    frame = curve_rows().rename(columns={"concentration": "conc"}).astype({"conc": str})
    frame.loc[5, "conc"] = "abc"
    path = write_csv(frame)
    assert problems_of(path, columns={"concentration": "conc"}) == [
        f"{path}:7:conc (concentration): 'abc'; expected a finite number >= 0 "
        "(0 for vehicle wells)"]


def test_a_comparison_from_one_experiment_is_noted(tmp_path):
    frame = pd.concat([curve_rows("A"), curve_rows("A", treatment="mock")], ignore_index=True)
    frame["control"] = np.where(frame.treatment == "mock", "NC", "")  # mock vs NC
    data = validate_wells(frame.astype(str), "wells.csv")
    assert any(note.startswith("one experiment: the data cannot tell how far experiments "
                               "disagree") for note in data.notes)
    repeated = pd.concat([frame.assign(experiment="E1"), frame.assign(experiment="E2")],
                         ignore_index=True)
    data = validate_wells(repeated.astype(str), "wells.csv")
    assert not any(note.startswith("one experiment") for note in data.notes)
