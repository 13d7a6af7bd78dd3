"""The table the log-ratio model reads, made alike by the luciferase and Western readers.

Both assays measure a signal over its own normaliser in the same well or lane (firefly
over Renilla; target band over loading band). The model sees one log ratio per
observation, the group it belongs to (construct x treatment, or condition x dose), the
batch that shifts every ratio it holds (experiment; blot), the experiment it was
repeated in, and the contrasts (weights over groups) whose exponentials are the ratios
the tables report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DESCRIPTORS = ("kind", "cell_line", "construct", "construct_pair", "condition", "dose",
               "treatment", "control")


@dataclass(frozen=True)
class LogRatioTable:
    """Observations and contrasts for :func:`chemoshift.models.log_ratio.build_model`.

    Attributes
    ----------
    log_ratio : (observation,) natural log of signal / normaliser.
    group, batch, cell : (observation,) integer codes into ``groups``, ``batches``, ``cells``.
        A cell is one group in one experiment: the unit whose mean moves from experiment to
        experiment (the unit of replication is the experiment, not the well).
    groups, batches, cells : level names.
    experiments : number of independent experiments (1: no between-experiment term).
    contrasts : DataFrame, one row per reported ratio: ``name`` plus descriptor columns.
    weights : (contrast, group) weights; log ratio of a contrast = weights @ group means.
    batch_stratum, group_stratum : (batch,), (group,) codes of the stratum (cell line)
        whose batches and groups are observed together; one stratum when a batch (a blot)
        holds several cell lines.
    """

    log_ratio: np.ndarray
    group: np.ndarray
    batch: np.ndarray
    cell: np.ndarray
    groups: list[str]
    batches: list[str]
    cells: list[str]
    experiments: int
    contrasts: pd.DataFrame
    weights: np.ndarray
    batch_stratum: np.ndarray
    group_stratum: np.ndarray


def codes(labels: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and levels in order of first appearance."""
    levels = list(pd.unique(labels))
    return pd.Categorical(labels, categories=levels).codes.astype("int64"), levels


def log_ratio_table(table: pd.DataFrame, batch_keys: list[str],
                    contrasts: pd.DataFrame, weights: np.ndarray, groups: list[str]
                    ) -> LogRatioTable:
    """Assemble a :class:`LogRatioTable` from an observation table with ``log_ratio``,
    ``group`` (codes into ``groups``), ``experiment`` and the batch key columns."""
    batch, batches = codes(table[batch_keys].astype(str).agg(" | ".join, axis=1))
    cell_label = table.group.astype(str) + " @ " + table.experiment.astype(str)
    cell, cells = codes(cell_label)
    lines_per_batch = table.groupby(batch).cell_line.nunique()
    stratum_of = (codes(table.cell_line)[0] if (lines_per_batch == 1).all()
                  else np.zeros(len(table), dtype="int64"))
    batch_stratum = pd.Series(stratum_of).groupby(batch).first().to_numpy("int64")
    group_stratum = pd.Series(stratum_of).groupby(table.group.to_numpy()).first().reindex(
        range(len(groups))).fillna(0).to_numpy("int64")
    return LogRatioTable(
        log_ratio=table.log_ratio.to_numpy(dtype=float), group=table.group.to_numpy("int64"),
        batch=batch, cell=cell, groups=list(groups), batches=batches, cells=cells,
        experiments=int(table.experiment.nunique()), contrasts=contrasts.reset_index(drop=True),
        weights=np.asarray(weights, dtype=float), batch_stratum=batch_stratum,
        group_stratum=group_stratum)


def contrast_rows(rows: list[dict], n_groups: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of ``{"name", descriptors..., "plus": [groups], "minus": [groups]}`` -> the
    contrasts table (descriptors, empty where a row has none) and the weight matrix."""
    weights = np.zeros((len(rows), n_groups))
    for i, row in enumerate(rows):
        for g in row["plus"]:
            weights[i, g] += 1.0
        for g in row["minus"]:
            weights[i, g] -= 1.0
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("plus", "minus")}
                          for r in rows])
    for column in DESCRIPTORS:
        if column not in table:
            table[column] = ""
    return table.fillna(""), weights
