"""One run directory's report as a section of the study page, and its diagnostics row.

A run's own report.html (written by its assay's report when it was fitted) is the
section: its body, with headings moved one level down, ids and in-page links prefixed so
several runs can share a page, relative links pointed into the run directory, scripts
dropped, and its CSS scoped to the section so runs' styles cannot collide. A run without
a report (or without a run directory) gets a stand-in that says why.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import h5netcdf

from chemoshift.data import run_dir as files

BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.DOTALL | re.IGNORECASE)
HEADING = re.compile(r"<(/?)h([1-5])\b", re.IGNORECASE)
RULE = re.compile(r"([^{}@]+)\{([^{}]*)\}")
LOCAL = re.compile(r"""\b(href|src)="(?!#|data:|[a-z][a-z0-9+.-]*:|/)([^"]*)\"""",
                   re.IGNORECASE)


@dataclass(frozen=True)
class RunSection:
    """A run's section of the study page: HTML, the CSS it needs (scoped), and a note on
    what went wrong when the run's own report could not be used (None when it could)."""

    html: str
    css: str
    problem: str | None


def run_section(assay: str, run_dir: Path | None, anchor: str, link: str,
                converged: bool = True) -> RunSection:
    """The section of ``run_dir`` (None: the fit left no run directory), with element id
    ``anchor``; ``link`` is the run directory relative to the study page; a run that did
    not converge says so above its own report."""
    if run_dir is None or not Path(run_dir).is_dir():
        why = f"The {assay} fit left no run directory" + (f" at {link}/" if link else "")
        return RunSection(_stand_in(assay, anchor, f"{html.escape(why)}; see the "
                                    "diagnostics below."), "", why)
    path = Path(run_dir) / "report.html"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        why = f"no report.html in {link}/ ({type(error).__name__})"
        tables = sorted(p.name for p in Path(run_dir).glob("*.csv"))
        listing = ", ".join(f'<a href="{href(link, t)}">'
                            f"{html.escape(t)}</a>" for t in tables) or "none"
        text = (f"This run has {html.escape(why)}; its posterior and tables are in its run "
                f"directory (tables: {listing}).")
        return RunSection(_stand_in(assay, anchor, text), "", why)
    found = BODY.search(text)
    body = found.group(1) if found else text
    body = SCRIPT.sub("", body)
    body = HEADING.sub(lambda m: f"<{m[1]}h{int(m[2]) + 1}", body)
    body = re.sub(r'\bid="([^"]*)"', lambda m: f'id="{anchor}-{m[1]}"', body)
    body = re.sub(r'\bhref="#([^"]*)"', lambda m: f'href="#{anchor}-{m[1]}"', body)
    body = LOCAL.sub(lambda m: f'{m[1]}="{href(link)}/{m[2]}"', body)
    css = "\n".join(scope_css(block, f"#{anchor}") for block in STYLE.findall(text))
    return RunSection(f'<section id="{anchor}" class="assay">\n'
                      f"{_banner(assay, link, converged)}\n{body}\n</section>", css, None)


def href(*parts: str) -> str:
    """A relative link to a path, for an href: each part percent-encoded (a folder named
    'a#b' or 'x"y' links to itself, never ends the attribute) and HTML-escaped."""
    return html.escape("/".join(quote(part) for part in parts))


def scope_css(css: str, scope: str) -> str:
    """Rewrite flat CSS rules so they apply inside ``scope`` only: ``body``/``html`` become
    the scope, other selectors are prefixed with it, heading selectors move one level down
    like the headings. @-rules are dropped (no run report uses one)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules = []
    for selectors, declarations in RULE.findall(css):
        scoped = []
        for selector in (s.strip() for s in selectors.split(",")):
            if not selector:
                continue
            selector = re.sub(r"\bh([1-5])\b", lambda m: f"h{int(m[1]) + 1}", selector)
            head, _, rest = selector.partition(" ")
            if head in ("body", "html", ":root"):
                scoped.append(f"{scope} {rest}".strip())
            else:
                scoped.append(f"{scope} {selector}")
        if scoped:
            rules.append(f"{', '.join(scoped)} {{{declarations.strip()}}}")
    return "\n".join(rules)


def diagnostics_row(assay: str, run_dir: Path | None, run_name: str) -> dict:
    """One row of diagnostics.csv: the run's diagnostics from run.json, draws and chains
    from posterior.nc; a run without a record is a failed fit with the reason as verdict."""
    row = dict(assay=assay, run=run_name, converged=False, verdict="", max_rhat=None,
               min_ess_bulk=None, min_ess_tail=None, divergences=None, draws=None,
               chains=None)
    if run_dir is None or not Path(run_dir).is_dir():
        return row | dict(verdict="FAILED: no run directory (the fit did not finish)")
    try:
        record = files.read_record(run_dir)
    except (OSError, ValueError) as error:
        return row | dict(verdict=f"FAILED: no readable run.json ({type(error).__name__})")
    diagnostics = record.get("diagnostics") or {}
    row |= dict(converged=bool(diagnostics.get("passed", False)),
                verdict=str(diagnostics.get("verdict", "no diagnostics recorded")),
                **{k: diagnostics.get(k) for k in ("max_rhat", "min_ess_bulk",
                                                   "min_ess_tail", "divergences")})
    return row | posterior_size(Path(run_dir) / files.POSTERIOR)


def posterior_size(path: Path) -> dict[str, int | None]:
    """``draws`` and ``chains`` of a posterior.nc's posterior group (None when unreadable),
    read from the netCDF dimensions alone (opening the whole DataTree takes seconds)."""
    try:
        with h5netcdf.File(path, "r") as netcdf:
            dimensions = netcdf["posterior"].dimensions
            return {"draws": dimensions["draw"].size, "chains": dimensions["chain"].size}
    except (OSError, KeyError, ValueError):
        return {"draws": None, "chains": None}


def relative_link(run_dir: Path | None, out_dir: Path, fallback: str) -> str:
    """``run_dir`` relative to the study page's folder, with forward slashes."""
    if run_dir is None:
        return fallback
    return Path(os.path.relpath(os.path.abspath(run_dir), os.path.abspath(out_dir))).as_posix()


def _banner(assay: str, link: str, converged: bool) -> str:
    text = (f'Assay <strong>{html.escape(assay)}</strong> · run directory <a href="'
            f'{href(link, "report.html")}"><code>{html.escape(link)}/</code></a> (its own '
            "report, posterior.nc, run.json and tables)")
    if converged:
        return f'<p class="run-banner">{text}</p>'
    return (f'<div class="box failed">{text}<br><strong>This fit did NOT converge: its '
            "estimates, and every claim resting on them, are not reliable.</strong></div>")


def _stand_in(assay: str, anchor: str, why: str) -> str:
    return (f'<section id="{anchor}" class="assay">\n<h2>{html.escape(assay)}</h2>\n'
            f'<div class="box failed"><strong>No section for this assay.</strong> {why}</div>\n'
            "</section>")
