"""What every ``chemoshift fit ASSAY`` command shares: its parser's common options, the
sampler settings they give, and running one fit to its run directory and exit code.

Each assay's commands module (``dose_response_commands``, ``qpcr_commands``,
``mechanism_commands``, ``expression_commands``) makes its parser with
:func:`assay_parser`, adds its own options and runs with :func:`run_fit`.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chemoshift.assay import DEFAULT_MARGIN
from chemoshift.exit_codes import EXIT_NOT_CONVERGED, EXIT_OK, refuse
from chemoshift.inference.diagnostics import MIN_ESS
from chemoshift.inference.fit import SamplerSettings
from chemoshift.registry import ASSAYS


def mapping(text: str) -> dict[str, str]:
    """``name=column,name=column`` (an argparse type)."""
    pairs = [p for p in text.split(",") if p.strip()]
    if not all("=" in p for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: expected name=column pairs, comma separated")
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def assay_parser(assays, name: str, *, help: str, input_help: str,
                 options: Callable[[Any], None], columns: bool = True,
                 contrasts: bool = True) -> argparse.ArgumentParser:
    """The parser of ``chemoshift fit NAME``: the options every assay shares (the input,
    ``--out``, ``--columns``, ``--title``, and with ``contrasts`` ``--control``,
    ``--margin``, ``--prior``), then the assay's own (``options(group)`` adds them), then
    the sampler's."""
    parser = assays.add_parser(name, help=help, description=help, allow_abbrev=False,
                               usage=f"chemoshift fit {name} INPUT --out RUN_DIR [options]")
    parser.add_argument("input", type=Path, metavar="INPUT", help=input_help)
    shared = parser.add_argument_group("shared")
    shared.add_argument("--out", type=Path, required=True, help="run directory to write")
    shared.add_argument("--overwrite", action="store_true",
                        help="replace the run directory at --out if one is there (it stays "
                             "whole until the new run is complete); without it an existing "
                             "run is refused")
    if columns:
        shared.add_argument("--columns", type=mapping, default={},
                            help="package name=your column, comma separated, e.g. "
                                 "concentration=conc,response=rootl; replicate columns of a "
                                 "wide file: response=rep1+rep2+rep3")
    shared.add_argument("--title", help="title of the report (default: the input file's name)")
    if contrasts:
        shared.add_argument("--control", action="append", default=[],
                            metavar="TREATMENT=CONTROL",
                            help="the arm a treatment is compared with (repeat for each)")
        shared.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                            help="practical fold change: p_beyond_margin = P(fold beyond it)")
        shared.add_argument("--prior", action="append", default=[], metavar="NAME=VALUE",
                            help="override a prior scale by name (run.json's settings.priors "
                                 "lists them)")
    options(parser.add_argument_group(name))
    sampler_options(parser)
    return parser


def sampler_options(parser: argparse.ArgumentParser) -> None:
    defaults = SamplerSettings()
    group = parser.add_argument_group("sampler")
    group.add_argument("--draws", type=int, default=None,
                       help=f"draws a chain, exactly (default: {defaults.first_draws}, run on "
                            f"until bulk and tail ESS reach {MIN_ESS}, at most "
                            f"{defaults.checkpoints()[-1]})")
    group.add_argument("--tune", type=int, default=defaults.tune)
    group.add_argument("--chains", type=int, default=defaults.chains,
                       help="default: the machine's cores, 2-4")
    group.add_argument("--seed", type=int, default=defaults.seed)
    group.add_argument("--sampler", choices=["nutpie", "pymc"], default=defaults.sampler)
    group.add_argument("--target-accept", type=float, default=defaults.target_accept)
    group.add_argument("--cores", type=int, default=None)
    group.add_argument("--progress", action=argparse.BooleanOptionalAction,
                       default=sys.stderr.isatty(), help="the sampler's progress bar")


def settings(args: argparse.Namespace) -> SamplerSettings:
    """The sampler settings of parsed options: ``--draws`` given means exactly that many."""
    fixed = args.draws is not None  # the user asked for exactly this many draws
    return SamplerSettings(draws=args.draws, tune=args.tune,
                           chains=args.chains, seed=args.seed, sampler=args.sampler,
                           target_accept=args.target_accept, cores=args.cores,
                           progress=args.progress, extend=not fixed)


