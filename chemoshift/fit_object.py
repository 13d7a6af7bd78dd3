"""What every assay's fit object holds and does: the run's fields, ``save``, ``report``,
and reading those fields back from a run directory.

Each assay's object (``DoseResponseFit``, ``QpcrFit``, ``LuciferaseFit``, ...) subclasses
:class:`AssayFit`, adding its own tables and what its run directory holds besides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.inference import Diagnostics, SamplerSettings

DEFAULT_MARGIN = 1.5  # a practically relevant effect: a fold change beyond 1.5


@dataclass(eq=False, repr=False)
class AssayFit:
    """A fit of one assay: the data, posterior, diagnostics, settings and run record."""

    assay: ClassVar[str] = ""

    data: Any  # the validated data; None for a fit read back from a run directory
    datatree: DataTree
    diagnostics: Diagnostics
    settings: SamplerSettings
    priors: Any  # the assay's frozen dataclass of prior scales
    margin: float = DEFAULT_MARGIN
    title: str | None = None
    record: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)
    read_options: dict = field(default_factory=dict)
    started: str = field(default_factory=files.now)
    run_dir: Path | None = None
    report_error: str | None = None

    def save(self, run_dir: str | Path) -> Path:
        """Write a complete run directory (posterior.nc, the validated inputs, run.json,
        the tables, report.html) and return its path.

        The folder must be new, empty or an earlier run directory; it is written beside
        and renamed into place whole. A report that fails does not cost the fit: the
        run is kept with a short report.html saying why (``report_error``, a warning).
        """
        from chemoshift.pipeline import save_run  # the pipeline knows every assay: import late

        return save_run(self, Path(run_dir))

    def report(self) -> Path:
        """Rewrite ``report.html`` in the run directory this fit was saved to or loaded
        from, and return its path."""
        if self.run_dir is None:
            raise ValueError("this fit has no run directory yet: call .save(run_dir), which "
                             "writes the report too")
        from chemoshift.registry import ASSAYS  # the registry names this class: import late

        return ASSAYS[self.assay].write_report(self.run_dir, self.datatree)

    @classmethod
    def saved_fields(cls, run_dir: str | Path, needed: tuple[str, ...], *, priors: type,
                     diagnostics: type = Diagnostics, what: str | None = None) -> dict:
        """The fields above, read from ``run_dir`` (no model, no sampler), as keyword
        arguments of ``cls``; ``needed``: the files besides run.json and posterior.nc.

        Raises
        ------
        InputError when a file is missing (``what`` names the run directory expected).
        """
        run_dir = Path(run_dir)
        missing = [n for n in (files.RECORD, files.POSTERIOR, *needed)
                   if not (run_dir / n).is_file()]
        if missing:
            raise InputError([Problem(str(run_dir), None, None, f"{', '.join(missing)} missing",
                                      f"a complete {what or cls.assay} run directory")])
        record = files.read_record(run_dir)
        settings = record["settings"]
        return dict(data=None, datatree=files.read_datatree(run_dir),
                    diagnostics=known_fields(diagnostics, record["diagnostics"]),
                    settings=known_fields(SamplerSettings, settings["sampler"]),
                    priors=known_fields(priors, settings["priors"]),
                    margin=settings.get("margin", DEFAULT_MARGIN), title=record.get("title"),
                    record=record, timings=record.get("timings", {}),
                    read_options=settings.get("read", {}), started=record.get("started", ""),
                    run_dir=run_dir)


def known_fields(cls: type, values: dict):
    """A dataclass from a run.json dict, ignoring fields this version does not know."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in values.items() if k in names})


def resolve_priors(kind: type, priors, what: str):
    """``priors`` as given (a ``kind``), or ``kind``'s defaults with overrides by name;
    unknown names and non-numbers are refused. ``what`` names the model in messages."""
    if priors is None:
        return kind()
    if isinstance(priors, kind):
        return priors
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors: expected {kind.__name__} or a dict of overrides by name, "
                        f"got {type(priors).__name__}")
    known = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(set(priors) - set(known))
    if unknown:
        raise ValueError(f"unknown prior(s) {unknown}; the {what} priors are {known} "
                         f"(see {kind.__name__})")
    try:  # a grid (a sequence) stays one; every other override is a number
        values = {name: tuple(value) if isinstance(value, list | tuple) else float(value)
                  for name, value in priors.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"priors: every override must be a number ({error})") from error
    return dataclasses.replace(kind(), **values)
