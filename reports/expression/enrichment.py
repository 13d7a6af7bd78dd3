"""Pathway over-representation: exact hypergeometric tails, Benjamini-Hochberg, posterior.

p = P(X >= k), X hypergeometric: universe N genes, M of them in the set, a list of n
(set and list both intersected with the universe first). The tail is computed as R's
``phyper(k - 1, M, N - M, n, lower.tail = FALSE)`` does it (Loader's saddle-point
``dbinom_raw`` for the point mass, the ``pdhyper`` series for the rest, the smaller tail
summed directly), in log space, so tails below 1e-300 keep their digits; the natural log
is returned alongside and written in enrichment.csv as text beyond the double range.

The universe: ``--universe FILE``; else, for a run directory, the genes measured on the
array; for a bare gene list, the union of the gene sets (gseapy's default; clusterProfiler
would intersect the array with the annotated genes instead). Sets are filtered by size
within the universe (``min_size`` .. ``max_size``, 10 .. 500 as clusterProfiler); every
set left is tested and reported, overlap or not, and BH runs over exactly those rows.

For an expression run directory each row also carries the posterior (``POSTERIOR_COLUMNS``):

- ``p_enriched``: P(BH-adjusted over-representation p < 0.05) across the posterior's top-N
  lists, i.e. the fraction of posterior draws whose top-N up-regulated gene list, tested
  exactly as above against every pathway (BH over all pathways within that draw), gives
  this pathway an adjusted p below 0.05. It is a probability about the list, not a p-value.
- ``fold_enrichment_median``, ``fold_enrichment_q2.5``, ``fold_enrichment_q97.5``: the
  posterior median and 95% interval of the fold enrichment over the same lists.

Over-representation treats genes as independent draws; genes of a pathway move together,
so its p-values are too small when they do. The ``CAMERA_COLUMNS`` appended after those
are CAMERA's competitive test (:mod:`chemoshift.reports.expression.camera`), which inflates the
variance of a set's mean statistic by the correlation between its genes:
``camera_genes`` (set genes with a statistic), ``camera_correlation`` (the inter-gene
correlation used: estimated per set from residuals across samples when the run directory
holds them, else fixed at 0.01), ``camera_direction`` (Up / Down), ``camera_p`` (two-sided)
and ``camera_p_adjusted`` (BH over the pathways). Columns only ever get appended: the
order ``ENRICHMENT_COLUMNS`` + ``POSTERIOR_COLUMNS`` + ``CAMERA_COLUMNS`` is a contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, getcontext
from functools import lru_cache

import numpy as np
import pandas as pd

from chemoshift.reports.expression.camera import CAMERA_COLUMNS, CameraStatistics, camera

ENRICHMENT_COLUMNS = ["pathway", "overlap", "set_size", "universe_size", "list_size",
                      "fold_enrichment", "p_value", "p_adjusted", "genes"]
POSTERIOR_COLUMNS = ["p_enriched", "fold_enrichment_median", "fold_enrichment_q2.5",
                     "fold_enrichment_q97.5"]
P_ENRICHED = ("P(BH-adjusted over-representation p < 0.05) across the posterior's top-N "
              "lists")
MIN_SIZE, MAX_SIZE, FDR = 10, 500, 0.05
LN_2PI = math.log(2 * math.pi)
_LN_SQRT_2PI = 0.5 * LN_2PI
_S0, _S1, _S2, _S3, _S4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188


def _stirlerr_table() -> list[float]:
    """stirlerr(n/2), n = 0..30, to 40 digits: ln Gamma(n + 1) - (n + 1/2) ln n + n -
    ln sqrt(2 pi), from exact factorials (and Gamma(k + 1/2) = (2k)! sqrt(pi) / (4^k k!))."""
    getcontext().prec = 50
    pi = Decimal("3.14159265358979323846264338327950288419716939937510")
    table = [0.0]
    for twice in range(1, 31):
        x = Decimal(twice) / 2
        if twice % 2 == 0:
            lgamma = Decimal(math.factorial(twice // 2)).ln()
        else:  # Gamma(x + 1) with x = k + 1/2: Gamma(k + 3/2)
            k = (twice + 1) // 2
            lgamma = (Decimal(math.factorial(2 * k)) / (Decimal(4) ** k * math.factorial(k))
                      ).ln() + pi.sqrt().ln()
        value = lgamma - (x + Decimal("0.5")) * x.ln() + x - (2 * pi).sqrt().ln()
        table.append(float(value))
    return table


_SFERR_HALVES = _stirlerr_table()


def stirlerr(n: float) -> float:
    """log(n!) - log(sqrt(2 pi n) (n/e)^n), as R's nmath."""
    if n <= 15.0:
        nn = n + n
        if nn == int(nn):
            return _SFERR_HALVES[int(nn)]
        return math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - _LN_SQRT_2PI
    nn = n * n
    if n > 500:
        return (_S0 - _S1 / nn) / n
    if n > 80:
        return (_S0 - (_S1 - _S2 / nn) / nn) / n
    if n > 35:
        return (_S0 - (_S1 - (_S2 - _S3 / nn) / nn) / nn) / n
    return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / n


