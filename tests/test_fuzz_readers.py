"""Property: a mutated valid table is either read into a valid typed table or refused with
the package's InputError, never another exception (issue 24).

Hypothesis starts from each assay's clean file (``tests/bad_input/<assay>/clean.csv``)
and mutates it as hands and instruments do: drops columns and rows, retypes, blanks and
duplicates cells and rows, shuffles cells, renames headers, then writes it as a comma,
semicolon or tab file, quoted or not, in UTF-8, UTF-16 or Windows-1252. Bounded and
derandomised, so CI sees the same examples every run.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemoshift.data.apoptosis import read_apoptosis
from chemoshift.data.dose_response import read_dose_response, validate_wells
from chemoshift.data.errors import InputError
from chemoshift.data.luciferase import read_luciferase
from chemoshift.data.western import read_western

CORPUS = Path(__file__).parent / "bad_input"
READERS = {"dose_response": (read_dose_response, "wells", ("concentration", "response")),
           "luciferase": (read_luciferase, "wells", ("firefly", "renilla")),
           "western": (read_western, "lanes", ("target", "loading")),
           "apoptosis": (read_apoptosis, "samples", ("apoptotic", "total"))}
# cells a spreadsheet or an instrument writes where a value should be
ODD_CELLS = ("", " ", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "-0", "1,5", "1.5.2",
             "Undetermined", "OVRFLW", "#DIV/0!", "n.d.", "N/A", "−1", "１２", "1_000",
             "0x1A", "µM", '"', "'", ";", "\t", "TRUE", "2.5e-3", "1e5", "99999999999999999999",
             "miR-NC", "vehicle", "E1", "a" * 300)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _clean(assay: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader((CORPUS / assay / "clean.csv").open(newline="")))
    return rows[0], rows[1:]


@st.composite
def mutated(draw, assay: str) -> bytes:
    """A clean file mutated a few times, written in a drawn dialect and encoding."""
    header, rows = _clean(assay)
    header, rows = list(header), [list(r) for r in rows]
    cell = st.one_of(st.sampled_from(ODD_CELLS), st.text(max_size=12))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("drop_column", "drop_rows", "retype", "blank",
                                     "duplicate_row", "shuffle_row", "shuffle_column",
                                     "rename", "retype_column")))
        width, depth = len(header), len(rows)
        if kind == "drop_column" and width > 1:
            j = draw(st.integers(0, width - 1))
            header.pop(j)
            for row in rows:
                row.pop(j)
        elif kind == "drop_rows" and depth:
            start = draw(st.integers(0, depth - 1))
            del rows[start:start + draw(st.integers(1, depth))]
        elif kind in ("retype", "blank") and depth:
            i, j = draw(st.integers(0, depth - 1)), draw(st.integers(0, width - 1))
            rows[i][j] = draw(cell) if kind == "retype" else ""
        elif kind == "retype_column" and depth:
            j, value = draw(st.integers(0, width - 1)), draw(cell)
            for row in rows:
                row[j] = value
        elif kind == "duplicate_row" and depth:
            rows.insert(draw(st.integers(0, depth)), list(rows[draw(st.integers(0, depth - 1))]))
        elif kind == "shuffle_row" and depth:
            i = draw(st.integers(0, depth - 1))
            rows[i] = draw(st.permutations(rows[i]))
        elif kind == "shuffle_column" and depth:
            j = draw(st.integers(0, width - 1))
            for row, value in zip(rows, draw(st.permutations([r[j] for r in rows])),
                                  strict=True):
                row[j] = value
        elif kind == "rename":
            header[draw(st.integers(0, width - 1))] = draw(
                st.one_of(st.sampled_from(["", *header, "Concentration", "PI+ cells"]),
                          st.text(max_size=8)))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, quoting=quoting, lineterminator="\n").writerows(
        [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    raw = text.getvalue().encode(encoding, errors="replace")
    if draw(st.booleans()):  # cut off part way (a copy interrupted, mid-character)
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


@st.composite
def mapping(draw, assay: str) -> dict[str, str] | None:
    """``columns=``: some of the package's names mapped to the file's, or to names it lacks."""
    header, _ = _clean(assay)
    if draw(st.booleans()):
        return None
    ours = draw(st.lists(st.sampled_from(header), max_size=3, unique=True))
    theirs = st.one_of(st.sampled_from([*header, "PI+ cells", "rep1+rep2", "a,b", ""]),
                       st.text(max_size=6))
    return {name: draw(theirs) for name in ours}


def _valid(data, attribute: str, numeric: tuple[str, ...]) -> None:
    """What a typed table promises: rows, and finite numbers in its numeric columns."""
    table = getattr(data, attribute)
    assert len(table) > 0
    for column in numeric:
        assert np.isfinite(table[column].to_numpy(dtype=float)).all(), column


@pytest.mark.parametrize("assay", sorted(READERS))
def test_a_mutated_table_is_read_or_refused_with_an_input_error(assay, tmp_path):
    read, attribute, numeric = READERS[assay]

    @SETTINGS
    @given(raw=mutated(assay), columns=mapping(assay))
    def check(raw: bytes, columns: dict[str, str] | None) -> None:
        path = tmp_path / "mutated.csv"
        path.write_bytes(raw)
        try:
            data = read(path, columns=columns)
        except InputError as error:
            assert error.problems, "an InputError names at least one problem"
            return
        _valid(data, attribute, numeric)

    check()


@pytest.mark.parametrize("assay", sorted(READERS))
def test_a_mutated_frame_is_read_or_refused_with_an_input_error(assay):
    read, attribute, numeric = READERS[assay]
    if assay == "dose_response":
        read = validate_wells  # its frame reader

    @SETTINGS
    @given(raw=mutated(assay))
    def check(raw: bytes) -> None:
        try:
            frame = pd.read_csv(io.BytesIO(raw), sep=None, engine="python", dtype=str)
        except Exception:  # pandas makes no frame of it: nothing to give the reader
            return
        try:
            data = read(frame)
        except InputError as error:
            assert error.problems
            return
        _valid(data, attribute, numeric)

    check()
