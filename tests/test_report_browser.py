"""The study report in a real browser: headless Chromium (Debian's package; .ci/run installs
it) renders it with no console error, every figure loads, and its claims and diagnostics
tables hold the numbers of claims.csv and diagnostics.csv as the page formats them.

Chromium is driven by subprocess (``--dump-dom``) on a copy of the page with a small probe
script added: it records script errors and, once the page has loaded, whether each <img>
decoded (complete and naturalWidth > 0) and where it came from, into the DOM that
Chromium prints. Offline:
background networking, component updates and sync are off, with a throwaway profile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from test_study_report import write_fake_study

from chemoshift.reports.study.format import (
    CLAIM_COLUMNS,
    DIAGNOSTIC_COLUMNS,
    format_claim_cell,
    format_diagnostic_cell,
)

BROWSERS = ("chromium", "chromium-browser")
PROBE_HEAD = """<script>window.__probeErrors = [];
window.addEventListener("error", function (e) {
  var what = e.message || (e.target && (e.target.alt || e.target.src || e.target.href));
  window.__probeErrors.push(String(what).slice(0, 200));
}, true);
(function () { var original = console.error; console.error = function () {
  window.__probeErrors.push("console.error: " + Array.from(arguments).join(" "));
  return original.apply(console, arguments); }; })();</script>"""
PROBE_TAIL = """<script>window.addEventListener("load", function () {
  var images = Array.from(document.images).map(function (img) {
    return {alt: img.alt, loaded: img.complete && img.naturalWidth > 0,
            src: String(img.currentSrc || img.src).slice(0, 40)}; });
  var out = document.createElement("pre"); out.id = "browser-probe";
  out.textContent = JSON.stringify({images: images, errors: window.__probeErrors});
  document.body.appendChild(out); });</script>"""


def chromium() -> str:
    """The Chromium executable, or skip saying why."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"headless Chromium not found on PATH (looked for {', '.join(BROWSERS)}); "
                "install Debian's 'chromium' package (.ci/run does) to run the browser tests")


def render(page: Path, workdir: Path, browser: str) -> tuple[str, list[str]]:
    """The DOM of ``page`` after load (with the probe's record) and Chromium's console lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = page.read_text(encoding="utf-8")
    head = text.lower().index("<head>") + len("<head>")
    tail = text.lower().rindex("</body>")
    probed = page.with_name(f".browser-probe-{page.name}")  # beside it: relative links hold
    probed.write_text(text[:head] + PROBE_HEAD + text[head:tail] + PROBE_TAIL + text[tail:],
                      encoding="utf-8")
    try:
        finished = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
             "--v=0", "--virtual-time-budget=5000", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--disable-extensions", "--disable-default-apps",
             f"--user-data-dir={workdir / 'profile'}", "--dump-dom", probed.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        probed.unlink()
    assert finished.returncode == 0, finished.stderr[-2000:]
    console = [line for line in finished.stderr.splitlines()
               if ":CONSOLE" in line or "Uncaught" in line]
    return finished.stdout, console


class PageTables(HTMLParser):
    """Cells (text) of the rows of the tables with the given ids, keyed by data-col, and the
    probe's JSON."""

    def __init__(self, table_ids: tuple[str, ...]):
        super().__init__()
        self.table_ids = table_ids
        self.tables: dict[str, list[dict[str, str]]] = {t: [] for t in table_ids}
        self.probe = ""
        self._table: str | None = None
        self._column: str | None = None
        self._in_probe = False
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") in self.table_ids:
            self._table = attributes["id"]
        elif self._table and tag == "tr" and self._column is None:
            self.tables[self._table].append({})
        elif self._table and tag == "td" and "data-col" in attributes:
            self._column, self._depth = attributes["data-col"], 0
            self.tables[self._table][-1][self._column] = ""
        elif self._column and tag in ("details",):
            self._depth += 1  # the folded small print is not the cell's value
        elif tag == "pre" and attributes.get("id") == "browser-probe":
            self._in_probe = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "td":
            self._column = None
        elif self._column and tag == "details":
            self._depth -= 1
        elif tag == "pre":
            self._in_probe = False

    def handle_data(self, data):
        if self._table and self._column and self._depth == 0:
            self.tables[self._table][-1][self._column] += data
        elif self._in_probe:
            self.probe += data


def check_report_in_browser(folder: Path, workdir: Path) -> None:
    """Open ``folder``/report.html in headless Chromium and check it as a reader sees it:
    no console error, every figure loaded, and the claims and diagnostics tables equal to
    claims.csv and diagnostics.csv (each value as the page formats it)."""
    browser = chromium()
    dom, console = render(Path(folder) / "report.html", Path(workdir), browser)
    assert not console, "\n".join(console)
    parsed = PageTables(("claims-table", "diagnostics-table"))
    parsed.feed(dom)
    assert parsed.probe, "the probe did not run: the page never finished loading"
    probe = json.loads(parsed.probe)
    assert probe["images"], "the page shows no figure"
    broken = [image["alt"] for image in probe["images"] if not image["loaded"]]
    assert not broken, f"figures that did not load: {broken}"
    assert probe["errors"] == [], "errors in the page: " + "; ".join(probe["errors"])
    for name, table_id, columns, formatted in (
            ("claims.csv", "claims-table", CLAIM_COLUMNS, format_claim_cell),
            ("diagnostics.csv", "diagnostics-table", DIAGNOSTIC_COLUMNS,
             format_diagnostic_cell)):
        expected = pd.read_csv(Path(folder) / name, dtype=str, keep_default_na=False)
        shown = [row for row in parsed.tables[table_id] if row]
        assert len(shown) == len(expected), f"{name}: {len(shown)} rows in the page"
        for line, (row, (_, csv_row)) in enumerate(zip(shown, expected.iterrows(),
                                                       strict=True), start=2):
            for column in columns:
                assert " ".join(row[column].split()) == " ".join(
                    formatted(column, csv_row[column]).split()), f"{name}:{line}:{column}"


def test_the_study_report_renders_in_chromium_and_holds_its_csvs(tmp_path):
    chromium()
    write_fake_study(tmp_path / "study")
    check_report_in_browser(tmp_path / "study", tmp_path / "browser")


def test_a_page_with_a_broken_figure_fails_the_check(tmp_path):
    chromium()
    folder = tmp_path / "study"
    page = write_fake_study(folder)
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1),
                    encoding="utf-8")
    with pytest.raises(AssertionError, match="did not load"):
        check_report_in_browser(folder, tmp_path / "browser")


def test_a_page_with_a_script_error_fails_the_check(tmp_path):
    chromium()
    folder = tmp_path / "study"
    page = write_fake_study(folder)
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("</main>", "<script>no_such_function();</script></main>"),
                    encoding="utf-8")
    with pytest.raises(AssertionError, match="no_such_function is not defined"):
        check_report_in_browser(folder, tmp_path / "browser")
