"""Reading and validating Ct files: layouts, non-detects, references, and every refusal."""

from __future__ import annotations

import pandas as pd
import pytest

from chemoshift.data.errors import InputError
from chemoshift.data.qpcr import read_qpcr
from chemoshift.data.qpcr_references import read_dilutions
from chemoshift.qpcr import demo_input

LONG = pd.DataFrame({
    "condition": ["NC"] * 4 + ["mimic"] * 4,
    "sample": ["1", "1", "2", "2"] * 2,
    "gene": ["T", "R"] * 4,
    "ct": ["30.1", "20.0", "Undetermined", "20.2", "28.0", "19.9", "45", "20.1"],
})


def problems(error: pytest.ExceptionInfo) -> str:
    return str(error.value)


def test_livak_wide_file_each_row_one_sample(reference):
    data = read_qpcr(reference / "qpcr" / "livak2001_separate_tubes.csv", references="GAPDH",
                     condition="tissue", controls={"kidney": "brain"})
    assert data.layout == "wide"
    assert len(data.reactions) == 24 and len(data.samples) == 12
    assert data.genes.set_index("gene").role.to_dict() == {"c_myc": "target",
                                                            "GAPDH": "reference"}
    assert data.comparisons == (("kidney", "brain"),)


def test_long_file_missing_and_above_limit_are_statuses_not_errors(write_csv):
    data = read_qpcr(write_csv(LONG), references="R")
    status = data.reactions.status.tolist()
    assert status[2] == "undetermined" and status[6] == "above_limit"
    assert data.reactions.ct.isna().sum() == 2
    assert data.comparisons == (("mimic", "NC"),)  # default: against the first condition
    assert any("missing Ct" in n for n in data.notes)


@pytest.mark.parametrize("cell", ["No Ct", "N/A", "NA", "", "undetermined", "-"])
def test_missing_spellings(write_csv, cell):
    frame = LONG.copy()
    frame.loc[0, "ct"] = cell
    assert read_qpcr(write_csv(frame), references="R").reactions.status.iat[0] == "undetermined"


def test_bundled_example_reads_with_its_options():
    path, options = demo_input()
    data = read_qpcr(path, **options)
    assert set(data.genes.group) == {"RNU48", "GAPDH"}
    assert data.doses == {"miR-NC": 0.0, "miR-379 40nM": 40.0, "miR-379 80nM": 80.0}
    assert (data.reactions.status != "detected").sum() == 2
    assert data.genes.set_index("gene").reference.to_dict() == {
        "miR-379": "RNU48", "RNU48": "", "IGF1R": "GAPDH", "GAPDH": ""}


def test_semicolon_file_with_decimal_commas(tmp_path):
    path = tmp_path / "cts.csv"
    path.write_text("condition;sample;gene;ct\nNC;1;T;30,1\nNC;1;R;20,0\nA;1;T;28,5\n"
                    "A;1;R;20,1\n", encoding="utf-8")
    data = read_qpcr(path, references="R")
    assert data.reactions.ct.tolist() == [30.1, 20.0, 28.5, 20.1]


@pytest.mark.parametrize(("cell", "expected"), [
    ("-3", "at least 5"), ("abc", "a Ct (cycles)"), ("2.5", "at least 5")])
def test_bad_cts_are_refused_naming_the_users_column(write_csv, cell, expected):
    frame = LONG.rename(columns={"ct": "Cq value"})
    frame.loc[3, "Cq value"] = cell
    with pytest.raises(InputError) as error:
        read_qpcr(write_csv(frame), references="R", columns={"ct": "Cq value"})
    assert f"wells.csv:5:Cq value (ct): {cell!r}" in problems(error)
    assert expected in problems(error)


def test_wide_bad_ct_names_the_gene_column(reference, tmp_path):
    frame = pd.read_csv(reference / "qpcr" / "livak2001_separate_tubes.csv")
    frame.loc[1, "c_myc"] = -1
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"wide.csv:3:c_myc \(ct\): '-1.0'"):
        read_qpcr(path, references="GAPDH", condition="tissue")


@pytest.mark.parametrize(("options", "expected"), [
    (dict(), "no reference gene"),
    (dict(references="GAPDH"), "gene 'GAPDH' is not in the file"),
    (dict(references="R", controls={"mimic": "NCX"}), "--control names 'NCX'"),
    (dict(references="R", controls={"mimic": "mimic"}), "a condition compared with another"),
    (dict(references="R", efficiency={"T": 2.5}), "fold per cycle in (1, 2.2]"),
    (dict(references="R", efficiency={"X": 1.9}), "--efficiency names 'X'"),
    (dict(references="T:R,R:T"), "both a target and a reference"),
    (dict(references="R", columns={"nonsense": "ct"}), "unknown name 'nonsense'"),
    (dict(references="R", genes=["T", "Q"]), "--genes ['Q'] not in the file"),
])
def test_refusals(write_csv, options, expected):
    with pytest.raises(InputError) as error:
        read_qpcr(write_csv(LONG), **options)
    assert expected in problems(error)


def test_per_target_reference_leaves_no_gene_unmapped(write_csv):
    frame = pd.concat([LONG, LONG.assign(gene="U")])
    with pytest.raises(InputError, match="gene 'U' has no reference"):
        read_qpcr(write_csv(frame), references="T:R")


def test_missing_condition_column_and_single_condition(write_csv):
    with pytest.raises(InputError, match="condition: column missing"):
        read_qpcr(write_csv(LONG.drop(columns="condition")), references="R")
    with pytest.raises(InputError, match="at least two conditions"):
        read_qpcr(write_csv(LONG.assign(condition="NC")), references="R")


def test_max_cycle_and_empty_condition(write_csv):
    with pytest.raises(InputError, match="cycle limit above"):
        read_qpcr(write_csv(LONG), references="R", max_cycle=3)
    frame = LONG.copy()
    frame.loc[1, "condition"] = ""
    with pytest.raises(InputError, match=":3:condition: empty"):
        read_qpcr(write_csv(frame), references="R")


def test_dose_must_be_one_number_per_condition(write_csv):
    frame = LONG.assign(dose=["0"] * 4 + ["40", "40", "80", "abc"])
    with pytest.raises(InputError) as error:
        read_qpcr(write_csv(frame), references="R", dose="dose")
    assert "which has dose 40 elsewhere" in problems(error) and "'abc'" in problems(error)


def test_dilutions(reference, tmp_path, write_csv):
    series = read_dilutions(reference / "qpcr" / "matz2013_dilutions.csv")
    assert series.genes == ["eif3h", "chrom"] and len(series.table) == 76
    bad = tmp_path / "dil.csv"
    bad.write_text("dna,gene\n1,a\n", encoding="utf-8")
    with pytest.raises(InputError, match="cq: column missing"):
        read_dilutions(bad)
    both = tmp_path / "both.csv"
    both.write_text("amount,cq,gene\n1,20,T\n0.5,21,T\n0.25,22,T\n", encoding="utf-8")
    with pytest.raises(InputError, match="both a dilution series and --efficiency"):
        read_qpcr(write_csv(LONG), references="R", efficiency={"T": 1.9}, dilutions=both)
