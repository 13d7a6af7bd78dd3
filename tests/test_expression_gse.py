"""GSE family SOFT files as GEO gives them: real GSE781 (two platforms) and a small one.

GSE781 (../shared/reference/real/geo_GSE781/SOURCE.md): normal kidney vs clear-cell renal
carcinoma, 17 tissue RNAs each on HG-U133A (GPL96) and HG-U133B (GPL97); groups from
``!Sample_source_name_ch1`` (N2, N3, N4 are titled carcinoma but are normal tissue);
GDS507 is the curated U133B half. Reading one platform takes ~5 s; the fit is slow.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from chemoshift.cli import main
from chemoshift.data.errors import InputError
from chemoshift.data.geo import read_expression
from chemoshift.expression import fit_expression

NORMAL_TITLED_CARCINOMA = {"GSM12287": "N2", "GSM12301": "N3", "GSM12448": "N4"}  # U133B


@pytest.fixture(scope="module")
def gse781(reference):
    return reference / "real" / "geo_GSE781" / "GSE781_family.soft.gz"


@pytest.fixture(scope="module")
def u133b(gse781):
    return read_expression(gse781, platform="GPL97")


def test_gse781_u133b_groups_and_shape_are_those_of_source_md(u133b):
    assert u133b.fmt == "gse" and u133b.values.shape == (22645, 17)
    assert u133b.design == "unpaired" and u133b.design_reason.startswith("auto: no pairs")
    assert u133b.control == "normal tissue adjacent to Renal Cell Carcinoma"  # words shortened
    assert u133b.treated == "Renal Clear Cell Carcinoma tissue"
    roles = u133b.samples.set_index("sample").role
    assert (roles == "control").sum() == 8 and (roles == "treated").sum() == 9
    assert all(roles[s] == "control" for s in NORMAL_TITLED_CARCINOMA)  # by source, not title
    assert u133b.log_transformed  # MAS5 signal
    genes = dict(zip(u133b.probes, u133b.genes, strict=True))
    assert genes["222847_s_at"] == "EGLN3" and genes["AFFX-BioB-5_at"] == ""


def test_gse781_u133b_holds_the_values_of_gds507(u133b, reference):
    """GDS507 is GEO's curation of the same U133B arrays: the same log2 values."""
    gds = read_expression(reference / "geo" / "GDS507.soft.gz", design="unpaired")
    assert set(gds.samples["sample"]) == set(u133b.samples["sample"])
    gse_column = {s: i for i, s in enumerate(u133b.samples["sample"])}
    gse_row = {p: i for i, p in enumerate(u133b.probes)}
    rows = [gse_row[p] for p in gds.probes]
    for j, sample in enumerate(gds.samples["sample"]):
        np.testing.assert_allclose(u133b.values[rows, gse_column[sample]], gds.values[:, j],
                                   rtol=1e-6, equal_nan=True)


def test_pairs_named_in_a_sample_sheet_give_gds507s_paired_differences(gse781, reference,
                                                                        tmp_path):
    """A pairing key the file lacks (only titles pair 7 of the 17) comes from --samples."""
    gds = read_expression(reference / "geo" / "GDS507.soft.gz")
    sheet = gds.samples[["sample", "pair"]].rename(columns={"pair": "patient"})
    sheet.to_csv(tmp_path / "patients.csv", index=False)
    paired = read_expression(gse781, platform="GPL97", samples=tmp_path / "patients.csv",
                             pairs="patient")
    assert paired.design == "paired" and sorted(paired.pairs) == sorted(gds.pairs)
    order = [list(paired.pairs).index(p) for p in gds.pairs]
    row = {p: i for i, p in enumerate(paired.probes)}
    rows = [row[p] for p in gds.probes[:500]]
    np.testing.assert_allclose(paired.differences[np.ix_(rows, order)],
                               gds.differences[:500], rtol=1e-6, equal_nan=True)


