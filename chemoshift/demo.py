"""What ``chemoshift demo`` fits: every bundled example, each into its own run directory.

The examples are simulated from stored truths (``data/example/*_truth.json``, made by the
documented scripts beside them) except the expression subset, which is real (GDS507).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

TITLE = "miR-379 / si-IGF1R chemosensitisation (bundled example)"
DOSE_RESPONSE_FILE = "dose_response.csv"
DOSE_RESPONSE_TRUTH = "dose_response_truth.json"


def demo_inputs() -> list[tuple[str, Path, dict[str, Any]]]:
    """(assay, bundled input file, read options) for every assay the demo fits, in order."""
    from chemoshift import expression, mechanism, qpcr

    example = resources.files("chemoshift.data.example")
    inputs = [("dose-response", Path(str(example / DOSE_RESPONSE_FILE)), {}),
              ("qpcr", *qpcr.demo_input())]
    inputs += [(assay, *mechanism.demo_input(assay))
               for assay in ("luciferase", "western", "apoptosis")]
    inputs.append(("expression", *expression.demo_input()))
    return inputs


def dose_response_truth() -> dict:
    """The true parameters the bundled dose-response example was simulated with."""
    import json

    example = resources.files("chemoshift.data.example")
    return json.loads((example / DOSE_RESPONSE_TRUTH).read_text(encoding="utf-8"))
