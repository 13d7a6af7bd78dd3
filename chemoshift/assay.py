"""What the pipeline needs to know about one assay, and the defaults every assay shares.

Each assay module (``chemoshift.dose_response``, ``chemoshift.qpcr``, ...) describes
itself with an :class:`Assay` in its ``ASSAYS``; :mod:`chemoshift.registry` names the
assays and imports a module only when its assay is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MARGIN = 1.5  # a practically relevant effect: a fold change beyond 1.5


@dataclass(frozen=True)
class Assay:
    """Everything the pipeline needs to know about one assay."""

    name: str
    read: Callable[..., Any]  # (path, **read options) -> validated data
    build: Callable[..., Any]  # (data, priors) -> pm.Model
    priors: type  # frozen dataclass of prior scales with defaults
    fit: Callable[..., Any]  # (path or frame, **read options, priors=, settings=, margin=,
    #                            title=) -> the fit object a script holds
    load: Callable[[Path], Any]  # run dir -> the same fit object, from the files alone
    describe: Callable[[Any, Any], dict]  # (data, priors) -> what run.json records about it
    save_inputs: Callable[[Any, Path], None]  # (fit object, run dir) -> validated tables written
    write_tables: Callable[..., Any]  # (run dir, posterior in memory or None) -> CSV tables
    write_report: Callable[..., Path]  # (run dir, posterior in memory or None) -> report.html
