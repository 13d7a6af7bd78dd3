"""Expression readers: GDS SOFT (real GDS507), GSE family, series matrix, plain tables."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from chemoshift.data.errors import InputError
from chemoshift.data.geo import needs_log2, read_expression


@pytest.fixture(scope="module")
def gds507(reference):
    return read_expression(reference / "geo" / "GDS507.soft.gz")


def test_gds507_pairs_groups_and_scale_from_the_file_alone(gds507):
    assert gds507.values.shape == (22645, 14)
    assert sorted(gds507.pairs) == sorted(["001", "005", "023", "035", "2", "3", "4"])
    assert sorted(gds507.unpaired) == ["GSM12101", "GSM12106", "GSM12269"]
    assert (gds507.control, gds507.treated) == ("normal", "RCC")
    assert gds507.log_transformed and np.nanmax(gds507.values) < 20
    assert any("unpaired" in n for n in gds507.notes)
    assert gds507.genes[list(gds507.probes).index("200000_s_at")] == "PRPF8"
    assert gds507.differences.shape == (22645, 7)


def _table(tmp_path, log=True, sep="\t"):
    rng = np.random.default_rng(0)
    values = rng.normal(8, 1, (6, 4)) if log else rng.uniform(200, 9000, (6, 4))
    frame = pd.DataFrame(values, columns=["s1", "s2", "s3", "s4"])
    frame.insert(0, "probe", [f"p{i}" for i in range(6)])
    frame.insert(1, "gene", ["A", "B", "C", "D", "E", "A"])
    path = tmp_path / "table.tsv"
    frame.to_csv(path, sep=sep, index=False)
    sheet = pd.DataFrame({"sample": ["s1", "s2", "s3", "s4"], "patient": ["1", "1", "2", "2"],
                          "tissue": ["normal", "tumour", "normal", "tumour"]})
    sheet.to_csv(tmp_path / "table.samples.csv", index=False)
    return path, frame


def test_plain_table_with_sample_sheet_beside_it(tmp_path):
    path, frame = _table(tmp_path)
    data = read_expression(path, pairs="patient", group="tissue")
    assert data.fmt == "table" and not data.log_transformed
    assert list(data.genes) == ["A", "B", "C", "D", "E", "A"]
    expected = frame.s2 - frame.s1
    np.testing.assert_allclose(data.differences[:, 0], expected)


def test_counts_scale_is_log2_transformed(tmp_path):
    path, frame = _table(tmp_path, log=False)
    data = read_expression(path, pairs="patient", group="tissue", control="normal")
    assert data.log_transformed
    np.testing.assert_allclose(data.differences[:, 0], np.log2(frame.s2) - np.log2(frame.s1))
    assert needs_log2(np.array([1.0, 50, 20000])) and not needs_log2(np.array([2.0, 8, 14]))


def test_series_matrix_with_characteristics(tmp_path):
    text = "\n".join([
        '!Series_title\t"x"', '!Sample_geo_accession\t"GSM1"\t"GSM2"\t"GSM3"\t"GSM4"',
        '!Sample_characteristics_ch1\t"patient: 1"\t"patient: 1"\t"patient: 2"\t"patient: 2"',
        '!Sample_characteristics_ch1\t"tissue: normal"\t"tissue: HCC"\t"tissue: normal"\t'
        '"tissue: HCC"',
        "!series_matrix_table_begin", '"ID_REF"\t"GSM1"\t"GSM2"\t"GSM3"\t"GSM4"',
        '"a"\t5\t6\t5.5\t7', '"b"\t3\t3\t3.2\t3.1', "!series_matrix_table_end", ""])
    path = tmp_path / "GSE1_series_matrix.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    data = read_expression(path, pairs="patient", group="tissue")
    assert data.fmt == "series_matrix" and data.treated == "HCC"
    np.testing.assert_allclose(data.differences, [[1.0, 1.5], [0.0, -0.1]])


def test_gse_family_soft_with_platform_symbols(tmp_path):
    blocks = ["^SERIES = GSE1", "!Series_title = x", "^PLATFORM = GPL1",
              "!platform_table_begin", "ID\tGene Symbol", "a\tTP53 /// TP53B", "b\t---",
              "!platform_table_end"]
    for i, (patient, tissue) in enumerate([("1", "normal"), ("1", "tumor"), ("2", "normal"),
                                           ("2", "tumor")]):
        blocks += [f"^SAMPLE = GSM{i}", f"!Sample_characteristics_ch1 = patient: {patient}",
                   f"!Sample_characteristics_ch1 = tissue: {tissue}", "!sample_table_begin",
                   "ID_REF\tVALUE", f"a\t{5 + i}", f"b\t{3 + i / 10}", "!sample_table_end"]
    path = tmp_path / "GSE1_family.soft"
    path.write_text("\n".join(blocks) + "\n")
    data = read_expression(path, pairs="patient", group="tissue")
    assert data.fmt == "gse" and list(data.genes) == ["TP53", ""]
    np.testing.assert_allclose(data.differences[0], [1.0, 1.0])


@pytest.mark.parametrize("options, found", [
    (dict(group="tissue", design="paired"), "no --pairs column"),
    (dict(pairs="patient", group="nope"), "no such column"),
    (dict(pairs="patient", group="tissue", control="blood"), "not a group"),
])
def test_refusals_name_the_option(tmp_path, options, found):
    path, _ = _table(tmp_path)
    with pytest.raises(InputError, match=found):
        read_expression(path, **options)


def test_refusals_of_bad_files(tmp_path):
    path, frame = _table(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read_expression(tmp_path / "missing.tsv")
    (tmp_path / "table.samples.csv").unlink()
    with pytest.raises(InputError, match="no sample sheet"):
        read_expression(path, pairs="patient", group="tissue")
    _table(tmp_path)
    text = path.read_text().replace(str(frame.s3.iloc[2]), "abc", 1)
    path.write_text(text)
    with pytest.raises(InputError, match="'abc'; expected a number"):
        read_expression(path, pairs="patient", group="tissue")
    sheet = pd.DataFrame({"sample": ["s1", "s2", "s3", "s4"], "patient": ["1", "2", "3", "4"],
                          "tissue": ["normal", "tumour", "normal", "tumour"]})
    sheet.to_csv(tmp_path / "table.samples.csv", index=False)
    _table(tmp_path)
    sheet.to_csv(tmp_path / "table.samples.csv", index=False)
    with pytest.raises(InputError, match="0 complete pair"):
        read_expression(path, pairs="patient", group="tissue")


def test_damaged_gzip_is_refused(tmp_path):
    path = tmp_path / "x.soft.gz"
    path.write_bytes(gzip.compress(b"^DATASET = x\n" * 100)[:40])
    with pytest.raises(InputError, match="damaged gzip"):
        read_expression(path)


def _gds(tmp_path, value_type: str, log: bool):
    """A minimal GDS SOFT file: 2 pairs (individual subsets), normal vs tumour."""
    rng = np.random.default_rng(1)
    values = rng.normal(8, 1, (8, 4)) if log else rng.uniform(200, 9000, (8, 4))
    samples = ["GSM1", "GSM2", "GSM3", "GSM4"]
    lines = ["^DATASET = GDS1", f"!dataset_value_type = {value_type}"]
    for kind, description, members in (("individual", "1", "GSM1,GSM2"),
                                       ("individual", "2", "GSM3,GSM4"),
                                       ("disease state", "normal", "GSM1,GSM3"),
                                       ("disease state", "tumour", "GSM2,GSM4")):
        lines += ["^SUBSET = x", f"!subset_description = {description}",
                  f"!subset_sample_id = {members}", f"!subset_type = {kind}"]
    lines += ["!dataset_table_begin", "\t".join(["ID_REF", "IDENTIFIER", *samples])]
    lines += ["\t".join([f"p{i}", f"G{i}", *(f"{v:.3f}" for v in row)])
              for i, row in enumerate(values)]
    lines.append("!dataset_table_end")
    path = tmp_path / "GDS1.soft"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_gds_value_type_that_disagrees_with_its_values_is_read_as_the_values_show(tmp_path):
    data = read_expression(_gds(tmp_path, "count", log=True))  # says count, holds log2 values
    assert not data.log_transformed
    assert any(note.startswith("value_type says 'count' but the values are on a log scale")
               for note in data.notes)
    agreeing = read_expression(_gds(tmp_path, "count", log=False))
    assert agreeing.log_transformed and not any("value_type" in n for n in agreeing.notes)
