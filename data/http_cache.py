"""The HTTP session of the STRING, KEGG and GEO clients (one job: build it).

A ``requests_cache.CachedSession`` with:

- **cache**: requests-cache's filesystem backend in ``<cache_dir>/http`` (default
  ``$CHEMOSHIFT_CACHE``, else ``~/.cache/chemoshift``), one JSON file per response, named
  by requests-cache's key (a hash of the method, the normalised URL and query, the
  normalised form body; ``caller_identity`` is left out of the key and of the file). Each
  file starts with the SHA-256 of the rest: an entry whose bytes changed on disk (a
  half-written file, a bad sector, an edit) does not load, so it counts as not cached and
  is fetched again, never used. ``cache_dir=None`` keeps answers in memory only.
- **expiry**: ``HttpSettings.expire_after`` (never, by default: STRING is a pinned version,
  a GEO file an accession; KEGG's client says 30 days), and ``stale_if_error``: when a
  refresh fails, the expired answer is served.
- **what is cached**: status 200 of GET and POST (STRING's API is POST), and only when the
  Content-Type is one the client expects (an HTML error page served as 200 is not stored).
- **retries**: an ``HTTPAdapter`` with urllib3's ``Retry``: connection errors, time-outs, 429
  and 5xx are retried ``retries`` times (POST too: STRING's requests are queries) with
  exponential back-off ``backoff * 2**(n-1)`` s before retry n, honouring ``Retry-After``;
  both waits are capped at ``max_wait`` (a server asking for an hour gets ``max_wait``).
- **pacing**: at least ``min_interval`` s between requests that go out (STRING asks for
  one a second, KEGG three a second); answers from the cache are not paced.
- **time-outs**: ``timeout`` (connect, read) s, which callers pass on every request; at
  most ``max_redirects`` redirects (a redirect loop ends as ``TooManyRedirects``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from requests_cache import NEVER_EXPIRE, CachedSession, FileCache, SerializerPipeline, Stage
from requests_cache.serializers.preconf import json_preconf_stage
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

DEFAULT_CACHE = Path(os.environ.get("CHEMOSHIFT_CACHE",
                                    Path.home() / ".cache" / "chemoshift"))
RETRY_STATUSES = (429, 500, 502, 503, 504)
IGNORED_PARAMETERS = ("caller_identity",)  # not part of a cache key, not stored

# requests-cache logs "using cached response" with a traceback; a library leaves showing
# that to the application's logging (urllib3 does the same for its own logger)
logging.getLogger("requests_cache").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class HttpSettings:
    """How patient a client is; tests shrink every number."""

    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read (s)
    retries: int = 4  # after the first attempt
    backoff: float = 1.0  # s before the first retry, doubled for each further one
    max_wait: float = 60.0  # s, cap on a back-off wait and on a server's Retry-After
    min_interval: float = 0.0  # s between requests sent
    max_redirects: int = 5
    expire_after: int | timedelta = NEVER_EXPIRE


class _Retry(Retry):
    """urllib3's Retry, waiting before the first retry too, and capping Retry-After."""

    def get_backoff_time(self) -> float:
        errors = len(self.history)
        if errors == 0:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * 2 ** (errors - 1))

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = super().parse_retry_after(retry_after)
        except InvalidHeader:  # not seconds, not a date: back off as usual
            return 0.0
        return min(seconds, self.backoff_max)


class _PacedAdapter(HTTPAdapter):
    """An HTTPAdapter that keeps ``min_interval`` seconds between the requests it sends."""

    def __init__(self, min_interval: float, **kwargs):
        super().__init__(**kwargs)
        self.min_interval = min_interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def send(self, request, *args, **kwargs):
        with self._lock:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
        return super().send(request, *args, **kwargs)


def _with_checksum(payload: bytes) -> bytes:
    return hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload


def _checked(stored: bytes) -> bytes:
    digest, _, payload = stored.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode("ascii") != digest:
        # a ValueError is what requests-cache treats as "could not load": a cache miss
        raise ValueError("cache entry damaged on disk (checksum mismatch): fetching again")
    return payload


CHECKED_JSON = SerializerPipeline(
    [json_preconf_stage,
     Stage(dumps=partial(json.dumps, indent=1), loads=json.loads),
     Stage(dumps=str.encode, loads=bytes.decode),
     Stage(dumps=_with_checksum, loads=_checked)],
    name="checked-json", is_binary=True)


def make_session(cache_dir: Path | None, settings: HttpSettings, *, user_agent: str,
                 accept: Callable[[requests.Response], bool]) -> CachedSession:
    """A cached, retrying, paced session (see module doc).

    cache_dir : the user's cache folder (answers go in ``cache_dir / "http"``), or None
        for an in-memory cache.
    accept : whether a 200 answer may be stored (its Content-Type is the expected one).
    """
    backend = (FileCache(Path(cache_dir) / "http", serializer=CHECKED_JSON)
               if cache_dir is not None else "memory")
    session = CachedSession(
        backend=backend, expire_after=settings.expire_after, stale_if_error=True,
        allowable_methods=("GET", "POST"), allowable_codes=(200,),
        ignored_parameters=IGNORED_PARAMETERS, filter_fn=accept)
    retry = _Retry(total=settings.retries, status_forcelist=RETRY_STATUSES,
                   allowed_methods=frozenset({"GET", "POST", "HEAD"}),
                   backoff_factor=settings.backoff, backoff_max=settings.max_wait,
                   respect_retry_after_header=True, raise_on_status=False)
    adapter = _PacedAdapter(settings.min_interval, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = settings.max_redirects
    session.headers["User-Agent"] = user_agent
    return session
