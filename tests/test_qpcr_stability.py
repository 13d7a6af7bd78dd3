"""Reference-gene stability: geNorm's M beside the model's, and no table of a prior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chemoshift.reports.qpcr import report as qpcr_report
from chemoshift.reports.qpcr.tables import genorm_m


def _reactions(sd_third: float, samples: int = 8, seed: int = 5) -> pd.DataFrame:
    """Three references of one group: A and B move with the sample's loading alone, C also
    by its own noise of ``sd_third`` cycles; two technical replicates each."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(samples):
        loading = rng.normal(0, 1.0)
        own = {"A": rng.normal(0, 0.05), "B": rng.normal(0, 0.05), "C": rng.normal(0, sd_third)}
        for gene, base in (("A", 18.0), ("B", 20.0), ("C", 24.0)):
            for _ in range(2):
                rows.append(dict(sample=f"s{s}", gene=gene, status="detected",
                                 ct=base + loading + own[gene] + rng.normal(0, 0.02)))
    return pd.DataFrame(rows)


GENES = pd.DataFrame({"gene": ["A", "B", "C", "T"], "role": ["reference"] * 3 + ["target"],
                      "group": ["g"] * 4})


def test_genorm_m_ranks_the_unstable_reference_last():
    table = genorm_m(_reactions(sd_third=0.8), GENES)
    m = dict(zip(table.gene, table.genorm_m, strict=True))
    assert set(m) == {"A", "B", "C"} and (table.samples == 8).all()
    assert m["C"] > 0.5 > max(m["A"], m["B"])  # geNorm's threshold for stable
    # M of A: mean of sd(A - B) and sd(A - C), by hand
    ct = _reactions(sd_third=0.8).groupby(["sample", "gene"]).ct.mean().unstack()
    expected = np.mean([np.std(ct.A - ct.B, ddof=1), np.std(ct.A - ct.C, ddof=1)])
    assert m["A"] == pytest.approx(expected)


def test_genorm_m_needs_two_references_in_three_samples():
    one_reference = GENES.assign(role=["reference", "target", "target", "target"])
    assert genorm_m(_reactions(0.1), one_reference).empty
    assert genorm_m(_reactions(0.1, samples=2), GENES).empty


def test_the_models_stability_is_hidden_where_it_cannot_be_learnt():
    reactions = _reactions(0.1)
    hidden = qpcr_report._stability(None, reactions, GENES, {"reference_sd_learnt": False})
    assert "Not estimated by the model" in hidden and "geNorm M" in hidden
    assert "max_fold_between_conditions" not in hidden
