"""The study's one HTML page (report.html) and its study-level tables, from files only.

Order (issue 12): the answer first (the claims table), the mechanism chain as one figure,
one section per assay (each run's own report body; the expression run's carries network
and enrichment), then diagnostics of every fit and provenance. Beside the page:
``diagnostics.csv`` (one row per fit) and ``inputs.csv`` (input files with hashes).
The page is self-contained: CSS inline, figures as base64 PNG, no script. A figure that
fails is boxed with its reason, and a run that left no directory or report gets a
stand-in section: nothing here can cost the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from chemoshift.data import run_dir as files
from chemoshift.reports.figure_style import figure_style
from chemoshift.reports.run_sections import (
    diagnostics_row,
    relative_link,
    run_section,
)
from chemoshift.reports.study.chain_figure import chain_figure, verdict_category
from chemoshift.reports.study.format import (
    BLANK,
    CLAIM_COLUMNS,
    DIAGNOSTIC_COLUMNS,
    INPUT_COLUMNS,
    MARKS,
    format_claim_cell,
    format_diagnostic_cell,
)

NUMERIC = {"estimate", "q2.5", "q97.5", "probability", "p_margin", "classical_p", "max_rhat",
           "min_ess_bulk", "min_ess_tail", "divergences", "draws", "chains"}
FLOAT_FORMAT = "%.6g"  # as chemoshift.data.run_dir.write_csv writes every table
ASSAY_ORDER = ("dose-response", "qpcr", "western", "luciferase", "apoptosis", "expression")
HEADERS = {"claim": "claim", "assay": "assay", "estimate": "estimate", "q2.5": "2.5%",
           "q97.5": "97.5%", "probability": "P(claim holds)", "p_margin": "P(by the margin)",
           "classical_p": "classical p", "verdict": "verdict"}


def write_study_report(out_dir: Path, *, title: str, run_dirs: dict[str, Path],
                       claims: pd.DataFrame, record: dict) -> Path:
    """Write ``out_dir/report.html``, ``diagnostics.csv`` and ``inputs.csv``; return the
    page's path.

    Parameters
    ----------
    out_dir : the study folder (holds the run directories, claims.csv, study.json).
    title : the page's title.
    run_dirs : assay -> its run directory (which may be missing when its fit failed).
    claims : claims.csv as a frame (its contract's columns; blanks as NaN).
    record : the study run record (study.json): title, study_file, study_sha256,
        chemoshift_version, versions, seed, settings, fits, inputs.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    diagnostics = diagnostics_table(run_dirs, out_dir)
    inputs = inputs_table(record)
    files.write_csv(out_dir / "diagnostics.csv", diagnostics)
    files.write_csv(out_dir / "inputs.csv", inputs)
    path = out_dir / "report.html"
    files.write_text(path, study_page(out_dir, title=title, run_dirs=run_dirs,
                                      claims=as_written(claims), record=record,
                                      diagnostics=as_written(diagnostics), inputs=inputs))
    return path


def as_written(table: pd.DataFrame | None) -> pd.DataFrame:
    """``table`` as its CSV holds it (text; numbers in the run directory's float format), so
    the page shows exactly the numbers of claims.csv and diagnostics.csv."""
    if table is None or len(table.columns) == 0:
        return pd.DataFrame()
    text = table.to_csv(index=False, float_format=FLOAT_FORMAT)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def passed(values: pd.Series) -> pd.Series:
    """A converged column (bools, or 'True' / 'False' text) as bools."""
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "yes"])


def diagnostics_table(run_dirs: dict[str, Path], out_dir: Path) -> pd.DataFrame:
    """diagnostics.csv: one row per fit, in report order (:data:`DIAGNOSTIC_COLUMNS`)."""
    rows = [diagnostics_row(assay, run_dirs[assay],
                            relative_link(run_dirs[assay], out_dir, assay))
            for assay in ordered(run_dirs)]
    return pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)


def inputs_table(record: dict) -> pd.DataFrame:
    """inputs.csv: assay, path (relative to the study file's folder, as recorded), sha256."""
    rows = [{c: entry.get(c, "") for c in INPUT_COLUMNS} for entry in record.get("inputs", [])]
    return pd.DataFrame(rows, columns=INPUT_COLUMNS)


def ordered(run_dirs: dict[str, Path]) -> list[str]:
    """Assays in the order of the chain (:data:`ASSAY_ORDER`), others after them as given."""
    rank = {a: i for i, a in enumerate(ASSAY_ORDER)}
    return sorted(run_dirs, key=lambda a: rank.get(a, len(rank)))


@dataclass(frozen=True)
class Page:
    """What the page's parts share."""

    out_dir: Path
    run_dirs: dict[str, Path]
    diagnostics: pd.DataFrame


