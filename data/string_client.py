"""STRING networks: read a web export or API TSV, or fetch one (cached, offline-capable).

Two TSV layouts carry the same edges (../shared/reference/SOURCES.md):

- web export: ``#node1 node2 node1_string_id node2_string_id neighborhood_on_chromosome
  gene_fusion phylogenetic_cooccurrence homology coexpression
  experimentally_determined_interaction database_annotated automated_textmining
  combined_score``;
- API ``/api/tsv/network``: ``stringId_A stringId_B preferredName_A preferredName_B
  ncbiTaxonId score nscore fscore pscore ascore escore dscore tscore``.

Scores are on 0-1 in both. ``evidence`` picks the score an edge is kept by: ``combined``
(default) or one channel (``experiments``, ``database``, ``textmining``, ``coexpression``,
``neighborhood``, ``fusion``, ``cooccurrence``). Edges below ``score`` are dropped, and an
edge listed in both directions is kept once (its highest score).

The client speaks to a pinned STRING version (``version-12-0.string-db.org``): names to
STRING ids with ``get_string_ids`` (limit 1), then ``network`` (species 9606,
``required_score`` 0-1000, ``network_type`` functional | physical), POST with
``identifiers`` joined by ``%0d``, one request a second, ``caller_identity`` always;
caching, retries and offline mode are :mod:`chemoshift.data.web_service`'s.
STRING data are CC BY 4.0.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.http_cache import DEFAULT_CACHE, HttpSettings
from chemoshift.data.text_tables import read_text, split_table
from chemoshift.data.web_service import OfflineError, ServiceClient, tsv_check

STRING_URL = "https://version-12-0.string-db.org/api"
CHANNELS = {  # evidence -> (web export column, API column)
    "combined": ("combined_score", "score"),
    "experiments": ("experimentally_determined_interaction", "escore"),
    "database": ("database_annotated", "dscore"),
    "textmining": ("automated_textmining", "tscore"),
    "coexpression": ("coexpression", "ascore"),
    "neighborhood": ("neighborhood_on_chromosome", "nscore"),
    "fusion": ("gene_fusion", "fscore"),
    "cooccurrence": ("phylogenetic_cooccurrence", "pscore"),
}
EDGE_COLUMNS = ["gene_a", "gene_b", "score"]
STRING_SETTINGS = HttpSettings(min_interval=1.0)  # STRING asks for one request a second
STRING_ADVICE = ("run with --offline to use cached answers only, or give a STRING network "
                 "file (--network FILE: a string-db.org TSV export)")


def parse_network(text: str, name: str = "<network>", score: float = 0.7,
                  evidence: str = "combined") -> pd.DataFrame:
    """Edges (``gene_a``, ``gene_b``, ``score``) of a STRING TSV in either layout.

    Refused, naming the line and the column: a gene name missing, a score that is no
    number on 0-1 (a score on 0-1000, as STRING's protein.links files give it, is said).
    """
    if evidence not in CHANNELS:
        raise InputError([Problem(name, None, None, f"evidence {evidence!r}",
                                  f"one of {sorted(CHANNELS)}")])
    if not 0 <= score <= 1:
        raise InputError([Problem(name, None, None, f"score {score}",
                                  "a STRING score on 0-1 (0.7 = high confidence)")])
    read = split_table(text.splitlines(), name, delimiter="\t", row="edge")
    frame = read.frame
    frame.columns = [c.lstrip("#").strip() for c in frame.columns]
    web, api = CHANNELS[evidence]
    if {"node1", "node2"} <= set(frame.columns):
        a, b, column = "node1", "node2", web
    elif {"preferredName_A", "preferredName_B"} <= set(frame.columns):
        a, b, column = "preferredName_A", "preferredName_B", api
    else:
        raise InputError([Problem(name, read.header_line, None, f"columns "
                                  f"{list(frame.columns)[:6]}", "a STRING web export (#node1, "
                                  "node2, ...) or API TSV (preferredName_A, preferredName_B, "
                                  "score, ...), tab-separated")])
    if column not in frame:
        raise InputError([Problem(name, read.header_line, column, "column missing",
                                  f"the {evidence} evidence column")])
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (values.isna() | ~values.between(0, 1)).to_numpy()
    thousands = bool(bad.any() and values[bad].between(1, 1000).all() and values.max() > 1)
    problems = [Problem(name, int(read.lines[i]), column, repr(frame[column].iat[i]),
                        "a score on 0-1" + (" (scores on 0-1000? divide them by 1000)"
                                            if thousands else "")) for i in np.flatnonzero(bad)]
    for node in (a, b):
        problems += [Problem(name, int(read.lines[i]), node, "an empty gene name",
                             "the gene at each end of an edge")
                     for i in np.flatnonzero((frame[node] == "").to_numpy())]
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.row)[:50])
    pairs = pd.DataFrame({"gene_a": frame[a], "gene_b": frame[b], "score": values})
    swap = pairs.gene_a > pairs.gene_b
    pairs.loc[swap, ["gene_a", "gene_b"]] = pairs.loc[swap, ["gene_b", "gene_a"]].to_numpy()
    pairs = pairs[(pairs.gene_a != pairs.gene_b) & (pairs.score >= score)]
    pairs = pairs.groupby(["gene_a", "gene_b"], as_index=False)["score"].max()
    return pairs.sort_values(["gene_a", "gene_b"]).reset_index(drop=True)[EDGE_COLUMNS]


def read_network(path: str | Path, score: float = 0.7, evidence: str = "combined"
                 ) -> pd.DataFrame:
    """Edges of a STRING network file (web export or API TSV, gzipped or not), see
    :func:`parse_network`; a file without edge rows is refused."""
    text = read_text(path, "a STRING network TSV")
    if not any(line.strip() for line in text.splitlines()[1:]):
        raise InputError([Problem(str(path), 2 if text.strip() else 1, None,
                                  "no edges" + (" below the header" if text.strip() else
                                                " (an empty file)"),
                                  "a STRING network TSV: a header line, then one edge a line")])
    return parse_network(text, str(path), score, evidence)


def read_gene_list(path: str | Path) -> list[str]:
    """One symbol a line (blank lines and ``#`` comments skipped), order kept, no repeats."""
    genes = []
    for line in read_text(path, "a gene list, one symbol a line").splitlines():
        symbol = line.split("\t")[0].split(",")[0].strip()
        if symbol and not symbol.startswith("#") and symbol not in genes:
            genes.append(symbol)
    if not genes:
        raise InputError([Problem(str(path), None, None, "no genes", "one symbol a line")])
    return genes


@dataclass
class StringClient:
    """The STRING API (see module doc); ``offline`` answers from the cache or ``bundled``."""

    caller_identity: str = "chemoshift"
    base_url: str = STRING_URL
    cache_dir: Path | None = DEFAULT_CACHE
    offline: bool = False
    species: int = 9606
    bundled: Path | None = None
    settings: HttpSettings = STRING_SETTINGS
    http: ServiceClient = field(init=False)
    preferred: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.http = ServiceClient("STRING", self.base_url, STRING_ADVICE,
                                  caller_identity=self.caller_identity,
                                  cache_dir=self.cache_dir, offline=self.offline,
                                  settings=self.settings)

    def string_ids(self, genes: Iterable[str]) -> dict[str, str]:
        """Symbol -> STRING id (its best match); symbols STRING does not know are absent.
        Also remembers STRING's preferred name of each, to name edges by the query."""
        genes = sorted(set(genes))
        text = self.http.request("POST", "tsv/get_string_ids", {
            "identifiers": "\r".join(genes), "species": str(self.species), "limit": "1",
            "echo_query": "1", "caller_identity": self.caller_identity},
            check=tsv_check(("queryItem", "stringId"))).decode("utf-8")
        frame = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
        if "preferredName" in frame:
            self.preferred.update(zip(frame.preferredName, frame.queryItem, strict=True))
        return dict(zip(frame.queryItem, frame.stringId, strict=True))

    def network(self, genes: Iterable[str], score: float = 0.7, network_type: str = "functional",
                evidence: str = "combined") -> pd.DataFrame:
        """Edges among ``genes`` (one request for the whole list), as :func:`parse_network`;
        offline without a cached answer, the ``bundled`` network restricted to ``genes``."""
        genes = sorted(set(genes))
        try:
            ids = self.string_ids(genes)
            text = self.http.request("POST", "tsv/network", {
                "identifiers": "\r".join(sorted(ids.values())), "species": str(self.species),
                "required_score": str(round(score * 1000)),
                "network_type": network_type, "caller_identity": self.caller_identity},
                check=tsv_check(("preferredName_A", "preferredName_B", "score"))
            ).decode("utf-8")
        except OfflineError:
            if self.bundled is None:
                raise
            edges = read_network(self.bundled, score, evidence)
            return edges[edges.gene_a.isin(genes) & edges.gene_b.isin(genes)].reset_index(
                drop=True)
        edges = parse_network(text, "STRING API", score, evidence)
        back = {name: query for name, query in self.preferred.items() if name != query}
        if back:
            edges = edges.replace({"gene_a": back, "gene_b": back})
        return edges
