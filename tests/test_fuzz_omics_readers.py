"""Mutated valid files: each omics reader returns a valid typed table or raises the
package's InputError, never another exception (issue 24).

Hypothesis mutates small valid files (a qPCR export, a plain expression table and its
sample sheet, a GDS SOFT file, a STRING TSV, a GMT): lines deleted, repeated or swapped,
cells replaced by awkward tokens (empty, NaN, inf, Undetermined, negative, quotes, NUL,
non-ASCII), columns dropped, the text cut short, the delimiter changed. Derandomised and
bounded (``max_examples``) so the file runs in well under a minute on two cores; readers
only, no model is fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemoshift.data.errors import InputError
from chemoshift.data.expression_design import ExpressionData
from chemoshift.data.geo import read_expression
from chemoshift.data.kegg import read_gmt
from chemoshift.data.qpcr import QpcrData, read_qpcr
from chemoshift.data.string_client import EDGE_COLUMNS, read_network

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
TOKENS = ["", " ", "NaN", "nan", "inf", "-inf", "1e309", "-1", "0", "1e-300", "Undetermined",
          "abc", '"', '""', "'", "\x00", "é", "µ", "25,3", "1.2.3", "null", "NA", "---",
          "\t", ",", ";", "GAPDH", "normal", "N1", "999999", "3.5E+01", "#", "!", "^SAMPLE"]

QPCR = """condition,sample,technical_replicate,gene,ct
NC,NC-1,1,T,26.10
NC,NC-1,2,T,26.30
NC,NC-1,1,R,18.10
NC,NC-1,2,R,18.20
NC,NC-2,1,T,26.60
NC,NC-2,1,R,18.40
mimic,mimic-1,1,T,28.10
mimic,mimic-1,2,T,Undetermined
mimic,mimic-1,1,R,18.30
mimic,mimic-2,1,T,28.40
mimic,mimic-2,1,R,18.00
"""
TABLE = """probe\tgene\tN1\tT1\tN2\tT2\tN3\tT3
p1\tTP53\t8.1\t9.0\t7.9\t9.2\t8.0\t8.8
p2\tMYC\t6.5\t6.4\t6.6\t6.3\t6.5\t6.7
p3\tAR\t10.2\t8.1\t10.0\t8.4\t10.1\t8.0
p4\tFOS\t5.0\t5.2\t5.1\t4.9\t5.3\t5.0
"""
SHEET = "sample,patient,tissue\nN1,1,normal\nT1,1,tumour\nN2,2,normal\nT2,2,tumour\n" \
        "N3,3,normal\nT3,3,tumour\n"
GDS = """^DATASET = GDS1
!dataset_value_type = count
^SUBSET = GDS1_1
!subset_description = normal
!subset_sample_id = GSM1,GSM3
!subset_type = disease state
^SUBSET = GDS1_2
!subset_description = tumour
!subset_sample_id = GSM2,GSM4
!subset_type = disease state
^SUBSET = GDS1_3
!subset_description = 1
!subset_sample_id = GSM1,GSM2
!subset_type = individual
^SUBSET = GDS1_4
!subset_description = 2
!subset_sample_id = GSM3,GSM4
!subset_type = individual
!dataset_table_begin
ID_REF\tIDENTIFIER\tGSM1\tGSM2\tGSM3\tGSM4
a\tTP53\t250.1\t510.3\t240.7\t530.2
b\tMYC\t120.4\t118.9\t125.0\t119.3
c\tAR\t900.2\t310.8\t880.6\t300.1
!dataset_table_end
"""
STRING = """#node1\tnode2\tcombined_score
SOCS2\tCISH\t0.93
SOCS3\tCISH\t0.96
IGF1\tIGFBP3\t0.99
FOS\tCXCL8\t0.81
"""
GMT = """p53 signaling\tna\tFAS\tIGF1\tIGFBP3\tTHBS1
Prolactin signaling\tna\tSOCS2\tSOCS3\tCISH
Malaria\t\tCXCL8\tTHBS1
"""


@st.composite
def mutated(draw, text: str) -> bytes:
    """``text`` with one to four mutations, as bytes (sometimes not UTF-8)."""
    lines = text.splitlines()
    delimiter = "\t" if "\t" in text else ","
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "delete", "repeat", "swap",
                                     "column", "cut", "delimiter", "insert"]))
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "cell":
            cells = lines[i].split(delimiter)
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
            lines[i] = delimiter.join(cells)
        elif kind == "delete":
            del lines[i]
        elif kind == "repeat":
            lines.insert(i, lines[i])
        elif kind == "swap":
            k = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[k] = lines[k], lines[i]
        elif kind == "column":
            j = draw(st.integers(0, 8))
            lines = [delimiter.join(c for n, c in enumerate(line.split(delimiter)) if n != j)
                     for line in lines]
        elif kind == "cut":
            joined = "\n".join(lines)
            lines = joined[:draw(st.integers(0, len(joined)))].split("\n")
        elif kind == "delimiter":
            lines[i] = lines[i].replace(delimiter, draw(st.sampled_from([";", ",", "\t", " "])))
        else:
            lines.insert(i, draw(st.text(max_size=20)))
    raw = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()) and raw:
        raw = raw.replace(b"\xc3\xa9", b"\xe9")  # é as Windows-1252
    return raw


def _either(read, check):
    """Call ``read()``: an InputError is a refusal; anything else must pass ``check``."""
    try:
        result = read()
    except InputError as error:
        assert error.problems and all(str(p) for p in error.problems)
        return
    check(result)


def _written_then_read(raw: bytes, path, read, check) -> None:
    """Write ``raw`` to ``path``, then :func:`_either` of ``read(path)``."""
    path.write_bytes(raw)
    _either(lambda: read(path), check)


def _valid_qpcr(data: QpcrData) -> None:
    assert isinstance(data, QpcrData) and len(data.conditions) >= 2
    ct = data.reactions.ct.to_numpy(float)
    detected = data.reactions.status.to_numpy() == "detected"
    assert np.isfinite(ct[detected]).all() and np.isnan(ct[~detected]).all()
    assert (data.genes.role == "reference").any()


@given(raw=mutated(QPCR))
@FUZZ
def test_mutated_qpcr_file_is_read_or_refused(raw, tmp_path):
    _written_then_read(raw, tmp_path / "cts.csv",
                       lambda path: read_qpcr(path, references="R"), _valid_qpcr)


def _valid_expression(data: ExpressionData) -> None:
    assert isinstance(data, ExpressionData)
    assert data.values.shape == (len(data.probes), len(data.samples)) and len(data.probes) >= 2
    assert not np.isinf(data.values).any() and len(set(data.probes)) == len(data.probes)


@given(raw=mutated(TABLE), sheet=mutated(SHEET) | st.just(SHEET.encode()))
@FUZZ
def test_mutated_expression_table_is_read_or_refused(raw, sheet, tmp_path):
    path, sheet_path = tmp_path / "table.tsv", tmp_path / "sheet.csv"
    path.write_bytes(raw)
    sheet_path.write_bytes(sheet)
    _either(lambda: read_expression(path, samples=sheet_path, pairs="patient", group="tissue"),
            _valid_expression)


@given(raw=mutated(GDS))
@FUZZ
def test_mutated_gds_file_is_read_or_refused(raw, tmp_path):
    _written_then_read(raw, tmp_path / "GDS1.soft", read_expression, _valid_expression)


def _valid_edges(edges: pd.DataFrame) -> None:
    assert list(edges.columns) == EDGE_COLUMNS
    assert edges.score.between(0, 1).all() and (edges.gene_a != "").all()
    assert (edges.gene_b != "").all()


@given(raw=mutated(STRING))
@FUZZ
def test_mutated_string_network_is_read_or_refused(raw, tmp_path):
    _written_then_read(raw, tmp_path / "network.tsv",
                       lambda path: read_network(path, 0.7), _valid_edges)


def _valid_sets(sets: dict) -> None:
    assert sets and all(name and genes and all(genes) for name, genes in sets.items())


@given(raw=mutated(GMT))
@FUZZ
def test_mutated_gmt_is_read_or_refused(raw, tmp_path):
    _written_then_read(raw, tmp_path / "sets.gmt", read_gmt, _valid_sets)


@pytest.mark.parametrize("text", [QPCR, TABLE, GDS, STRING, GMT])
def test_the_unmutated_files_are_valid(text, tmp_path):
    """The fuzzers start from files every reader accepts (else they test nothing)."""
    path = tmp_path / "file"
    path.write_text(text)
    (tmp_path / "sheet.csv").write_text(SHEET)
    read = {QPCR: lambda: read_qpcr(path, references="R"),
            TABLE: lambda: read_expression(path, samples=tmp_path / "sheet.csv",
                                           pairs="patient", group="tissue"),
            GDS: lambda: read_expression(path), STRING: lambda: read_network(path, 0.7),
            GMT: lambda: read_gmt(path)}[text]
    assert read() is not None
