"""Expression run directory -> report.html, or one <section> for the combined demo report.

Reads only the run directory: ``posterior.nc``, ``run.json``, ``probes.csv``,
``expression.csv``, ``samples.csv``, ``de.csv`` and, once ``chemoshift network`` /
``chemoshift enrich`` have run on it, ``network_hubs.csv``, ``network_edges.csv``,
``network.json``, ``enrichment.csv``, ``enrichment.json`` and ``topn_sensitivity.csv``.
Every figure is drawn in its own try/except: one that fails becomes a box naming the error
and the rest is written.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.reports.expression.sections import (
    enrichment_text,
    hub_null_text,
    read_json,
    sensitivity_tables,
    sensitivity_text,
)
from chemoshift.reports.expression.tables import (
    DEFAULT_TOP,
    classical_top_probes,
    read_de,
    run_classical,
)
from chemoshift.reports.figure_style import SMALL, TINY, figure_style, plain

HEATMAP_GENES = 40  # up- and down-regulated rows each
TABLE_ROWS = 30
NETWORK_NODES = 120


def write_report(run_dir: Path, datatree: DataTree | None = None) -> Path:
    """(Re)write ``report.html`` of an expression run directory; return its path."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    title = html.escape(str(record.get("title") or run_dir.name))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: differential expression</title>
