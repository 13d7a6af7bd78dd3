"""The ``chemoshift`` command line.

    chemoshift demo [--out DIR]
    chemoshift study STUDY.toml --out DIR [--jobs N] [--refit] [--draws N --seed N ...]
    chemoshift fit dose-response INPUT.csv --out RUN_DIR [--columns name=column,...]
                   [--control TREATMENT=CONTROL ...] [--draws N --tune N --chains N --seed N]
    chemoshift report RUN_DIR

``chemoshift study STUDY.toml --out DIR`` fits every assay the study file names into
``DIR/<assay>/`` (each a complete run directory; unchanged fits are reused), evaluates its
claims into ``DIR/claims.csv`` and writes ``DIR/report.html``. ``chemoshift demo`` runs the
bundled example study.

Exit codes: 0 success; 2 bad input (nothing written); 3 the sampler did not converge
(outputs written, and they say so at the top); 1 a study could not fit an assay at all.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

# arviz_base first, while few modules are loaded: on import it asks lazy_loader for the
# absent numpyro and jax, and lazy_loader words that error with inspect.stack(), whose
# source lookups scan sys.modules a frame at a time: 0.1 s now, 0.6-1.2 s after PyMC,
# SciPy and Matplotlib (measured on the 2-core machine)
import arviz_base  # noqa: F401
import matplotlib
import pandas as pd

from chemoshift import expression_commands, mechanism, qpcr_commands
from chemoshift.data.errors import InputError
from chemoshift.inference.diagnostics import MIN_ESS
from chemoshift.inference.fit import SamplerSettings
from chemoshift.pipeline import DEFAULT_MARGIN, ReportFailedWarning, run_assay
from chemoshift.registry import ASSAYS, assay_of_run

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    matplotlib.use("Agg")  # a command line draws to files, never to a window
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except InputError as error:
        print(f"chemoshift: bad input, nothing written.\n{error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chemoshift", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the bundled example study and write its report")
    demo.add_argument("--out", type=Path, default=Path("chemoshift-demo"),
                      help="study folder to write (default: ./chemoshift-demo)")
    _study_options(demo)
    demo.set_defaults(command=_demo)

    study = commands.add_parser("study", help="fit a study file's assays, evaluate its claims, "
                                              "write one report (docs/study.md)")
    study.add_argument("study_file", type=Path, metavar="STUDY.toml")
    study.add_argument("--out", type=Path, required=True,
                       help="study folder to write (an earlier run's unchanged fits are reused)")
    _study_options(study)
    study.set_defaults(command=_study)

    fit = commands.add_parser("fit", help="fit an assay file into a run directory")
    fit.add_argument("assay", choices=sorted(ASSAYS))
    fit.add_argument("input", type=Path, help="CSV file, one row per well")
    fit.add_argument("--out", type=Path, required=True, help="run directory to write")
    fit.add_argument("--columns", type=_mapping, default={},
                     help="package name=your column, comma separated, "
                          "e.g. concentration=conc,response=rootl; replicate columns of a "
                          "wide file: response=rep1+rep2+rep3")
    fit.add_argument("--control", action="append", default=[], metavar="TREATMENT=CONTROL",
                     help="the arm a treatment is compared with (repeat for each treatment)")
    fit.add_argument("--unit", default="uM",
                     help="concentration unit when the file has no unit column (default uM)")
    fit.add_argument("--response-kind", default="absorbance",
                     choices=["absorbance", "percent_viability", "other"],
                     help="what the response column holds (labels the report)")
    fit.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                     help="practical fold shift: p_beyond_margin = P(shift < 1/margin)")
    fit.add_argument("--prior", action="append", default=[], metavar="NAME=VALUE",
                     help="override a prior scale by name (see DoseResponsePriors)")
    fit.add_argument("--title", help="title of the report (default: the input file's name)")
    expression_commands.add_fit_options(fit)
    mechanism.add_fit_options(fit)  # luciferase / western / apoptosis
    qpcr_commands.add_fit_options(fit)  # --reference, --max-cycle, ... (and --dose COLUMN)
    _sampler_options(fit)
    fit.set_defaults(command=_fit)

    report = commands.add_parser("report", help="(re)write RUN_DIR/report.html from saved results")
    report.add_argument("run_dir", type=Path)
    report.set_defaults(command=_report)
    expression_commands.add_commands(commands)
    return parser


def _sampler_options(parser: argparse.ArgumentParser) -> None:
    defaults = SamplerSettings()
    group = parser.add_argument_group("sampler")
    group.add_argument("--draws", type=int, default=None,
                       help=f"draws per chain, exactly (default: {defaults.first_draws} a "
                            f"chain with {defaults.n_chains} chains first, "
                            f"the chains run on until bulk and tail ESS reach {MIN_ESS}, at most "
                            f"{defaults.checkpoints()[-1]})")
    group.add_argument("--tune", type=int, default=defaults.tune)
    group.add_argument("--chains", type=int, default=defaults.chains,
                       help="chains (default: the machine's cores, 2-4)")
    group.add_argument("--seed", type=int, default=defaults.seed)
    group.add_argument("--sampler", choices=["nutpie", "pymc"], default=defaults.sampler)
    group.add_argument("--target-accept", type=float, default=defaults.target_accept)
    group.add_argument("--cores", type=int, default=None)
    group.add_argument("--progress", action=argparse.BooleanOptionalAction,
                       default=sys.stderr.isatty(), help="show the sampler's progress bar")


def _study_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("study")
    group.add_argument("--jobs", type=int, default=None,
                       help="fits at a time (default: the study file's jobs, else one per core)")
    group.add_argument("--refit", action="store_true",
                       help="refit every assay even where inputs and settings are unchanged")
    group.add_argument("--check", action="store_true",
                       help="validate the study file and its assay files, fit nothing")
    sampler = parser.add_argument_group("sampler (overrides the study file's [sampler])")
    sampler.add_argument("--draws", type=int, default=None,
                         help="draws per chain, exactly (default: extended until bulk and "
                              f"tail ESS reach {MIN_ESS})")
    sampler.add_argument("--tune", type=int, default=None)
    sampler.add_argument("--chains", type=int, default=None)
    sampler.add_argument("--seed", type=int, default=None,
                         help="seed of every fit (default: the study file's seed)")
    sampler.add_argument("--target-accept", type=float, default=None)
    sampler.add_argument("--progress", action=argparse.BooleanOptionalAction,
                         default=sys.stderr.isatty(),
                         help="show the sampler's progress bar (with --jobs 1)")


def _study(args: argparse.Namespace) -> int:
    """``chemoshift study``: validate, fit (reusing unchanged fits), claims, report."""
    from chemoshift.study import load_study

    return _run_study(load_study(args.study_file), args)


def _run_study(study, args: argparse.Namespace) -> int:
    import dataclasses

    from chemoshift.study_run import default_workers, run_study, sampler_settings

    if args.check:
        print(f"chemoshift: {study.path} is valid: {len(study.assays)} assay(s), "
              f"{len(study.claims)} claim(s)", file=sys.stderr)
        return EXIT_OK
    if args.seed is not None:
        study = dataclasses.replace(study, seed=args.seed)
    workers = args.jobs or study.jobs or default_workers(len(study.assays))
    settings = sampler_settings(study, progress=bool(args.progress and workers == 1),
                                draws=args.draws, tune=args.tune, chains=args.chains,
                                target_accept=args.target_accept)
    start = time.perf_counter()
    code, report = run_study(study, args.out, settings=settings, workers=workers,
                             reuse=not args.refit)
    seconds = time.perf_counter() - start
    if code == EXIT_NOT_CONVERGED:
        banner = "!" * 78
        print(f"{banner}\nchemoshift: at least one fit did NOT converge; every claim resting "
              f"on it is marked UNRELIABLE in {args.out}/claims.csv and the report.\n"
              f"Run longer (--tune / --draws) or see the report's diagnostics.\n{banner}",
              file=sys.stderr)
    elif code == EXIT_ERROR:
        print("chemoshift: at least one fit failed outright (see above); the others are "
              f"complete in {args.out}", file=sys.stderr)
    print(f"chemoshift: study done in {seconds:.0f} s; open {report}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> SamplerSettings:
    fixed = args.draws is not None  # the user asked for exactly this many draws
    return SamplerSettings(draws=args.draws, tune=args.tune,
                           chains=args.chains, seed=args.seed, sampler=args.sampler,
                           target_accept=args.target_accept, cores=args.cores,
                           progress=args.progress, extend=not fixed)


def _mapping(text: str) -> dict[str, str]:
    pairs = [p for p in text.split(",") if p.strip()]
    if not all("=" in p for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: expected name=column pairs, comma separated")
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def _fit(args: argparse.Namespace) -> int:
    refused = qpcr_commands.refuse_foreign_options(args)  # qPCR's options, or others' to qpcr
    if refused is not None:
        return refused
    if args.assay == "qpcr":
        read_options = qpcr_commands.read_options(args)
        if isinstance(read_options, int):
            return read_options
        priors = dict(p.split("=", 1) for p in args.prior)
        return _run(args.assay, args.input, args.out, read_options, priors, args, args.title)
    mechanism.refuse_misplaced_options(args)  # an option of another assay: exit 2
    if args.assay == "expression":  # --control names a group; --pairs/--group/--top
        return expression_commands.fit_expression(args)
    try:
        controls = _mapping(",".join(args.control)) if args.control else None
        priors = {k: float(v) for k, v in _mapping(",".join(args.prior)).items()}
    except (argparse.ArgumentTypeError, ValueError) as error:
        print(f"chemoshift: --control / --prior: {error} (expected NAME=VALUE)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    unknown = set(priors) - set(ASSAYS[args.assay].priors.__dataclass_fields__)
    if unknown:
        print(f"chemoshift: unknown prior(s) {sorted(unknown)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.margin > 1:
        print(f"chemoshift: --margin {args.margin}: expected a fold change above 1 "
              "(1.5 asks for P(shift < 1/1.5))", file=sys.stderr)
        return EXIT_BAD_INPUT
    read_options = dict(columns=args.columns, controls=controls, unit=args.unit,
                        response_kind=args.response_kind)
    if args.assay in mechanism.FITS:
        read_options = mechanism.cli_read_options(args, controls)
    return _run(args.assay, args.input, args.out, read_options, priors, args, args.title)


def _demo(args: argparse.Namespace) -> int:
    """Run the bundled example study into ``args.out`` and check it against its truth."""
    from chemoshift import demo
    from chemoshift.study import bundled_study, load_study

    code = _run_study(load_study(bundled_study()), args)
    shifts = args.out / "dose-response" / "shifts.csv"
    if shifts.is_file() and not args.check:
        _compare_with_truth(shifts.parent, demo.dose_response_truth())
    return code


def _run(assay, input_path, out, read_options, priors, args, title) -> int:
    start = time.perf_counter()
    settings = _settings(args)
    print(f"chemoshift: fitting {assay} model to {input_path} ...", file=sys.stderr)
    with warnings.catch_warnings():  # said below in the command line's own words
        warnings.simplefilter("ignore", ReportFailedWarning)
        result = run_assay(assay, input_path, out, read_options=read_options,
                           prior_overrides=priors, settings=settings,
                           margin=getattr(args, "margin", DEFAULT_MARGIN), title=title)
    seconds = time.perf_counter() - start
    tables = ", ".join(sorted(p.name for p in Path(out).glob("*.csv")))
    print(f"chemoshift: wrote {out}/ (report.html, {tables}, posterior.nc, run.json) in "
          f"{seconds:.0f} s", file=sys.stderr)
    if result.report_error:  # the run is complete; the exit code is convergence's alone
        print(f"chemoshift: warning: {result.report_error}", file=sys.stderr)
    if not result.diagnostics.passed:
        print(not_converged_banner(result.diagnostics, out), file=sys.stderr)
        return EXIT_NOT_CONVERGED
    print(f"chemoshift: {result.diagnostics.verdict}{_draws_note(result.timings, settings)}",
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


def _draws_note(timings: dict, settings: SamplerSettings) -> str:
    """Where an extended fit stopped, when that is short of the cap its progress bar
    counted to (nutpie's bar stops part way when the ESS target is met early). PyMC's
    sampler extends by whole batches of chains instead: nothing to say."""
    kept, cap = timings.get("draws_per_chain"), settings.checkpoints()[-1]
    if settings.sampler != "nutpie" or not settings.extend or kept is None or kept >= cap:
        return ""
    return f" (ESS target met at {kept:,} draws a chain; the cap is {cap:,})"


def _compare_with_truth(run_dir: Path, truth: dict) -> None:
    """Say whether the demo's pooled 95% intervals hold the shifts it was simulated with."""
    shifts = pd.read_csv(run_dir / "shifts.csv", keep_default_na=False)
    pooled = shifts[(shifts.cell_line == "all") & (shifts.drug == "all")]
    for _, row in pooled.iterrows():
        true = 10 ** truth["shift_pooled"][row.treatment]
        inside = row["q2.5"] <= true <= row["q97.5"]
        print(f"  {row.treatment} vs {row.control}: fold shift {row['median']:.2f} "
              f"(95% {row['q2.5']:.2f}-{row['q97.5']:.2f}); simulated truth {true:.2f} "
              f"{'inside' if inside else 'OUTSIDE'} the interval", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    run_dir = args.run_dir
    if not (run_dir / "run.json").is_file():
        print(f"chemoshift: {run_dir} is not a run directory (no run.json)", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = assay_of_run(run_dir).write_report(run_dir)
    print(f"chemoshift: wrote {path}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
