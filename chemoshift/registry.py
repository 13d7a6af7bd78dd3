"""Assay name -> its :class:`~chemoshift.assay.Assay`: how to read it, model it, fit it,
save it, report it and load it back.

The command line, the pipeline and the study look an assay up here and never branch on
its name; a new assay is one more entry in :data:`HOMES` and an ``ASSAYS`` dict in its
module. An assay's module is imported when the assay is first asked for, so naming the
assays costs nothing and the registry imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from pathlib import Path

from chemoshift.assay import Assay
from chemoshift.data import run_dir as files

HOMES = {  # assay -> the module whose ASSAYS describes it
    "dose-response": "chemoshift.dose_response",
    "expression": "chemoshift.expression",
    "luciferase": "chemoshift.mechanism",
    "western": "chemoshift.mechanism",
    "apoptosis": "chemoshift.mechanism",
    "qpcr": "chemoshift.qpcr",
}


class Registry(MutableMapping[str, Assay]):
    """The assays by name, each imported on first use (a test may replace one)."""

    def __init__(self, homes: dict[str, str]) -> None:
        self._homes = dict(homes)
        self._loaded: dict[str, Assay] = {}

    def __getitem__(self, name: str) -> Assay:
        if name not in self._loaded:
            if name not in self._homes:
                raise KeyError(name)
            self._loaded[name] = import_module(self._homes[name]).ASSAYS[name]
        return self._loaded[name]

    def __setitem__(self, name: str, assay: Assay) -> None:
        self._homes.setdefault(name, "")
        self._loaded[name] = assay

    def __delitem__(self, name: str) -> None:
        del self._homes[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._homes)

    def __len__(self) -> int:
        return len(self._homes)

    def __contains__(self, name: object) -> bool:
        return name in self._homes


ASSAYS = Registry(HOMES)


def assay_of_run(run_dir: Path) -> Assay:
    return ASSAYS[files.read_record(run_dir)["assay"]]
