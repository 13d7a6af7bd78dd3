"""cytoHubba's measures on graphs small enough to score by hand; the hubs command."""

from __future__ import annotations

import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.reports.network import HUB_COLUMNS, graph_from_edges, hub_measures


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

    from chemoshift.reports.network import ordinal_ranks

    star = nx.Graph([("H", "a"), ("H", "b"), ("H", "c"), ("x", "y")])
    score = {"H": 3.0, "a": 1.0, "b": 1.0, "c": 1.0, "x": 1.0, "y": 1.0}
    ranks = ordinal_ranks(score, star, ["y", "c", "H", "a", "b", "x"])
    assert ranks["H"] == 1
    assert sorted(ranks) == [1, 2, 3, 4, 5, 6]  # no shared ranks: ties cannot all be top-k
    assert list(ranks.sort_values().index[1:]) == ["y", "c", "a", "b", "x"]  # list order