def bd0(x: float, np_: float) -> float:
    """x log(x / np) + np - x, without cancellation (Loader 2000)."""
    if abs(x - np_) < 0.1 * (x + np_):
        v = (x - np_) / (x + np_)
        s = (x - np_) * v
        if abs(s) < 2.2250738585072014e-308:
            return s
        ej = 2 * x * v
        v = v * v
        for j in range(1, 1000):
            ej *= v
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
    return x * math.log(x / np_) + np_ - x


def _log_dbinom_raw(x: float, n: float, p: float, q: float) -> float:
    if p == 0:
        return 0.0 if x == 0 else -math.inf
    if q == 0:
        return 0.0 if x == n else -math.inf
    if x == 0:
        if n == 0:
            return 0.0
        return -bd0(n, n * q) - n * p if p < 0.1 else n * math.log(q)
    if x == n:
        return -bd0(n, n * p) - n * q if q < 0.1 else n * math.log(p)
    if x < 0 or x > n:
        return -math.inf
    lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q)
    lf = LN_2PI + math.log(x) + math.log1p(-x / n)
    return lc - 0.5 * lf


def log_dhyper(x: int, r: int, b: int, n: int) -> float:
    """log P(X = x), X ~ hypergeometric(r white, b black, n drawn) (R's ``dhyper``)."""
    if n < x or r < x or n - x > b or x < 0:
        return -math.inf
    if n == 0:
        return 0.0 if x == 0 else -math.inf
    p = n / (r + b)
    q = (r + b - n) / (r + b)
    return (_log_dbinom_raw(x, r, p, q) + _log_dbinom_raw(n - x, b, p, q)
            - _log_dbinom_raw(n, r + b, p, q))


def _log_pdhyper(x: int, r: int, b: int, n: int) -> float:
    """log of P(X <= x) / P(X = x), the series of R's ``pdhyper``."""
    total, term = 0.0, 1.0
    while x > 0 and term >= 2.220446049250313e-16 * total:
        term *= x * (b - n + x) / (n + 1 - x) / (r + 1 - x)
        total += term
        x -= 1
    return math.log1p(total)


@lru_cache(maxsize=200_000)
def log_upper_tail(k: int, universe: int, set_size: int, list_size: int) -> float:
    """ln P(X >= k), X ~ hypergeometric(universe N, set size M, list size n): R's
    ``phyper(k - 1, M, N - M, n, lower.tail = FALSE, log.p = TRUE)``."""
    x, r, b, n = k - 1, set_size, universe - set_size, list_size
    lower = False
    if x * (r + b) > n * r:  # the lower tail is the small one: swap to sum it directly
        r, b = b, r
        x = n - x - 1
        lower = True
    if x < 0 or x < n - b:
        return 0.0 if not lower else -math.inf  # P(X <= x) = 0
    if x >= r or x >= n:
        return -math.inf if not lower else 0.0  # P(X <= x) = 1
    log_d = log_dhyper(x, r, b, n)
    if log_d == -math.inf:
        return 0.0 if not lower else -math.inf
    log_lower = log_d + _log_pdhyper(x, r, b, n)
    if lower:
        return log_lower
    return math.log(-math.expm1(log_lower)) if log_lower > -math.log(2) else math.log1p(
        -math.exp(log_lower))


