"""GEO files by accession, from NCBI's HTTPS mirror of the GEO FTP site (cached,
offline-capable), for :func:`chemoshift.data.geo.read_expression`.

``GDS507`` -> ``datasets/GDSnnn/GDS507/soft/GDS507.soft.gz`` (a GDS SOFT file);
``GSE33006`` -> ``series/GSE33nnn/GSE33006/soft/GSE33006_family.soft.gz`` (``kind="family"``,
the default for a GSE) or ``.../matrix/GSE33006_series_matrix.txt.gz``
(``kind="matrix"``), the paths GEOquery uses. A body counts only if it is a complete gzip
file whose text starts as a GEO file does (``^`` or ``!``): an HTML page or a cut-off
download is retried and never cached. The answer is written (atomically) to ``folder``
(default ``<cache_dir>/geo``) and its path returned; caching, retries and offline mode are
:mod:`chemoshift.data.web_service`'s.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from chemoshift.data.http_cache import DEFAULT_CACHE, HttpSettings
from chemoshift.data.run_dir import atomic_path
from chemoshift.data.web_service import ServiceClient

GEO_URL = "https://ftp.ncbi.nlm.nih.gov/geo"
GZIP_TYPES = ("application/x-gzip", "application/gzip", "application/octet-stream",
              "binary/octet-stream")
ACCESSION = re.compile(r"^(GDS|GSE)(\d+)$")
GEO_ADVICE = ("run with --offline to use cached files only, or download {url} yourself "
              "(a browser, wget) and give its path: chemoshift fit expression FILE")


def geo_path(accession: str, kind: str | None = None) -> str:
    """The path of an accession's file under :data:`GEO_URL` (see module doc)."""
    match = ACCESSION.match(accession.strip().upper())
    if match is None:
        raise ValueError(f"{accession!r} is not a GEO accession (GDS123 or GSE123)")
    prefix, digits = match.groups()
    accession = prefix + digits
    stub = prefix + (digits[:-3] if len(digits) > 3 else "") + "nnn"
    if prefix == "GDS":
        return f"datasets/{stub}/{accession}/soft/{accession}.soft.gz"
    if (kind or "family") == "family":
        return f"series/{stub}/{accession}/soft/{accession}_family.soft.gz"
    if kind == "matrix":
        return f"series/{stub}/{accession}/matrix/{accession}_series_matrix.txt.gz"
    raise ValueError(f"kind {kind!r}: 'family' or 'matrix'")


def _check(body: bytes) -> str | None:
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        return f"not a complete gzip file ({error})"
    if text.lstrip()[:1] not in (b"^", b"!"):
        return f"not a GEO SOFT or series-matrix file (starts {text.lstrip()[:40]!r})"
    return None


@dataclass
class GeoClient:
    """GEO SOFT / series-matrix files by accession (see module doc)."""

    base_url: str = GEO_URL
    cache_dir: Path | None = DEFAULT_CACHE
    offline: bool = False
    caller_identity: str = "chemoshift"
    settings: HttpSettings = field(default_factory=lambda: HttpSettings(timeout=(5.0, 120.0)))
    http: ServiceClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = ServiceClient("GEO", self.base_url, GEO_ADVICE,
                                  caller_identity=self.caller_identity,
                                  cache_dir=self.cache_dir, offline=self.offline,
                                  settings=self.settings, expect=GZIP_TYPES)

    def fetch(self, accession: str, kind: str | None = None,
              folder: Path | None = None) -> Path:
        """The local path of an accession's file (fetched, or from the cache)."""
        path = geo_path(accession, kind)
        body = self.http.request("GET", path, {}, check=_check)
        folder = Path(folder) if folder is not None else (
            Path(self.cache_dir or ".") / "geo")
        target = folder / path.rsplit("/", 1)[-1]
        if not target.is_file() or target.read_bytes() != body:
            with atomic_path(target) as temporary:
                temporary.write_bytes(body)
        return target