def study_page(out_dir: Path, *, title: str, run_dirs: dict[str, Path], claims: pd.DataFrame,
               record: dict, diagnostics: pd.DataFrame, inputs: pd.DataFrame) -> str:
    """The whole HTML page as text."""
    page = Page(Path(out_dir), run_dirs, diagnostics)
    sections, styles = [], []
    converged = dict(zip(diagnostics.assay, passed(diagnostics.converged), strict=True))
    for assay in ordered(run_dirs):
        link = relative_link(run_dirs[assay], page.out_dir, assay)
        section = run_section(assay, run_dirs[assay], anchor(assay), link,
                              converged.get(assay, True))
        sections.append(section.html)
        styles.append(section.css)
    toc = "".join(f'<li><a href="#{anchor(a)}">{html.escape(a)}</a>'
                  f"{' (network and enrichment at its end)' if a == 'expression' else ''}</li>"
                  for a in ordered(run_dirs))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{CSS}
{chr(10).join(styles)}</style></head>
<body>
<header><h1>{html.escape(title)}</h1>
<p class="note">{_subtitle(record)}</p>
{_status(diagnostics)}
<nav><ol><li><a href="#answer">The answer: claims</a></li>
<li><a href="#chain">The mechanism chain</a></li>
<li><a href="#assays">The assays</a><ol>{toc}</ol></li>
<li><a href="#diagnostics">Diagnostics of every fit</a></li>
<li><a href="#provenance">Provenance</a></li></ol></nav></header>
<main>
<section id="answer"><h2>1. The answer: what the study claims, and how sure it is</h2>
{claims_section(claims, page)}
</section>
<section id="chain"><h2>2. The mechanism chain</h2>
{chain_section(claims)}
</section>
<section id="assays"><h2>3. The assays</h2>
<p class="note">Each assay's own report, as written when it was fitted; its run directory
holds the same report, posterior.nc, run.json and the tables.</p>
{chr(10).join(sections)}
</section>
<section id="diagnostics"><h2>4. Diagnostics of every fit</h2>
{diagnostics_section(diagnostics)}
</section>
<section id="provenance"><h2>5. Provenance</h2>
{provenance_section(record, inputs)}
</section>
</main>
</body></html>
"""


def anchor(assay: str) -> str:
    """The element id of an assay's section: its name, made safe for an id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", assay).strip("-") or "assay"


def claims_section(claims: pd.DataFrame, page: Page) -> str:
    """The claims table: one row per claim, marked by verdict; a claim resting on a fit
    that did not converge is marked whatever its verdict."""
    if claims is None or claims.empty:
        return '<div class="box failed">The study evaluated no claim (claims.csv is empty).</div>'
    failed_runs = set(page.diagnostics.loc[~passed(page.diagnostics.converged), "run"])
    categories = [verdict_category(row.get("verdict"), False if str(row.get("run", ""))
                                   in failed_runs else row.get("converged", True))
                  for _, row in claims.iterrows()]
    head = "".join(f'<th data-col="{c}"{_num(c)}>{html.escape(HEADERS[c])}</th>'
                   for c in CLAIM_COLUMNS)
    rows = []
    for category, (_, row) in zip(categories, claims.iterrows(), strict=True):
        symbol, word = MARKS[category]
        cells = [f'<td class="mark" title="{html.escape(word)}">{symbol}'
                 f'{" fit did not converge" if category == "unreliable" else ""}</td>']
        for column in CLAIM_COLUMNS:
            text = html.escape(format_claim_cell(column, row.get(column)))
            if column == "claim":
                text += _claim_note(row)
            elif column == "assay" and row.get("assay") in page.run_dirs:
                text = f'<a href="#{anchor(str(row["assay"]))}">{text}</a>'
            hover = {"classical_p": "classical_test", "estimate": "scale"}.get(column, "")
            extra = (f' title="{html.escape(str(row[hover]))}"'
                     if hover and str(row.get(hover) or "").strip() else "")
            cells.append(f'<td data-col="{column}"{_num(column)}{extra}>{text}</td>')
        rows.append(f'<tr class="claim {category.replace(" ", "-")}">{"".join(cells)}</tr>')
    unreliable = categories.count("unreliable")
    warning = (f'<div class="box failed"><strong>{unreliable} claim(s) rest on a fit that '
               "did not converge</strong>: their numbers are not reliable (marked ⚠ below; "
               'see <a href="#diagnostics">diagnostics</a>).</div>' if unreliable else "")
    return f"""{warning}
<p class="note">Estimate and 95% interval: posterior median and 2.5% / 97.5% quantiles, on
the scale the claim names (fold changes and odds ratios: 1 = no effect; percentage points:
0 = no effect; hub ranks: 1 = top). P(claim holds) is the posterior probability of the
claim; P(by the margin) that it holds by the study's practical margin. The classical p is
the test the field would use on the same data (hover for its name); a blank (—) is a value
that does not exist for that claim. The same table is <a href="claims.csv">claims.csv</a>.</p>
<div class="scroll"><table id="claims-table" class="claims"><thead><tr><th></th>{head}</tr>
</thead><tbody>
{chr(10).join(rows)}
</tbody></table></div>
<p class="note legend">{" · ".join(f"{s} {html.escape(w)}" for s, w in MARKS.values())}</p>"""


