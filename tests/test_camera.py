"""CAMERA (Wu & Smyth 2012): by hand, against the paired analysis, by simulation, and
against limma::camera where R and limma are installed."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chemoshift.reports.expression.camera import (
    CameraStatistics,
    camera,
    design_matrix,
    linear_model_statistics,
    zscore_t_hill,
)
from chemoshift.reports.expression.enrichment import log_upper_tail
from chemoshift.reports.expression.tables import fit_f_dist, moderated_t


def _two_groups(n_per_group: int) -> np.ndarray:
    """Design (2n, 2): intercept and the treated indicator (tested, last)."""
    treated = np.r_[np.zeros(n_per_group), np.ones(n_per_group)]
    return np.column_stack([np.ones(2 * n_per_group), treated])


def _correlated_data(rng: np.random.Generator, n_genes: int, n_samples: int,
                     sets: dict[str, np.ndarray], rho: float) -> np.ndarray:
    """(G, n) null data: no group effect; the genes of each set share one latent factor
    with correlation ``rho`` between any two of them."""
    y = rng.normal(size=(n_genes, n_samples))
    for members in sets.values():
        factor = rng.normal(size=n_samples)
        y[members] = np.sqrt(rho) * factor + np.sqrt(1 - rho) * y[members]
    return y


def test_without_correlation_camera_is_the_pooled_two_sample_t_test():
    rng = np.random.default_rng(3)
    z = rng.normal(size=300)
    z[:15] += 0.8
    genes = np.array([f"g{i}" for i in range(300)])
    stats_ = CameraStatistics(genes, z, None, 0, "test")
    sets = {"up": frozenset(genes[:15]), "null": frozenset(genes[100:140])}
    table = camera(stats_, sets, inter_gene_cor=0.0).set_index("pathway")
    for name, where in (("up", slice(0, 15)), ("null", slice(100, 140))):
        inside = np.zeros(300, bool)
        inside[where] = True
        expected = stats.ttest_ind(z[inside], z[~inside]).pvalue  # equal variances, G - 2 df
        assert table.loc[name, "camera_p"] == pytest.approx(expected, rel=1e-10)
    assert table.loc["up", "camera_direction"] == "Up"
    # a fixed correlation rho scales t by sqrt((1/m + 1/m2) / ((1 + (m - 1) rho)/m + 1/m2))
    fixed = camera(stats_, sets, inter_gene_cor=0.05).set_index("pathway")
    t0 = stats.ttest_ind(z[:15], z[15:]).statistic
    t = t0 * np.sqrt((1 / 15 + 1 / 285) / ((1 + 14 * 0.05) / 15 + 1 / 285))
    assert fixed.loc["up", "camera_p"] == pytest.approx(2 * stats.t.sf(t, 298), rel=1e-10)
    assert fixed.loc["up", "camera_correlation"] == 0.05


def test_estimated_camera_equals_a_hand_computation_from_residual_correlations():
    rng = np.random.default_rng(5)
    n_genes, members = 400, np.arange(20)
    y = _correlated_data(rng, n_genes, 10, {"s": members}, rho=0.4)
    y[members, 5:] += 0.7
    design = _two_groups(5)
    genes = np.array([f"g{i}" for i in range(n_genes)])
    table = camera(linear_model_statistics(y, design, genes), {"s": frozenset(genes[members])})
    # by hand: least squares, residual vectors, their mean pairwise correlation
    coef, *_ = np.linalg.lstsq(design, y.T, rcond=None)
    residuals = y - (design @ coef).T
    d = 10 - 2
    rho_bar = np.corrcoef(residuals[members])[np.triu_indices(20, 1)].mean()
    assert table.camera_correlation[0] == pytest.approx(rho_bar, abs=1e-12)
    s2 = (residuals ** 2).sum(axis=1) / d
    d0, s0_sq = fit_f_dist(s2, np.full(n_genes, float(d)))
    posterior = (d * s2 + d0 * s0_sq) / (d + d0) if np.isfinite(d0) else np.full_like(s2, s0_sq)
    unscaled = np.linalg.inv(design.T @ design)[1, 1]
    t = coef[1] / np.sqrt(posterior * unscaled)
    z = zscore_t_hill(t, min(d + d0, n_genes * d))
    m, m2 = 20, n_genes - 20
    delta = n_genes / m2 * (z[members].mean() - z.mean())
    pooled = ((n_genes - 1) * z.var(ddof=1) - delta ** 2 * m * m2 / n_genes) / (n_genes - 2)
    t_set = delta / np.sqrt(pooled * ((1 + (m - 1) * rho_bar) / m + 1 / m2))
    assert table.camera_p[0] == pytest.approx(2 * stats.t.sf(abs(t_set), d), rel=1e-10)


def test_paired_design_gives_the_moderated_paired_t_of_the_differences():
    rng = np.random.default_rng(8)
    n_genes, pairs = 200, 4
    base = rng.normal(8, 1, size=(n_genes, 1)) + rng.normal(0, 0.5, size=(1, pairs))
    control = base + rng.normal(0, 0.3, size=(n_genes, pairs))
    treated = base + rng.normal(0, 0.3, size=(n_genes, pairs)) + np.r_[np.ones(10), np.zeros(190)
                                                                      ][:, None]
    samples = pd.DataFrame({"pair": [f"p{i}" for i in range(pairs)] * 2,
                            "role": ["control"] * pairs + ["treated"] * pairs})
    design, described = design_matrix(samples)
    assert described == "intercept + pair + treated" and design.shape == (8, 5)
    unpaired = samples.assign(pair="")  # an unpaired design's sheet: two groups only
    assert design_matrix(unpaired)[1] == "intercept + treated"
    assert np.array_equal(design_matrix(unpaired)[0], _two_groups(pairs))
    genes = np.array([f"g{i}" for i in range(n_genes)])
    ours = linear_model_statistics(np.hstack([control, treated]), design, genes)
    paired = moderated_t(treated - control)
    assert ours.df_residual == pairs - 1
    expected = zscore_t_hill(paired.t, paired.df_total[0])
    assert np.allclose(ours.statistic, expected, rtol=1e-9, atol=1e-12)


def test_hill_z_scores_agree_with_exact_normal_quantiles():
    t = np.array([-8.0, -2.5, -0.3, 0.0, 0.7, 3.0, 12.0])
    for df in (3.0, 7.5, 40.0):
        exact = np.sign(t) * stats.norm.isf(stats.t.sf(np.abs(t), df))
        assert np.allclose(zscore_t_hill(t, df), exact, atol=2e-3)  # Hill 1970: ~1e-4 typical


def test_correlated_null_sets_are_calibrated_where_independence_is_not():
    """200 null sets of 20 genes sharing a latent factor (rho 0.3): CAMERA's estimated
    correlation keeps P(p < 0.05) near 0.05; tests that treat genes as independent
    (CAMERA at correlation 0, over-representation of the top 100) reject far more often."""
    rng = np.random.default_rng(2012)
    n_genes, n_sets, size = 1000, 20, 20
    genes = np.array([f"g{i}" for i in range(n_genes)])
    sets = {f"s{k}": np.arange(k * size, (k + 1) * size) for k in range(n_sets)}
    named = {name: frozenset(genes[idx]) for name, idx in sets.items()}
    design = _two_groups(6)
    rejected = {"camera": 0, "independent": 0, "over_representation": 0}
    tests = 0
    for _ in range(10):
        y = _correlated_data(rng, n_genes, 12, sets, rho=0.3)
        statistics = linear_model_statistics(y, design, genes)
        rejected["camera"] += int((camera(statistics, named).camera_p < 0.05).sum())
        rejected["independent"] += int((camera(statistics, named, 0.0).camera_p < 0.05).sum())
        top = set(np.argsort(-statistics.statistic)[:100])
        for idx in sets.values():
            k = len(top & set(idx))
            p = np.exp(log_upper_tail(k, n_genes, size, 100)) if k else 1.0
            rejected["over_representation"] += p < 0.05
        tests += n_sets
    rate = {name: count / tests for name, count in rejected.items()}
    assert rate["camera"] <= 0.10, rate  # nominal 0.05; 200 tests give sd ~0.015
    assert rate["independent"] >= 0.25, rate  # VIF 6.7 here: about 0.45 expected
    assert rate["over_representation"] >= 0.10, rate


def _limma_available() -> str | None:
    if shutil.which("Rscript") is None:
        return "R is not installed (Rscript not found; CI can install r-base and limma)"
    found = subprocess.run(["Rscript", "-e", "quit(status = !requireNamespace('limma', "
                            "quietly = TRUE))"], capture_output=True, timeout=120)
    return None if found.returncode == 0 else "the R package limma is not installed"


def _limma_camera(tmp_path, y: np.ndarray, genes: np.ndarray, design: np.ndarray,
                  sets: dict[str, np.ndarray]) -> pd.DataFrame:
    """limma::camera with the correlation estimated (NA) and fixed (0.01), by set."""
    pd.DataFrame(y, index=genes).to_csv(tmp_path / "y.csv")
    pd.DataFrame(design, columns=[f"c{j}" for j in range(design.shape[1])]).to_csv(
        tmp_path / "design.csv", index=False)
    pd.DataFrame([(name, g) for name, idx in sets.items() for g in genes[idx]],
                 columns=["set", "gene"]).to_csv(tmp_path / "sets.csv", index=False)
    script = f"""suppressMessages(library(limma))
