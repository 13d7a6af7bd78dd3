"""What ``chemoshift demo`` checks its bundled study against.

``chemoshift demo`` runs the bundled study (``data/example/study.toml``, see
:func:`chemoshift.study.bundled_study`). Its assay files are simulated from stored truths
(``data/example/*_truth.json``, made by the documented scripts beside them) except the
expression subset, which is real (GDS507).
"""

from __future__ import annotations

from importlib import resources

DOSE_RESPONSE_TRUTH = "dose_response_truth.json"


def dose_response_truth() -> dict:
    """The true parameters the bundled dose-response example was simulated with."""
    import json

    example = resources.files("chemoshift.data.example")
    return json.loads((example / DOSE_RESPONSE_TRUTH).read_text(encoding="utf-8"))