<style>body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
.failed {{ background: #fde2e1; padding: 0.6em; }} .ok {{ background: #e3f4e1; padding: 0.6em; }}
</style></head><body>
<h1>{title}</h1>
{report_section(run_dir, datatree)}
</body></html>
"""
    path = run_dir / "report.html"
    files.write_text(path, page)
    return path


def report_section(run_dir: Path, datatree: DataTree | None = None) -> str:
    """A self-contained <section> (tables, base64 figures, diagnostics) for one run."""
    run_dir = Path(run_dir)
    record = files.read_record(run_dir)
    data = record.get("data", {})
    diagnostics = record.get("diagnostics", {})
    top = int(record.get("settings", {}).get("read", {}).get("top") or DEFAULT_TOP)
    de = read_de(run_dir)
    passed = diagnostics.get("passed", False)
    parts = [f'<section id="expression"><h2>Differential expression: '
             f'{html.escape(str(data.get("treated", "")))} vs '
             f'{html.escape(str(data.get("control", "")))}</h2>',
             f'<p class="{"ok" if passed else "failed"}"><strong>'
             f'{html.escape(str(diagnostics.get("verdict", "")))}</strong></p>',
             f"<p>Method: {html.escape(str(data.get('method', '')))}. "
             f"{nuts_check_text(run_dir)}</p>",
             f"<p>{int(data.get('n_probes', len(de)))} probes, {_samples_text(data)}. "
             + "".join(f"{html.escape(str(n))}. " for n in data.get("notes", [])) + "</p>"]
    hyper = _hyper_text(datatree if datatree is not None else None, run_dir)
    if hyper:
        parts.append(f"<p>{hyper}</p>")
    parts.append("<h3>Figures</h3>")
    parts.append(_figure("MA plot", lambda: ma_plot(run_dir, de)))
    parts.append(_figure("Volcano plot", lambda: volcano_plot(de, top)))
    parts.append(_figure(f"Heat map: top {HEATMAP_GENES} up and {HEATMAP_GENES} down",
                         lambda: heat_map(run_dir, de)))
    parts.append(f"<h3>Most probably among the top {top} up-regulated</h3>")
    parts.append(_table(de.head(TABLE_ROWS), digits=3))
    parts.append(f"<p>{_classical_text(run_dir, datatree, de, top)} de.csv holds every "
                 "probe.</p>")
    parts.extend(_network_parts(run_dir))
    parts.extend(_enrichment_parts(run_dir))
    parts.extend(_sensitivity_parts(run_dir, top))
    parts.append("</section>")
    return "\n".join(parts)


def _samples_text(data: dict) -> str:
    """The design in a phrase: "7 pairs (A, B, ...)" or "unpaired: 2 control vs 2 treated
    arrays" (run.json's ``design``; runs before 0.7 were paired)."""
    if data.get("design", "paired") == "paired":
        pairs = data.get("pairs", [])
        return f"{len(pairs)} pairs ({html.escape(', '.join(map(str, pairs)))})"
    return (f"unpaired: {_text(data.get('n_control', '?'))} control vs "
            f"{_text(data.get('n_treated', '?'))} "
            "treated arrays (two independent groups)")


def _classical_text(run_dir: Path, datatree: DataTree | None, de: pd.DataFrame,
                    top: int) -> str:
    """Overlap of the classical top-N lists (both readings) with the highest P(top N)."""
    try:
        probes, classical = run_classical(run_dir, datatree)
    except Exception as error:  # an old or partial run: say so rather than fail
        return f"(Classical lists not available: {html.escape(str(error))}.)"
    bayes = set(de.sort_values("p_top", ascending=False).probe.head(top).astype(str))
    ids = probes.probe.to_numpy(str)
    by_fc = len(bayes & set(classical_top_probes(ids, classical, top, "log2fc")))
    by_t = len(bayes & set(classical_top_probes(ids, classical, top, "t")))
    return (f"The classical top {top} in the study's reading (the most up-regulated by fold "
            f"change in the moderated t analysis) shares {by_fc} of {top} probes "
            f"({by_fc / top:.0%}) with the {top} probes of highest P(top {top}); the top "
            f"{top} by moderated t shares {by_t} ({by_t / top:.0%}).")


def nuts_check_text(run_dir: Path) -> str:
    """The NUTS comparison of this run directory (nuts_check.json), if it was run."""
    path = Path(run_dir) / "nuts_check.json"
    if not path.is_file():
        return ("These exact draws were not checked against NUTS in this run directory "
                "(chemoshift.expression_nuts.compare_with_nuts does it on a subset of "
                "probes; the README gives the benchmark's GDS507 figures).")
    try:
        c = json.loads(path.read_text())
        return (f"Checked against NUTS in this run: the same model written out with pair "
                f"effects for {c['n_probes']} probes at the same hyperparameters, "
                f"{c['nuts_draws']} NUTS draws (max R-hat {c['max_rhat']:.3f}, min bulk ESS "
                f"{c['min_ess_bulk']:.0f}, {c['divergences']} divergences) against "
                f"{c['exact_draws']} exact draws: the 5%, 50% and 95% quantiles of log2 "
                f"fold change differ by at most {c['max_abs_quantile_shift_sd']:.2f} "
                f"(mean {c['mean_abs_quantile_shift_sd']:.3f}) posterior sd, and P(top "
                f"{c['top']} among them) by at most {c['max_abs_p_top_difference']:.3f} "
                f"(mean {c['mean_abs_p_top_difference']:.4f}).")
    except Exception as error:  # a damaged file: say so rather than fail
        return f"(nuts_check.json could not be read: {html.escape(str(error))}.)"


def _hyper_text(datatree: DataTree | None, run_dir: Path) -> str:
    try:
        tree = datatree if datatree is not None else files.read_datatree(run_dir)
        h = tree["hyperparameters"]
        weights = h["weights"].values
        grid = h["effect_grid"].values
        main = ", ".join(f"{w:.2f} at sd {g:g}σ" for w, g in zip(weights, grid, strict=True)
                         if w > 0.01)
        return (f"Variance prior: d0 = {float(h['d0']):.2f} prior degrees of freedom, s0 = "
                f"{np.sqrt(float(h['s0_sq'])):.3f} log2 (sd of a within-pair difference); "
                f"effect-size mixture weights: {html.escape(main)}.")
    except Exception:  # an old or partial run: say nothing rather than fail
        return ""


# -- figures --------------------------------------------------------------------------------


def ma_plot(run_dir: Path, de: pd.DataFrame) -> Figure:
    """log2 fold change (posterior median) against mean log2 expression, coloured by P(top N)."""
    values = pd.read_csv(run_dir / "expression.csv", dtype={"probe": str},
                         keep_default_na=False, na_values=[""]).set_index("probe")
    average = values.mean(axis=1).reindex(de.probe)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    points = ax.scatter(average.values, de.log2fc_median, c=de.p_top, s=3, cmap="viridis",
                        vmin=0, vmax=1, rasterized=True)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("mean log2 expression (A)")
    ax.set_ylabel("log2 fold change, posterior median (M)")
    fig.colorbar(points, ax=ax, label="P(top N)")
    return fig


def volcano_plot(de: pd.DataFrame, top: int) -> Figure:
    """Posterior median log2 fold change against -log10 moderated-t p, coloured by P(top N)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    y = -np.log10(np.clip(de.p_value.astype(float), 1e-300, 1))
    points = ax.scatter(de.log2fc_median, y, c=de.p_top, s=3, cmap="viridis", vmin=0, vmax=1,
                        rasterized=True)
    ax.set_xlabel("log2 fold change, posterior median")
    ax.set_ylabel("-log10 p (moderated t)")
    fig.colorbar(points, ax=ax, label=f"P(top {top})")
    return fig


def heat_map(run_dir: Path, de: pd.DataFrame, n: int = HEATMAP_GENES) -> Figure:
    """Row-centred log2 expression of the n most up- and n most down-regulated probes."""
    values = pd.read_csv(run_dir / "expression.csv", dtype={"probe": str},
                         keep_default_na=False, na_values=[""]).set_index("probe")
    samples = pd.read_csv(run_dir / "samples.csv", dtype=str, keep_default_na=False)
    ordered = de.sort_values("log2fc_median")
    chosen = pd.concat([ordered.tail(n).iloc[::-1], ordered.head(n)])
    columns = list(samples.sort_values(["role", "pair"])["sample"])
    matrix = values.loc[chosen.probe, columns]
    matrix = matrix.sub(matrix.mean(axis=1), axis=0)
    fig = Figure(figsize=(7, 11))
    ax = fig.subplots()
    limit = np.nanpercentile(np.abs(matrix.to_numpy()), 98)
    image = ax.imshow(matrix.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit,
                      vmax=limit, interpolation="nearest")
    labels = [plain(g or p) for g, p in zip(chosen.gene, chosen.probe, strict=True)]
    ax.set_yticks(range(len(labels)), labels, fontsize=TINY)
    roles = samples.set_index("sample").loc[columns]
    ax.set_xticks(range(len(columns)), [plain(f"{r.group}\n{r.pair}") for r in roles.itertuples()],
                  fontsize=TINY)
    fig.colorbar(image, ax=ax, label="log2 expression, row-centred")
    return fig


def network_plot(edges: pd.DataFrame, hubs: pd.DataFrame, k: int) -> Figure:
    """The network of the most probable hubs' genes, nodes sized by P(top-k hub)."""
    import networkx as nx

    keep = set(hubs.sort_values("p_hub", ascending=False).gene.head(NETWORK_NODES))
    graph = nx.Graph()
    graph.add_edges_from((a, b) for a, b in zip(edges.gene_a, edges.gene_b, strict=True)
                         if a in keep and b in keep)
    p = hubs.set_index("gene").p_hub
    fig = Figure(figsize=(8, 8))
    ax = fig.subplots()
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no edges among the listed genes", ha="center")
        return fig
    layout = nx.spring_layout(graph, seed=1)
    nodes = list(graph.nodes)
    sizes = [20 + 600 * float(p.get(g, 0)) for g in nodes]
    nx.draw_networkx_edges(graph, layout, ax=ax, alpha=0.3)
    nx.draw_networkx_nodes(graph, layout, nodelist=nodes, node_size=sizes, ax=ax,
                           node_color=[float(p.get(g, 0)) for g in nodes], cmap="viridis",
                           vmin=0, vmax=1)
    nx.draw_networkx_labels(graph, layout, labels={g: plain(g) for g in nodes if p.get(g, 0) > 0.2},
                            font_size=SMALL, ax=ax)
    ax.set_title(f"node size: P(top-{k} hub)")
    ax.set_axis_off()
    return fig


def pathway_dot_plot(enrichment: pd.DataFrame, n: int = 25) -> Figure:
    """Pathways by p_enriched (P(BH-adjusted over-representation p < 0.05) across the
    posterior's top-N lists); x = posterior median fold enrichment."""
    table = enrichment.sort_values(["p_enriched", "fold_enrichment_median"],
                                   ascending=False).head(n).iloc[::-1]
    fig = Figure(figsize=(8, 0.3 * len(table) + 1.5))
    ax = fig.subplots()
    points = ax.scatter(table.fold_enrichment_median, range(len(table)), c=table.p_enriched,
                        s=20 + 4 * table.overlap.astype(float), cmap="viridis", vmin=0, vmax=1)
    ax.hlines(range(len(table)), table["fold_enrichment_q2.5"], table["fold_enrichment_q97.5"],
              color="grey", lw=1)
    ax.set_yticks(range(len(table)), [plain(str(p)[:60]) for p in table.pathway], fontsize=SMALL)
    ax.set_xlabel("fold enrichment (posterior median, 95% interval)")
    fig.colorbar(points, ax=ax, label="p_enriched: P(BH-adjusted p < 0.05) over top-N lists")
    return fig


# -- optional parts --------------------------------------------------------------------------


def _network_parts(run_dir: Path) -> list[str]:
    path = run_dir / "network_hubs.csv"
    if not path.is_file():
        return ["<p>No network yet: <code>chemoshift network RUN_DIR</code> adds P(top-k hub) "
                "per gene.</p>"]
    hubs = pd.read_csv(path, keep_default_na=False, na_values=[""])
    settings = run_dir / "network.json"
    info = json.loads(settings.read_text()) if settings.is_file() else {}
    k = int(info.get("hubs", 20))
    parts = ["<h3>Network hubs (posterior over the top-N lists)</h3>", _network_source(info)]
    edges_path = run_dir / "network_edges.csv"
    if edges_path.is_file():
        edges = pd.read_csv(edges_path, keep_default_na=False)
        parts.append(_figure("Network", lambda: network_plot(edges, hubs, k)))
    parts.append(_table(hubs.head(TABLE_ROWS), digits=3))
    parts.append(hub_null_text(info, hubs, k))
    return parts


def _network_source(info: dict) -> str:
    """Where the edges came from, said plainly (the demo's bundled file is not this run's
    network)."""
    if not info:
        return "<p>Network settings (network.json) not found.</p>"
    source = str(info.get("source", "unknown"))
    text = (f"<p>Edges: {html.escape(source)}; {_text(info.get('edges', '?'))} edges among "
            f"the {_text(info.get('genes', '?'))} genes of the {_text(info.get('draws', '?'))} "
            f"draws' top-{_text(info.get('top', '?'))} lists, score >= "
            f"{_text(info.get('score', '?'))} "
            f"({html.escape(str(info.get('evidence', 'combined')))}).")
    if source.endswith("string_network_dlbcl.tsv"):
        text += (" This is the demo's bundled offline file: a real STRING export of 63 "
                 "immune genes from a lymphoma study, not the network of this run's genes; "
                 "fetch STRING for them with <code>chemoshift network RUN_DIR</code> online.")
    return text + "</p>"


def _enrichment_parts(run_dir: Path) -> list[str]:
    path = run_dir / "enrichment.csv"
    if not path.is_file():
        return ["<p>No pathways yet: <code>chemoshift enrich RUN_DIR</code> adds "
                "P(enriched) per pathway.</p>"]
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    parts = ["<h3>Pathway over-representation</h3>"]
    if "p_enriched" in table:
        parts.append(enrichment_text(read_json(run_dir / "enrichment.json"), table))
        parts.append(_figure("Pathways", lambda: pathway_dot_plot(table)))
        table = table.sort_values("p_enriched", ascending=False)
    parts.append(_table(table.drop(columns=["genes"], errors="ignore").head(TABLE_ROWS),
                        digits=3))
    return parts


def _sensitivity_parts(run_dir: Path, top: int) -> list[str]:
    """The top-N sensitivity section: one name x N table per kind (hub, pathway)."""
    tables = sensitivity_tables(run_dir)
    if not tables:
        return []
    tops = {kind: int(read_json(run_dir / name).get("top") or top)
            for kind, name in (("hub", "network.json"), ("pathway", "enrichment.json"))}
    parts = ["<h3>How the list size N moves the answers</h3>", sensitivity_text(run_dir, tops)]
    for kind, table in tables.items():
        parts.append(f"<h4>{html.escape(kind)}s</h4>")
        parts.append(_table(table, digits=3))
    return parts


def _figure(name: str, draw: Callable[[], Figure]) -> str:
    try:
        with figure_style():
            fig = draw()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(name)}</figcaption></figure>")
    except Exception as error:  # a figure never costs the report
        return (f'<p class="failed">Figure "{html.escape(name)}" could not be drawn: '
                f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</p>")


def _text(value: object) -> str:
    """A value read from a run directory's JSON, as HTML text (written by chemoshift, but a
    file is a file: nothing read from one reaches the page unescaped)."""
    return html.escape(str(value))


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "" if not np.isfinite(value) else f"{value:.{digits}g}"
            else:
                text = str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"
