"""The bundled GDS507 subset through fit, load, enrich, network and the report section."""

from __future__ import annotations

import json

import pandas as pd

import chemoshift
from chemoshift.cli import main
from chemoshift.expression import demo_input, demo_network, demo_steps
from chemoshift.reports.expression.report import nuts_check_text, report_section
from chemoshift.reports.expression.tables import DE_COLUMNS


def test_demo_subset_end_to_end(tmp_path):
    path, options = demo_input()
    run = tmp_path / "run"
    assert options == {}
    assert main(["fit", "expression", str(path), "--out", str(run), "--top", "100",
                 "--no-progress"]) == 0
    de = pd.read_csv(run / "de.csv")
    assert list(de.columns) == DE_COLUMNS and len(de) == 2000
    assert de.p_top.sum() == __import__("pytest").approx(100, abs=1)
    fit = chemoshift.load(run)
    assert fit.assay == "expression" and fit.diagnostics.passed
    # the demo's steps after the fit run offline: bundled KEGG_2016 and bundled STRING file
    assert demo_steps(run) == 0
    enrichment = pd.read_csv(run / "enrichment.csv")
    assert {"p_enriched", "fold_enrichment_median"} <= set(enrichment.columns)
    network = json.loads((run / "network.json").read_text())
    assert network["source"] == str(demo_network())
    assert (run / "network_hubs.csv").is_file()
    section = report_section(run)
    assert section.startswith("<section") and "<html" not in section
    assert section.count("data:image/png;base64") >= 3
    assert "could not be drawn" not in section
    assert "study's reading" in section and "not checked against NUTS" in section
    assert "not the network of this run's genes" in section  # the bundled file is labelled
    # a run directory holding a NUTS comparison states its figures (here made-up ones)
    check = dict(n_probes=50, nuts_draws=2000, max_rhat=1.004, min_ess_bulk=600,
                 divergences=0, exact_draws=4000, max_abs_quantile_shift_sd=0.31,
                 mean_abs_quantile_shift_sd=0.061, top=10, max_abs_p_top_difference=0.027,
                 mean_abs_p_top_difference=0.0041)
    (run / "nuts_check.json").write_text(json.dumps(check))
    text = nuts_check_text(run)
    assert text.startswith("Checked against NUTS in this run") and "at most 0.31" in text


def test_bad_input_exits_2(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("probe\ts1\ts2\na\t1\t2\n")
    assert main(["fit", "expression", str(table), "--out", str(tmp_path / "r")]) == 2
