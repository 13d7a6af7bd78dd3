"""Valid but awkward files read to the same numbers as their clean twins (issue 24): a
UTF-8 byte-order mark, CRLF line ends, quoted fields, extra columns, shuffled rows and
scientific notation, for the qPCR, expression (plain table, GDS SOFT), STRING TSV and GMT
readers. Reader level only: no model is fitted."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chemoshift.data.geo import read_expression
from chemoshift.data.kegg import read_gmt
from chemoshift.data.qpcr import read_qpcr
from chemoshift.data.string_client import read_network

EXAMPLE = Path(str(resources.files("chemoshift.data.example")))
QPCR_OPTIONS = dict(references="miR-379:RNU48,IGF1R:GAPDH", dose="dose_nM",
                    controls={"miR-379 40nM": "miR-NC", "miR-379 80nM": "miR-NC",
                              "si-IGF1R": "si-NC"})


def _rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _text(rows: list[list[str]], delimiter: str = ",", quote: bool = False) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n",
               quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue()


def _shuffled(rows: list[list[str]], seed: int = 24) -> list[list[str]]:
    order = np.random.default_rng(seed).permutation(len(rows) - 1) + 1
    return [rows[0], *(rows[i] for i in order)]


def _scientific(rows: list[list[str]], column: int) -> list[list[str]]:
    """Every number of ``column`` written as 3.288E+01 (text cells kept)."""
    def written(cell: str) -> str:
        try:
            return f"{float(cell):.6E}"
        except ValueError:
            return cell
    return [rows[0], *([*r[:column], written(r[column]), *r[column + 1:]] for r in rows[1:])]


def _extra(rows: list[list[str]], at: int = 1) -> list[list[str]]:
    """A free-text column inserted at ``at`` (an instrument's comment column)."""
    return [[*r[:at], "Comment" if i == 0 else f"run {i}, operator A", *r[at:]]
            for i, r in enumerate(rows)]


AWKWARD = {  # name -> (rows, delimiter) -> bytes
    "utf-8 byte-order mark": lambda rows, d: b"\xef\xbb\xbf" + _text(rows, d).encode(),
    "CRLF line ends": lambda rows, d: _text(rows, d).replace("\n", "\r\n").encode(),
    "quoted fields": lambda rows, d: _text(rows, d, quote=True).encode(),
    "extra column": lambda rows, d: _text(_extra(rows), d).encode(),
    "shuffled rows": lambda rows, d: _text(_shuffled(rows), d).encode(),
}


def _reactions(data) -> pd.DataFrame:
    """The qPCR reactions as a set: order, lines and the file's own order left out."""
    keep = ["condition", "sample", "gene", "ct", "status"]
    return data.reactions[keep].sort_values(keep).reset_index(drop=True)


@pytest.mark.parametrize("awkward", [*AWKWARD, "scientific notation"])
def test_qpcr_awkward_twin_reads_the_same_cts(awkward, tmp_path):
    rows = _rows((EXAMPLE / "qpcr.csv").read_text())
    twin = tmp_path / "qpcr.csv"
    twin.write_bytes(_text(_scientific(rows, 4)).encode() if awkward == "scientific notation"
                     else AWKWARD[awkward](rows, ","))
    clean, read = read_qpcr(EXAMPLE / "qpcr.csv", **QPCR_OPTIONS), read_qpcr(twin, **QPCR_OPTIONS)
    pd.testing.assert_frame_equal(_reactions(read), _reactions(clean))  # exactly: same text
    assert read.doses == clean.doses and read.comparisons == clean.comparisons


def _plain_table(tmp_path: Path) -> tuple[list[list[str]], Path]:
    rng = np.random.default_rng(3)
    samples = ["N1", "T1", "N2", "T2", "N3", "T3"]
    rows = [["probe", "gene", *samples]]
    for i in range(20):
        rows.append([f"{1000 + i}_at", f"GENE{i}", *(f"{v:.4f}" for v in rng.normal(8, 1, 6))])
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("sample,patient,tissue\n" + "".join(
        f"{s},{s[1]},{'normal' if s[0] == 'N' else 'tumour'}\n" for s in samples))
    return rows, sheet


def _by_probe(data) -> pd.DataFrame:
    frame = pd.DataFrame(data.values, index=data.probes,
                         columns=list(data.samples["sample"])).sort_index()
    return frame.assign(gene=pd.Series(data.genes, index=data.probes))


@pytest.mark.parametrize("delimiter", ["\t", ","])
@pytest.mark.parametrize("awkward", [*AWKWARD, "scientific notation"])
def test_plain_expression_awkward_twin_reads_the_same_values(awkward, delimiter, tmp_path):
    rows, sheet = _plain_table(tmp_path)
    clean, twin = tmp_path / "clean.txt", tmp_path / "twin.txt"
    clean.write_text(_text(rows, delimiter))
    if awkward == "scientific notation":
        twin.write_text(_text([rows[0], *([*r[:2], *(f"{float(c):.6E}" for c in r[2:])]
                                         for r in rows[1:])], delimiter))
    else:
        twin.write_bytes(AWKWARD[awkward](rows, delimiter))
    options = dict(samples=sheet, pairs="patient", group="tissue")
    expected, read = read_expression(clean, **options), read_expression(twin, **options)
    pd.testing.assert_frame_equal(_by_probe(read), _by_probe(expected), rtol=1e-12)
    assert (read.control, read.treated, read.pairs) == (expected.control, expected.treated,
                                                       expected.pairs)


def _gds_text() -> str:
    return gzip.decompress((EXAMPLE / "expression_subset.soft.gz").read_bytes()).decode()


@pytest.mark.parametrize("awkward", ["utf-8 byte-order mark", "CRLF line ends", "shuffled rows",
                                     "uncompressed", "scientific notation"])
def test_gds_awkward_twin_reads_the_same_values(awkward, tmp_path):
    text = _gds_text()
    head, _, rest = text.partition("!dataset_table_begin\n")
    header, *body = rest.split("\n")
    end = body.index("!dataset_table_end")
    table, tail = body[:end], body[end:]
    if awkward == "shuffled rows":
        table = [table[i] for i in np.random.default_rng(5).permutation(len(table))]
    if awkward == "scientific notation":
        table = ["\t".join(cells[:2] + [f"{float(c):.8E}" if c not in ("", "null") else c
                                        for c in cells[2:]])
                 for cells in (row.split("\t") for row in table)]
    twin = head + "!dataset_table_begin\n" + "\n".join([header, *table, *tail])
    raw = twin.encode()
    if awkward == "utf-8 byte-order mark":
        raw = b"\xef\xbb\xbf" + raw
    elif awkward == "CRLF line ends":
        raw = twin.replace("\n", "\r\n").encode()
    path = tmp_path / ("twin.soft" if awkward == "uncompressed" else "twin.soft.gz")
    path.write_bytes(raw if awkward == "uncompressed" else gzip.compress(raw))
    expected, read = read_expression(EXAMPLE / "expression_subset.soft.gz"), read_expression(path)
    pd.testing.assert_frame_equal(_by_probe(read), _by_probe(expected), rtol=1e-7)
    assert read.pairs == expected.pairs and read.notes == expected.notes


@pytest.mark.parametrize("awkward", [*AWKWARD, "scientific notation"])
def test_string_awkward_twin_reads_the_same_edges(awkward, tmp_path):
    rows = _rows((EXAMPLE / "string_network_dlbcl.tsv").read_text(), "\t")
    twin = tmp_path / "network.tsv"
    if awkward == "scientific notation":
        twin.write_text(_text(_scientific(rows, len(rows[0]) - 1), "\t"))
    elif awkward == "extra column":  # a column after the node names, as a user adds a note
        twin.write_bytes(_text([[*r, "note" if i == 0 else "checked"]
                                for i, r in enumerate(rows)], "\t").encode())
    else:
        twin.write_bytes(AWKWARD[awkward](rows, "\t"))
    expected = read_network(EXAMPLE / "string_network_dlbcl.tsv", 0.4)
    pd.testing.assert_frame_equal(read_network(twin, 0.4), expected)


@pytest.mark.parametrize("awkward", ["utf-8 byte-order mark", "CRLF line ends", "shuffled rows",
                                     "gzipped", "trailing tabs"])
def test_gmt_awkward_twin_reads_the_same_sets(awkward, tmp_path):
    text = (EXAMPLE / "KEGG_2016_Human.gmt").read_text()
    lines = text.splitlines()
    raw = {
        "utf-8 byte-order mark": lambda: b"\xef\xbb\xbf" + text.encode(),
        "CRLF line ends": lambda: text.replace("\n", "\r\n").encode(),
        "shuffled rows": lambda: "\n".join(lines[i] for i in np.random.default_rng(1)
                                          .permutation(len(lines))).encode(),
        "gzipped": lambda: gzip.compress(text.encode()),
        "trailing tabs": lambda: "\n".join(line + "\t\t" for line in lines).encode(),
    }[awkward]()
    twin = tmp_path / "sets.gmt"
    twin.write_bytes(raw)
    expected = read_gmt(EXAMPLE / "KEGG_2016_Human.gmt")
    assert read_gmt(twin) == expected


def test_a_qpcr_row_exported_twice_is_counted_once_and_said(tmp_path):
    """Decided for issue 24: the same well with every cell equal is one reaction exported
    twice (counted once, noted with both lines); with a different Ct it is refused."""
    rows = _rows((EXAMPLE / "qpcr.csv").read_text())
    twin = tmp_path / "qpcr.csv"
    twin.write_text(_text([*rows[:3], rows[2], *rows[3:]]))  # line 3 again as line 4
    clean, read = read_qpcr(EXAMPLE / "qpcr.csv", **QPCR_OPTIONS), read_qpcr(twin, **QPCR_OPTIONS)
    pd.testing.assert_frame_equal(_reactions(read), _reactions(clean))
    assert any("exported twice" in note and "line 4" in note for note in read.notes)


def test_a_sample_without_a_detected_reference_is_noted(tmp_path):
    rows = _rows((EXAMPLE / "qpcr.csv").read_text())
    lost = [[*r[:4], "Undetermined", *r[5:]] if r[1] == "miR-NC-1" and r[3] == "RNU48" else r
            for r in rows]
    twin = tmp_path / "qpcr.csv"
    twin.write_text(_text(lost))
    notes = read_qpcr(twin, **QPCR_OPTIONS).notes
    assert any("no detected Ct of RNU48 (miR-NC-1)" in note for note in notes)
