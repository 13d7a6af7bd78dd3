"""The expression sub-commands of ``chemoshift``: fit options, ``hubs``, ``network``, ``enrich``.

    chemoshift fit expression GDS507.soft.gz --out runs/gds507 [--top 300]
    chemoshift fit expression table.tsv --samples sheet.csv --pairs patient --group tissue
                   --control normal --out runs/mine
    chemoshift fit expression GSE781_family.soft.gz --platform GPL97 --out runs/gse781
                   [--design auto|paired|unpaired] [--group source_name]
    chemoshift hubs --network string.tsv [--genes list.txt] [--score 0.7]
                    [--evidence experiments] --out DIR              -> DIR/hubs.csv
    chemoshift network RUN_DIR [--top 300 --hubs 20 --score 0.7] [--network FILE]
                    [--null-networks 100 --null-draws 5 --seed N] [--sensitivity 100,300,500]
                    -> RUN_DIR/network_hubs.csv (+ p_hub_null, p_hub_excess: degree-preserving
                       null), network_edges.csv, network.json, topn_sensitivity.csv (hubs)
    chemoshift enrich --genes list.txt [--gmt FILE] [--universe FILE] --out DIR
    chemoshift enrich RUN_DIR [--top 300] [--gmt FILE | --kegg-rest] [--inter-gene-cor R]
                    -> enrichment.csv (RUN_DIR mode: with p_enriched = P(BH-adjusted
                       over-representation p < 0.05) across the top-N lists, and CAMERA),
                       enrichment.json, topn_sensitivity.csv (pathways)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from chemoshift import fit_command
from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.data.http_cache import DEFAULT_CACHE
from chemoshift.data.kegg import KeggClient, default_gmt, read_gmt
from chemoshift.data.string_client import CHANNELS, StringClient, read_gene_list, read_network
from chemoshift.data.web_service import ServiceError
from chemoshift.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_SERVICE, exit_code
from chemoshift.reports.expression import camera, enrichment, hub_null, network, topn_sensitivity
from chemoshift.reports.expression.tables import (
    DEFAULT_TOP,
    classical_top_genes,
    draws_of,
    gene_draws,
    run_classical,
    top_gene_sets,
)


def add_command(assays) -> argparse.ArgumentParser:
    """``chemoshift fit expression``: ``--control`` names the control group."""
    parser = fit_command.assay_parser(
        assays, "expression", help="paired or unpaired microarray differential expression",
        input_help="GEO GDS or GSE family SOFT file (.soft or .soft.gz), or a plain table "
                   "with a sample sheet", options=_options, columns=False,
        contrasts=False)
    parser.set_defaults(command=fit_expression)
    return parser


def _options(group) -> None:
    group.add_argument("--control", action="append", default=[], metavar="GROUP",
                       help="the control group (default: the normal / control level)")
    group.add_argument("--pairs", help="sample-sheet column of the pair (patient); a GDS file "
                                       "needs none (its `individual` subset)")
    group.add_argument("--group", help="sample-sheet column of the group (tumour / normal); "
                                       "in a GDS a subset type (e.g. protocol, agent); "
                                       "default: the two-level subset type or source name")
    group.add_argument("--design", choices=["auto", "paired", "unpaired"], default=None,
                       help="paired (within-pair differences) or unpaired (two independent "
                            "groups); default auto: paired when there is a pairs column")
    group.add_argument("--platform", help="the GPL id to read from a GSE family SOFT file "
                                          "with several platforms (e.g. GPL96)")
    group.add_argument("--samples", type=Path, help="sample sheet of a plain table (default "
                                                    "<stem>.samples.csv beside it)")
    group.add_argument("--top", type=int, default=None,
                       help=f"N of P(top N) (default {DEFAULT_TOP})")


def fit_expression(args: argparse.Namespace) -> int:
    """``chemoshift fit expression``: ``--control`` is the control group's name."""
    control = args.control[-1] if args.control else None
    read_options = dict(pairs=args.pairs, group=args.group, control=control,
                        samples=args.samples, top=args.top or DEFAULT_TOP,
                        design=args.design or "auto", platform=args.platform)
    return fit_command.run_fit(args, read_options, {})


