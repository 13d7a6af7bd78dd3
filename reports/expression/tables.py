"""Expression run directory -> de.csv, and the classical moderated paired t beside it.

The classical peer is limma's analysis of a paired design (``lmFit`` with pair and group,
``eBayes`` without trend or robustness): residual variances squeezed towards a common
prior whose (d0, s0^2) come from ``fitFDist``'s method of moments on log variances,
moderated t with d + d0 degrees of freedom, two-sided p, Benjamini-Hochberg. With
complete pairs the paired linear model's group coefficient and t equal those of the
within-pair differences, which is what is computed here.

Gene-level lists (network, enrichment) take each gene's probes together: per draw the
mean log2 fold change of its probes (not the largest, which is biased upward and favours
genes with many probes); the classical list scores a gene by the mean of its probes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats
from xarray import DataTree

from chemoshift.data import run_dir as files

DEFAULT_TOP = 300
DE_COLUMNS = ["probe", "gene", "log2fc_median", "log2fc_q2.5", "log2fc_q97.5", "p_up", "p_top",
              "rank_median", "rank_q2.5", "rank_q97.5", "t", "p_value", "p_adjusted"]


@dataclass(frozen=True)
class ModeratedT:
    """limma-like moderated paired t per probe."""

    log2fc: np.ndarray
    t: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    df_prior: float
    s0_sq: float
    df_total: np.ndarray


def trigamma_inverse(x: float) -> float:
    """limma's ``trigammaInverse``: y with trigamma(y) = x (Newton's method)."""
    if x > 1e7:
        return 1.0 / np.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        dif = tri * (1 - tri / x) / special.polygamma(2, y)
        y = y + dif
        if -dif / y < 1e-8:
            break
    return float(y)


def fit_f_dist(s2: np.ndarray, df: np.ndarray) -> tuple[float, float]:
    """limma's ``fitFDist`` (no covariate): prior df d0 and scale s0^2 of the variances."""
    ok = np.isfinite(s2) & (df > 0)
    x = np.maximum(s2[ok], 1e-5 * np.median(s2[ok]))  # limma's guard against zeros
    d = df[ok]
    e = np.log(x) - special.digamma(d / 2) + np.log(d / 2)
    emean = e.mean()
    evar = np.sum((e - emean) ** 2) / (len(e) - 1) - np.mean(special.polygamma(1, d / 2))
    if evar > 0:
        d0 = 2 * trigamma_inverse(evar)
        s0_sq = float(np.exp(emean + special.digamma(d0 / 2) - np.log(d0 / 2)))
    else:
        d0, s0_sq = np.inf, float(np.exp(emean))
    return float(d0), s0_sq


def moderated_t(differences: np.ndarray) -> ModeratedT:
    """Moderated paired t of a (n_probes, n_pairs) array of treated - control differences."""
    finite = np.isfinite(differences)
    n = finite.sum(axis=1).astype(float)
    mean = np.nanmean(np.where(finite, differences, np.nan), axis=1)
    df = n - 1
    s2 = np.nansum((differences - mean[:, None]) ** 2, axis=1) / np.maximum(df, 1)
    d0, s0_sq = fit_f_dist(s2, df)
    if np.isinf(d0):
        post, df_total = np.full_like(s2, s0_sq), np.full_like(s2, np.inf)
    else:
        post = (df * s2 + d0 * s0_sq) / (df + d0)
        df_total = df + d0
    df_total = np.minimum(df_total, np.nansum(df))  # limma caps at the pooled residual df
    t = mean / np.sqrt(post / n)
    p = 2 * stats.t.sf(np.abs(t), df_total)
    return ModeratedT(log2fc=mean, t=t, p_value=p, p_adjusted=bh(p), df_prior=d0,
                      s0_sq=s0_sq, df_total=df_total)


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R's ``p.adjust(method = "BH")``)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(-p, kind="stable")
    scaled = p[order] * m / np.arange(m, 0, -1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted
    return out


def draws_of(datatree: DataTree, name: str = "log2fc") -> np.ndarray:
    """A posterior variable as (n_draws, n_probes) with chains stacked."""
    values = datatree["posterior"][name].values
    return values.reshape(-1, values.shape[-1])


def ranks_per_draw(draws: np.ndarray) -> np.ndarray:
    """Rank of each probe in each draw, 1 = largest (most up-regulated); (n_draws, n)."""
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order, dtype=np.int32)
    rows = np.arange(draws.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, draws.shape[1] + 1, dtype=np.int32)[None, :]
    return ranks


