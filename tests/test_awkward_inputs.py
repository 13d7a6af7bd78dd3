"""Valid but awkward exports read to the same typed table as their clean twins (issue 24).

Each assay's clean file (``tests/bad_input/<assay>/clean.csv``) is rewritten as spreadsheets
and instruments write it: a UTF-8 byte-order mark, CRLF line ends, every field quoted,
extra columns, shuffled rows, scientific notation, a semicolon-separated European export
with decimal commas, tabs, UTF-16 (with and without a byte-order mark), Windows-1252,
gzip, blank lines and padded cells. The reader must return the same wells, lanes or
samples with the same numbers; only the file lines (and codes that follow first
appearance) may differ. Nothing is fitted.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chemoshift.data.apoptosis import read_apoptosis
from chemoshift.data.dose_response import read_dose_response
from chemoshift.data.luciferase import read_luciferase
from chemoshift.data.western import read_western
from chemoshift.study import load_study

CORPUS = Path(__file__).parent / "bad_input"
# assay folder -> (reader, the typed table's attribute, its numeric columns)
ASSAYS = {
    "dose_response": (read_dose_response, "wells", ("concentration", "response")),
    "luciferase": (read_luciferase, "wells", ("firefly", "renilla")),
    "western": (read_western, "lanes", ("target", "loading", "dose")),
    "apoptosis": (read_apoptosis, "samples", ("apoptotic", "total")),
}
CODES = ("source_row", "curve", "top_group", "group", "batch", "cell")  # follow file order


def _table(folder: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader((CORPUS / folder / "clean.csv").open(newline="")))
    return rows[0], rows[1:]


def _csv(header, rows, **options) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator=options.pop("lineterminator", "\n"), **options).writerows(
        [header, *rows])
    return text.getvalue()


def _numeric(header, rows, numeric, write: Callable[[str], str]):
    at = [j for j, column in enumerate(header) if column in numeric]
    return [[write(cell) if j in at else cell for j, cell in enumerate(row)] for row in rows]


def _scientific(cell: str) -> str:
    return np.format_float_scientific(float(cell), unique=True)


# twin name -> function (header, rows, numeric columns) -> the file's bytes
TWINS: dict[str, Callable] = {
    "utf8_bom": lambda h, r, n: b"\xef\xbb\xbf" + _csv(h, r).encode(),
    "crlf": lambda h, r, n: _csv(h, r, lineterminator="\r\n").encode(),
    "quoted_fields": lambda h, r, n: _csv(h, r, quoting=csv.QUOTE_ALL).encode(),
    "extra_columns": lambda h, r, n: _csv(
        ["comment", *h, "operator"], [[f"checked, plate {i}", *row, "AB"]
                                      for i, row in enumerate(r)]).encode(),
    "trailing_empty_column": lambda h, r, n: _csv([*h, ""], [[*row, ""] for row in r]).encode(),
    "shuffled_rows": lambda h, r, n: _csv(h, random.Random(3).sample(r, len(r))).encode(),
    "scientific_notation": lambda h, r, n: _csv(h, _numeric(h, r, n, _scientific)).encode(),
    "semicolons_decimal_commas": lambda h, r, n: _csv(
        h, _numeric(h, r, n, lambda c: c.replace(".", ",")), delimiter=";").encode(),
    "tabs": lambda h, r, n: _csv(h, r, delimiter="\t").encode(),
    "utf16_excel_unicode_text": lambda h, r, n: _csv(
        h, r, delimiter="\t", lineterminator="\r\n").encode("utf-16"),
    "utf16_without_bom": lambda h, r, n: _csv(h, r).encode("utf-16-le"),
    "windows_1252": lambda h, r, n: _csv(
        [*h, "unit note"], [[*row, "µM"] for row in r]).encode("cp1252"),
    "gzip": lambda h, r, n: gzip.compress(_csv(h, r).encode()),
    "blank_lines": lambda h, r, n: _csv(h, r).replace("\n", "\n\n", 3).encode() + b"\n\n",
    "padded_cells": lambda h, r, n: _csv(h, [[f" {c} " for c in row] for row in r]).encode(),
}


def _comparable(data, attribute: str) -> pd.DataFrame:
    table = getattr(data, attribute)
    table = table.drop(columns=[c for c in CODES if c in table.columns])
    return table.sort_values(list(table.columns)).reset_index(drop=True)


@pytest.mark.parametrize("twin", sorted(TWINS))
@pytest.mark.parametrize("assay", sorted(ASSAYS))
def test_awkward_twin_reads_to_the_clean_twins_table(assay, twin, tmp_path):
    read, attribute, numeric = ASSAYS[assay]
    header, rows = _table(assay)
    path = tmp_path / f"{assay}_{twin}.csv"
    path.write_bytes(TWINS[twin](header, rows, numeric))
    clean = read(CORPUS / assay / "clean.csv")
    awkward = read(path)
    pd.testing.assert_frame_equal(_comparable(awkward, attribute), _comparable(clean, attribute))
    assert awkward.controls == clean.controls


def test_a_mapped_column_whose_name_holds_a_plus_is_one_column(tmp_path):
    header, rows = _table("apoptosis")
    path = tmp_path / "pi.csv"
    path.write_text(_csv(["PI+ cells" if c == "apoptotic" else c for c in header], rows))
    mapped = read_apoptosis(path, columns={"apoptotic": "PI+ cells"})
    clean = read_apoptosis(CORPUS / "apoptosis" / "clean.csv")
    pd.testing.assert_frame_equal(mapped.samples, clean.samples)


def test_a_mapped_response_reads_as_the_clean_file():
    mapped = read_dose_response(CORPUS / "dose_response" / "viability.csv",
                                columns={"response": "viability"})
    clean = read_dose_response(CORPUS / "dose_response" / "clean.csv")
    pd.testing.assert_frame_equal(mapped.wells, clean.wells)


def test_a_study_file_with_a_byte_order_mark_is_read_as_without(tmp_path):
    text = (CORPUS / "study" / "controls_not_in_file.toml").read_text().replace(
        '"miR-NC1"', '"miR-NC"')
    for name in ("luciferase.csv",):
        (tmp_path / name).write_bytes((CORPUS / "study" / name).read_bytes())
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_study(marked).assays == load_study(plain).assays
