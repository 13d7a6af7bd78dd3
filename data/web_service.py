"""One request to a web service (STRING, KEGG, GEO): a usable answer, from the network or
the cache, or an error that names the service and says what to do.

The session (:mod:`chemoshift.data.http_cache`) retries connection errors, time-outs, 429
and 5xx. What it cannot see is the body: a response counts only if its Content-Type is an
expected one and the caller's ``check`` passes (e.g. a TSV with its header's columns on
every line); a body cut short (fewer bytes than its Content-Length), one that fails the
check, and a redirect loop are retried here, ``retries`` times with the same back-off.
A bad body is never cached (and a cached one that fails the check is deleted).

When every attempt fails, an earlier (expired) answer from the cache is used if there is
one, and said in ``log``; otherwise :class:`ServiceError`. ``offline=True`` sends nothing:
a cached answer of any age, else the ``fallback`` file, else :class:`OfflineError`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from chemoshift.data.http_cache import DEFAULT_CACHE, RETRY_STATUSES, HttpSettings, make_session

TEXT_TYPES = ("text/plain", "text/tab-separated-values")  # an HTML error page is not data
Check = Callable[[bytes], str | None]  # a body -> what is wrong with it, None if nothing


class ServiceError(RuntimeError):
    """A web service could not give a usable answer after all retries, and nothing usable
    was cached (the ``chemoshift`` exit code 4)."""


class OfflineError(ServiceError):
    """Offline, and the answer is neither cached nor bundled."""


@dataclass
class ServiceClient:
    """Requests to one service (see module doc).

    service : the name said in messages (``STRING``); advice : what a user can do instead
    when the service fails (e.g. ``--offline`` or a local file; ``{url}`` is replaced by
    the request's URL).
    """

    service: str
    base_url: str
    advice: str
    caller_identity: str = "chemoshift"
    cache_dir: Path | None = DEFAULT_CACHE
    offline: bool = False
    settings: HttpSettings = field(default_factory=HttpSettings)
    expect: tuple[str, ...] = TEXT_TYPES
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = make_session(
            self.cache_dir, self.settings, user_agent=f"chemoshift ({self.caller_identity})",
            accept=lambda response: self._type_problem(response) is None)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method: str, path: str, params: Mapping[str, str], *,
                check: Check | None = None, fallback: Path | None = None) -> bytes:
        """The body of a usable answer (see module doc)."""
        method, url = method.upper(), self.url(path)
        fields = {"params" if method == "GET" else "data": dict(params)}
        key = self.session.cache.create_key(
            self.session.prepare_request(requests.Request(method, url, **fields)))
        kept = self._cached(key, check)
        if kept is not None and (self.offline or not kept.is_expired):
            self.log.append(f"cache {method} {path}")
            return kept.content
        legacy = self._legacy(method, url, params, check) if kept is None else None
        if self.offline and legacy is not None:
            self.log.append(f"cache (0.6) {method} {path}")
            return legacy
        if self.offline:
            if fallback is not None and Path(fallback).is_file():
                self.log.append(f"bundled {fallback}")
                return Path(fallback).read_bytes()
            raise OfflineError(f"{self.service}: offline, and {method} {url} is not in the "
                               f"cache ({self.cache_dir}); run once online, or "
                               f"{self.advice.format(url=url)}")
        problem, final = "no attempt", False
        for attempt in range(self.settings.retries + 1):
            if attempt:
                time.sleep(min(self.settings.max_wait, self.settings.backoff * 2 ** (attempt - 1)))
            try:
                response = self.session.request(method, url, timeout=self.settings.timeout,
                                                **fields)
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as error:
                problem = f"truncated body ({_reason(error)})"
                continue
            except requests.TooManyRedirects:
                problem = f"a redirect loop (more than {self.settings.max_redirects} redirects)"
                continue
            except requests.RequestException as error:  # the session retried these already
                problem = _reason(error)
                break
            if response.status_code != 200:  # 429 / 5xx: retried already; other 4xx: final
                problem = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                final = response.status_code not in RETRY_STATUSES
                break
            problem = self._type_problem(response) or (check(response.content) if check
                                                       else None)
            if problem is None:
                stale = getattr(response, "is_expired", False)
                self.log.append(f"{'stale cache' if stale else 'fetched'} {method} {path}")
                return response.content
            self.session.cache.delete(key)
        tried = f"{method} {url}: " + (problem if final else "no usable answer after "
                                       f"{self.settings.retries} retries (last: {problem})")
        if kept is not None:  # an expired answer beats none; requests-cache may have dropped it
            self.session.cache.save_response(kept, key, kept.expires)
            self.log.append(f"stale cache {method} {path}: {tried}")
            return kept.content
        if legacy is not None:
            self.log.append(f"stale cache (0.6) {method} {path}: {tried}")
            return legacy
        retry = "Check the request (an accession, a gene list)" if final else "Try again later"
        raise ServiceError(f"{self.service}: {tried}; nothing is cached for it. {retry}, or "
                           f"{self.advice.format(url=url)}")

    def _cached(self, key: str, check: Check | None):
        """The cached answer under ``key`` if it loads (a damaged file does not) and passes
        ``check``; a cached answer that fails it is deleted."""
        cached = self.session.cache.get_response(key)
        if cached is None:
            return None
        if self._type_problem(cached) or (check and check(cached.content)):
            self.session.cache.delete(key)
            return None
        return cached

    def _legacy(self, method: str, url: str, params: Mapping[str, str],
                check: Check | None) -> bytes | None:
        """An answer chemoshift 0.6 cached (``<cache_dir>/<sha256>.txt``), if it passes
        ``check``: read, never written, so an upgrade does not strand an offline user."""
        if self.cache_dir is None:
            return None
        text = json.dumps([method, url, sorted((str(k), str(v)) for k, v in params.items())])
        path = Path(self.cache_dir) / f"{hashlib.sha256(text.encode('utf-8')).hexdigest()}.txt"
        if not path.is_file():
            return None
        body = path.read_bytes()
        return None if check and check(body) else body

    def _type_problem(self, response) -> str | None:
        kind = response.headers.get("Content-Type", "")
        if response.status_code == 200 and not kind.startswith(self.expect):
            return f"content type {kind!r}, expected one of {', '.join(self.expect)}"
        return None


def _reason(error: Exception) -> str:
    """The innermost cause of a requests / urllib3 error, in a line: the wrappers
    (ConnectionError, MaxRetryError, ProtocolError) say less than what they wrap."""
    seen = [error]
    while True:
        inner = getattr(error, "reason", None)
        if not isinstance(inner, Exception):
            inner = next((a for a in error.args if isinstance(a, Exception)), None)
        if inner is None or inner in seen:
            break
        seen.append(error := inner)
    if any(isinstance(e, requests.Timeout | TimeoutError) or "timed out" in str(e)
           for e in seen):
        return f"time-out: {error}"[:300]
    return f"{type(error).__name__}: {error}"[:300]


def tsv_check(required: tuple[str, ...] = ()) -> Check:
    """A body check: a header holding ``required`` columns, every line as many fields,
    a final newline."""

    def check(body: bytes) -> str | None:
        text = body.decode("utf-8", errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return "empty body"
        header = lines[0].split("\t")
        missing = [c for c in required if c not in header]
        if missing:
            return f"columns {missing} missing from the header (not a TSV answer)"
        bad = next((i for i, line in enumerate(lines[1:], 2)
                    if len(line.split("\t")) != len(header)), None)
        if bad is not None:
            return (f"line {bad} has {len(lines[bad - 1].split(chr(9)))} fields, header "
                    f"{len(header)} (truncated?)")
        if not text.endswith("\n"):
            return "body does not end with a newline (truncated?)"
        return None

    return check