def de_table(draws: np.ndarray, probes: np.ndarray, genes: np.ndarray,
             differences: np.ndarray, top: int = DEFAULT_TOP) -> pd.DataFrame:
    """de.csv: one row per probe (columns ``DE_COLUMNS``), most likely top-N first.

    draws : (n_draws, n_probes) posterior draws of log2 fold change (treated - control).
    """
    ranks = ranks_per_draw(draws)
    quantiles = np.quantile(draws, [0.5, 0.025, 0.975], axis=0)
    rank_q = np.quantile(ranks, [0.5, 0.025, 0.975], axis=0)
    classical = moderated_t(differences)
    table = pd.DataFrame({
        "probe": probes, "gene": genes,
        "log2fc_median": quantiles[0], "log2fc_q2.5": quantiles[1],
        "log2fc_q97.5": quantiles[2], "p_up": (draws > 0).mean(axis=0),
        "p_top": (ranks <= top).mean(axis=0),
        "rank_median": rank_q[0], "rank_q2.5": rank_q[1], "rank_q97.5": rank_q[2],
        "t": classical.t, "p_value": classical.p_value, "p_adjusted": classical.p_adjusted})
    return table.sort_values(["p_top", "rank_median", "t"], ascending=[False, True, False],
                             kind="stable").reset_index(drop=True)[DE_COLUMNS]


def gene_draws(draws: np.ndarray, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per draw each gene's value, the mean of its probes: (gene symbols (m,), (n_draws, m)).

    The mean, not the largest: a per-draw maximum over probes is biased upward and favours
    genes with many probes (a gene with five null probes would beat one with a single
    up-regulated probe by chance). Probes without a symbol are left out."""
    genes = np.asarray(genes, dtype=str)
    keep = np.flatnonzero(genes != "")
    order = keep[np.argsort(genes[keep], kind="stable")]
    sorted_genes = genes[order]
    starts = np.flatnonzero(np.r_[True, sorted_genes[1:] != sorted_genes[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    return sorted_genes[starts], np.add.reduceat(draws[:, order], starts, axis=1) / counts


def top_gene_sets(gene_values: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` largest genes of each draw, (n_draws, top), best first."""
    top = min(top, gene_values.shape[1])
    part = np.argpartition(-gene_values, top - 1, axis=1)[:, :top]
    rows = np.arange(gene_values.shape[0])[:, None]
    return part[rows, np.argsort(-gene_values[rows, part], axis=1)]


CLASSICAL_ORDERS = ("log2fc", "t")  # the study's reading first


def classical_top_genes(genes: np.ndarray, classical: ModeratedT, top: int = DEFAULT_TOP,
                        by: str = "log2fc") -> list[str]:
    """The classical top-``top`` up-regulated genes, each scored by the mean of its probes
    (as :func:`gene_draws` does per draw).

    ``by="log2fc"`` is the study's reading: the moderated paired t analysis's table
    ordered by fold change, the most up-regulated first (no significance filter);
    ``by="t"`` orders by moderated t instead. ``genes`` is in the order of ``classical``.
    """
    if by not in CLASSICAL_ORDERS:
        raise ValueError(f"by={by!r}; expected one of {CLASSICAL_ORDERS}")
    score = np.asarray(classical.log2fc if by == "log2fc" else classical.t, dtype=float)
    table = pd.DataFrame({"gene": np.asarray(genes, dtype=str), "score": score})
    table = table[(table.gene != "") & np.isfinite(table.score)]
    mean = table.groupby("gene", sort=False)["score"].mean()
    return list(mean.sort_values(ascending=False, kind="stable").index[:top])


def classical_top_probes(probes: np.ndarray, classical: ModeratedT, top: int = DEFAULT_TOP,
                         by: str = "log2fc") -> list[str]:
    """Probe-level version of :func:`classical_top_genes` (every probe counts)."""
    score = np.asarray(classical.log2fc if by == "log2fc" else classical.t, dtype=float)
    order = np.argsort(-np.where(np.isfinite(score), score, -np.inf), kind="stable")
    return [str(p) for p in np.asarray(probes)[order[:top]]]


def run_classical(run_dir: Path, datatree: DataTree | None = None
                  ) -> tuple[pd.DataFrame, ModeratedT]:
    """probes.csv and the moderated paired t of a run directory's differences (model order)."""
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    return read_probes(run_dir), moderated_t(datatree["observed_data"]["differences"].values)


def read_probes(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "probes.csv", dtype={"probe": str, "gene": str},
                       keep_default_na=False)


def read_de(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "de.csv", dtype={"probe": str, "gene": str},
                       keep_default_na=False, na_values=[""])


def write_tables(run_dir: Path, datatree: DataTree | None = None) -> pd.DataFrame:
    """Write de.csv from the saved posterior and probes.csv; return it."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    probes = read_probes(run_dir)
    differences = datatree["observed_data"]["differences"].values
    top = int(record.get("settings", {}).get("read", {}).get("top") or DEFAULT_TOP)
    table = de_table(draws_of(datatree), probes.probe.to_numpy(str),
                     probes.gene.to_numpy(str), differences, top=top)
    files.write_csv(run_dir / "de.csv", table)
    return table


def run_gene_values(run_dir: Path, datatree: DataTree | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(gene symbols (m,), per-draw gene log2 fold changes (n_draws, m)) of a run directory,
    each gene the mean of its probes as :func:`gene_draws` says."""
    datatree = datatree if datatree is not None else files.read_datatree(run_dir)
    genes = read_probes(run_dir).gene.to_numpy(str)
    return gene_draws(draws_of(datatree), genes)
