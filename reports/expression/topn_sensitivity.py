"""How the size N of the top-N list moves the hub and pathway answers (topn_sensitivity.csv).

The study sent its top 300 up-regulated genes to STRING and KEGG; 300 is a convention, not
a finding. For each N in ``SIZES`` the same posterior draws are cut at N and ranked again
with the same functions (``propagate_hubs``'s per-draw ranking, ``draw_enrichment``), and
the leading names at any N (the ``LEADING`` most probable per kind and N, probability
above 0) get one row per N:

- ``top_n``: N; ``kind``: ``hub`` or ``pathway``; ``name``: the gene or pathway;
- ``probability``: P(top-k hub) for a hub, ``p_enriched`` (P(BH-adjusted
  over-representation p < 0.05) across the top-N lists) for a pathway;
- ``rank``: its place by that probability at this N (1 = most probable; ties by name;
  empty when the probability is 0);
- ``draws``: how many posterior draws the row rests on. Hubs at an N other than the run's
  use an evenly spaced subset of ``HUB_DRAWS`` draws (ranking a network per draw is the
  costly step); pathways use every draw; the run's own N repeats the main tables.

``chemoshift network`` writes the hub rows and ``chemoshift enrich`` the pathway rows of
the same file, each replacing only its own kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data import run_dir as files
from chemoshift.reports.expression.enrichment import FDR, draw_enrichment
from chemoshift.reports.expression.network import propagate_hubs
from chemoshift.reports.expression.tables import top_gene_sets

SIZES = (100, 300, 500)
LEADING = 10
HUB_DRAWS = 200
FILE = "topn_sensitivity.csv"
SENSITIVITY_COLUMNS = ["top_n", "kind", "name", "probability", "rank", "draws"]


def thinned(n_draws: int, at_most: int) -> np.ndarray:
    """Indices of at most ``at_most`` evenly spaced draws out of ``n_draws``."""
    if n_draws <= at_most:
        return np.arange(n_draws)
    return np.unique(np.linspace(0, n_draws - 1, at_most).round().astype(int))


def leading_rows(probabilities: Mapping[int, pd.Series], draws: Mapping[int, int], kind: str,
                 leading: int = LEADING) -> pd.DataFrame:
    """Rows (``SENSITIVITY_COLUMNS``) for the names leading at any N, one per N and name.

    probabilities : N -> probability by name; draws : N -> draws behind it."""
    ranked = {n: p.rename_axis("name").reset_index(name="p").sort_values(
        ["p", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)
        for n, p in probabilities.items()}
    names: list[str] = []
    for table in ranked.values():
        for name in table[table.p > 0].name.head(leading):
            if name not in names:
                names.append(name)
    rows = []
    for n, table in sorted(ranked.items()):
        place = {name: i + 1 for i, name in enumerate(table[table.p > 0].name)}
        value = dict(zip(table.name, table.p, strict=True))
        rows += [dict(top_n=n, kind=kind, name=name, probability=float(value.get(name, 0.0)),
                      rank=place.get(name, np.nan), draws=draws[n]) for name in names]
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


def hub_sensitivity(gene_names: np.ndarray, gene_values: np.ndarray, edges: pd.DataFrame,
                    sizes: Iterable[int] = SIZES, hubs: int = 20, measure: str = "mcc",
                    main: tuple[int, pd.DataFrame] | None = None,
                    max_draws: int = HUB_DRAWS) -> pd.DataFrame:
    """Hub rows: P(top-``hubs`` hub) at each N in ``sizes``.

    gene_values : (n_draws, m) per-draw gene log2 fold changes of gene_names (m,); edges
    must cover the genes of the largest N's lists; main : (N, network_hubs table) of the
    run, reused as is for that N."""
    probabilities, used = {}, {}
    keep = thinned(len(gene_values), max_draws)
    for n in sorted(set(sizes)):
        if main is not None and n == main[0]:
            table, used[n] = main[1], len(gene_values)
        else:
            top_sets = top_gene_sets(gene_values[keep], n)
            table, used[n] = propagate_hubs(gene_names, top_sets, edges, [], hubs=hubs,
                                            measure=measure), len(keep)
        probabilities[n] = table.set_index("gene").p_hub if len(table) else pd.Series(
            dtype=float)
    return leading_rows(probabilities, used, "hub")


def pathway_sensitivity(gene_names: np.ndarray, gene_values: np.ndarray,
                        sets: Mapping[str, frozenset], universe: set[str],
                        sizes: Iterable[int] = SIZES, fdr: float = FDR) -> pd.DataFrame:
    """Pathway rows: ``p_enriched`` at each N in ``sizes``, every draw (sets already
    filtered by size within ``universe``, as :func:`enrichment.filter_sets` does)."""
    probabilities, used = {}, {}
    for n in sorted(set(sizes)):
        enriched, _ = draw_enrichment(gene_names, top_gene_sets(gene_values, n), sets,
                                      universe, fdr)
        probabilities[n] = pd.Series(enriched, index=list(sets), dtype=float)
        used[n] = len(gene_values)
    return leading_rows(probabilities, used, "pathway")


def write_sensitivity(folder: Path, rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Replace ``kind``'s rows of ``folder/topn_sensitivity.csv`` (the other kind's stay);
    return the file's table (hubs first, then pathways; by N, then rank)."""
    path = Path(folder) / FILE
    if path.is_file():
        old = pd.read_csv(path, dtype={"name": str}, keep_default_na=False, na_values=[""])
        old = old[old.kind != kind]
    else:
        old = pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    frames = [frame for frame in (old, rows) if len(frame)]  # none: no size fits the list
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=SENSITIVITY_COLUMNS))
    table = table[SENSITIVITY_COLUMNS].sort_values(
        ["kind", "top_n", "rank", "name"], key=lambda c: c.map({"hub": 0, "pathway": 1})
        if c.name == "kind" else c, kind="stable").reset_index(drop=True)
    files.write_csv(path, table)
    return table


def parse_sizes(text: str) -> tuple[int, ...]:
    """``--sensitivity`` text: comma-separated positive N, or ``none`` / empty for none."""
    if text.strip().lower() in ("", "none", "0"):
        return ()
    sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    if any(n < 1 for n in sizes):
        raise ValueError(f"--sensitivity {text!r}: sizes must be positive integers")
    return sizes
