"""`chemoshift enrich` and `chemoshift network` on a fitted run: CAMERA columns, the
degree-preserving hub null, topn_sensitivity.csv, the report's words, the output contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from chemoshift.cli import main
from chemoshift.expression import demo_input
from chemoshift.reports.expression.camera import CAMERA_COLUMNS
from chemoshift.reports.expression.enrichment import ENRICHMENT_COLUMNS, POSTERIOR_COLUMNS
from chemoshift.reports.expression.hub_null import NULL_COLUMNS
from chemoshift.reports.expression.tables import run_gene_values, top_gene_sets
from chemoshift.reports.expression.topn_sensitivity import SENSITIVITY_COLUMNS

CHECKS = Path(__file__).resolve().parents[2] / "shared" / "checks" / "run_outputs.py"
HUB_COLUMNS_BEFORE = ["gene", "p_hub", "p_in_list", "p_connected", "rank_median", "rank_q2.5",
                      "rank_q97.5", "classical_rank", "classical_hub"]
FAST = ["--null-networks", "10", "--null-draws", "2", "--sensitivity", "50,100,150"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    """The bundled GDS507 subset fitted (top 100), and a STRING-like TSV over the genes of
    its top-150 lists (a scale-free graph with clustering; made up, for the wiring only)."""
    folder = tmp_path_factory.mktemp("steps")
    run = folder / "run"
    path, _ = demo_input()
    assert main(["fit", "expression", str(path), "--out", str(run), "--top", "100",
                 "--no-progress"]) == 0
    names, values = run_gene_values(run)
    genes = sorted(set(names[np.unique(top_gene_sets(values, 150))]))
    graph = nx.powerlaw_cluster_graph(len(genes), 2, 0.4, seed=3)
    network = folder / "string.tsv"
    pd.DataFrame([(genes[a], genes[b], 0.9) for a, b in graph.edges],
                 columns=["preferredName_A", "preferredName_B", "score"]).to_csv(
        network, sep="\t", index=False)
    return run, network


def test_enrich_appends_camera_columns_after_the_contract(fitted):
    run, _ = fitted
    assert main(["enrich", str(run), "--sensitivity", "50,100,150"]) == 0
    table = pd.read_csv(run / "enrichment.csv")
    assert list(table.columns) == [*ENRICHMENT_COLUMNS, *POSTERIOR_COLUMNS, *CAMERA_COLUMNS]
    assert table.camera_p.between(0, 1).all() and table.camera_p_adjusted.between(0, 1).all()
    assert set(table.camera_direction) <= {"Up", "Down"}
    assert table.camera_correlation.notna().all()  # estimated from the 6 residual df
    settings = pd.read_json(run / "enrichment.json", typ="series")
    assert settings.camera["correlation"] == "estimated per set from residuals"
    assert settings.camera["df_residual"] == 6  # 14 samples, intercept + 6 pairs + treated
    fixed = run.parent / "fixed"
    assert main(["enrich", str(run), "--inter-gene-cor", "0.01", "--out", str(fixed),
                 "--sensitivity", "none"]) == 0
    assert (pd.read_csv(fixed / "enrichment.csv").camera_correlation == 0.01).all()
    assert not (fixed / "topn_sensitivity.csv").exists()


def test_network_appends_the_null_and_is_the_same_for_the_same_seed(fitted):
    run, network = fitted
    assert main(["network", str(run), "--network", str(network), *FAST]) == 0
    hubs = pd.read_csv(run / "network_hubs.csv")
    assert list(hubs.columns) == [*HUB_COLUMNS_BEFORE, *NULL_COLUMNS]
    assert hubs.p_hub_null.between(0, 1).all()
    assert np.allclose(hubs.p_hub_excess, hubs.p_hub - hubs.p_hub_null, atol=2e-6)
    settings = pd.read_json(run / "network.json", typ="series")
    assert settings.null["networks"] == 10 and settings.null["seed"] == 20261126  # run's seed
    again = run.parent / "again"
    assert main(["network", str(run), "--network", str(network), *FAST, "--out",
                 str(again)]) == 0
    assert pd.read_csv(again / "network_hubs.csv").equals(hubs)


def test_sensitivity_file_holds_both_kinds_and_the_report_explains_them(fitted):
    run, network = fitted
    assert main(["enrich", str(run), "--sensitivity", "50,100,150"]) == 0
    assert main(["network", str(run), "--network", str(network), *FAST]) == 0
    rows = pd.read_csv(run / "topn_sensitivity.csv")
    assert list(rows.columns) == SENSITIVITY_COLUMNS
    assert set(rows.kind) == {"hub", "pathway"} and set(rows.top_n) == {50, 100, 150}
    assert rows.probability.between(0, 1).all()
    hubs = pd.read_csv(run / "network_hubs.csv").set_index("gene").p_hub
    at_run = rows[(rows.kind == "hub") & (rows.top_n == 100)].set_index("name").probability
    assert np.allclose(at_run, hubs.reindex(at_run.index), atol=1e-6)  # the main table
    page = (run / "report.html").read_text()
    assert "degree-preserving null" in page and "p_hub_excess" in page
    assert "P(BH-adjusted over-representation p &lt; 0.05) across the posterior" in page
    assert "CAMERA" in page and "How the list size N moves the answers" in page
    checked = subprocess.run([sys.executable, str(CHECKS), str(run)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout


def test_sizes_beyond_the_run_are_skipped_and_said_when_string_cannot_answer(fitted, tmp_path,
                                                                              monkeypatch):
    from chemoshift import expression_commands
    from chemoshift.data.string_client import read_network
    from chemoshift.data.web_service import ServiceError

    run, network = fitted
    main_union: list[int] = []

    def fetch(self, genes, score=0.7, network_type="functional", evidence="combined"):
        genes = set(genes)
        if main_union and len(genes) > main_union[0]:
            raise ServiceError("offline, and no cached answer for this gene list")
        main_union.append(len(genes))
        edges = read_network(network, score, evidence)
        return edges[edges.gene_a.isin(genes) & edges.gene_b.isin(genes)]

    monkeypatch.setattr(expression_commands.StringClient, "network", fetch)
    out = tmp_path / "net"
    assert main(["network", str(run), "--out", str(out), *FAST]) == 0  # the fit's N still
    rows = pd.read_csv(out / "topn_sensitivity.csv")
    assert set(rows.top_n) == {50, 100}  # 150 needs genes the cache does not hold
    settings = pd.read_json(out / "network.json", typ="series")
    assert settings.sensitivity["sizes"] == [50, 100]
    assert "sizes above 100 skipped" in settings.sensitivity["note"]