def add_commands(commands) -> None:
    hubs = commands.add_parser("hubs", help="rank hub genes of a STRING network (hubs.csv)")
    hubs.add_argument("--network", type=Path, required=True,
                      help="STRING TSV (web export or API)")
    hubs.add_argument("--genes", type=Path, help="keep only these genes (one a line)")
    _network_options(hubs)
    hubs.add_argument("--seed", type=int, default=0, help="seed of EPC's percolations")
    hubs.add_argument("--out", type=Path, required=True)
    hubs.set_defaults(command=run_hubs)

    net = commands.add_parser("network", help="P(top-k hub) over an expression run's posterior")
    net.add_argument("run_dir", type=Path)
    net.add_argument("--top", type=int, default=None, help="genes per list (default: the run's)")
    net.add_argument("--hubs", type=int, default=20)
    net.add_argument("--measure", default="mcc", choices=list(network.MEASURES))
    net.add_argument("--network", type=Path, help="a STRING TSV to use instead of fetching")
    net.add_argument("--null-networks", type=int, default=hub_null.NULL_NETWORKS,
                     help="degree-preserving rewired networks for p_hub_null (0: none; "
                          f"default {hub_null.NULL_NETWORKS})")
    net.add_argument("--null-draws", type=int, default=hub_null.NULL_DRAWS,
                     help=f"draws ranked per rewired network (default {hub_null.NULL_DRAWS})")
    net.add_argument("--seed", type=int, default=None,
                     help="seed of the rewiring (default: derived from the run's seed)")
    _sensitivity_option(net)
    _network_options(net)
    _service_options(net)
    net.add_argument("--out", type=Path, help="folder to write (default: RUN_DIR)")
    net.set_defaults(command=run_network)

    enrich = commands.add_parser("enrich", help="pathway over-representation (enrichment.csv)")
    enrich.add_argument("run_dir", type=Path, nargs="?", help="an expression run directory")
    enrich.add_argument("--genes", type=Path, help="a gene list, one symbol a line")
    enrich.add_argument("--gmt", type=Path, help="gene sets (default: bundled KEGG_2016, "
                                                 "academic use only)")
    enrich.add_argument("--kegg-rest", action="store_true",
                        help="gene sets from the KEGG REST API instead of a GMT")
    enrich.add_argument("--universe", type=Path, help="background genes, one a line")
    enrich.add_argument("--top", type=int, default=None)
    enrich.add_argument("--min-size", type=int, default=enrichment.MIN_SIZE)
    enrich.add_argument("--max-size", type=int, default=enrichment.MAX_SIZE)
    enrich.add_argument("--inter-gene-cor", type=float, default=None,
                        help="CAMERA's inter-gene correlation, fixed (limma's default is "
                             "0.01; default here: estimated per set from the residuals)")
    _sensitivity_option(enrich)
    _service_options(enrich)
    enrich.add_argument("--out", type=Path, help="folder to write (default: RUN_DIR)")
    enrich.set_defaults(command=run_enrich)


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score", type=float, default=0.7, help="edges below are dropped (0-1)")
    parser.add_argument("--evidence", default="combined", choices=sorted(CHANNELS),
                        help="STRING channel that scores an edge (default: combined)")


def _sensitivity_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sensitivity", type=topn_sensitivity.parse_sizes,
                        default=topn_sensitivity.SIZES,
                        help="top-N sizes of topn_sensitivity.csv, comma-separated, or "
                             "'none' (default 100,300,500)")


def _service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="use only the on-disk cache (or bundled data)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--caller-identity", default="chemoshift")


def run_hubs(args: argparse.Namespace) -> int:
    edges = read_network(args.network, args.score, args.evidence)
    if args.genes:
        listed = set(read_gene_list(args.genes))
        if not listed & (set(edges.gene_a) | set(edges.gene_b)):  # symbols vs ids, say
            raise InputError([Problem(str(args.genes), None, None, f"none of its {len(listed)} "
                                      f"genes in the network {args.network.name} (e.g. "
                                      f"{sorted(listed)[:3]})", "gene symbols as the network "
                                      "names them (e.g. "
                                      f"{sorted(set(edges.gene_a))[:3]})")])
        edges = edges[edges.gene_a.isin(listed) & edges.gene_b.isin(listed)]
    table = network.hub_measures(network.graph_from_edges(edges), seed=args.seed)
    files.write_csv(args.out / "hubs.csv", table)
    print(f"chemoshift: wrote {args.out / 'hubs.csv'} ({len(table)} genes, {len(edges)} "
          f"edges at score >= {args.score}, {args.evidence})", file=sys.stderr)
    return EXIT_OK


