"""CAMERA: a competitive gene-set test that allows for inter-gene correlation.

Wu D. & Smyth G.K. (2012) "Camera: a competitive gene set test accounting for inter-gene
correlation", Nucleic Acids Research 40:e133; computed as limma's ``camera.default``
(``use.ranks = FALSE``, ``allow.neg.cor = FALSE``), so its numbers can be checked against R.

Per gene g a statistic z_g: the moderated t of the treated-vs-control coefficient of a
linear model fitted to the gene's log2 expression across the modelled samples (design:
intercept, pair dummies when every sample has a pair, treated indicator; variances squeezed
as limma's ``squeezeVar``), turned into a z-score with Hill's approximation (limma's
``zscoreT(approx = TRUE, method = "hill")``). A gene's expression is the mean of its probes
in each sample, as the gene lists of the network and pathway steps average probes per draw.

Per set S of m genes (of G genes with a statistic; m2 = G - m):

    delta  = G / m2 * (mean_{g in S} z_g - mean_g z_g)          (set mean minus the rest)
    s2     = ((G - 1) var(z) - delta^2 m m2 / G) / (G - 2)       (pooled variance)
    VIF    = 1 + (m - 1) rho_bar, at least 1
    t      = delta / sqrt(s2 (VIF / m + 1 / m2)),  p = 2 P(T_df > |t|)

rho_bar, the mean correlation between the set's genes, is estimated from the residuals
across samples: with U the (G, d) residual effects of the fit (d = n - p residual degrees
of freedom), each row scaled to unit mean square, VIF = m * mean over the d columns of
(the column mean of U over S)^2, which equals 1 + (m - 1) times the mean pairwise
correlation of the set's residual vectors. df = min(d, G - 2) then (the estimate's own
uncertainty). A fixed ``inter_gene_cor`` (limma's default 0.01 since limma 3.29.6) gives
VIF = 1 + (m - 1) * inter_gene_cor and df = G - 2.

Without per-sample data in a run directory (no ``expression.csv`` / ``samples.csv``), the
statistic is each gene's posterior mean log2 fold change over its posterior sd, and the
correlation is fixed at 0.01, as CAMERA's default; the result says which was used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from chemoshift.reports.expression.tables import bh, fit_f_dist, read_probes

CAMERA_COLUMNS = ["camera_genes", "camera_correlation", "camera_direction", "camera_p",
                  "camera_p_adjusted"]
DEFAULT_INTER_GENE_COR = 0.01  # limma's camera default, used when no residuals exist
_MIN_SIGMA2 = 1e-8  # limma's guard before scaling residual effects


@dataclass(frozen=True)
class CameraStatistics:
    """Per-gene statistics and residual effects a CAMERA test needs.

    genes : (G,) symbols; statistic : (G,) z-scores (or standardised posterior means);
    residuals : (G, d) residual effects scaled to unit mean square per gene, or None when
    no per-sample data exist; df_residual : d (0 without residuals); source : one line
    saying where the statistic came from, for the report.
    """

    genes: np.ndarray
    statistic: np.ndarray
    residuals: np.ndarray | None
    df_residual: int
    source: str


def zscore_t_hill(t: np.ndarray, df: float | np.ndarray) -> np.ndarray:
    """z-scores of t statistics by Hill's (1970) approximation (limma's ``.zscoreTHill``)."""
    t = np.asarray(t, dtype=float)
    df = np.minimum(df, 1e100)
    a = df - 0.5
    b = 48.0 * a * a
    z = a * np.log1p(t / df * t)
    z = (((((-0.4 * z - 3.3) * z - 24.0) * z - 85.5) / (0.8 * z * z + 100.0 + b) + z + 3.0)
         / b + 1.0) * np.sqrt(z)
    return z * np.sign(t)


def squeeze_var(sigma2: np.ndarray, df: float) -> tuple[np.ndarray, float]:
    """limma's ``squeezeVar`` (equal df, no covariate): posterior variances (G,) and d0."""
    d0, s0_sq = fit_f_dist(sigma2, np.full(len(sigma2), float(df)))
    if not np.isfinite(d0):
        return np.full_like(sigma2, s0_sq), d0
    return (df * sigma2 + d0 * s0_sq) / (df + d0), d0


