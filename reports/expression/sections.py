"""The words of the expression report's network and pathway parts: what p_hub_null,
p_enriched, CAMERA and the top-N sensitivity mean, filled in from a run directory's
``network.json``, ``enrichment.json`` and ``topn_sensitivity.csv`` (HTML fragments)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.reports.expression.enrichment import P_ENRICHED

LEADING = 5  # hubs named in the sentences on the null


def _text(value: object) -> str:
    """A value read from a run directory's file, as HTML text."""
    return html.escape(str(value))


def read_json(path: Path) -> dict:
    """A small settings file, or {} when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text()) if Path(path).is_file() else {}
    except (OSError, ValueError):
        return {}


def hub_null_text(info: dict, hubs: pd.DataFrame, k: int) -> str:
    """A paragraph on p_hub_null / p_hub_excess, naming leading hubs on either side."""
    null = info.get("null") or {}
    if "p_hub_excess" not in hubs or not null:
        return ("<p>No degree-preserving null was run (<code>--null-networks 0</code> or an "
                "older run): a high P(top-k hub) may only say that the gene is well studied."
                "</p>")
    text = (f"<p><strong>Hubs against a degree-preserving null.</strong> STRING's edges come "
            f"largely from the literature, so well-studied genes have many partners and rank "
            f"high whatever the experiment. <code>p_hub_null</code> is P(top-{k} hub) when "
            f"the network is rewired keeping every gene's degree (networkx double-edge swaps, "
            f"{_text(null.get('swaps_per_edge', '?'))} per edge, "
            f"{_text(null.get('networks', '?'))} rewired networks x "
            f"{_text(null.get('draws_per_network', '?'))} draws each, seed "
            f"{_text(null.get('seed', '?'))}); <code>p_hub_excess</code> = p_hub - p_hub_null. A "
            f"gene that is a hub in the rewired networks as often as in STRING is a hub by "
            f"its degree alone, which is not evidence about this experiment; a clear excess "
            f"says its partners are linked among themselves, bridge modules, or are "
            f"up-regulated with it.")
    leading = hubs[hubs.p_hub >= 0.5]
    by_degree = leading[leading.p_hub_excess < 0.1].gene.head(LEADING)
    beyond = leading.sort_values("p_hub_excess", ascending=False, kind="stable")
    beyond = beyond[beyond.p_hub_excess >= 0.3].gene.head(LEADING)
    if len(by_degree):
        text += (f" Hubs (P >= 0.5) by degree alone (excess < 0.1): "
                 f"{html.escape(', '.join(map(str, by_degree)))}.")
    if len(beyond):
        text += (f" Hubs well beyond their degree (excess >= 0.3): "
                 f"{html.escape(', '.join(map(str, beyond)))}.")
    return text + "</p>"


def enrichment_text(info: dict, table: pd.DataFrame) -> str:
    """A paragraph defining p_enriched and saying how CAMERA was computed."""
    text = (f"<p><code>p_enriched</code> = {html.escape(P_ENRICHED)}: the fraction of "
            f"posterior draws whose top-{_text(info.get('top', 'N'))} up-regulated list, tested by "
            f"the exact hypergeometric tail with Benjamini-Hochberg over all pathways in "
            f"that draw, gives the pathway an adjusted p below 0.05. It is a probability "
            f"about the list, not a p-value; <code>p_value</code> and "
            f"<code>p_adjusted</code> are the classical list's. Over-representation counts "
            f"genes as independent, and genes of a pathway are not: its p-values are too "
            f"small when they move together.")
    camera = info.get("camera") or {}
    if "camera_p" in table and camera:
        if camera.get("correlation") == "fixed":
            how = f"fixed at {camera.get('inter_gene_cor')}"
        else:
            how = (f"estimated for each pathway from the residuals across samples "
                   f"({camera.get('df_residual', '?')} residual df)")  # escaped below
        text += (f" <strong>CAMERA</strong> (Wu &amp; Smyth 2012, as limma's "
                 f"<code>camera</code>) is the correlation-aware competitive test beside it: "
                 f"the mean statistic of the pathway's genes against the rest's, its variance "
                 f"inflated by 1 + (m - 1) x the mean inter-gene correlation, "
                 f"{html.escape(how)}. Statistic: {html.escape(str(camera.get('statistic')))}"
                 f". <code>camera_p</code> is two-sided, <code>camera_direction</code> says "
                 f"Up or Down, <code>camera_p_adjusted</code> is BH over the pathways.")
    return text + "</p>"


def _sensitivity_note(run_dir: Path) -> str:
    """What network.json says was skipped (sizes beyond STRING's cached answer), if any."""
    note = (read_json(Path(run_dir) / "network.json").get("sensitivity") or {}).get("note")
    return f" Note: {html.escape(str(note))}." if note else ""


def sensitivity_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """kind -> a name x top-N table of 'probability (rank)' from topn_sensitivity.csv."""
    path = Path(run_dir) / "topn_sensitivity.csv"
    if not path.is_file():
        return {}
    rows = pd.read_csv(path, dtype={"name": str}, keep_default_na=False, na_values=[""])
    tables = {}
    for kind, part in rows.groupby("kind", sort=False):
        cell = [f"{p:.2f}" + (f" (#{int(r)})" if np.isfinite(r) else "")
                for p, r in zip(part.probability, part["rank"].astype(float), strict=True)]
        wide = part.assign(cell=cell).pivot(index="name", columns="top_n", values="cell")
        order = part.groupby("name").probability.max().sort_values(ascending=False,
                                                                   kind="stable").index
        wide = wide.loc[order]
        wide.columns = [f"top {n}" for n in wide.columns]
        tables[str(kind)] = wide.reset_index()
    return tables


def sensitivity_text(run_dir: Path, tops: dict[str, int]) -> str:
    """What the top-N sensitivity table holds, and how many leaders stay leaders (tops:
    kind -> the N of that kind's main table)."""
    path = Path(run_dir) / "topn_sensitivity.csv"
    rows = pd.read_csv(path, dtype={"name": str}, keep_default_na=False, na_values=[""])
    text = ("<p>The study's top 300 is a convention. Each row is a hub (P(top-k hub)) or a "
            "pathway (p_enriched) leading at some list size N, with its probability and rank "
            "(#) at every N, from the same posterior draws cut at N (hubs at an N other than "
            "the run's from an evenly spaced subset of draws: see the file's "
            "<code>draws</code>).")
    for kind, part in rows.groupby("kind", sort=False):
        ranks = part.pivot(index="name", columns="top_n", values="rank")
        top = tops.get(str(kind))
        if top not in ranks:
            continue
        leaders = ranks.index[ranks[top] <= 10]
        kept = [f"{int((ranks.loc[leaders, n] <= 10).sum())} at N = {n}"
                for n in ranks.columns if n != top]
        if len(leaders) and kept:
            text += (f" {_text(str(kind).capitalize())}s: of the {len(leaders)} ranked 1-10 "
                     f"at N = {top}, {' and '.join(kept)} are still ranked 1-10.")
    return text + _sensitivity_note(run_dir) + "</p>"