def test_a_family_of_two_platforms_asks_which(gse781, tmp_path, capsys):
    with pytest.raises(InputError) as error:
        read_expression(gse781)
    message = str(error.value)
    assert str(gse781) in message and "GPL96 [HG-U133A]" in message and "GPL97" in message
    assert "--platform GPL" in message
    with pytest.raises(InputError, match="--platform GPL570: no samples of it"):
        read_expression(gse781, platform="GPL570")
    assert main(["fit", "expression", str(gse781), "--out", str(tmp_path / "run")]) == 2
    assert "--platform" in capsys.readouterr().err and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_gse781_u133a_ranks_the_published_ccrcc_genes_high(gse781):
    """Lenburg et al. 2003 (SOURCE.md): CA9, VEGFA, NDUFA4L2, EGLN3 up in tumour, proximal
    tubule genes down. Unpaired 9 vs 8 on U133A (22,283 probes; ~15 s). Measured probe
    ranks by P(top 300): NDUFA4L2 1, CA9 11, EGLN3 33, VEGFA 113 (best of 3 probes);
    UMOD and KNG1 among the 30 most down (by posterior median)."""
    fit = fit_expression(gse781, platform="GPL96")
    assert fit.diagnostics.passed and fit.data.design == "unpaired"
    de = fit.de().reset_index(drop=True)
    best_rank = de.reset_index().groupby("gene")["index"].min() + 1
    assert best_rank["NDUFA4L2"] <= 10 and best_rank["CA9"] <= 30
    assert best_rank["EGLN3"] <= 100 and best_rank["VEGFA"] <= 300
    down = set(de.sort_values("log2fc_median").gene.head(30))
    assert {"UMOD", "KNG1"} <= down


def _family(tmp_path, name="GSE2_family.soft.gz"):
    """Two platforms, three samples each; GPL2's table has no symbol column."""
    lines = ["^DATABASE = GeoMiame", "^SERIES = GSE2", "!Series_title = x"]
    for gpl, symbol in (("GPL1", "Gene Symbol"), ("GPL2", "Description")):
        lines += [f"^PLATFORM = {gpl}", f"!Platform_title = array {gpl}",
                  "!platform_table_begin", f"ID\t{symbol}", "a\tTP53 /// TP53B", "b\t---",
                  "c\tMYC", "!platform_table_end"]
    sources = ["RNA from HeLa cells, si-NC", "RNA from HeLa cells, si-IGF1R"]
    for i in range(6):
        gpl = "GPL1" if i < 3 else "GPL2"
        lines += [f"^SAMPLE = GSM{i}", f"!Sample_title = s{i}",
                  f"!Sample_source_name_ch1 = {sources[i % 2]}",
                  f"!Sample_platform_id = {gpl}", "!sample_table_begin", "ID_REF\tVALUE",
                  f"a\t{5 + i}", f"b\t{3 + i / 10}", "c\tnull", "!sample_table_end"]
    path = tmp_path / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_a_small_family_reads_one_platform_with_groups_from_source_names(tmp_path):
    path = _family(tmp_path)
    with pytest.raises(InputError, match=r"2 platforms: GPL1 array GPL1 \(3 samples\)"):
        read_expression(path)
    data = read_expression(path, platform="GPL1")
    assert list(data.samples["sample"]) == ["GSM0", "GSM2", "GSM1"]  # controls first
    assert (data.control, data.treated) == ("si-NC", "si-IGF1R")  # "RNA from ... cells," cut
    assert list(data.genes) == ["TP53", "", "MYC"] and data.design == "unpaired"
    assert np.isnan(data.values[2]).all()  # "null" cells are missing values
    other = read_expression(path, platform="GPL2")
    assert list(other.genes) == ["a", "b", "c"]  # no symbol column: probe ids stand in
    assert any("no gene-symbol column" in note for note in other.notes)
    with pytest.raises(InputError, match="--platform GPL1 for a table file"):
        read_expression(_plain(tmp_path), platform="GPL1")


def _plain(tmp_path):
    path = tmp_path / "plain.tsv"
    path.write_text("probe\ts1\ts2\ts3\na\t1\t2\t3\n")
    (tmp_path / "plain.samples.csv").write_text("sample,group\ns1,control\ns2,x\ns3,x\n")
    return path


def test_a_damaged_sample_table_names_the_file_line_and_sample(tmp_path):
    path = _family(tmp_path)
    text = gzip.decompress(path.read_bytes()).decode()
    broken = text.replace("c\tnull\n!sample_table_end\n^SAMPLE = GSM2", "c\tnull\n^SAMPLE = GSM2")
    path.write_bytes(gzip.compress(broken.encode()))
    with pytest.raises(InputError, match=r"GSE2_family.soft.gz:\d+: sample GSM1: no "
                                         "!sample_table_end line"):
        read_expression(path, platform="GPL1")
