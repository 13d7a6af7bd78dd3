"""The bad-input corpus (tests/bad_input/): every bad file is refused with exit code 2, one
message naming its file, row and column, no traceback, and nothing written."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from chemoshift.cli import main
from chemoshift.exit_codes import EXIT_BAD_INPUT

from hardening import record

CORPUS = Path(__file__).parent / "bad_input"


def _cases() -> list:
    cases = []
    for manifest in sorted(CORPUS.glob("*/cases.toml")):
        for number, case in enumerate(tomllib.loads(manifest.read_text())["case"], 1):
            name = f"{manifest.parent.name}/{case.get('file') or case['make']}"
            cases.append(pytest.param(manifest.parent, case, id=f"{name}#{number}"))
    return cases


def _made(folder: Path, case: dict, tmp_path: Path) -> Path:
    if "file" in case:
        return folder / case["file"]
    spec = importlib.util.spec_from_file_location("bad_input_make", CORPUS / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    return getattr(make, case["make"])(tmp_path)


@pytest.mark.parametrize(("folder", "case"), _cases())
def test_bad_file_is_refused_naming_file_row_and_column(folder, case, tmp_path, capsys, request):
    record(request, "bad input", case["kind"])
    bad = _made(folder, case, tmp_path)
    out = tmp_path / "out"
    argv = [a.format(file=bad, out=out, dir=folder) for a in case["argv"]]
    code = main(argv)
    said = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, f"{case['kind']}: exit {code}\n{said}"
    assert "Traceback" not in said
    assert bad.name in said, f"{case['kind']}: the message does not name the file\n{said}"
    if "row" in case:
        assert f":{case['row']}:" in said or f"row {case['row']}" in said or (
            f"line {case['row']}" in said), f"{case['kind']}: no row {case['row']}\n{said}"
    if "column" in case:
        assert case["column"] in said, f"{case['kind']}: no column {case['column']!r}\n{said}"
    if "says" in case:
        assert case["says"] in said, f"{case['kind']}: {case['says']!r} not said\n{said}"
    assert not out.exists(), f"{case['kind']}: {out} was written"