def _run_lists(run_dir: Path, top: int | None):
    """(gene names, per-draw gene log2 fold changes, per-draw top-N index sets, classical
    list, universe, N) of a run; the classical list is the study's reading: the top N
    genes by fold change of the moderated t analysis. The posterior is read once."""
    record = _record(run_dir)
    top = top or int(record.get("settings", {}).get("read", {}).get("top") or DEFAULT_TOP)
    tree = files.read_datatree(run_dir)
    probes, classical = run_classical(run_dir, tree)
    genes = probes.gene.to_numpy(str)
    names, values = gene_draws(draws_of(tree), genes)
    return (names, values, top_gene_sets(values, top),
            classical_top_genes(genes, classical, top), set(names), top)


def _record(run_dir: Path) -> dict:
    if not (run_dir / files.RECORD).is_file():
        raise InputError([Problem(str(run_dir), None, None, "not a run directory (no run.json)",
                                  "an expression run directory")])
    record = files.read_record(run_dir)
    if record.get("assay") != "expression":
        raise InputError([Problem(str(run_dir), None, None, f"a {record.get('assay')} run",
                                  "an expression run directory")])
    return record


def run_network(args: argparse.Namespace) -> int:
    run_dir, out = args.run_dir, args.out or args.run_dir
    names, values, top_sets, classical, _, top = _run_lists(run_dir, args.top)
    union = sorted(set(names[np.unique(top_sets)]) | set(classical))
    if args.network:
        edges = read_network(args.network, args.score, args.evidence)
        edges = edges[edges.gene_a.isin(union) & edges.gene_b.isin(union)]
        source = str(args.network)
    else:
        client = StringClient(caller_identity=args.caller_identity, cache_dir=args.cache,
                              offline=args.offline)
        try:
            edges = client.network(union, score=args.score, evidence=args.evidence)
        except ServiceError as error:
            print(f"chemoshift: {error}", file=sys.stderr)  # names STRING
            return EXIT_SERVICE
        source = "STRING API " + client.base_url
    table = network.propagate_hubs(names, top_sets, edges, classical, hubs=args.hubs,
                                   measure=args.measure)
    seed = args.seed if args.seed is not None else int(_record(run_dir).get("seed") or 0)
    null = _hub_null(names, top_sets, edges, args, seed)
    table = hub_null.with_null(table, null[0] if null else None)
    files.write_csv(out / "network_hubs.csv", table)
    files.write_csv(out / "network_edges.csv", edges)
    sensitivity = _hub_sensitivity(run_dir, out, args, (top, table), union, edges,
                                   (names, values))
    files.write_json(out / "network.json", dict(top=top, hubs=args.hubs, score=args.score,
                                                evidence=args.evidence, measure=args.measure,
                                                source=source, genes=len(union),
                                                edges=len(edges), draws=len(top_sets),
                                                null=null[1] if null else None,
                                                sensitivity=sensitivity))
    _refresh_report(run_dir, out)
    print(f"chemoshift: wrote {out / 'network_hubs.csv'} ({len(union)} genes, {len(edges)} "
          f"edges, {len(top_sets)} draws)", file=sys.stderr)
    return EXIT_OK


def _hub_null(names, top_sets, edges, args: argparse.Namespace, seed: int):
    """(p_hub_null by gene, what network.json records of it), or None when switched off."""
    if args.null_networks <= 0:
        return None
    started = time.perf_counter()
    networks, draws = hub_null.null_plan(len(edges), args.null_networks, args.null_draws)
    null = hub_null.null_hub_probability(names, top_sets, edges, hubs=args.hubs,
                                         measure=args.measure, seed=seed, networks=networks,
                                         draws_per_network=draws)
    return null, dict(networks=networks, draws_per_network=draws,
                      swaps_per_edge=hub_null.SWAPS_PER_EDGE, seed=seed,
                      method="networkx.double_edge_swap", seconds=round(
                          time.perf_counter() - started, 1))


