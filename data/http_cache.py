"""HTTP for the STRING and KEGG clients: caller identity, time-outs, retries, a disk cache,
and an offline mode.

- Every request carries a ``User-Agent`` naming chemoshift and the caller.
- Time-outs (connect, read) on every request; a time-out, a connection error, a 429 or a
  5xx is retried with exponential back-off (``Retry-After`` is honoured, capped), up to
  ``retries`` times; any other 4xx is final.
- A response counts only if its content type is the expected one and its body passes the
  caller's check (a TSV with the header's number of fields on every line; a body shorter
  than its Content-Length is refused): otherwise it is retried, and never cached.
- The cache keeps each good response body in ``cache_dir`` under the SHA-256 of (method,
  URL, sorted parameters); a cached request is never sent again.
- ``offline=True`` answers from the cache (or a bundled fallback file) alone and raises
  :class:`OfflineError` naming the request otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from chemoshift.data.run_dir import atomic_path

TEXT_TYPES = ("text/plain", "text/tab-separated-values")  # an HTML error page is not data
DEFAULT_CACHE = Path(os.environ.get("CHEMOSHIFT_CACHE",
                                    Path.home() / ".cache" / "chemoshift"))


class ServiceError(RuntimeError):
    """A web service could not give a usable answer after all retries."""


class OfflineError(ServiceError):
    """Offline, and the answer is neither cached nor bundled."""


@dataclass
class CachedClient:
    """Requests with identity, time-outs, retries with back-off, a cache and offline mode."""

    base_url: str
    caller_identity: str = "chemoshift"
    cache_dir: Path | None = DEFAULT_CACHE
    offline: bool = False
    timeout: tuple[float, float] = (5.0, 30.0)
    retries: int = 4
    backoff: float = 1.0  # seconds, doubled each retry
    max_wait: float = 60.0  # cap on Retry-After and back-off waits
    min_interval: float = 0.0  # seconds between requests (STRING asks for 1)
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    log: list[str] = field(default_factory=list)
    _last: float = field(default=0.0, init=False)

    def key(self, method: str, path: str, params: Mapping[str, str]) -> str:
        text = json.dumps([method.upper(), self.base_url.rstrip("/") + "/" + path.lstrip("/"),
                           sorted((str(k), str(v)) for k, v in params.items())])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def request(self, method: str, path: str, params: Mapping[str, str], *,
                expect: tuple[str, ...] = TEXT_TYPES,
                check: Callable[[str], str | None] | None = None,
                fallback: Path | None = None) -> str:
        """The body of a good response (from the cache when there), as text."""
        key = self.key(method, path, params)
        cached = self.cache_dir / f"{key}.txt" if self.cache_dir else None
        if cached is not None and cached.is_file():
            self.log.append(f"cache {method} {path}")
            return cached.read_text(encoding="utf-8")
        if self.offline:
            if fallback is not None and Path(fallback).is_file():
                self.log.append(f"bundled {fallback}")
                return Path(fallback).read_text(encoding="utf-8")
            raise OfflineError(f"offline: {method} {self.base_url}/{path} is not in the cache "
                               f"({self.cache_dir}) and nothing is bundled for it; run once "
                               "online or give the file (e.g. --network FILE)")
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        headers = {"User-Agent": f"chemoshift ({self.caller_identity})"}
        problem, wait = "no attempt", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(self.max_wait, wait))
            wait = self.backoff * 2 ** attempt
            self._pace()
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=self.timeout,
                    params=params if method.upper() == "GET" else None,
                    data=params if method.upper() != "GET" else None)
                body = response.content
            except (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as error:
                problem = f"{type(error).__name__}: {error}"
                self.log.append(f"attempt {attempt + 1}: {problem}")
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                problem = f"HTTP {status}"
                wait = max(wait, _retry_after(response))
                self.log.append(f"attempt {attempt + 1}: {problem}")
                continue
            if status >= 400:
                raise ServiceError(f"{method} {url}: HTTP {status}: {response.text[:200]}")
            length = response.headers.get("Content-Length")
            kind = response.headers.get("Content-Type", "")
            text = body.decode(response.encoding or "utf-8", errors="replace")
            if length is not None and len(body) < int(length):
                problem = f"truncated body ({len(body)} of {length} bytes)"
            elif not kind.startswith(tuple(expect)):
                problem = f"content type {kind!r}, expected {expect!r}"
            else:
                problem = check(text) if check else None
            if problem:
                self.log.append(f"attempt {attempt + 1}: {problem}")
                continue
            if cached is not None:
                with atomic_path(cached) as temporary:
                    temporary.write_text(text, encoding="utf-8")
            self.log.append(f"fetched {method} {path}")
            return text
        raise ServiceError(f"{method} {url}: no usable answer after {self.retries + 1} "
                           f"attempt(s); last: {problem}")

    def _pace(self) -> None:
        if self.min_interval:
            gap = time.monotonic() - self._last
            if gap < self.min_interval:
                self.sleep(self.min_interval - gap)
        self._last = time.monotonic()


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return 0.0


def tsv_check(required: tuple[str, ...] = ()) -> Callable[[str], str | None]:
    """A body check: a header holding ``required`` columns, every line as many fields."""

    def check(text: str) -> str | None:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return "empty body"
        header = lines[0].split("\t")
        missing = [c for c in required if c not in header]
        if missing:
            return f"columns {missing} missing from the header"
        bad = next((i for i, line in enumerate(lines[1:], 2)
                    if len(line.split("\t")) != len(header)), None)
        if bad is not None:
            return f"line {bad} has {len(lines[bad - 1].split(chr(9)))} fields, header " \
                   f"{len(header)} (truncated?)"
        if not text.endswith("\n"):
            return "body does not end with a newline (truncated?)"
        return None

    return check
