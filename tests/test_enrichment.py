"""Over-representation: exact hypergeometric tails (as R's phyper), BH, the enrich command."""

from __future__ import annotations

import math
import random
from decimal import Decimal, getcontext

import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.reports.expression.enrichment import (
    ENRICHMENT_COLUMNS,
    format_log_p,
    log_bh,
    log_upper_tail,
    over_representation,
)
from chemoshift.reports.expression.tables import bh


def _exact_log_tail(k, n_universe, m, n):
    getcontext().prec = 80
    num = sum(math.comb(m, x) * math.comb(n_universe - m, n - x) for x in range(k, min(m, n) + 1))
    return Decimal(num).ln() - Decimal(math.comb(n_universe, n)).ln()


def test_tails_equal_the_exact_sum_to_1e12_relative():
    random.seed(11)
    cases = [(400, 20000, 500, 500), (250, 20000, 300, 300), (2, 22000, 15, 300),
             (1, 100, 10, 10), (3, 20000, 50, 300)]
    for _ in range(150):
        n_universe = random.randint(20, 25000)
        m, n = random.randint(1, min(n_universe, 600)), random.randint(1, min(n_universe, 600))
        low, high = max(1, n - (n_universe - m)), min(m, n)
        cases.append((random.randint(low, high), n_universe, m, n))
    tiny = 0
    for case in cases:
        exact = _exact_log_tail(*case)
        ours = Decimal(log_upper_tail(*case))
        tiny += exact < Decimal(-700)
        # relative error of p = |delta ln p| (to first order)
        assert abs(ours - exact) <= Decimal("1e-12") * max(Decimal(1), abs(exact) / 1000), case
    assert tiny >= 1  # tails below 1e-300 were checked
    assert format_log_p(log_upper_tail(400, 20000, 500, 500)).endswith("e-636")


def test_bh_in_log_space_equals_r_p_adjust():
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2]
    expected = [0.03, 0.06, 0.06, 0.03, 0.5, 0.24]  # p.adjust(p, "BH") in R
    assert [round(math.exp(v), 12) for v in log_bh([math.log(x) for x in p])] == expected
    assert list(bh(p).round(12)) == expected


def test_every_set_after_the_size_filter_is_reported():
    sets = {"a": [f"g{i}" for i in range(20)], "b": [f"h{i}" for i in range(15)],
            "tiny": ["g1", "g2"]}
    universe = [f"g{i}" for i in range(50)] + [f"h{i}" for i in range(50)]
    table = over_representation(["g1", "g2", "g3", "x"], sets, universe)
    assert set(table.pathway) == {"a", "b"}  # b has no overlap and is still there
    row = table.set_index("pathway").loc["a"]
    assert (row.overlap, row.set_size, row.universe_size, row.list_size) == (3, 20, 100, 3)
    assert row.fold_enrichment == pytest.approx((3 / 3) / (20 / 100))
    assert table.set_index("pathway").loc["b", "p_value"] == 1


