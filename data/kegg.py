"""Gene sets: GMT files, and KEGG pathways from the KEGG REST API (cached, offline-capable).

GMT: one set a line, ``name<TAB>description<TAB>gene<TAB>gene...``. The bundled default is
Enrichr's KEGG_2016 human library (293 pathways, gene symbols; from the GSEApy repository,
``../shared/reference/kegg/KEGG_2016_Human.gmt``). KEGG data are free for academic use
only: a commercial user needs a KEGG licence (https://www.kegg.jp/kegg/legal.html).

The REST client (https://rest.kegg.jp) builds the same mapping from ``list/pathway/hsa``
(names), ``link/pathway/hsa`` (gene -> pathway) and ``list/hsa`` (gene -> symbol), with
the caching, retries and offline mode of :mod:`chemoshift.data.web_service`; answers
are kept 30 days (KEGG is updated), and an expired one is used when KEGG cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.http_cache import DEFAULT_CACHE, HttpSettings
from chemoshift.data.text_tables import read_text
from chemoshift.data.web_service import ServiceClient

KEGG_URL = "https://rest.kegg.jp"
BUNDLED_GMT = "KEGG_2016_Human.gmt"
KEGG_SETTINGS = HttpSettings(min_interval=0.34, expire_after=timedelta(days=30))  # 3 a second
KEGG_ADVICE = ("run with --offline to use cached answers only, or leave out --kegg-rest to "
               "use the bundled KEGG_2016 gene sets (or --gmt FILE, a local GMT file)")


def default_gmt() -> Path:
    """The bundled KEGG_2016 human GMT (academic use only)."""
    return Path(str(resources.files("chemoshift.data.example") / BUNDLED_GMT))


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Pathway name -> gene symbols of a GMT file (gzipped or not).

    Refused, naming the line: fewer than three tab-separated fields, an empty set name, a
    set named twice (both lines: which one counts is not the reader's guess), a set
    without genes; and a file without sets.
    """
    name = str(path)
    sets: dict[str, list[str]] = {}
    first: dict[str, int] = {}
    problems = []
    for number, line in enumerate(read_text(path, "a GMT file").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            problems.append(Problem(name, number, None, f"{len(fields)} tab-separated "
                                    "field(s)", "name, description, genes... separated by "
                                    "tabs"))
            continue
        pathway = fields[0].strip()
        genes = [g for g in (f.split(",")[0].strip() for f in fields[2:]) if g]  # GENE,1.0
        if not pathway:
            problems.append(Problem(name, number, None, "an empty gene-set name",
                                    "a name in the first field"))
        elif pathway in first:
            problems.append(Problem(name, number, None, f"gene set {pathway!r} again (first "
                                    f"on line {first[pathway]})", "each gene set once"))
        elif not genes:
            problems.append(Problem(name, number, None, f"gene set {pathway!r} without genes",
                                    "genes from the third field on"))
        else:
            first[pathway] = number
            sets[pathway] = list(dict.fromkeys(genes))
    if problems:
        raise InputError(problems[:50])
    if not sets:
        raise InputError([Problem(name, None, None, "no gene sets", "a GMT file: one set a "
                                  "line, name<TAB>description<TAB>genes...")])
    return sets


def _lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def _check(body: bytes) -> str | None:
    text = body.decode("utf-8", errors="replace")
    rows = _lines(text)
    if not rows:
        return "empty body"
    if any(len(r) < 2 for r in rows):
        return "a line without a tab (truncated?)"
    return None if text.endswith("\n") else "body does not end with a newline (truncated?)"


@dataclass
class KeggClient:
    """KEGG REST pathways of an organism as gene-symbol sets (see module doc)."""

    organism: str = "hsa"
    base_url: str = KEGG_URL
    cache_dir: Path | None = DEFAULT_CACHE
    offline: bool = False
    caller_identity: str = "chemoshift"
    settings: HttpSettings = KEGG_SETTINGS
    http: ServiceClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = ServiceClient("KEGG", self.base_url, KEGG_ADVICE,
                                  caller_identity=self.caller_identity,
                                  cache_dir=self.cache_dir, offline=self.offline,
                                  settings=self.settings)

    def _get(self, path: str) -> list[list[str]]:
        return _lines(self.http.request("GET", path, {}, check=_check).decode("utf-8"))

    def gene_sets(self) -> dict[str, list[str]]:
        org = self.organism
        names = {r[0].replace("path:", ""): r[1] for r in self._get(f"list/pathway/{org}")}
        symbols = {}
        for row in self._get(f"list/{org}"):
            text = row[-1]
            symbol = text.split(";")[0].split(",")[0].strip()
            symbols[row[0]] = symbol
        sets: dict[str, list[str]] = {}
        for gene, pathway in self._get(f"link/pathway/{org}"):
            pathway = pathway.replace("path:", "")
            label = f"{names.get(pathway, pathway)} ({pathway})"
            symbol = symbols.get(gene)
            if symbol:
                sets.setdefault(label, [])
                if symbol not in sets[label]:
                    sets[label].append(symbol)
        return sets