def linear_model_statistics(y: np.ndarray, design: np.ndarray, genes: np.ndarray,
                            source: str = "moderated t") -> CameraStatistics:
    """CAMERA's statistics from log2 expression y (G, n) and a design (n, p) whose last
    column is the coefficient tested (limma's ``contrast = ncol(design)``)."""
    n, p = design.shape
    d = n - p
    if d < 1 or np.linalg.matrix_rank(design) < p:
        raise ValueError(f"design of {n} samples and {p} columns leaves no residual df")
    q, r = np.linalg.qr(design, mode="complete")
    effects = q.T @ y.T  # (n, G): the first p fitted, the last d residual
    unscaled_t = effects[p - 1] * np.sign(r[p - 1, p - 1])
    residual = effects[p:]
    sigma2 = np.mean(residual ** 2, axis=0)
    scaled = (residual / np.sqrt(np.maximum(sigma2, _MIN_SIGMA2))).T  # (G, d)
    var_post, d0 = squeeze_var(sigma2, d)
    moderated = unscaled_t / np.sqrt(var_post)
    df_total = min(d + d0, len(genes) * d)
    return CameraStatistics(np.asarray(genes, dtype=str), zscore_t_hill(moderated, df_total),
                            scaled, d, source)


def posterior_statistics(genes: np.ndarray, gene_values: np.ndarray) -> CameraStatistics:
    """The fallback statistic: posterior mean / posterior sd of each gene's log2 fold change.

    gene_values : (n_draws, G) per-draw gene-level log2 fold changes."""
    mean = gene_values.mean(axis=0)
    sd = gene_values.std(axis=0, ddof=1)
    statistic = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), 0.0)
    return CameraStatistics(np.asarray(genes, dtype=str), statistic, None, 0,
                            "posterior mean / posterior sd of each gene's log2 fold change")


def camera(statistics: CameraStatistics, sets: Mapping[str, frozenset],
           inter_gene_cor: float | None = None) -> pd.DataFrame:
    """One row per set: ``pathway`` and ``CAMERA_COLUMNS``, in the order of ``sets``.

    ``inter_gene_cor`` None estimates each set's correlation from the residuals (limma's
    ``inter.gene.cor = NA``); without residuals it falls back to 0.01. camera_genes is m,
    the set's genes that have a statistic; camera_correlation the correlation used;
    camera_direction Up or Down; camera_p two-sided; camera_p_adjusted BH over the sets.
    """
    if inter_gene_cor is None and statistics.residuals is None:
        inter_gene_cor = DEFAULT_INTER_GENE_COR
    z, genes = statistics.statistic, statistics.genes
    n_genes = len(genes)
    df = n_genes - 2 if inter_gene_cor is not None else min(statistics.df_residual,
                                                              n_genes - 2)
    mean_all, var_all = z.mean(), z.var(ddof=1)
    index = {g: i for i, g in enumerate(genes)}
    rows = []
    for name, members in sets.items():
        where = np.array(sorted(index[g] for g in members if g in index), dtype=int)
        m, m2 = len(where), n_genes - len(where)
        row = dict(pathway=name, camera_genes=m, camera_correlation=np.nan,
                   camera_direction="", camera_p=np.nan)
        if m == 0 or m2 == 0 or df < 1:
            rows.append(row)
            continue
        correlation, vif = _set_correlation(statistics, where, inter_gene_cor)
        delta = n_genes / m2 * (z[where].mean() - mean_all)
        pooled = ((n_genes - 1) * var_all - delta ** 2 * m * m2 / n_genes) / (n_genes - 2)
        t = delta / np.sqrt(pooled * (max(1.0, vif) / m + 1 / m2))
        row.update(camera_correlation=correlation, camera_direction="Up" if t >= 0 else "Down",
                   camera_p=min(1.0, 2 * stats.t.sf(abs(t), df)))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["pathway", *CAMERA_COLUMNS[:-1]])
    tested = table.camera_p.notna().to_numpy()
    adjusted = np.full(len(table), np.nan)
    adjusted[tested] = bh(table.camera_p.to_numpy(float)[tested])
    table["camera_p_adjusted"] = adjusted
    return table


