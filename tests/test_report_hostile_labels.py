"""Hostile labels (issue 24): every name a user supplies (gene, drug, cell line, treatment,
group, pathway, study title, claim text) reaches report.html as text, never as markup, and
every figure with such a name in it is still drawn (a '$' in a name is not mathtext).

Run directories are real but cheap: each assay is read, modelled, saved and reported by
the package, with sampling replaced by random draws of the model's named variables in
their own dims and coords (``fake_fit``: wiring, not statistics; no compiling). The
labels are payloads that would mark the page (``data-pwned`` on <body>) if they ran, so
the browser test can tell.
"""

from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_report_browser import chromium, render
from test_study_report import PNG_1X1, fake_claims, fake_record
from xarray import DataTree

import chemoshift
import chemoshift.dose_response
import chemoshift.mechanism
import chemoshift.qpcr
from chemoshift.data.expression_design import ExpressionData
from chemoshift.data.simulate_dose_response import ScreenDesign, simulate_screen
from chemoshift.expression_commands import run_step
from chemoshift.inference import SamplerSettings
from chemoshift.inference.diagnostics import diagnose
from chemoshift.inference.fit import FitResult
from chemoshift.reports.mechanism import report as mechanism_report
from chemoshift.reports.study.claims import evaluate_claims
from chemoshift.reports.study.report import write_study_report
from chemoshift.screen.engine import ShardOutcome
from chemoshift.screen.run import _report as screen_report
from chemoshift.study import bundled_study
from chemoshift.study.load import load_study

from hardening import record


def pwn(mark: str) -> str:
    """What a payload does if it runs: a mark the browser test looks for."""
    return f"document.body.setAttribute('data-pwned','{mark}')"


CELL = f"Huh7<script>{pwn('cell')}</script>"
DRUG = f'DOX"><img src=x onerror="{pwn("drug")}">'
TREATMENT = f"miR-379 $\\frac$ <svg onload=\"{pwn('treatment')}\">"
GENE = f"IGF1R<iframe src=\"javascript:{pwn('gene')}\"></iframe>"
TITLE = f"</title><script>{pwn('title')}</script> $x$ & <b>bold</b>"
LINK = f"javascript:{pwn('link')}"  # a name that would be a script as an href
LABELS = {"Huh7": CELL, "DOX": DRUG, "miR-379": TREATMENT, "IGF1R": GENE}
EXAMPLE = bundled_study().parent
SETTINGS = SamplerSettings(draws=20, chains=2, sampler="pymc", progress=False, extend=False)
FAILED_FIGURE = re.compile(r"Figure not drawn|could not be drawn")


def hostile(text: str) -> str:
    """``text`` with each example label replaced by its hostile twin (whole names only)."""
    for name, label in LABELS.items():
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])",
                      label.replace("\\", "\\\\"), text)
    return text


def fake_fit(model, settings, check=None, reuse=None, units=None, reported=()) -> FitResult:
    """Draws (2 chains x 20) uniform on (0.2, 0.8) of every named variable with dims: valid
    as a scale, a probability or a log ratio alike. The diagnostics are real (and fail)."""
    rng = np.random.default_rng(0)
    posterior = {}
    for variable in [*model.free_RVs, *model.deterministics]:
        dims = model.named_vars_to_dims.get(variable.name, ())
        if len(dims) != variable.ndim:
            continue
        posterior[variable.name] = xr.DataArray(
            rng.uniform(0.2, 0.8, (2, 20, *(len(model.coords[d]) for d in dims))),
            dims=("chain", "draw", *dims), coords={d: list(model.coords[d]) for d in dims})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 20), dtype=bool)),
                        "energy": (("chain", "draw"), rng.normal(size=(2, 20)))})
    tree = DataTree.from_dict({"posterior": xr.Dataset(posterior), "sample_stats": stats})
    checked = [v.name for v in model.free_RVs if v.name in posterior]
    return FitResult(datatree=tree, diagnostics=diagnose(tree, checked, units, reported),
                     settings=settings, timings={"compile_seconds": 0.0, "sampling_seconds": 0.0})


def hostile_csv(folder: Path, name: str) -> Path:
    """The bundled example ``name`` with hostile labels, written to ``folder``."""
    frame = pd.read_csv(EXAMPLE / name, dtype=str, keep_default_na=False).map(hostile)
    frame.to_csv(folder / name, index=False)
    return folder / name


