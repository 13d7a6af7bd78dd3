"""``chemoshift fit ASSAY``: one command per assay, its help its own options alone, an
option of another assay refused by the parser naming the assay that has it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chemoshift.cli import _parser, main
from chemoshift.registry import ASSAYS

SHARED = {"--out", "--overwrite", "--title", "--draws", "--tune", "--chains", "--seed", "--sampler",
          "--target-accept", "--cores", "--progress", "--no-progress", "-h", "--help"}
OWN = {  # options no other assay has
    "dose-response": {"--unit", "--response-kind"},
    "qpcr": {"--reference", "--max-cycle", "--efficiency", "--dilutions", "--genes"},
    "luciferase": {"--construct-control", "--background", "--drop-nonpositive"},
    "western": {"--background-lane", "--loading-band"},
    "apoptosis": {"--drug-control"},
    "expression": {"--pairs", "--group", "--design", "--platform", "--top"},
}


def assay_parsers():
    return _parser().assay_parsers


def test_every_assay_has_its_command():
    assert set(assay_parsers()) == set(ASSAYS) == set(OWN)


@pytest.mark.parametrize("assay", sorted(OWN))
def test_an_assays_help_lists_its_options_and_the_shared_ones_alone(assay):
    options = set(assay_parsers()[assay]._option_string_actions)
    others = set().union(*(own for name, own in OWN.items() if name != assay))
    assert OWN[assay] <= options and SHARED <= options
    assert not options & others, f"{assay} lists {sorted(options & others)}"


def test_western_help_fits_on_one_screen(capsys):
    assert main(["fit", "western", "--help"]) == 0
    shown = capsys.readouterr().out
    # a terminal's screen: 50 lines (it prints 46)
    assert len(shown.splitlines()) <= 50 and "--background-lane" in shown
    assert "--reference" not in shown and "--unit" not in shown


@pytest.mark.parametrize("assay, option, owner", [
    ("western", "--reference", "qpcr"),
    ("qpcr", "--unit", "dose-response"),
    ("expression", "--prior", "dose-response | luciferase | western | apoptosis | qpcr"),
    ("apoptosis", "--dose", "western | qpcr"),
])
def test_an_option_of_another_assay_is_a_usage_error_naming_its_assay(capsys, tmp_path, assay,
                                                                       option, owner):
    code = main(["fit", assay, "x.csv", "--out", str(tmp_path / "run"), option, "v"])
    said = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists()
    assert f"chemoshift fit {assay}: error: {option} is an option of `chemoshift fit {owner}`" \
        in said and f"usage: chemoshift fit {assay}" in said


def test_an_abbreviated_option_is_not_taken_for_another(capsys):
    """``--sample`` (qPCR's) must not be read as ``--sampler`` by dose-response."""
    assert main(["fit", "dose-response", "x.csv", "--out", "o", "--sample", "well"]) == 2
    said = capsys.readouterr().err
    assert "--sample is an option of `chemoshift fit qpcr`, not of dose-response" in said


def test_naming_the_assays_imports_none_of_them():
    """The registry imports an assay's module when the assay is asked for."""
    code = ("import sys, chemoshift.registry as r; names = sorted(r.ASSAYS); "
            "loaded = [m for m in ('chemoshift.dose_response', 'chemoshift.qpcr', "
            "'chemoshift.mechanism', 'chemoshift.expression') if m in sys.modules]; "
            "assert names and not loaded, loaded; r.ASSAYS['qpcr']; "
            "assert 'chemoshift.qpcr' in sys.modules and 'chemoshift.mechanism' not in "
            "sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