def _hub_sensitivity(run_dir: Path, out: Path, args: argparse.Namespace, main: tuple,
                     union: list[str], edges, gene_values: tuple) -> dict | None:
    """Hub rows of topn_sensitivity.csv; the edges of sizes beyond the run's N come from
    the same file, or one more STRING request (skipped, and said, if it fails)."""
    if not args.sensitivity:
        return None
    names, values = gene_values
    sizes, note = list(args.sensitivity), ""
    wider = sorted(set(names[np.unique(top_gene_sets(values, max(sizes)))]) | set(union))
    if set(wider) - set(union):
        if args.network:
            edges = read_network(args.network, args.score, args.evidence)
            edges = edges[edges.gene_a.isin(wider) & edges.gene_b.isin(wider)]
        else:
            try:
                edges = StringClient(caller_identity=args.caller_identity,
                                     cache_dir=args.cache, offline=args.offline).network(
                    wider, score=args.score, evidence=args.evidence)
            except ServiceError as error:
                sizes = [n for n in sizes if n <= main[0]]
                note = f"sizes above {main[0]} skipped: {error}"
                print(f"chemoshift: top-N sensitivity: {note}", file=sys.stderr)
    rows = topn_sensitivity.hub_sensitivity(names, values, edges, sizes, hubs=args.hubs,
                                            measure=args.measure, main=main)
    topn_sensitivity.write_sensitivity(out, rows, "hub")
    return dict(sizes=sizes, hub_draws=topn_sensitivity.HUB_DRAWS, note=note)


def run_enrich(args: argparse.Namespace) -> int:
    if (args.run_dir is None) == (args.genes is None):
        print("chemoshift enrich: give either RUN_DIR or --genes FILE", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.kegg_rest:
        try:
            sets = KeggClient(cache_dir=args.cache, offline=args.offline,
                              caller_identity=args.caller_identity).gene_sets()
        except ServiceError as error:
            print(f"chemoshift: {error}", file=sys.stderr)  # names KEGG
            return EXIT_SERVICE
    else:
        sets = read_gmt(args.gmt or default_gmt())
    universe = set(read_gene_list(args.universe)) if args.universe else None
    if args.genes:
        if args.out is None:
            print("chemoshift enrich --genes: --out DIR is required", file=sys.stderr)
            return EXIT_BAD_INPUT
        table = enrichment.over_representation(read_gene_list(args.genes), sets, universe,
                                               args.min_size, args.max_size)
        out = args.out
    else:
        names, values, top_sets, classical, measured, top = _run_lists(args.run_dir,
                                                                       args.top)
        statistics = camera.run_statistics(args.run_dir, names, values)
        table = enrichment.propagate_enrichment(names, top_sets, sets, universe or measured,
                                                classical, args.min_size, args.max_size,
                                                statistics=statistics,
                                                inter_gene_cor=args.inter_gene_cor)
        out = args.out or args.run_dir
        _enrich_record(out, args, top, statistics, names, values, sets,
                       universe or measured)
    files.write_csv(out / "enrichment.csv", enrichment.for_csv(table))
    if args.run_dir is not None:
        _refresh_report(args.run_dir, out)
    print(f"chemoshift: wrote {out / 'enrichment.csv'} ({len(table)} pathways)",
          file=sys.stderr)
    return EXIT_OK


def _enrich_record(out: Path, args: argparse.Namespace, top: int, statistics, names, values,
                   sets, universe: set[str]) -> None:
    """enrichment.json (the settings and CAMERA's statistic) and the pathway rows of
    topn_sensitivity.csv."""
    estimated = args.inter_gene_cor is None and statistics.residuals is not None
    cor = (args.inter_gene_cor if args.inter_gene_cor is not None
           else None if estimated else camera.DEFAULT_INTER_GENE_COR)
    if args.sensitivity:
        kept = enrichment.filter_sets(sets, set(universe), args.min_size, args.max_size)
        rows = topn_sensitivity.pathway_sensitivity(names, values, kept, set(universe),
                                                    args.sensitivity)
        topn_sensitivity.write_sensitivity(out, rows, "pathway")
    files.write_json(out / "enrichment.json", dict(
        top=top, min_size=args.min_size, max_size=args.max_size, fdr=enrichment.FDR,
        p_enriched=enrichment.P_ENRICHED, camera=dict(
            statistic=statistics.source, genes=len(statistics.genes),
            df_residual=statistics.df_residual,
            correlation="estimated per set from residuals" if estimated else "fixed",
            inter_gene_cor=cor),
        sensitivity=dict(sizes=list(args.sensitivity)) if args.sensitivity else None))


def _refresh_report(run_dir: Path, out: Path) -> None:
    if Path(out).resolve() == Path(run_dir).resolve():
        from chemoshift.reports.expression.report import write_report

        write_report(run_dir)


def run_step(argv: list[str]) -> int:
    """Run ``chemoshift hubs | network | enrich`` (``argv`` without ``chemoshift``) and
    return its exit code: the steps after an expression fit, for the study and the demo."""
    parser = argparse.ArgumentParser(prog="chemoshift")
    add_commands(parser.add_subparsers(required=True, metavar="COMMAND"))
    return exit_code(parser.parse_args(argv))