def _claim_note(row: pd.Series) -> str:
    """The small print under a claim, folded: its scale, the classical test, the detail."""
    parts = []
    for key, label in (("scale", "scale: "), ("classical_test", "classical test: "),
                       ("detail", "")):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(f"{label}{value}")
    if not parts:
        return ""
    return (f'<details class="detail"><summary>how</summary>'
            f'{"<br>".join(html.escape(p) for p in parts)}</details>')


def chain_section(claims: pd.DataFrame) -> str:
    """The chain figure (boxed with its reason if it cannot be drawn) and its reading."""
    figure = figure_html("The mechanism chain", lambda: chain_figure(claims))
    return f"""<p class="note">Each step of the argument in one figure, from the claims
above: does the IC50 fall under miR-379 and under si-IGF1R (and do the two shifts agree?),
does miR-379 lower IGF1R mRNA and protein, does it repress the wild-type 3'UTR, does it
raise drug-induced apoptosis. Posterior median and 95% interval per claim; colour and
marker give the verdict.</p>
{figure}"""


def diagnostics_section(diagnostics: pd.DataFrame) -> str:
    """Every fit's diagnostics (diagnostics.csv), failed fits loudly marked."""
    head = "".join(f'<th data-col="{c}"{_num(c)}>{html.escape(c)}</th>'
                   for c in DIAGNOSTIC_COLUMNS)
    rows = []
    for ok, (_, row) in zip(passed(diagnostics.converged), diagnostics.iterrows(),
                            strict=True):
        cells = "".join(f'<td data-col="{c}"{_num(c)}>'
                        f"{html.escape(format_diagnostic_cell(c, row[c]))}</td>"
                        for c in DIAGNOSTIC_COLUMNS)
        rows.append(f'<tr class="{"fit-ok" if ok else "fit-failed"}">{cells}</tr>')
    return f"""<p class="note">A fit converged when R-hat &lt;= 1.01, bulk and tail ESS
&gt;= 400, there are no divergences and E-BFMI &gt;= 0.3 (the expression fit draws exactly,
without a Markov chain). The same table is <a href="diagnostics.csv">diagnostics.csv</a>.</p>
<div class="scroll"><table id="diagnostics-table" class="diagnostics"><thead><tr>{head}</tr>
</thead><tbody>
{chr(10).join(rows)}
</tbody></table></div>"""


def provenance_section(record: dict, inputs: pd.DataFrame) -> str:
    """Study file and hash, inputs with hashes, versions, seed, settings, reused fits."""
    fits = pd.DataFrame(record.get("fits", []))
    if not fits.empty and "reused" in fits:
        fits["reused"] = fits["reused"].map(lambda r: "reused" if r else "fitted")
    versions = pd.DataFrame(sorted((record.get("versions") or {}).items()),
                            columns=["package", "version"])
    settings = json.dumps(record.get("settings", {}), indent=2, sort_keys=True, default=str)
    return f"""<dl class="provenance">
<dt>study file</dt><dd><code>{html.escape(str(record.get("study_file", BLANK)))}</code></dd>
<dt>sha256</dt><dd><code>{html.escape(str(record.get("study_sha256", BLANK)))}</code></dd>
<dt>chemoshift</dt><dd>{html.escape(str(record.get("chemoshift_version", BLANK)))}</dd>
<dt>seed</dt><dd>{html.escape(str(record.get("seed", BLANK)))}</dd></dl>
<h3>Fits (reused: inputs, settings and package version unchanged, so not refitted)</h3>
{_simple_table(fits, "fits-table")}
<h3>Inputs (paths relative to the study file's folder; <a href="inputs.csv">inputs.csv</a>)</h3>
{_simple_table(inputs, "inputs-table")}
<h3>Settings</h3>
<pre class="settings">{html.escape(settings)}</pre>
<details><summary>Versions ({len(versions)} packages)</summary>
{_simple_table(versions, "versions-table")}</details>
<p class="note">The whole record is <a href="study.json">study.json</a>.</p>"""