def test_enrich_command_on_a_gene_list(reference, tmp_path):
    genes = tmp_path / "genes.txt"
    genes.write_text("FAS\nGADD45B\nIGF1\nIGFBP3\nSERPINE1\nSTEAP3\nTHBS1\nSOCS2\nIL33\n")
    gmt = reference / "kegg" / "KEGG_2016_Human.gmt"
    assert main(["enrich", "--genes", str(genes), "--gmt", str(gmt), "--out",
                 str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "enrichment.csv")
    assert list(table.columns) == ENRICHMENT_COLUMNS
    assert table.pathway.iloc[0].startswith("p53 signaling pathway")
    assert table.overlap.iloc[0] == 7
    assert main(["enrich", "--out", str(tmp_path)]) == 2  # neither RUN_DIR nor --genes


def test_tails_equal_r_phyper_where_r_is_installed():
    """R's own phyper (upper tail, log scale) on the same cases, tails below 1e-300 too."""
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        pytest.skip("R is not installed (CI installs r-base-core to run this)")
    cases = [(400, 20000, 500, 500), (250, 20000, 300, 300), (2, 22000, 15, 300),
             (1, 100, 10, 10), (3, 20000, 50, 300), (30, 5000, 40, 200), (7, 22645, 120, 300)]
    calls = ",".join(f"phyper({k - 1}, {m}, {u - m}, {n}, lower.tail=FALSE, log.p=TRUE)"
                     for k, u, m, n in cases)
    script = f"options(digits=17); cat(sprintf('%.17g', c({calls})), sep='\\n')"
    printed = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
    for case, r_log_p in zip(cases, map(float, printed), strict=True):
        ours = log_upper_tail(*case)
        assert abs(ours - r_log_p) <= 1e-12, (case, ours, r_log_p)  # |d ln p| = relative error of p
    assert min(map(float, printed)) < math.log(1e-300)


def _posterior_lists():
    """60 genes, 3 pathways of 10 in a 60-gene universe, and 40 draws' top-8 lists: the
    first 30 draws list six genes of pathway a, the last 10 list genes outside every set."""
    import numpy as np

    genes = np.array([f"g{i:02d}" for i in range(60)])
    sets = {"a": list(genes[:10]), "b": list(genes[10:20]), "c": list(genes[20:30])}
    rows = [[0, 1, 2, 3, 4, 5, 40, 41] for _ in range(30)] + \
        [list(range(42, 50)) for _ in range(10)]
    return genes, sets, np.array(rows)


def test_p_enriched_is_the_share_of_draws_whose_bh_adjusted_p_is_below_005():
    import numpy as np

    from chemoshift.reports.expression.enrichment import propagate_enrichment

    genes, sets, top_sets = _posterior_lists()
    table = propagate_enrichment(genes, top_sets, sets, genes, list(genes[:8]), min_size=5)
    by_hand = {name: np.mean([over_representation(genes[d], sets, genes, 5).set_index(
        "pathway").loc[name, "p_adjusted"] < 0.05 for d in top_sets]) for name in sets}
    assert by_hand["a"] == 0.75  # 30 of 40 lists enrich a at BH p < 0.05
    assert dict(zip(table.pathway, table.p_enriched, strict=True)) == pytest.approx(by_hand)


def test_run_columns_keep_their_order_and_camera_columns_come_last():
    import numpy as np

    from chemoshift.reports.expression.camera import CAMERA_COLUMNS, CameraStatistics
    from chemoshift.reports.expression.enrichment import (
        POSTERIOR_COLUMNS,
        for_csv,
        propagate_enrichment,
    )

    genes, sets, top_sets = _posterior_lists()
    z = np.random.default_rng(1).normal(size=60)
    z[:10] += 2
    statistics = CameraStatistics(genes, z, None, 0, "test")
    table = for_csv(propagate_enrichment(genes, top_sets, sets, genes, list(genes[:8]),
                                         min_size=5, statistics=statistics))
    assert list(table.columns) == [*ENRICHMENT_COLUMNS, *POSTERIOR_COLUMNS, *CAMERA_COLUMNS]
    row = table.set_index("pathway").loc["a"]
    assert row.camera_correlation == 0.01  # no residuals: CAMERA's fixed default
    assert row.camera_direction == "Up" and row.camera_p < 0.001 and row.camera_genes == 10
    without = for_csv(propagate_enrichment(genes, top_sets, sets, genes, list(genes[:8]),
                                           min_size=5))
    assert list(without.columns) == [*ENRICHMENT_COLUMNS, *POSTERIOR_COLUMNS]


def test_pathway_sensitivity_at_the_run_size_repeats_p_enriched():
    import numpy as np

    from chemoshift.reports.expression.enrichment import filter_sets, propagate_enrichment
    from chemoshift.reports.expression.tables import top_gene_sets
    from chemoshift.reports.expression.topn_sensitivity import (
        SENSITIVITY_COLUMNS,
        pathway_sensitivity,
    )

    rng = np.random.default_rng(4)
    genes = np.array([f"g{i:03d}" for i in range(300)])
    sets = {f"s{k}": list(genes[k * 20:(k + 1) * 20]) for k in range(10)}
    values = rng.normal(size=(50, 300))
    values[:, :20] += 1.5  # pathway s0 up-regulated
    rows = pathway_sensitivity(genes, values, filter_sets(sets, set(genes)), set(genes),
                               sizes=(20, 40, 80))
    assert list(rows.columns) == SENSITIVITY_COLUMNS and set(rows.top_n) == {20, 40, 80}
    main = propagate_enrichment(genes, top_gene_sets(values, 40), sets, genes, [])
    at_40 = rows[rows.top_n == 40].set_index("name").probability
    assert at_40["s0"] == pytest.approx(main.set_index("pathway").p_enriched["s0"])
    assert rows[(rows.name == "s0")].set_index("top_n")["rank"].tolist() == [1, 1, 1]
