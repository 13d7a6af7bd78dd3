"""The STRING, KEGG and GEO clients against a fault-injecting HTTP server on loopback.

Each fault of ``FAULTS`` is served on one route of each service: twice then the answer
(the client recovers, and the server saw exactly three requests), or every time (three
requests, the retry bound, then the expired cached answer if there is one, else an error
naming the service and what to do). A cache file whose bytes were overwritten is fetched
again, never used. Time-outs and back-offs are tenths and hundredths of a second, so the
file runs in seconds. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from chemoshift.data.geo_client import GeoClient, geo_path
from chemoshift.data.http_cache import HttpSettings
from chemoshift.data.kegg import KeggClient
from chemoshift.data.string_client import StringClient
from chemoshift.data.web_service import OfflineError, ServiceError

from hardening import record

FAULTS = ("timeout", "reset", "429", "500", "503", "truncated", "html", "not_data",
          "redirect_loop")  # the kinds of fault injected; the hardening summary counts them
INJECTED: Counter = Counter()  # fault kind -> times served in this process

RETRIES = 2  # so a persistent fault is three requests: the first and two retries
FAST = HttpSettings(timeout=(2.0, 2.0), retries=RETRIES, backoff=0.01, max_wait=0.05)
IMPATIENT = HttpSettings(timeout=(2.0, 0.2), retries=RETRIES, backoff=0.01, max_wait=0.05)
SLOWER_THAN_READ_TIMEOUT = 0.5  # s, past IMPATIENT's read time-out (only the time-out
# fault runs with it: a loaded CI machine may take longer than 0.2 s to answer at all)
STRING_DATA = Path(__file__).parent / "data" / "string"
GENES = ["CXCL10", "CCR5", "C3AR1", "CCL5", "CXCL9"]
GEO_FILE = Path(str(resources.files("chemoshift.data.example") / "expression_subset.soft.gz"))
HTML = b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>\n"


def _answers() -> dict[str, tuple[str, bytes]]:
    """Route -> (Content-Type, body) of every good answer the three services give."""
    tsv, text = "text/tab-separated-values", "text/plain"
    return {
        "string/tsv/get_string_ids": (tsv, (STRING_DATA / "get_string_ids.tsv").read_bytes()),
        "string/tsv/network": (tsv, (STRING_DATA / "network_api.tsv").read_bytes()),
        "kegg/list/pathway/hsa": (text, b"path:hsa04115\tp53 signaling pathway\n"),
        "kegg/list/hsa": (text, b"hsa:7157\tCDS\t17:1..2\tTP53, P53; tumor protein p53\n"
                                b"hsa:1026\tCDS\t6:1..2\tCDKN1A, P21; CDK inhibitor 1A\n"),
        "kegg/link/pathway/hsa": (text, b"hsa:7157\tpath:hsa04115\nhsa:1026\tpath:hsa04115\n"),
        "geo/" + geo_path("GDS507"): ("application/x-gzip", GEO_FILE.read_bytes()),
    }


class FaultServer(ThreadingHTTPServer):
    """Serves ``answers``; a route's queued faults come first, one a request."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = _answers()
        self.faults: dict[str, list[str]] = {}
        self.hits: Counter = Counter()
        self.url = f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request, client_address):  # a client that gave up: expected
        pass


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms ACK waits

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _send(self, status: int, kind: str = "text/plain", body: bytes = b"",
              length: int | None = None, **headers: str):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _answer(self):
        route = urlsplit(self.path).path.strip("/")
        if route.startswith("loop/"):  # a redirect to itself, for ever
            self.server.hits["loop"] += 1
            return self._send(302, Location=self.path)
        self.server.hits[route] += 1
        if route not in self.server.answers:
            return self._send(404, body=b"no such file\n")
        queue = self.server.faults.get(route)
        fault, _, value = (queue.pop(0) if queue else "").partition(":")
        INJECTED[fault] += bool(fault)
        kind, body = self.server.answers[route]
        if fault == "timeout":
            time.sleep(SLOWER_THAN_READ_TIMEOUT)
            self.close_connection = True
        elif fault == "reset":  # RST, no answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault in ("429", "500", "503"):
            extra = {"Retry_After": value or "0"} if fault == "429" else {}
            self._send(int(fault), **extra)
        elif fault == "truncated":  # Content-Length says more than comes
            self._send(200, kind, body[: len(body) // 2], length=len(body))
            self.close_connection = True
        elif fault == "html":
            self._send(200, "text/html; charset=utf-8", HTML)
        elif fault == "not_data":  # a proxy's page under the expected Content-Type
            self._send(200, kind, HTML)
        elif fault == "redirect_loop":
            self._send(302, Location=f"/loop/{route}")
        else:
            self._send(200, kind, body)


@dataclass(frozen=True)
class Service:
    name: str
    route: str  # the route the faults are served on
    advice: str  # what the error tells a user to do instead, besides --offline

    def client(self, url: str, cache: Path, fault: str = "", **kwargs) -> Any:
        settings = IMPATIENT if fault == "timeout" else FAST
        kwargs = {"settings": settings, "cache_dir": cache, "caller_identity": "tests"} | kwargs
        if self.name == "STRING":
            return StringClient(base_url=f"{url}/string", **kwargs)
        if self.name == "KEGG":
            return KeggClient(base_url=f"{url}/kegg", **kwargs)
        return GeoClient(base_url=f"{url}/geo", **kwargs)

    def ask(self, client, folder: Path) -> Any:
        """The client's answer, as something == can compare."""
        if self.name == "STRING":
            return client.network(GENES).to_csv()
        if self.name == "KEGG":
            return client.gene_sets()
        return client.fetch("GDS507", folder=folder).read_bytes()


SERVICES = [Service("STRING", "string/tsv/network", "--network FILE"),
            Service("KEGG", "kegg/link/pathway/hsa", "--gmt FILE"),
            Service("GEO", "geo/" + geo_path("GDS507"), "chemoshift fit expression FILE")]


@pytest.fixture(scope="module")
def server():
    served = FaultServer()
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


@pytest.fixture(scope="module")
def expected(server, tmp_path_factory) -> dict[str, Any]:
    """Each service's answer with no fault anywhere."""
    folder = tmp_path_factory.mktemp("expected")
    return {s.name: s.ask(s.client(server.url, folder / s.name), folder) for s in SERVICES}


@pytest.fixture
def fresh(server, expected):
    server.faults.clear()
    server.hits.clear()
    return server


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_transient_fault_is_retried_then_answered_and_only_the_answer_cached(
        fresh, expected, tmp_path, service, fault):
    fresh.faults[service.route] = [fault, fault]
    client = service.client(fresh.url, tmp_path / "cache", fault)
    assert service.ask(client, tmp_path) == expected[service.name]
    assert fresh.hits[service.route] == 3  # two faults, then the answer: no more, no fewer
    offline = service.client(fresh.url, tmp_path / "cache", offline=True)
    assert service.ask(offline, tmp_path / "again") == expected[service.name]
    assert fresh.hits[service.route] == 3  # the cached answer is the good one


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_persistent_fault_with_nothing_cached_names_the_service_and_what_to_do(
        fresh, tmp_path, service, fault):
    fresh.faults[service.route] = [fault] * 10
    client = service.client(fresh.url, tmp_path / "cache", fault)
    with pytest.raises(ServiceError) as raised:
        service.ask(client, tmp_path)
    said = str(raised.value)
    assert said.startswith(f"{service.name}: ") and "--offline" in said, said
    assert service.advice in said, said
    assert fresh.hits[service.route] == RETRIES + 1  # bounded: the first try and 2 retries


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_persistent_fault_is_answered_from_an_expired_cache(fresh, tmp_path, service,
                                                                fault):
    cache = tmp_path / "cache"
    first = service.ask(service.client(fresh.url, cache), tmp_path / "first")
    fresh.hits.clear()
    fresh.faults[service.route] = [fault] * 10
    assert service.ask(service.client(fresh.url, cache, fault), tmp_path) == first
    assert fresh.hits[service.route] == 0  # a fresh cached answer: nothing sent
    client = service.client(fresh.url, cache, fault)
    client.http.session.cache.reset_expiration(timedelta(seconds=-1))
    assert service.ask(client, tmp_path / "stale") == first
    assert 1 <= fresh.hits[service.route] <= RETRIES + 1  # tried, bounded, then the cache
    assert any(line.startswith("stale cache") for line in client.http.log), client.http.log
    offline = service.client(fresh.url, cache, offline=True)  # still there, still good
    assert service.ask(offline, tmp_path / "offline") == first


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_a_damaged_cache_file_is_fetched_again_never_used(fresh, tmp_path, service):
    cache = tmp_path / "cache"
    first = service.ask(service.client(fresh.url, cache), tmp_path / "first")
    files = sorted((cache / "http").glob("*.checked-json"))
    assert files
    for path in files:  # eight bytes in the middle overwritten, the size unchanged
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2: len(raw) // 2 + 8] = b"XXXXXXXX"
        path.write_bytes(bytes(raw))
    with pytest.raises(OfflineError, match="not in the cache"):
        service.ask(service.client(fresh.url, cache, offline=True), tmp_path / "offline")
    hits = fresh.hits[service.route]
    assert service.ask(service.client(fresh.url, cache), tmp_path / "again") == first
    assert fresh.hits[service.route] == hits + 1  # fetched again
    again = service.ask(service.client(fresh.url, cache, offline=True), tmp_path / "off2")
    assert again == first  # and the refetched entry replaced the damaged one


def test_a_missing_file_is_said_at_once_not_retried(fresh, tmp_path):
    client = GeoClient(base_url=f"{fresh.url}/geo", cache_dir=tmp_path, settings=FAST)
    with pytest.raises(ServiceError, match=r"^GEO: .*GDS9999.soft.gz: HTTP 404 Not Found; "
                       r"nothing is cached for it. Check the request"):
        client.fetch("GDS9999")
    assert fresh.hits["geo/" + geo_path("GDS9999")] == 1  # a 404 is an answer


def test_retry_after_is_honoured_and_capped(fresh, tmp_path):
    service = SERVICES[0]
    fresh.faults[service.route] = ["429:1"]
    patient = HttpSettings(timeout=(2.0, 2.0), retries=RETRIES, backoff=0.01, max_wait=5.0)
    started = time.perf_counter()
    service.ask(service.client(fresh.url, tmp_path / "a", settings=patient), tmp_path)
    assert time.perf_counter() - started >= 0.95  # waited the second the server asked for
    fresh.faults[service.route] = ["429:3600"]
    started = time.perf_counter()
    service.ask(service.client(fresh.url, tmp_path / "b"), tmp_path)
    assert time.perf_counter() - started < 3  # an hour asked, max_wait (0.05 s) waited


def test_the_command_exits_4_naming_kegg_when_it_cannot_answer(fresh, tmp_path, monkeypatch,
                                                              capsys):
    from chemoshift import expression_commands
    from chemoshift.cli import main
    from chemoshift.exit_codes import EXIT_SERVICE

    kegg = SERVICES[1]
    fresh.faults[kegg.route] = ["503"] * 10
    monkeypatch.setattr(expression_commands, "KeggClient",
                        lambda **kwargs: kegg.client(fresh.url, kwargs.pop("cache_dir"),
                                                     **kwargs))
    genes = tmp_path / "genes.txt"
    genes.write_text("TP53\nCDKN1A\n")
    code = main(["enrich", "--genes", str(genes), "--kegg-rest", "--cache",
                 str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    said = capsys.readouterr().err
    assert code == EXIT_SERVICE, said
    assert "chemoshift: KEGG: " in said and "HTTP 503" in said and "--offline" in said
    assert "Traceback" not in said


def test_a_stale_answer_is_not_announced_with_a_traceback():
    """requests-cache logs "using cached response" with the error's traceback; with no
    handler of its own, Python's last-resort handler would print that on a user's stderr."""
    handlers = logging.getLogger("requests_cache").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_every_fault_kind_was_injected(request):
    """Runs last in this file: the summary's count of fault kinds is not an empty claim."""
    if not all(INJECTED[fault] for fault in FAULTS):  # e.g. a -k selection ran only some
        pytest.skip(f"faults served in this process: {dict(INJECTED)}")
    for fault, served in INJECTED.items():
        record(request, "network faults", fault, served)
    print(f"network faults injected: {len(FAULTS)} kinds, {sum(INJECTED.values())} times",
          file=sys.stderr)
