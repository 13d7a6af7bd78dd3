"""cytoHubba's measures on graphs small enough to score by hand; the hubs command."""

from __future__ import annotations

import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.reports.expression.network import HUB_COLUMNS, graph_from_edges, hub_measures


def _graph(pairs):
    return graph_from_edges(pd.DataFrame(pairs, columns=["gene_a", "gene_b"]))


def test_star_and_triangle_by_hand():
    # triangle A-B-C with a tail C-D: cliques {A,B,C} and {C,D}
    table = hub_measures(_graph([("A", "B"), ("B", "C"), ("A", "C"), ("C", "D")])).set_index(
        "gene")
    assert table.loc["C", "mcc"] == 2 + 1 and table.loc["A", "mcc"] == 2
    assert table.loc["D", "mcc"] == 1  # neighbours share no edge: its degree
    assert table.loc["C", "degree"] == 3 and table.loc["C", "mnc"] == 2
    assert table.loc["C", "dmnc"] == pytest.approx(1 / 2 ** 1.7)
    assert table.loc["C", "betweenness"] == 2 and table.loc["C", "stress"] == 2
    assert table.loc["C", "closeness"] == 3 and table.loc["D", "closeness"] == 1 + 0.5 + 0.5
    assert table.loc["C", "eccentricity"] == 1 and table.loc["D", "eccentricity"] == 0.5
    assert table.loc["C", "radiality"] == pytest.approx(2.0)  # diameter 2: (2 + 1 - 1) each
    assert table.loc["A", "clustering_coefficient"] == 1
    assert table.loc["C", "bottleneck"] == 1  # only from root D does C hold > 4/4 (2) below it
    assert table.index[0] == "C" and table.loc["C", "mcc_rank"] == 1
    assert list(hub_measures(_graph([("A", "B")])).columns) == HUB_COLUMNS


def test_star_stress_counts_every_path_and_epc_is_seeded():
    star = _graph([("hub", leaf) for leaf in "abcd"])
    table = hub_measures(star, seed=3).set_index("gene")
    assert table.loc["hub", "stress"] == 6 and table.loc["hub", "mcc"] == 4
    again = hub_measures(star, seed=3).set_index("gene")
    assert table.loc["hub", "epc"] == again.loc["hub", "epc"]
    assert table.loc["hub", "epc"] > table.loc["a", "epc"]