def _set_correlation(statistics: CameraStatistics, where: np.ndarray,
                     inter_gene_cor: float | None) -> tuple[float, float]:
    """(correlation, VIF) of one set: fixed, or estimated from the scaled residuals."""
    m = len(where)
    if inter_gene_cor is not None:
        return float(inter_gene_cor), 1 + (m - 1) * float(inter_gene_cor)
    if m == 1:
        return np.nan, 1.0
    vif = m * float(np.mean(statistics.residuals[where].mean(axis=0) ** 2))
    return (vif - 1) / (m - 1), vif


# -- a run directory's statistics ----------------------------------------------------------


def design_matrix(samples: pd.DataFrame) -> tuple[np.ndarray, str]:
    """(design (n, p), description) from samples.csv rows (``pair``, ``role``) in order:
    intercept, one dummy per pair after the first when every sample names a pair and the
    pairs leave residual df, then the treated indicator (the tested coefficient, last)."""
    treated = (samples.role.astype(str) == "treated").to_numpy(float)
    pairs = samples.pair.astype(str).fillna("") if "pair" in samples else None
    columns = [np.ones(len(samples))]
    described = "intercept + treated"
    if pairs is not None and (pairs != "").all() and pairs.nunique() > 1:
        levels = list(dict.fromkeys(pairs))
        paired = columns + [(pairs == level).to_numpy(float) for level in levels[1:]]
        candidate = np.column_stack([*paired, treated])
        if len(samples) - candidate.shape[1] >= 1 and \
                np.linalg.matrix_rank(candidate) == candidate.shape[1]:
            return candidate, "intercept + pair + treated"
    return np.column_stack([*columns, treated]), described


def gene_expression(values: pd.DataFrame, probe_genes: pd.Series) -> pd.DataFrame:
    """Gene x sample log2 expression: the mean of each gene's probes per sample; genes with
    a missing value in any sample are left out (CAMERA needs complete rows).

    values : probe x sample (index probe); probe_genes : gene symbol by probe."""
    genes = probe_genes.reindex(values.index).fillna("").astype(str)
    keep = genes != ""
    means = values[keep.to_numpy()].groupby(genes[keep].to_numpy()).mean()
    return means[np.isfinite(means.to_numpy(float)).all(axis=1)]


def run_statistics(run_dir: Path, gene_names: np.ndarray | None = None,
                   gene_values: np.ndarray | None = None) -> CameraStatistics:
    """CAMERA's statistics of an expression run directory: the linear model on
    ``expression.csv`` / ``samples.csv`` when they exist and leave residual df, else the
    posterior fallback from ``gene_values`` (n_draws, G) of ``gene_names`` (its ``source``
    says why)."""
    run_dir = Path(run_dir)
    try:
        return _run_linear_model(run_dir)
    except (OSError, KeyError, ValueError) as error:
        reason = str(error)
    if gene_values is None or gene_names is None:
        raise ValueError(f"{run_dir}: {reason}; and no posterior draws for CAMERA")
    fallback = posterior_statistics(gene_names, gene_values)
    return CameraStatistics(fallback.genes, fallback.statistic, None, 0,
                            f"{fallback.source} ({reason})")


def _run_linear_model(run_dir: Path) -> CameraStatistics:
    """The linear-model statistics of a run directory's per-sample files, or an error that
    says what is missing."""
    expression, samples = run_dir / "expression.csv", run_dir / "samples.csv"
    if not (expression.is_file() and samples.is_file()):
        raise OSError("no per-sample data (expression.csv, samples.csv)")
    sheet = pd.read_csv(samples, dtype=str, keep_default_na=False)
    values = pd.read_csv(expression, dtype={"probe": str}, keep_default_na=False,
                         na_values=[""]).set_index("probe")
    sheet = sheet[sheet["sample"].isin(values.columns)].reset_index(drop=True)
    design, described = design_matrix(sheet)
    df_residual = len(sheet) - design.shape[1]
    if df_residual < 1:
        raise ValueError(f"{len(sheet)} samples leave no residual df ({described})")
    probes = read_probes(run_dir).set_index("probe").gene
    genes = gene_expression(values[list(sheet["sample"])].astype(float), probes)
    source = (f"moderated t ({described}; {len(sheet)} samples, {df_residual} residual df) "
              "of each gene's mean log2 expression over its probes, as a z-score")
    return linear_model_statistics(genes.to_numpy(float), design, genes.index.to_numpy(str),
                                   source)