def expression_run(folder: Path) -> Path:
    """A 40-probe paired data set with hostile genes, groups, pairs and probe ids, then the
    enrichment (a hostile pathway name) and network steps, so every part of the report
    shows a name."""
    rng = np.random.default_rng(0)
    genes = np.array([CELL, DRUG, TREATMENT, GENE, LINK, *(f"GENE{i}" for i in range(35))])
    values = rng.normal(8.0, 1.0, (len(genes), 6))
    values[:8, 3:] += 2.0  # the hostile genes lead the up-regulated list
    pairs = ("p<1>", TREATMENT, "p3")
    samples = pd.DataFrame({"sample": [f"s{i}" for i in range(6)], "pair": pairs * 2,
                            "group": [CELL] * 3 + [DRUG] * 3,
                            "role": ["control"] * 3 + ["treated"] * 3})
    data = ExpressionData(values=values, probes=np.array([f"<p{i}>" for i in range(len(genes))]),
                          genes=genes, samples=samples, control=CELL, treated=DRUG, pairs=pairs,
                          fmt="frame")
    run = chemoshift.fit_expression(data, top=8, settings=SETTINGS, title=TITLE).save(
        folder / "expression")
    network = folder / "network.tsv"
    network.write_text("#node1\tnode2\tcombined_score\n" + "".join(
        f"{a}\t{b}\t0.9\n" for i, a in enumerate(genes[:8]) for b in genes[i + 1:8]))
    gmt = folder / "sets.gmt"
    gmt.write_text(f"{TITLE}\t\t" + "\t".join(genes[:6]) + f"\nOther {TREATMENT}\t\t"
                   + "\t".join(genes[4:12]) + "\n")
    assert run_step(["enrich", str(run), "--gmt", str(gmt), "--min-size", "2",
                     "--sensitivity", "4,8"]) == 0
    assert run_step(["network", str(run), "--network", str(network), "--hubs", "3",
                     "--null-networks", "2", "--sensitivity", "4,8"]) == 0
    return run


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory) -> dict[str, Path]:
    """assay -> a run directory (report.html written) whose labels are all hostile."""
    folder = tmp_path_factory.mktemp("hostile")
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        for module in (chemoshift.dose_response, chemoshift.mechanism, chemoshift.qpcr):
            patch.setattr(module, "fit", fake_fit)
        design = ScreenDesign(cell_lines=(CELL,), drug_log10_ic50={DRUG: -0.3},
                              drug_hill={DRUG: 1.4}, drug_bottom={DRUG: 0.05},
                              controls={TREATMENT: "miR-NC"}, true_shift={TREATMENT: -0.4},
                              n_concentrations=5, replicates=2)
        wells, _ = simulate_screen(design, seed=1)
        wells["unit"] = "µM $x$"
        runs["dose-response"] = chemoshift.fit_dose_response(
            wells.astype(str), settings=SETTINGS, title=TITLE).save(folder / "dose-response")
        controls = {TREATMENT: "miR-NC"}
        for assay, options in (
                ("luciferase", dict(construct_control=hostile("IGF1R-3'UTR-MUT"))),
                ("western", {}), ("apoptosis", dict(drug_control="vehicle"))):
            fit = getattr(chemoshift, f"fit_{assay}")(
                hostile_csv(folder, f"{assay}.csv"), controls=controls, settings=SETTINGS,
                title=TITLE, **options)
            runs[assay] = fit.save(folder / assay)
        runs["qpcr"] = chemoshift.fit_qpcr(
            hostile_csv(folder, "qpcr.csv"), references={TREATMENT: "RNU48", GENE: "GAPDH"},
            dose="dose_nM", controls={f"{TREATMENT} 40nM": "miR-NC",
                                      f"{TREATMENT} 80nM": "miR-NC",
                                      hostile("si-IGF1R"): "si-NC"},
            settings=SETTINGS, title=TITLE).save(folder / "qpcr")
    runs["expression"] = expression_run(folder)
    return runs