def test_hubs_command_on_a_real_string_export(reference, tmp_path):
    network = reference / "string" / "string_interactions_dlbcl.tsv"
    assert main(["hubs", "--network", str(network), "--out", str(tmp_path)]) == 0
    hubs = pd.read_csv(tmp_path / "hubs.csv")
    assert list(hubs.columns) == HUB_COLUMNS
    assert hubs.degree.sum() == 2 * 147  # edges listed once, each counted at both ends
    genes = tmp_path / "genes.txt"
    genes.write_text("CXCL10\nCCR5\nCXCL9\nCCL5\n")
    assert main(["hubs", "--network", str(network), "--genes", str(genes), "--score", "0.95",
                 "--out", str(tmp_path / "sub")]) == 0
    assert set(pd.read_csv(tmp_path / "sub" / "hubs.csv").gene) <= {"CXCL10", "CCR5", "CXCL9",
                                                                   "CCL5"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    assert main(["hubs", "--network", str(bad), "--out", str(tmp_path / "x")]) == 2


def test_tied_hubs_get_distinct_ranks_by_the_stated_rule():
    import networkx as nx

    from chemoshift.reports.expression.network import ordinal_ranks

    star = nx.Graph([("H", "a"), ("H", "b"), ("H", "c"), ("x", "y")])
    score = {"H": 3.0, "a": 1.0, "b": 1.0, "c": 1.0, "x": 1.0, "y": 1.0}
    ranks = ordinal_ranks(score, star, ["y", "c", "H", "a", "b", "x"])
    assert ranks["H"] == 1
    assert sorted(ranks) == [1, 2, 3, 4, 5, 6]  # no shared ranks: ties cannot all be top-k
    assert list(ranks.sort_values().index[1:]) == ["y", "c", "a", "b", "x"]  # list order


def _modules_bridge_and_star():
    """Two random modules of 12 genes (edge probability 0.5) joined only through BRIDGE
    (degree 2), and HUB with 15 leaves and one edge into the first module (degree 16)."""
    import itertools

    import numpy as np

    rng = np.random.default_rng(0)
    pairs = []
    for module in ("A", "B"):
        names = [f"{module}{i}" for i in range(12)]
        pairs += [(a, b) for a, b in itertools.combinations(names, 2) if rng.random() < 0.5]
    pairs += [("BRIDGE", "A0"), ("BRIDGE", "B0"), ("HUB", "A3")]
    pairs += [("HUB", f"L{i}") for i in range(15)]
    return pd.DataFrame(pairs, columns=["gene_a", "gene_b"])


def test_a_hub_by_degree_has_no_excess_and_a_bridge_between_modules_has_a_large_one():
    import numpy as np

    from chemoshift.reports.expression.hub_null import null_hub_probability, with_null
    from chemoshift.reports.expression.network import propagate_hubs

    edges = _modules_bridge_and_star()
    genes = np.array(sorted(set(edges.gene_a) | set(edges.gene_b)))
    top_sets = np.tile(np.arange(len(genes)), (3, 1))  # every draw lists every gene
    observed = propagate_hubs(genes, top_sets, edges, [], hubs=4, measure="betweenness")
    null = null_hub_probability(genes, top_sets, edges, hubs=4, measure="betweenness",
                                seed=11, networks=40, draws_per_network=1)
    table = with_null(observed, null).set_index("gene")
    # observed betweenness: HUB 480, A3 429, A0 357, BRIDGE 336, B0 322: the top 4
    assert table.loc["HUB", "p_hub"] == 1 and table.loc["BRIDGE", "p_hub"] == 1
    assert table.loc["HUB", "p_hub_null"] >= 0.9  # degree 16 of 41 genes: central anyway
    assert table.loc["HUB", "p_hub_excess"] <= 0.1
    assert table.loc["BRIDGE", "p_hub_excess"] >= 0.7  # degree 2: a hub only by position
    again = null_hub_probability(genes, top_sets, edges, hubs=4, measure="betweenness",
                                 seed=11, networks=40, draws_per_network=1)
    assert again.equals(null)  # one seed, one answer


def test_rewiring_keeps_every_degree_and_is_fixed_by_its_seed():
    from chemoshift.reports.expression.hub_null import rewired
    from chemoshift.reports.expression.network import graph_from_edges

    graph = graph_from_edges(_modules_bridge_and_star())
    first, same, other = rewired(graph, 5), rewired(graph, 5), rewired(graph, 6)
    assert dict(first.degree) == dict(graph.degree)
    assert sorted(map(sorted, first.edges)) == sorted(map(sorted, same.edges))
    assert sorted(map(sorted, first.edges)) != sorted(map(sorted, other.edges))
    changed = {frozenset(e) for e in graph.edges} - {frozenset(e) for e in first.edges}
    assert len(changed) > 0.5 * graph.number_of_edges()  # 10 swaps an edge: mostly new
    tiny = _graph([("a", "b"), ("b", "c")])
    assert set(rewired(tiny, 1).edges) == set(tiny.edges)  # too small to rewire: unchanged


def test_null_plan_keeps_the_swaps_within_the_budget_and_the_rankings_about_the_same():
    from chemoshift.reports.expression.hub_null import MAX_SWAPS, SWAPS_PER_EDGE, null_plan

    assert null_plan(1000, 100, 5) == (100, 5)  # 1,000,000 swaps: within the budget
    networks, draws = null_plan(6000, 100, 5)
    assert networks * SWAPS_PER_EDGE * 6000 <= MAX_SWAPS and networks * draws >= 500
    assert null_plan(10 ** 6, 100, 5)[0] == 20  # never fewer than MIN_NETWORKS


def test_hub_sensitivity_reuses_the_run_table_and_ranks_each_size():
    import numpy as np

    from chemoshift.reports.expression.network import propagate_hubs
    from chemoshift.reports.expression.topn_sensitivity import hub_sensitivity

    edges = _modules_bridge_and_star()
    genes = np.array(sorted(set(edges.gene_a) | set(edges.gene_b)))
    values = np.random.default_rng(2).normal(size=(30, len(genes)))
    values[:, list(genes).index("HUB")] += 5  # always in every list
    from chemoshift.reports.expression.tables import top_gene_sets

    main = propagate_hubs(genes, top_gene_sets(values, 20), edges, [], hubs=3)
    rows = hub_sensitivity(genes, values, edges, sizes=(10, 20, 41), hubs=3, main=(20, main))
    at_20 = rows[rows.top_n == 20].set_index("name")
    assert (at_20.probability == main.set_index("gene").p_hub.reindex(at_20.index)).all()
    assert set(rows.top_n) == {10, 20, 41} and set(rows.kind) == {"hub"}
    assert (rows.groupby("top_n").name.apply(set).map(len) == len(set(rows.name))).all()
