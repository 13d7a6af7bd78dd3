"""One assay's run directory as the claims read it: its tables and posterior, loaded once.

:class:`Run` turns a missing run, table, column or posterior into :class:`NotEvaluable`
(its message says why, with the run's absolute path cut to its folder name), which the
claims module writes as ``not evaluable: <why>``; :func:`one_row` picks the single table
row a claim names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from xarray import DataTree

from chemoshift.data import run_dir as files


class NotEvaluable(Exception):
    """A claim the run's files cannot answer; the message says why."""


@dataclass
class Run:
    """One assay's run directory, read lazily; tables and posterior cached per call."""

    assay: str
    path: Path | None
    converged: bool | None = None
    population_converged: bool = False  # only some units (curves) failed, if converged fails
    min_ess: float = np.nan  # the fit's smallest bulk ESS (run.json), for a claim's MCSE
    experiments: int | None = None  # independent experiments the fit saw (None: not recorded)
    cache: dict = field(default_factory=dict)

    @classmethod
    def open(cls, assay: str, path: Path | None) -> Run:
        run = cls(assay, None if path is None else Path(path))
        try:
            record = files.read_record(run.path)
            diagnostics = record["diagnostics"]
            run.converged = bool(diagnostics["passed"])
            run.population_converged = bool(diagnostics.get("population_passed",
                                                            run.converged))
            run.min_ess = number(diagnostics.get("min_ess_bulk"))
            data = record.get("data") or {}
            if "experiments" in data:
                run.experiments = max(len(data["experiments"]), 1)
        except (OSError, TypeError, KeyError, ValueError):
            run.converged = None  # no run, or a run.json without diagnostics: unknown
        return run

    def scrub(self, error: Exception) -> str:
        """An error's message with the run's absolute path cut to its folder name (claims.csv
        must read the same on every machine)."""
        text = str(error)
        if self.path is not None:
            for where in sorted({str(self.path.resolve()), str(self.path)}, key=len,
                                reverse=True):
                text = text.replace(where, self.path.name)
        return text

    def folder(self) -> Path:
        if self.path is None:
            raise NotEvaluable(f"the study has no {self.assay} run")
        if not self.path.is_dir():
            raise NotEvaluable(f"the {self.assay} run directory {self.path.name} is missing")
        return self.path

    def table(self, name: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        """A CSV of the run as text (blank = ''); ``columns`` must be present."""
        if name not in self.cache:
            path = self.folder() / name
            if not path.is_file():
                raise NotEvaluable(f"the {self.assay} run has no {name}")
            try:
                self.cache[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
            except (OSError, ValueError) as error:
                raise NotEvaluable(f"{name} of the {self.assay} run cannot be read: "
                                   f"{self.scrub(error)}") from error
        table = self.cache[name]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise NotEvaluable(f"{name} has no column {', '.join(missing)}")
        return table

    def posterior(self) -> DataTree:
        if "posterior.nc" not in self.cache:
            if not (self.folder() / files.POSTERIOR).is_file():
                raise NotEvaluable(f"the {self.assay} run has no {files.POSTERIOR}")
            try:
                self.cache["posterior.nc"] = files.read_datatree(self.folder())
            except (OSError, ValueError, KeyError) as error:
                raise NotEvaluable(f"{files.POSTERIOR} of the {self.assay} run cannot be "
                                   f"read: {self.scrub(error)}") from error
        return self.cache["posterior.nc"]


def joint_probability(events: np.ndarray) -> tuple[float, float]:
    """P(every event holds) and its Monte Carlo standard error, from boolean draws
    (chain, draw, event): the mean of the per-draw conjunction, and ArviZ's MCSE of that
    mean (which accounts for autocorrelation within chains)."""
    from arviz_stats.base import array_stats

    joint = np.all(np.asarray(events, bool), axis=-1).astype(float)
    probability = float(joint.mean())
    if joint.min() == joint.max():  # every draw agrees: no variance to measure
        return probability, 1.0 / (joint.size + 1.0)
    return probability, float(array_stats.mcse(joint, method="mean"))


def number(value) -> float:
    """A table cell as a float; NaN for a blank or anything that is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def one_row(table: pd.DataFrame, name: str, match: dict[str, str]) -> pd.Series:
    """The single row of ``table`` whose columns equal ``match`` (a column the table lacks
    is skipped, a None value matches anything); NotEvaluable if none or several."""
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        if value is not None and column in table.columns:
            mask &= table[column] == str(value)
    wanted = ", ".join(f"{k} = {v}" for k, v in match.items() if v is not None)
    rows = table[mask]
    if rows.empty:
        raise NotEvaluable(f"no row of {name} has {wanted}")
    if len(rows) > 1:
        raise NotEvaluable(f"{len(rows)} rows of {name} have {wanted}; name the claim more "
                           "precisely")
    return rows.iloc[0]


def interval(row: pd.Series, median: str = "median", low: str = "q2.5",
             high: str = "q97.5") -> dict[str, float]:
    """claims.csv's estimate, q2.5 and q97.5 from a table row's median and 95% columns."""
    return {"estimate": number(row[median]), "q2.5": number(row[low]),
            "q97.5": number(row[high])}