def figure_html(name: str, draw: Callable[[], Figure], dpi: int = 100) -> str:
    """A figure as a base64 PNG <figure>, or a box naming why it could not be drawn."""
    try:
        with figure_style():
            fig = draw()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
    except Exception as error:  # a figure never costs the page
        return (f'<div class="box failed">Figure "{html.escape(name)}" could not be drawn: '
                f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</div>")
    return (f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>")


def _subtitle(record: dict) -> str:
    sha = str(record.get("study_sha256", ""))
    return (f"chemoshift {html.escape(str(record.get('chemoshift_version', '?')))} · study "
            f"file <code>{html.escape(str(record.get('study_file', '?')))}</code>"
            f"{f' (sha256 {html.escape(sha[:12])}…)' if sha else ''} · seed "
            f"{html.escape(str(record.get('seed', '?')))}")


def _status(diagnostics: pd.DataFrame) -> str:
    failed = diagnostics[~passed(diagnostics.converged)]
    if failed.empty:
        return (f'<div class="box ok">All {len(diagnostics)} fits converged '
                '(<a href="#diagnostics">diagnostics</a>).</div>')
    names = ", ".join(html.escape(f"{r.assay} ({r.verdict})") for r in failed.itertuples())
    return (f'<div class="box failed"><strong>{len(failed)} of {len(diagnostics)} fits did '
            f"not converge or failed</strong>: {names}. Every claim resting on them is "
            'marked unreliable (<a href="#diagnostics">diagnostics</a>).</div>')


def _num(column: str) -> str:
    """The class attribute of a numeric column's cells (right-aligned)."""
    return ' class="num"' if column in NUMERIC else ""


def _simple_table(frame: pd.DataFrame, table_id: str) -> str:
    if frame.empty:
        return f'<p class="note" id="{table_id}">none recorded</p>'
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    head = "".join(f"<th{' class="num"' if n else ''}>{html.escape(str(c))}</th>"
                   for c, n in zip(frame.columns, numeric, strict=True))
    body = "".join("<tr>" + "".join(f"<td{' class="num"' if n else ''}>"
                                    f"{html.escape(_cell(v))}</td>"
                                    for v, n in zip(row, numeric, strict=True)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return BLANK
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  line-height: 1.45; margin: 0 auto; max-width: 80rem; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
main > section > h2 { font-size: 1.4rem; margin-top: 2.5rem; padding-bottom: 0.25rem;
  border-bottom: 3px solid #0072B2; }
section.assay { border-top: 2px solid #999; margin-top: 2.2rem; padding-top: 0.3rem; }
.note { color: #555; font-size: 0.92rem; }
nav ol { margin: 0.3rem 0; } nav li { margin: 0.1rem 0; }
.box { padding: 0.7rem 1rem; border-radius: 6px; margin: 0.8rem 0; }
.box.ok { background: #e5f1f9; border: 1px solid #0072B2; }
.box.failed { background: #fbe3d6; border: 2px solid #D55E00; color: #6b2300; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.88rem; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 0.3rem 0.55rem; text-align: left;
  vertical-align: top; }
th { background: #f3f3f3; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.claims td[data-col="claim"] { min-width: 16rem; }
table.claims td[data-col="verdict"] { min-width: 14rem; }
table.claims td.mark { font-weight: 700; font-size: 1.1rem; text-align: center; }
table.claims tr.unreliable td.mark { font-size: 0.85rem; }
table.claims .detail { color: #555; font-size: 0.8rem; margin-top: 0.15rem; }
table.claims .detail summary { cursor: pointer; color: #0072B2; }
tr.claim td:first-child { border-left: 6px solid transparent; }
tr.supported td:first-child { border-left-color: #0072B2; color: #0072B2; }
tr.margin td:first-child { border-left-color: #009E73; color: #00684c; }
tr.weak { background: #fdf3dc; } tr.weak td:first-child { border-left-color: #E69F00;
  color: #8a5d00; }
tr.unsupported { background: #f2f2f2; } tr.unsupported td:first-child {
  border-left-color: #000; }
tr.unreliable { background: #fbe3d6; } tr.unreliable td:first-child {
  border-left-color: #D55E00; color: #a33f00; }
tr.unreliable td[data-col="verdict"] { color: #a33f00; font-weight: 700; }
tr.not-evaluable { color: #666; font-style: italic; } tr.not-evaluable td:first-child {
  border-left-color: #aaa; }
tr.fit-failed { background: #fbe3d6; color: #8e0000; font-weight: 700; }
tr.fit-failed td[data-col="converged"] { font-size: 1.05rem; }
figure { margin: 1rem 0; } figcaption { font-size: 0.9rem; color: #444; }
img { max-width: 100%; height: auto; }
dl.provenance { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.provenance dt { font-weight: 600; } dl.provenance dd { margin: 0; word-break: break-all; }
pre.settings { background: #f6f6f6; padding: 0.6rem; max-height: 24rem; overflow: auto;
  font-size: 0.8rem; }
code { background: #f3f3f3; padding: 0 0.25rem; border-radius: 3px; }
p.run-banner { background: #eef4fa; padding: 0.4rem 0.8rem; border-radius: 4px; }
"""
