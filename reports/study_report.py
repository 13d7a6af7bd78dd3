"""One HTML page over several run directories: a summary table, then each assay's section.

Reads only files: each run directory's run.json and report.html (written by its own
assay's report), so a run whose report failed still gets its row and a stand-in section.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from chemoshift.data import run_dir as files

BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class RunSummary:
    """One assay's run directory as the combined report lists it."""

    assay: str
    run_dir: Path
    converged: bool | None  # None: no run.json (the fit itself failed)
    verdict: str


def summarise_run(assay: str, run_dir: Path) -> RunSummary:
    """The row of ``run_dir`` in the summary table, from its run.json alone."""
    try:
        record = files.read_record(run_dir)
    except (OSError, ValueError) as error:
        return RunSummary(assay, run_dir, None, f"no run record: {error}")
    diagnostics = record.get("diagnostics", {})
    return RunSummary(assay, run_dir, bool(diagnostics.get("passed")),
                      str(diagnostics.get("verdict", "no diagnostics recorded")))


def write_combined_report(out_dir: Path, runs: list[RunSummary], title: str) -> Path:
    """Write ``out_dir/report.html``: the summary table, then every run's report body."""
    styles: list[str] = []
    sections = []
    for run in runs:
        body, style = _report_parts(run)
        styles += [s for s in style if s not in styles]
        sections.append(f'<section id="{html.escape(run.assay)}" class="assay">\n'
                        f'<h1 class="assay-title">{html.escape(run.assay)}</h1>\n{body}\n'
                        "</section>")
    rows = "\n".join(
        f'<tr class="{"ok" if r.converged else "failed"}"><td><a href="#{html.escape(r.assay)}">'
        f"{html.escape(r.assay)}</a></td><td>{'yes' if r.converged else 'NO'}</td>"
        f"<td>{html.escape(r.verdict)}</td><td><a href=\"{html.escape(r.run_dir.name)}/"
        f'report.html">{html.escape(r.run_dir.name)}/</a></td></tr>'
        for r in runs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{"".join(styles)}
.summary td, .summary th {{ padding: 0.2em 0.8em; text-align: left; }}
.summary tr.failed td {{ color: #b2182b; font-weight: bold; }}
section.assay {{ border-top: 3px solid #444; margin-top: 2em; padding-top: 0.5em; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>One run directory per assay sits beside this file; each has its own report.html,
posterior.nc, run.json and tables. Every fit's diagnostics are in its section.</p>
<table class="summary"><thead><tr><th>assay</th><th>converged</th><th>diagnostics</th>
<th>run directory</th></tr></thead><tbody>
{rows}
</tbody></table>
{"".join(sections)}
</body></html>
"""
    path = out_dir / "report.html"
    files.write_text(path, page)
    return path


def _report_parts(run: RunSummary) -> tuple[str, list[str]]:
    """The body and style blocks of a run's own report.html, or a stand-in saying why not."""
    path = run.run_dir / "report.html"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return (f"<p class=\"failed\">No report for this run ({html.escape(str(error))}); "
                "its tables and posterior are in its run directory.</p>", [])
    body = BODY.search(text)
    return (body.group(1) if body else text), STYLE.findall(text)
