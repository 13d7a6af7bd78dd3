"""``chemoshift.run_study``: a study file run from Python, and the object it returns.

    import chemoshift
    from chemoshift.study import bundled_study

    result = chemoshift.run_study(bundled_study(), out="results/")
    result.claims                 # claims.csv as a DataFrame
    result.fits["qpcr"]           # each assay's fit object (loaded from its run directory)
    result.report()               # the path of report.html

It is ``chemoshift study STUDY.toml --out DIR`` (:mod:`chemoshift.study.run` does the
work, the same files are written, unchanged fits are reused), returning what it wrote
instead of an exit code; :meth:`StudyResult.open` reads a study folder written before.
"""

from __future__ import annotations

import dataclasses
import html
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from chemoshift.data import run_dir as files
from chemoshift.data.errors import InputError, Problem
from chemoshift.exit_codes import EXIT_ERROR, EXIT_NOT_CONVERGED, EXIT_OK
from chemoshift.fit_object import HEADLINE_ROWS, html_table

__all__ = ["StudyFits", "StudyResult", "run_study"]

CLAIMS_FILE = "claims.csv"
REPORT_FILE = "report.html"
STATES = {  # a study's exit code -> what it says of the fits (the plain repr: first clause)
    EXIT_OK: "every fit converged",
    EXIT_NOT_CONVERGED: "some fit did NOT converge: the claims resting on it read UNRELIABLE",
    EXIT_ERROR: "some fit FAILED: its claims are not evaluable",
}
CLAIM_COLUMNS = ("claim", "estimate", "q2.5", "q97.5", "probability", "verdict")


class StudyFits(Mapping):
    """Assay name -> its fit object, read from the study folder's run directory on first
    use (``chemoshift.load``; no sampling). ``run_dirs`` names the folders."""

    def __init__(self, run_dirs: Mapping[str, Path]):
        self.run_dirs = {name: Path(path) for name, path in run_dirs.items()}
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, assay: str):
        if assay not in self.run_dirs:
            raise KeyError(f"{assay!r}: this study has no complete run of it; its runs are "
                           f"{sorted(self.run_dirs)}")
        if assay not in self._loaded:
            from chemoshift.pipeline import load

            self._loaded[assay] = load(self.run_dirs[assay])
        return self._loaded[assay]

    def __iter__(self) -> Iterator[str]:
        return iter(self.run_dirs)

    def __len__(self) -> int:
        return len(self.run_dirs)

    def __repr__(self) -> str:
        listed = ", ".join(f"{name}: {path}" for name, path in self.run_dirs.items())
        return f"StudyFits({{{listed}}})"