y <- as.matrix(read.csv('{tmp_path / "y.csv"}', row.names = 1))
design <- as.matrix(read.csv('{tmp_path / "design.csv"}'))
s <- read.csv('{tmp_path / "sets.csv"}')
index <- split(s$gene, s$set)
a <- camera(y, index, design, inter.gene.cor = NA, sort = FALSE)
b <- camera(y, index, design, inter.gene.cor = 0.01, sort = FALSE)
write.csv(data.frame(set = rownames(a), correlation = a$Correlation, direction = a$Direction,
                     p = a$PValue, fdr = a$FDR, p_fixed = b$PValue),
          '{tmp_path / "limma.csv"}', row.names = FALSE)
"""
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True, timeout=300)
    return pd.read_csv(tmp_path / "limma.csv").set_index("set")


@pytest.mark.parametrize("paired", [False, True])
def test_camera_equals_limma_camera_where_r_and_limma_are_installed(tmp_path, paired):
    reason = _limma_available()
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(33)
    n_genes = 500
    genes = np.array([f"g{i}" for i in range(n_genes)])
    sets = {f"s{k}": np.arange(k * 25, (k + 1) * 25) for k in range(6)}
    y = _correlated_data(rng, n_genes, 10, sets, rho=0.2)
    y[sets["s0"], 5:] += 0.8
    y[sets["s1"], 5:] -= 0.5
    if paired:  # five pairs (control i, treated i) with pair effects
        y += np.tile(rng.normal(0, 1, size=5), 2)[None, :]
        samples = pd.DataFrame({"pair": [f"p{i}" for i in range(5)] * 2,
                                "role": ["control"] * 5 + ["treated"] * 5})
        design, _ = design_matrix(samples)
    else:
        design = _two_groups(5)
    limma = _limma_camera(tmp_path, y, genes, design, sets)
    statistics = linear_model_statistics(y, design, genes)
    named = {name: frozenset(genes[idx]) for name, idx in sets.items()}
    ours = camera(statistics, named).set_index("pathway").loc[limma.index]
    fixed = camera(statistics, named, 0.01).set_index("pathway").loc[limma.index]
    assert np.allclose(ours.camera_correlation, limma.correlation, atol=1e-10)
    assert list(ours.camera_direction) == list(limma.direction)
    # both use Hill's z-score approximation: agreement to float rounding, 1e-8 relative
    assert np.allclose(ours.camera_p, limma.p, rtol=1e-8, atol=0)
    assert np.allclose(ours.camera_p_adjusted, limma.fdr, rtol=1e-8, atol=0)
    assert np.allclose(fixed.camera_p, limma.p_fixed, rtol=1e-8, atol=0)