class Page(HTMLParser):
    """What a browser would make of a page: script elements, event-handler attributes,
    javascript: links, images that are not the package's PNGs, and the text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.foreign: list[str] = []
        self.marked: list[str] = []  # elements a payload marked (only after it ran)
        self.chunks: list[str] = []
        self.feed(page)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-pwned" in attributes:
            self.marked.append(f"{tag} data-pwned={attributes['data-pwned']}")
        if tag == "script":
            self.scripts.append(str(attributes))
        if tag in ("iframe", "svg", "object", "embed", "b", "base", "form") or \
                (tag == "meta" and "http-equiv" in attributes):
            self.foreign.append(tag)
        if tag == "img" and not (attributes.get("src") or "").startswith(
                "data:image/png;base64,"):
            self.foreign.append(f"img src={attributes.get('src')}")
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction") and re.sub(
                    r"[\s\x00-\x1f]", "", value or "").lower().startswith(
                    ("javascript:", "vbscript:", "data:text")):
                self.links.append(value)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.chunks.append(data)


def assert_inert(page: str, labels: list[str]) -> Page:
    """No markup from a label (the package's reports carry no script at all), each label
    shown as text, every figure drawn."""
    parsed = Page(page)
    assert parsed.scripts == [], "a <script> element in the page"
    assert parsed.handlers == [], f"event-handler attributes: {parsed.handlers}"
    assert parsed.links == [], f"script links: {parsed.links}"
    assert parsed.foreign == [], f"elements from a label: {parsed.foreign}"
    missing = [label for label in labels if label not in parsed.text]
    assert not missing, f"labels not shown as text: {missing}"
    failed = FAILED_FIGURE.findall(parsed.text)
    assert not failed, re.findall(r"(?:Figure not drawn|could not be drawn).{0,200}",
                                  parsed.text)[:3]
    return parsed


@pytest.fixture(autouse=True)
def _counted(request):
    """Each test here is one report (or page) checked with hostile labels: the summary."""
    record(request, "hostile labels", request.node.name)


def report(run: Path) -> str:
    return (run / "report.html").read_text(encoding="utf-8")


def test_dose_response_report_shows_hostile_names_as_text(hostile_runs):
    page = report(hostile_runs["dose-response"])
    assert_inert(page, [CELL, DRUG, TREATMENT, TITLE, "µM $x$"])


def test_qpcr_report_shows_hostile_genes_and_conditions_as_text(hostile_runs):
    assert_inert(report(hostile_runs["qpcr"]), [GENE, f"{TREATMENT} 80nM", TITLE])


@pytest.mark.parametrize("assay, labels", [
    ("luciferase", [CELL, TREATMENT, hostile("IGF1R-3'UTR-WT"), TITLE]),
    ("western", [CELL, TREATMENT, TITLE]),
    ("apoptosis", [CELL, TREATMENT, hostile("DOX 0.5 uM"), TITLE])])
def test_mechanism_reports_show_hostile_names_as_text(hostile_runs, assay, labels):
    assert_inert(report(hostile_runs[assay]), labels)


def test_expression_report_with_hubs_network_and_pathways_shows_names_as_text(hostile_runs):
    page = report(hostile_runs["expression"])
    for part in ("Network hubs", "Pathway over-representation", "How the list size N"):
        assert part in page
    assert_inert(page, [CELL, DRUG, TREATMENT, GENE, LINK, TITLE, "p<1>", "<p0>"])


def test_a_figure_that_fails_shows_its_error_once_escaped(hostile_runs, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError(f"no drawing {CELL}")

    monkeypatch.setattr(mechanism_report.figures, "forest", broken)
    page = mechanism_report.report_section(hostile_runs["western"])
    parsed = Page(page)
    assert f"ValueError: no drawing {CELL}" in parsed.text  # escaped once, not twice
    assert parsed.scripts == [] and "Figure not drawn" in parsed.text


def hostile_study_file(folder: Path, runs: dict[str, Path]) -> Path:
    """A study file naming the hostile run directories' labels in its title and claims."""
    def string(text: str) -> str:
        return json.dumps(text)  # a JSON string is a TOML basic string

    claims = [
        dict(claim=f"{TREATMENT} sensitises {CELL} to {DRUG}", kind="ic50_shift",
             treatment=TREATMENT, cell_line=CELL, drug=DRUG),
        dict(claim=f"{TREATMENT} represses the 3'UTR in {CELL} {TITLE}", kind="luciferase",
             cell_line=CELL, construct="interaction"),
        dict(claim=f"{GENE} falls", kind="qpcr_fold", gene=GENE,
             condition=f"{TREATMENT} 80nM", direction="down"),
    ]
    lines = ["[study]", f"title = {string(TITLE)}", "seed = 1", ""]
    for assay, name in (("dose-response", None), ("luciferase", "luciferase.csv"),
                        ("qpcr", "qpcr.csv")):
        lines.append(f"[assays.{assay}]")
        if name is None:
            pd.read_csv(runs[assay] / "wells.csv").to_csv(folder / "wells.csv", index=False)
            name = "wells.csv"
        lines.append(f"file = {string(name)}")
        if assay == "luciferase":
            lines.append(f"construct_control = {string(hostile("IGF1R-3'UTR-MUT"))}")
        if assay == "qpcr":
            lines.append(f"references = {{ {string(GENE)} = \"GAPDH\" }}")
        lines.append("")
    for claim in claims:
        lines.append("[[claims]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in claim.items()]
        lines.append("")
    path = folder / "study.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_study(hostile_runs, tmp_path_factory) -> Path:
    """The study page over the hostile run directories: title and claims from a hostile
    study file (loaded and evaluated as ``chemoshift study`` does, without fitting), more
    claims with hostile small print, and a hostile provenance record."""
    runs = dict(hostile_runs)
    folder = runs["luciferase"].parent
    study = load_study(hostile_study_file(folder, runs), check_levels=False)
    assert study.title == TITLE
    claims = evaluate_claims(study.claims, runs, study.verdict)
    extra = fake_claims().iloc[:3].assign(claim=f"{TITLE} {LINK}", scale=f"fold {TREATMENT}",
                                          detail=CELL, classical_test=DRUG, verdict=GENE)
    claims = pd.concat([claims, extra[claims.columns]], ignore_index=True)
    record = fake_record(runs) | dict(title=TITLE, study_file=f"{LINK}/study.toml",
                                      settings=dict(note=TITLE))
    record["inputs"][0]["path"] = DRUG
    return write_study_report(tmp_path_factory.mktemp("study"), title=study.title,
                              run_dirs=runs, claims=claims, record=record)


def test_study_report_from_a_hostile_study_file_shows_title_and_claims_as_text(hostile_study):
    page = hostile_study.read_text(encoding="utf-8")
    parsed = assert_inert(page, [TITLE, f"{TREATMENT} sensitises {CELL} to {DRUG}", LINK, GENE,
                                 DRUG])
    assert "The mechanism chain" in parsed.text and 'alt="The mechanism chain"' in page


def test_sharded_screen_report_shows_hostile_shard_keys_as_text(tmp_path):
    outcomes = [ShardOutcome("DOX_img-1234abcd", DRUG, "fitted", False, f"NOT CONVERGED {CELL}"),
                ShardOutcome("x-5678abcd", LINK, "failed", error=TREATMENT)]
    pooled = pd.DataFrame({"treatment": [TREATMENT], "control": [CELL], "median": [0.5]})
    pooling = dict(method=f"pooled {GENE}", treatments={TREATMENT: dict(n_shards=1)},
                   cell_line_effects=dict(combined=False, reason=TITLE))
    page = screen_report(tmp_path, outcomes, pooled, pooling, shard_by=f"drug {TITLE}")
    assert_inert(page, [DRUG, LINK, TREATMENT, CELL, GENE, TITLE])


def test_the_hostile_study_report_runs_nothing_in_chromium(hostile_study, tmp_path):
    """The study page (every assay's report inside it) as a reader opens it: had any
    payload run, <body> would carry data-pwned; no script error and no failed load (the
    probe hears both), and every image is the page's own data: PNG, so nothing was
    fetched from a label's address. Elements that could fetch otherwise (iframe, script,
    object, ...) are refused by the static check of the page."""
    browser = chromium()
    dom, console = render(hostile_study, tmp_path, browser)
    assert Page(dom).marked == [], "a label ran as a script"
    probe = re.search(r'<pre id="browser-probe">(.*?)</pre>', dom, re.DOTALL)
    assert probe, "the probe did not run: the page never finished loading"
    record = json.loads(html.unescape(probe.group(1)))
    assert record["errors"] == [] and not console, (record["errors"], console)
    assert record["images"] and all(image["loaded"] for image in record["images"])
    fetched = [image["src"] for image in record["images"]
               if not image["src"].startswith("data:image/png;base64,")]
    assert fetched == [], "images from outside the page"


def test_the_browser_check_sees_a_payload_that_runs(tmp_path):
    """The checks above can fail: the payloads unescaped mark the page, the image ``x``
    is a failed load the probe hears, and an image that loads from a file is named."""
    browser = chromium()
    page = tmp_path / "report.html"
    (tmp_path / "pixel.png").write_bytes(base64.b64decode(PNG_1X1))
    page.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body><p>{CELL}</p>"
                    f'<img alt="pixel" src="pixel.png"><p>{DRUG}</p></body></html>',
                    encoding="utf-8")
    dom, _ = render(page, tmp_path / "browser", browser)
    assert Page(dom).marked, "a payload that ran left no mark"
    record = json.loads(html.unescape(re.search(r'<pre id="browser-probe">(.*?)</pre>', dom,
                                                re.DOTALL).group(1)))
    assert [image["src"][:8] for image in record["images"] if image["loaded"]] == ["file:///"]
    assert any(error.endswith("/x") for error in record["errors"]), record["errors"]
