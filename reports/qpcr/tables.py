"""qPCR posterior -> tables: folds (folds.csv), dose trends (dose.csv), efficiencies, stability.

Every function takes the posterior (a DataTree) and the saved inputs (``reactions``,
``genes`` tables), never a model. The classical 2^-ΔΔCt (means of Cts, the group's first
reference gene, Welch t-test on per-sample ΔCt) is computed here to sit beside the
posterior, as labs report it; it is shown, never used by the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from xarray import DataTree

FOLD_COLUMNS = ["gene", "condition", "control", "median", "q2.5", "q97.5", "p_down",
                "p_beyond_margin", "n_censored", "classical_fold", "classical_p", "note"]
DOSE_COLUMNS = ["gene", "conditions", "doses", "median", "q2.5", "q97.5",
                "p_monotone_decrease"]


def _draws(datatree: DataTree, name: str) -> np.ndarray:
    """(draws, ...) array of a posterior variable, chains stacked."""
    values = datatree["posterior"][name].values
    return values.reshape(-1, *values.shape[2:])


def folds_table(datatree: DataTree, reactions: pd.DataFrame, genes: pd.DataFrame,
                comparisons: list[tuple[str, str]], margin: float) -> pd.DataFrame:
    """One row per gene and comparison: fold change (2^-ΔΔCt scale, > 1 = higher in
    ``condition``) median and 95% interval, P(fold < 1), P(fold < 1 / margin), missing
    Cts in the two conditions, the classical estimate and a ``note`` where the gene has no
    reaction in a condition (its fold is then the prior's, not a measurement)."""
    log2_fold = _draws(datatree, "log2_fold")  # (draws, gene, comparison)
    gene_names = [str(g) for g in datatree["posterior"]["gene"].values]
    rows = []
    for j, (condition, control) in enumerate(comparisons):
        for i, gene in enumerate(gene_names):
            draws = log2_fold[:, i, j]
            low, mid, high = 2.0 ** np.quantile(draws, [0.025, 0.5, 0.975])
            mine = reactions[(reactions.gene == gene)
                             & reactions.condition.isin([condition, control])]
            fold, p = classical(reactions, genes, gene, condition, control)
            unmeasured = [c for c in (condition, control) if not (mine.condition == c).any()]
            note = (f"prior only: no {gene} reaction in {' or '.join(unmeasured)}"
                    if unmeasured else "")
            rows.append(dict(gene=gene, condition=condition, control=control, median=mid,
                             **{"q2.5": low, "q97.5": high},
                             p_down=float(np.mean(draws < 0)),
                             p_beyond_margin=float(np.mean(draws < -np.log2(margin))),
                             n_censored=int((mine.status != "detected").sum()),
                             classical_fold=fold, classical_p=p, note=note))
    return pd.DataFrame(rows, columns=FOLD_COLUMNS)


def classical(reactions: pd.DataFrame, genes: pd.DataFrame, gene: str, condition: str,
              control: str) -> tuple[float, float]:
    """2^-ΔΔCt of mean Cts against the gene's first reference, and Welch's t-test p on the
    samples' ΔCt (NaN where undefined: a first reference itself, or < 2 samples a side)."""
    reference = genes.set_index("gene").reference.get(gene, "")
    if not isinstance(reference, str) or not reference:
        return np.nan, np.nan
    detected = reactions[reactions.status == "detected"]
    means = detected.groupby(["sample", "condition", "gene"]).ct.mean().unstack("gene")
    if gene not in means or reference not in means:
        return np.nan, np.nan
    delta = (means[gene] - means[reference]).dropna()
    by = delta.groupby(level="condition")
    try:
        a, b = by.get_group(condition).to_numpy(), by.get_group(control).to_numpy()
    except KeyError:
        return np.nan, np.nan
    fold = float(2.0 ** -(a.mean() - b.mean()))
    if min(len(a), len(b)) < 2:
        return fold, np.nan
    return fold, float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def dose_table(datatree: DataTree, doses: dict[str, float]) -> pd.DataFrame:
    """Per gene, over the conditions that carry a dose (in dose order): the fold change
    per dose step (least-squares slope of log2 effect on step number, per draw) and
    P(monotone decrease) = P(each dose lower than the one before)."""
    if len(set(doses.values())) < 2:
        return pd.DataFrame(columns=DOSE_COLUMNS)
    order = sorted(doses, key=lambda c: doses[c])
    effect = datatree["posterior"]["log2_effect"]
    steps = np.arange(len(order), dtype=float)
    centred = steps - steps.mean()
    rows = []
    for gene in effect["gene"].values:
        y = effect.sel(gene=gene, condition=order).values.reshape(-1, len(order))
        slope = (y @ centred) / (centred @ centred)
        low, mid, high = 2.0 ** np.quantile(slope, [0.025, 0.5, 0.975])
        rows.append(dict(gene=str(gene), conditions=" < ".join(order),
                         doses=" < ".join(f"{doses[c]:g}" for c in order), median=mid,
                         **{"q2.5": low, "q97.5": high},
                         p_monotone_decrease=float(np.mean(np.all(np.diff(y, axis=1) < 0,
                                                                  axis=1)))))
    return pd.DataFrame(rows, columns=DOSE_COLUMNS)


def efficiency_table(datatree: DataTree, genes: pd.DataFrame) -> pd.DataFrame:
    """Efficiency (fold per cycle) per gene: estimated (median, 95%), given, or 2."""
    posterior = datatree["posterior"]
    estimated = posterior["efficiency"] if "efficiency" in posterior else None
    dilution = (posterior["dilution_efficiency"] if "dilution_efficiency" in posterior
                else None)
    rows = []
    names = [*genes.gene, *([str(g) for g in dilution["dilution_gene"].values
                             if str(g) not in set(genes.gene)] if dilution is not None else [])]
    for gene in names:
        given = genes.set_index("gene").efficiency.get(gene, np.nan)
        source = dilution is not None and gene in set(map(str, dilution["dilution_gene"].values))
        if source:
            values = dilution.sel(dilution_gene=gene).values.ravel()
            low, mid, high = np.quantile(values, [0.025, 0.5, 0.975])
            how = "dilution series" + ("" if gene in set(genes.gene) else " (no Cts)")
        elif np.isfinite(given):
            low = mid = high = float(given)
            how = "given"
        else:
            low = mid = high = 2.0
            how = "default (2)"
        rows.append(dict(gene=gene, efficiency=mid, **{"q2.5": low, "q97.5": high},
                         source=how))
    del estimated
    return pd.DataFrame(rows, columns=["gene", "efficiency", "q2.5", "q97.5", "source"])


def stability_table(datatree: DataTree, genes: pd.DataFrame) -> pd.DataFrame:
    """Per reference gene: its largest condition effect (|log2|, median and 97.5%) and
    the fold it spans; small = a stable reference. The model shrinks these effects
    towards zero (``reference_sd``) without forcing them to zero."""
    effect = datatree["posterior"]["log2_effect"]
    rows = []
    for gene in genes.gene[genes.role == "reference"]:
        values = effect.sel(gene=gene).values.reshape(-1, effect.sizes["condition"])
        spread = values.max(axis=1) - values.min(axis=1)
        rows.append(dict(gene=gene, max_fold_between_conditions=2.0 ** np.median(spread),
                         q97_5=2.0 ** np.quantile(spread, 0.975)))
    table = pd.DataFrame(rows, columns=["gene", "max_fold_between_conditions", "q97_5"])
    return table.rename(columns={"q97_5": "q97.5"})


def genorm_m(reactions: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """geNorm's stability measure M of each reference gene in a group of two or more
    (Vandesompele et al. 2002, Genome Biology 3:research0034): the mean, over the group's
    other references, of the standard deviation across biological samples of the pairwise
    ΔCt (log2 ratio at efficiency 2; technical replicates averaged first, samples missing a
    reference left out). Lower is more stable; geNorm calls M < 0.5 stable in homogeneous
    samples and < 1.5 acceptable. Columns ``gene``, ``group``, ``genorm_m``, ``samples``;
    empty where no group has two references measured in three or more samples."""
    columns = ["gene", "group", "genorm_m", "samples"]
    detected = reactions[reactions.status == "detected"]
    rows = []
    references = genes[genes.role == "reference"]
    for group, members in references.groupby("group", sort=False):
        names = list(members.gene)
        if len(names) < 2:
            continue
        mine = detected[detected.gene.isin(names)]
        ct = mine.groupby(["sample", "gene"]).ct.mean().unstack().reindex(columns=names).dropna()
        if len(ct) < 3:
            continue
        for gene in names:
            spreads = [np.std(ct[gene] - ct[other], ddof=1) for other in names if other != gene]
            rows.append(dict(gene=gene, group=group, genorm_m=float(np.mean(spreads)),
                             samples=len(ct)))
    return pd.DataFrame(rows, columns=columns)