@dataclass(eq=False, repr=False)
class StudyResult:
    """A study run: its claims, each assay's fit, the report, and how the run went.

    Attributes
    ----------
    out : the study folder (``claims.csv``, ``study.json``, ``report.html``, one run
        directory per assay).
    exit_code : as ``chemoshift study``: 0 every fit converged, 3 some fit did not (the
        claims resting on it read UNRELIABLE), 1 some fit failed outright.
    claims : ``claims.csv`` as a DataFrame (its columns and order).
    fits : assay -> fit object (:class:`StudyFits`: loaded on first use; ``fits.run_dirs``
        gives the folders).
    record : ``study.json``: the study file and its hash, versions, seed, settings, and
        each fit (reused or not, seconds, exit code, verdict).
    """

    out: Path
    exit_code: int
    claims: pd.DataFrame
    fits: StudyFits
    record: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """Every fit converged (``exit_code`` 0)."""
        return self.exit_code == EXIT_OK

    @property
    def title(self) -> str:
        return str(self.record.get("title", self.out.name))

    def report(self) -> Path:
        """The path of the study's ``report.html`` (answer first: the claims, the mechanism
        chain, a section per assay, diagnostics, provenance)."""
        return self.out / REPORT_FILE

    @classmethod
    def open(cls, out: str | Path) -> StudyResult:
        """Read a study folder written by ``chemoshift study`` / :func:`run_study` (no
        fitting). Raises InputError when ``out`` holds no study."""
        from chemoshift.reports.study.claims import read_claims
        from chemoshift.study.run import RECORD

        out = Path(out)
        missing = [n for n in (RECORD, CLAIMS_FILE) if not (out / n).is_file()]
        if missing:
            raise InputError([Problem(str(out), None, None, f"{', '.join(missing)} missing",
                                      "a study folder written by `chemoshift study`")])
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
        run_dirs, codes = {}, []
        for fit in record.get("fits", []):
            codes.append(int(fit.get("exit_code", EXIT_ERROR)))
            run_dir = out / fit["run"]
            if (run_dir / files.RECORD).is_file():
                run_dirs[fit["assay"]] = run_dir
        code = EXIT_ERROR if EXIT_ERROR in codes else max(codes, default=EXIT_OK)
        return cls(out=out, exit_code=code, claims=read_claims(out / CLAIMS_FILE),
                   fits=StudyFits(run_dirs), record=record)

    def _state(self) -> str:
        """What the exit code says of the study's fits, in words."""
        return STATES.get(self.exit_code, f"exit code {self.exit_code}")

    def __repr__(self) -> str:
        state = self._state().split(":")[0]  # the plain text says the first clause
        lines = [f"StudyResult {self.title!r}: {len(self.fits)} fit(s), {state}"]
        for fit in self.record.get("fits", []):
            lines.append(f"  {fit['assay']}: {fit.get('verdict', '')}"
                         f"{' (reused)' if fit.get('reused') else ''}")
        lines.append(f"  claims ({len(self.claims)} rows):")
        for _, row in self.claims.iterrows():
            lines.append(f"    {row['claim']}: {row['verdict']}")
        lines.append(f"  report: {self.report()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        passed = self.converged
        colour, background = ("#1a7f37", "#e6f4ea") if passed else ("#b42318", "#fde2e1")
        state = self._state()
        fits = "".join(
            f"<li><code>{html.escape(fit['assay'])}</code>: "
            f"{html.escape(str(fit.get('verdict', '')))}"
            f"{' (reused)' if fit.get('reused') else ''}</li>"
            for fit in self.record.get("fits", []))
        shown = [c for c in CLAIM_COLUMNS if c in self.claims]
        claims = self.claims[shown]
        more = len(claims) - 2 * HEADLINE_ROWS
        table = html_table(claims.head(2 * HEADLINE_ROWS), wrap=True)
        note = (f"the first {2 * HEADLINE_ROWS} of {len(claims)} rows; " if more > 0 else "")
        return (f'<div class="chemoshift-study">'
                f'<div style="border-left:6px solid {colour};background:{background};'
                f'color:#1f2328;padding:0.5em 0.8em;margin:0.3em 0">'
                f"<strong>{html.escape(self.title)}</strong><br>"
                f'<strong style="color:{colour}">{html.escape(state)}</strong>'
                f'<ul style="margin:0.2em 0">{fits}</ul></div>'
                f'<p style="margin:0.4em 0"><code>.claims</code> ({note}all columns of '
                f"<code>claims.csv</code> in the DataFrame)</p>{table}"
                f'<p style="margin:0.4em 0">Report: <code>{html.escape(str(self.report()))}'
                f"</code>; each fit: <code>.fits[assay]</code></p></div>")


def run_study(
    path,
    out: str | Path | None = None,
    *,
    jobs: int | None = None,
    refit: bool = False,
    say: Callable[[str], None] | None = None,
    allow_outside_paths: bool = False,
    **settings: Any,
) -> StudyResult:
    """Run a study file: fit every assay (in parallel, reusing unchanged fits), evaluate
    the claims, write the report; as ``chemoshift study STUDY.toml --out DIR``.

    Parameters
    ----------
    path : a study file (TOML; schema in docs/study.md) or a loaded
        :class:`~chemoshift.study.Study`. The bundled example is
        :func:`chemoshift.study.bundled_study`.
    out : the study folder to write (new, empty, or written by an earlier run, whose
        unchanged fits are reused); None: a new temporary folder.
    jobs : fits at a time (default: the study file's ``jobs``, else one per core).
    refit : refit every assay even where inputs and settings are unchanged.
    say : where progress lines go (default: standard error, as the command line).
    allow_outside_paths : let the study file name files outside its own folder (absolute
        paths, ``..``); refused by default (``--allow-outside-paths``).
    **settings : sampler settings over the study file's ``[sampler]`` (``draws``, ``tune``,
        ``chains``, ``seed``, ``target_accept``, ``sampler``, ... as
        :class:`~chemoshift.inference.SamplerSettings`); ``draws`` asks for exactly that
        many draws a chain.

    Returns
    -------
    StudyResult: ``.claims`` (a DataFrame), ``.fits`` (each assay's fit), ``.report()``
    (the path of report.html), ``.exit_code`` (0, 3 or 1, as the command line's).

    Raises
    ------
    InputError when the study file or an assay file is invalid (every problem listed,
    nothing fitted or written).
    """
    from chemoshift.inference.fit import SamplerSettings
    from chemoshift.study.load import load_study
    from chemoshift.study.run import default_workers, sampler_settings
    from chemoshift.study.run import run_study as run
    from chemoshift.study.spec import Study

    study = path if isinstance(path, Study) else load_study(
        path, allow_outside_paths=allow_outside_paths)
    known = {f.name for f in dataclasses.fields(SamplerSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"run_study: unknown setting(s) {unknown}; the sampler settings are "
                        f"{sorted(known)}")
    if settings.get("seed") is not None:  # the study's seed, as `--seed` sets it
        study = dataclasses.replace(study, seed=settings.pop("seed"))
    settings.setdefault("progress", False)
    workers = jobs or study.jobs or default_workers(len(study.assays))
    chosen = sampler_settings(study, **settings)
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="chemoshift-study-"))
    say = say or (lambda text: print(f"chemoshift: {text}", file=sys.stderr))
    code, _ = run(study, out, settings=chosen, workers=workers, reuse=not refit, say=say)
    return dataclasses.replace(StudyResult.open(out), exit_code=code)