def log_bh(log_p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg in log space: ln of R's ``p.adjust(p, "BH")``."""
    log_p = np.asarray(log_p, dtype=float)
    m = len(log_p)
    if m == 0:
        return log_p
    order = np.argsort(-log_p, kind="stable")
    scaled = log_p[order] + np.log(m) - np.log(np.arange(m, 0, -1))
    adjusted = np.minimum(0.0, np.minimum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted
    return out


def format_log_p(log_p: float) -> str:
    """A p-value from its natural log, 15 significant digits, beyond the double range too."""
    if log_p == -math.inf:
        return "0"
    if log_p > -700:
        return f"{math.exp(log_p):.15g}"
    log10 = log_p / math.log(10)
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    if mantissa >= 9.999999999999995:
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.14f}".rstrip("0").rstrip(".") + f"e{exponent}"


def filter_sets(gene_sets: Mapping[str, Iterable[str]], universe: set[str],
                min_size: int = MIN_SIZE, max_size: int = MAX_SIZE) -> dict[str, frozenset]:
    """Sets intersected with the universe, kept when min_size <= size <= max_size."""
    kept = {}
    for name, genes in gene_sets.items():
        inside = frozenset(genes) & universe
        if min_size <= len(inside) <= max_size:
            kept[name] = inside
    return kept


def over_representation(genes: Iterable[str], gene_sets: Mapping[str, Iterable[str]],
                        universe: Iterable[str] | None = None, min_size: int = MIN_SIZE,
                        max_size: int = MAX_SIZE) -> pd.DataFrame:
    """enrichment.csv rows for one gene list (columns ``ENRICHMENT_COLUMNS`` + ``log_p``,
    ``log_p_adjusted``), most significant first."""
    universe = set(universe) if universe is not None else set().union(
        *map(set, gene_sets.values()))
    listed = set(genes) & universe
    sets = filter_sets(gene_sets, universe, min_size, max_size)
    n_universe, n_list = len(universe), len(listed)
    rows = []
    for name, members in sets.items():
        hits = sorted(listed & members)
        k, m = len(hits), len(members)
        rows.append(dict(pathway=name, overlap=k, set_size=m, universe_size=n_universe,
                         list_size=n_list,
                         fold_enrichment=(k / n_list) / (m / n_universe) if n_list else np.nan,
                         log_p=log_upper_tail(k, n_universe, m, n_list) if k else 0.0,
                         genes=";".join(hits)))
    table = pd.DataFrame(rows, columns=[*ENRICHMENT_COLUMNS, "log_p"])
    table["log_p_adjusted"] = log_bh(table["log_p"].to_numpy(float))
    table["p_value"] = np.exp(table["log_p"])
    table["p_adjusted"] = np.exp(table["log_p_adjusted"])
    return table.sort_values(["log_p", "pathway"]).reset_index(drop=True)


def for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """The table as enrichment.csv writes it: p-values as text from their logs (full
    precision, beyond 1e-308 too)."""
    out = table.copy()
    out["p_value"] = [format_log_p(v) for v in table["log_p"]]
    out["p_adjusted"] = [format_log_p(v) for v in table["log_p_adjusted"]]
    return out.drop(columns=["log_p", "log_p_adjusted"])


def draw_enrichment(gene_names: np.ndarray, top_sets: np.ndarray,
                    sets: Mapping[str, frozenset], universe: set[str], fdr: float = FDR
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per pathway (in the order of ``sets``, already filtered), the fraction of draws whose
    top-N list enriches it at BH-adjusted p < ``fdr``, (n_sets,), and each draw's fold
    enrichment, (n_draws, n_sets).

    top_sets : (n_draws, N) indices into gene_names, each draw's top-N genes."""
    names = list(sets)
    n_universe = len(universe)
    index = {g: i for i, g in enumerate(gene_names)}
    membership = np.zeros((len(names), len(gene_names)), dtype=bool)
    for j, name in enumerate(names):
        for gene in sets[name]:
            if gene in index:
                membership[j, index[gene]] = True
    sizes = np.array([len(sets[n]) for n in names])
    in_universe = np.array([g in universe for g in gene_names])
    enriched = np.zeros(len(names))
    folds = np.empty((len(top_sets), len(names)))
    for d, draw in enumerate(top_sets):
        chosen = draw[in_universe[draw]]
        n_list = len(chosen)
        hits = membership[:, chosen].sum(axis=1)
        log_p = np.array([log_upper_tail(int(k), n_universe, int(m), n_list) if k else 0.0
                          for k, m in zip(hits, sizes, strict=True)])
        enriched += log_bh(log_p) < math.log(fdr)
        folds[d] = (hits / max(n_list, 1)) / (sizes / n_universe)
    return enriched / max(len(top_sets), 1), folds


def propagate_enrichment(gene_names: np.ndarray, top_sets: np.ndarray,
                         gene_sets: Mapping[str, Iterable[str]], universe: Iterable[str],
                         classical: list[str], min_size: int = MIN_SIZE,
                         max_size: int = MAX_SIZE, fdr: float = FDR,
                         statistics: CameraStatistics | None = None,
                         inter_gene_cor: float | None = None) -> pd.DataFrame:
    """The classical one-list table with, per pathway, ``p_enriched`` (P(BH-adjusted
    over-representation p < ``fdr``) across the draws' top-N lists) and the posterior median
    and 95% interval of its fold enrichment; with ``statistics``, CAMERA's columns after
    them (``inter_gene_cor`` None: estimated from residuals; see :func:`camera.camera`)."""
    universe = set(universe)
    sets = filter_sets(gene_sets, universe, min_size, max_size)
    names = list(sets)
    enriched, folds = draw_enrichment(gene_names, top_sets, sets, universe, fdr)
    classical_table = over_representation(classical, gene_sets, universe, min_size, max_size)
    extra = pd.DataFrame({"pathway": names, "p_enriched": enriched,
                          "fold_enrichment_median": np.median(folds, axis=0),
                          "fold_enrichment_q2.5": np.quantile(folds, 0.025, axis=0),
                          "fold_enrichment_q97.5": np.quantile(folds, 0.975, axis=0)})
    table = classical_table.merge(extra, on="pathway", how="left")
    columns = [*ENRICHMENT_COLUMNS, "log_p", "log_p_adjusted", *POSTERIOR_COLUMNS]
    if statistics is not None:
        table = table.merge(camera(statistics, sets, inter_gene_cor), on="pathway",
                            how="left")
        columns += CAMERA_COLUMNS
    return table[columns].sort_values(["p_enriched", "log_p"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)
