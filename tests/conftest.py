"""Shared fixtures: small data built in code, and the real reference data beside the repo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chemoshift.data.simulate_dose_response import ScreenDesign, simulate_screen

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


@pytest.fixture(scope="session")
def study_wells() -> pd.DataFrame:
    """A simulated study-sized screen (24 curves), as a user's CSV would read: text."""
    wells, _ = simulate_screen(ScreenDesign(), seed=1)
    return wells.astype(str)


@pytest.fixture(scope="session")
def study_truth() -> dict:
    return simulate_screen(ScreenDesign(), seed=1)[1]


@pytest.fixture
def write_csv(tmp_path):
    """Write a table to a CSV file in a temporary folder and return its path."""

    def write(frame: pd.DataFrame, name: str = "wells.csv") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    return write


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference (real public data); tests that need it skip without it."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory):
    """The README's demo, run once per session: the bundled study, every assay's run
    directory, claims.csv and one report. (exit code, folder)."""
    from chemoshift.cli import main

    out = tmp_path_factory.mktemp("demo") / "run"
    code = main(["demo", "--out", str(out), "--no-progress"])
    return code, out


@pytest.fixture(scope="session")
def study_folder(demo_folder) -> Path:
    """The demo's study folder (report.html, claims.csv, diagnostics.csv, run directories)."""
    return demo_folder[1]


def pytest_terminal_summary(terminalreporter):
    """Print the hardening summary (tests/hardening): what was tried, and whether it held."""
    from hardening import summary_lines

    reports = [r for state in ("passed", "failed", "error")
               for r in terminalreporter.stats.get(state, ())]
    lines = summary_lines(reports)
    if lines:
        terminalreporter.section("hardening: bad input, crashes, faults, hostile labels")
        for line in lines:
            terminalreporter.write_line(line)
