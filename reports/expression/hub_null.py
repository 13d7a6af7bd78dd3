"""Hubs against a degree-preserving null: is a gene a hub beyond what its degree explains?

STRING's edges come from the literature as much as from biology: a well-studied gene has
many partners, so it ranks high by degree, MCC and most other measures whatever the
experiment. The null keeps every gene's degree and nothing else: the network of the union
of the draws' top-N genes is rewired by double-edge swaps (``networkx.double_edge_swap``,
``SWAPS_PER_EDGE`` x edges swaps per network, so each rewired network is far from the
observed one and from the others), and the posterior's top-N lists are ranked on the
rewired networks exactly as on the observed one.

``p_hub_null`` is P(top-k hub) over pairs (rewired network, posterior draw): each of
``NULL_NETWORKS`` rewired networks ranks ``NULL_DRAWS`` draws (a seeded permutation of the
draws, cycled), so the null costs ``NULL_NETWORKS x NULL_DRAWS`` rankings, not one per
network and draw. The time is bounded by a swap budget (``MAX_SWAPS``, about a minute):
a network too large for ``NULL_NETWORKS`` rewirings within it gets fewer (not below
``MIN_NETWORKS``), each ranking more draws, so the count of rankings stays
(:func:`null_plan`; ``network.json`` records the plan used).

``p_hub_excess = p_hub - p_hub_null`` (-1..1): how much more often the gene is a top-k
hub on the observed network than on networks where only its degree is kept. A hub by
degree alone has an excess near 0; a gene whose partners are linked among themselves
(cliques, which raise MCC), that bridges modules (betweenness), or whose partners are
up-regulated with it, has a clear positive excess. Everything is seeded from
one integer (``chemoshift network`` derives it from the run's seed).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from chemoshift.reports.expression.network import draw_hub_ranks, graph_from_edges

NULL_NETWORKS, NULL_DRAWS, SWAPS_PER_EDGE = 100, 5, 10
MAX_SWAPS, MIN_NETWORKS = 1_500_000, 20  # the time bound: ~0.03-0.05 ms a swap in networkx
TRIES_PER_SWAP = 20  # a dense graph may not admit every swap: stop trying after this many
NULL_STREAM = 7_100_521  # separates the null's random stream from the run's other streams
NULL_COLUMNS = ["p_hub_null", "p_hub_excess"]


def rewired(graph: nx.Graph, seed: int, swaps_per_edge: int = SWAPS_PER_EDGE) -> nx.Graph:
    """A copy of ``graph`` with every degree kept and ``swaps_per_edge`` x edges double-edge
    swaps made (fewer if the graph does not admit them: the swaps made are kept); graphs
    with fewer than 4 nodes or 2 edges cannot be rewired and come back unchanged."""
    copy = graph.copy()
    n_edges = copy.number_of_edges()
    if copy.number_of_nodes() < 4 or n_edges < 2:
        return copy
    swaps = swaps_per_edge * n_edges
    try:
        nx.double_edge_swap(copy, nswap=swaps, max_tries=TRIES_PER_SWAP * swaps, seed=seed)
    except nx.NetworkXAlgorithmError:
        pass  # the swaps made so far stand: the graph is as rewired as it can be
    return copy


def null_plan(n_edges: int, networks: int = NULL_NETWORKS, draws_per_network: int = NULL_DRAWS,
              max_swaps: int = MAX_SWAPS) -> tuple[int, int]:
    """(rewired networks, draws ranked per network) within the swap budget: as asked when
    ``networks`` x ``SWAPS_PER_EDGE`` x ``n_edges`` fits ``max_swaps``, else fewer networks
    (at least ``MIN_NETWORKS``) each ranking more draws, about as many rankings in all."""
    affordable = max(MIN_NETWORKS, max_swaps // (SWAPS_PER_EDGE * max(n_edges, 1)))
    if networks <= affordable:
        return networks, draws_per_network
    return affordable, -(-networks * draws_per_network // affordable)


def null_hub_probability(gene_names: np.ndarray, top_sets: np.ndarray, edges: pd.DataFrame,
                         hubs: int = 20, measure: str = "mcc", seed: int = 0,
                         networks: int = NULL_NETWORKS, draws_per_network: int = NULL_DRAWS
                         ) -> pd.Series:
    """P(top-``hubs`` hub) of each gene under the degree-preserving null (index: gene).

    gene_names : (m,) symbols; top_sets : (n_draws, N) indices into gene_names; edges : the
    edge list ``propagate_hubs`` used (``gene_a``, ``gene_b``). Genes never a null hub get
    0; a gene absent from every ranked list is absent from the result."""
    full = graph_from_edges(edges)
    rng = np.random.default_rng([int(seed), NULL_STREAM])
    order = rng.permutation(len(top_sets))
    per_network = max(1, min(draws_per_network, len(top_sets)))
    counts: dict[str, int] = {}
    rankings = 0
    for r in range(networks):
        network = rewired(full, int(rng.integers(2 ** 32)))
        for j in range(per_network):
            listed = [str(g) for g in gene_names[top_sets[order[(r * per_network + j)
                                                                 % len(order)]]]]
            for gene in listed:
                counts.setdefault(gene, 0)
            for gene, rank in draw_hub_ranks(network, listed, measure).items():
                if rank <= hubs:
                    counts[gene] += 1
            rankings += 1
    return pd.Series({g: c / max(rankings, 1) for g, c in counts.items()}, dtype=float,
                     name="p_hub_null")


def with_null(table: pd.DataFrame, null: pd.Series | None) -> pd.DataFrame:
    """network_hubs.csv with ``NULL_COLUMNS`` appended: ``p_hub_null`` (0 for a gene the
    null never listed; empty when no null was run, ``null`` None) and
    ``p_hub_excess = p_hub - p_hub_null``."""
    out = table.copy()
    if null is None:
        out["p_hub_null"] = out["p_hub_excess"] = np.nan
        return out
    out["p_hub_null"] = out.gene.map(null).fillna(0.0).astype(float)
    out["p_hub_excess"] = out.p_hub - out.p_hub_null
    return out