def contrast_options(args: argparse.Namespace, *, label: str | None = None
                     ) -> tuple[dict | None, dict[str, float]] | int:
    """``--control`` pairs and ``--prior`` overrides (known to the assay, numbers) and a
    ``--margin`` above 1; or exit code 2 with the message printed (naming the assay as
    ``label``, default its name)."""
    try:
        controls = mapping(",".join(args.control)) if args.control else None
        priors = {k: float(v) for k, v in mapping(",".join(args.prior)).items()}
    except (argparse.ArgumentTypeError, ValueError) as error:
        return refuse(f"--control / --prior: {error} (expected NAME=VALUE)")
    known = list(ASSAYS[args.assay].priors.__dataclass_fields__)
    unknown = sorted(set(priors) - set(known))
    if unknown:
        return refuse(f"--prior {unknown}: unknown prior(s); the {label or args.assay} priors are "
                      f"{known}")
    if not args.margin > 1:
        return refuse(f"--margin {args.margin}: expected a fold change above 1 "
                       "(1.5 asks for P(fold beyond 1.5))")
    return controls, priors


def run_fit(args: argparse.Namespace, read_options: dict[str, Any],
            priors: dict[str, float]) -> int:
    """Fit ``args.assay`` to ``args.input`` into ``args.out``; say what was written and
    whether it converged. Returns the exit code (0, or 3 with a banner)."""
    from chemoshift.pipeline import ReportFailedWarning, run_assay  # PyMC: only for a fit

    start = time.perf_counter()
    sampler = settings(args)
    out = args.out
    print(f"chemoshift: fitting {args.assay} model to {args.input} ...", file=sys.stderr)
    with warnings.catch_warnings():  # said below in the command line's own words
        warnings.simplefilter("ignore", ReportFailedWarning)
        result = run_assay(args.assay, args.input, out, read_options=read_options,
                           prior_overrides=priors, settings=sampler,
                           margin=getattr(args, "margin", DEFAULT_MARGIN), title=args.title,
                           overwrite=args.overwrite)
    seconds = time.perf_counter() - start
    tables = ", ".join(sorted(p.name for p in Path(out).glob("*.csv")))
    print(f"chemoshift: wrote {out}/ (report.html, {tables}, posterior.nc, run.json) in "
          f"{seconds:.0f} s", file=sys.stderr)
    if result.report_error:  # the run is complete; the exit code is convergence's alone
        print(f"chemoshift: warning: {result.report_error}", file=sys.stderr)
    if not result.diagnostics.passed:
        print(not_converged_banner(result.diagnostics, out), file=sys.stderr)
        return EXIT_NOT_CONVERGED
    print(f"chemoshift: {result.diagnostics.verdict}{draws_note(result.timings, sampler)}",
          file=sys.stderr)
    return EXIT_OK


def not_converged_banner(diagnostics, out: Path) -> str:
    """The loud message of a fit that did not converge: the verdict, what is (and is not)
    reliable, and the next steps its diagnostics point to."""
    banner = "!" * 78
    if diagnostics.population_passed:
        unit = diagnostics.unit_name or "unit"
        scope = (f"The rows of those {unit}s are marked converged = false in {out}'s tables "
                 "and figures; every other row is reliable on its own diagnostics.")
    else:
        scope = f"The estimates in {out} are NOT reliable."
    steps = "".join(f"\n  next: {step}" for step in diagnostics.advice) or (
        "\n  next: see the report's diagnostics")
    return f"{banner}\nchemoshift: {diagnostics.verdict}\n{scope}{steps}\n{banner}"


def draws_note(timings: dict, settings: SamplerSettings) -> str:
    """Where an extended fit stopped, when that is short of the cap its progress bar
    counted to (nutpie's bar stops part way when the ESS target is met early). PyMC's
    sampler extends by whole batches of chains instead: nothing to say."""
    kept, cap = timings.get("draws_per_chain"), settings.checkpoints()[-1]
    if settings.sampler != "nutpie" or not settings.extend or kept is None or kept >= cap:
        return ""
    return f" (ESS target met at {kept:,} draws a chain; the cap is {cap:,})"
