"""STRING client against a local HTTP server: recorded-format answers and injected faults."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chemoshift.data.http_cache import HttpSettings
from chemoshift.data.kegg import KeggClient
from chemoshift.data.string_client import StringClient, read_network
from chemoshift.data.web_service import OfflineError, ServiceError

FIXTURES = Path(__file__).parent / "data" / "string"


class Script:
    """Per path, a queue of faults served before the good answer."""

    def __init__(self):
        self.faults: dict[str, list[str]] = {}
        self.hits: dict[str, int] = {}
        self.agents: list[str] = []


def _server(script: Script):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self._answer()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            self.rfile.read(length)
            self._answer()

        def _answer(self):
            path = self.path.split("?")[0].rstrip("/").split("/api/")[-1]
            path = path.split("/")[-1] if path.startswith("tsv/") else path
            script.hits[path] = script.hits.get(path, 0) + 1
            script.agents.append(self.headers.get("User-Agent", ""))
            fault = script.faults.get(path, []).pop(0) if script.faults.get(path) else None
            body = _body(path)
            if fault == "timeout":
                time.sleep(1.0)
            if fault == "429":
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            if fault == "500":
                self.send_response(500)
                self.end_headers()
                return
            self.send_response(200)
            kind = "text/html" if fault == "html" else "text/tab-separated-values"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _body(path: str) -> bytes:
    files = {"network": "network_api.tsv", "get_string_ids": "get_string_ids.tsv"}
    if path in files:
        return (FIXTURES / files[path]).read_bytes()
    kegg = {"list/hsa": "hsa:7157\tCDS\t17:1..2\tTP53, P53; tumor protein p53\n"
                   "hsa:1026\tCDS\t6:1..2\tCDKN1A, P21; cyclin dependent kinase inhibitor\n",
            "link/pathway/hsa": "hsa:7157\tpath:hsa04115\nhsa:1026\tpath:hsa04115\n"}
    return kegg.get(path, "path:hsa04115\tp53 signaling pathway - Homo sapiens (human)\n"
                    ).encode()


@pytest.fixture
def served():
    script = Script()
    server = _server(script)
    yield script, f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


FAST = HttpSettings(timeout=(1.0, 0.3), backoff=0.01, max_wait=0.05)


def _client(url, tmp_path, **kw) -> StringClient:
    kw.setdefault("settings", FAST)
    return StringClient(base_url=url, cache_dir=tmp_path / "cache", caller_identity="tests",
                        **kw)


GENES = ["CXCL10", "CCR5", "C3AR1", "CCL5", "CXCL9"]


def test_network_from_the_api_matches_the_web_export(served, tmp_path):
    script, url = served
    edges = _client(url, tmp_path).network([*GENES, "C1QB", "VSIG4"], score=0.7)
    web = read_network(FIXTURES / "network_api.tsv")
    assert len(edges) == len(web) == 147
    assert all("tests" in agent for agent in script.agents)


@pytest.mark.parametrize("fault", ["timeout", "429", "500", "truncated", "html"])
def test_faults_are_retried_then_cached(served, tmp_path, fault):
    script, url = served
    script.faults["network"] = [fault, fault]
    client = _client(url, tmp_path)
    edges = client.network(GENES)
    assert script.hits["network"] == 3 and len(edges) == 147  # two faults, then the answer
    assert "fetched POST tsv/network" in client.http.log
    again = _client(url, tmp_path)  # same request: from the cache, no new hit
    assert len(again.network(GENES)) == 147 and script.hits["network"] == 3


def test_persistent_failure_says_so(served, tmp_path):
    script, url = served
    script.faults["network"] = ["500"] * 10
    client = _client(url, tmp_path, settings=HttpSettings(timeout=(1.0, 0.3), retries=2,
                                                          backoff=0.01))
    with pytest.raises(ServiceError, match=r"STRING: .*HTTP 500.*--network FILE"):
        client.network(GENES)
    assert script.hits["network"] == 3  # the first attempt and two retries


def test_offline_uses_cache_or_bundled_or_fails_clearly(served, tmp_path):
    _, url = served
    _client(url, tmp_path).network(GENES)
    assert len(_client(url, tmp_path, offline=True).network(GENES)) == 147
    with pytest.raises(OfflineError, match="not in the cache"):
        _client(url, tmp_path / "empty", offline=True).network(GENES)
    bundled = _client(url, tmp_path / "empty", offline=True, bundled=FIXTURES / "network_api.tsv")
    edges = bundled.network(GENES)
    assert set(edges.gene_a) | set(edges.gene_b) <= set(GENES) and len(edges) > 0


def test_kegg_rest_client_builds_symbol_sets(served, tmp_path):
    _, url = served
    client = KeggClient(base_url=url, cache_dir=tmp_path / "kegg", settings=FAST)
    sets = client.gene_sets()
    assert sets == {"p53 signaling pathway - Homo sapiens (human) (hsa04115)": ["TP53", "CDKN1A"]}
    offline = KeggClient(base_url=url, cache_dir=tmp_path / "kegg", offline=True)
    assert offline.gene_sets() == sets


def test_an_answer_cached_by_0_6_is_still_read_offline(served, tmp_path):
    _, url = served
    for path in ("list/pathway/hsa", "list/hsa", "link/pathway/hsa"):  # 0.6's file names
        key = json.dumps(["GET", f"{url}/{path}", []])
        (tmp_path / f"{hashlib.sha256(key.encode()).hexdigest()}.txt").write_bytes(_body(path))
    offline = KeggClient(base_url=url, cache_dir=tmp_path, offline=True)
    assert offline.gene_sets() == {
        "p53 signaling pathway - Homo sapiens (human) (hsa04115)": ["TP53", "CDKN1A"]}


def test_evidence_channel_and_score_filter():
    combined = read_network(FIXTURES / "network_api.tsv", 0.95)
    experiments = read_network(FIXTURES / "network_api.tsv", 0.7, evidence="experiments")
    assert 0 < len(combined) < 147 and len(experiments) < 147
    assert combined.score.min() >= 0.95
