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
    """Pathway name -> gene symbols of a GMT file."""
    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(str(path), None, None, "no such file", "a GMT file")])
    sets: dict[str, list[str]] = {}
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 3:
            problems.append(Problem(str(path), number, None, f"{len(fields)} tab-separated "
                                    "field(s)", "name, description, genes..."))
            continue
        genes = [g.strip().split(",")[0] for g in fields[2:] if g.strip()]
        sets[fields[0].strip()] = list(dict.fromkeys(genes))
    if problems:
        raise InputError(problems)
    if not sets:
        raise InputError([Problem(str(path), None, None, "no gene sets", "a GMT file")])
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
