"""The ``chemoshift`` command line.

    chemoshift demo [--out DIR]
    chemoshift study STUDY.toml --out DIR [--jobs N] [--refit] [--allow-outside-paths]
                     [--draws N --seed N ...]
    chemoshift fit ASSAY INPUT --out RUN_DIR [--overwrite] [--columns name=column,...]
                   [--control TREATMENT=CONTROL ...] [ASSAY's options] [--draws N --seed N ...]
    chemoshift report RUN_DIR
    chemoshift hubs | network | enrich ...     (after an expression fit)

``chemoshift fit ASSAY --help`` lists that assay's options alone (each assay's commands
module adds them); an option of another assay is refused naming the assay that has it.

``chemoshift study STUDY.toml --out DIR`` fits every assay the study file names into
``DIR/<assay>/`` (each a complete run directory; unchanged fits are reused, so running it
again resumes a study killed midway), evaluates its claims into ``DIR/claims.csv`` and
writes ``DIR/report.html``. ``chemoshift demo`` runs the bundled example study.
``chemoshift fit`` refuses an existing run directory unless ``--overwrite``. A run
directory or study folder is written by one process at a time: a second is refused (exit
2) naming the process that holds it.

Exit codes (:mod:`chemoshift.exit_codes`): 0 success; 2 bad input (nothing written);
3 the sampler did not converge (outputs written, and they say so at the top); 1 a study
could not fit an assay at all; 4 a web service could not be reached, nothing cached.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# arviz_base first, while few modules are loaded: on import it asks lazy_loader for the
# absent numpyro and jax, and lazy_loader words that error with inspect.stack(), whose
# source lookups scan sys.modules a frame at a time: 0.1 s now, 0.6-1.2 s after PyMC,
# SciPy and Matplotlib (measured on the 2-core machine)
import arviz_base  # noqa: F401
import matplotlib
import pandas as pd

from chemoshift import (
    dose_response_commands,
    expression_commands,
    mechanism_commands,
    qpcr_commands,
)
from chemoshift.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    exit_code,
    refuse,
)
from chemoshift.inference.diagnostics import MIN_ESS
from chemoshift.registry import assay_of_run

# each assay's commands module adds `chemoshift fit ASSAY` with that assay's options alone
FIT_COMMANDS = (dose_response_commands.add_command, expression_commands.add_command,
                mechanism_commands.add_commands, qpcr_commands.add_command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: the process's) and return its exit code."""
    matplotlib.use("Agg")  # a command line draws to files, never to a window
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or a usage error argparse has printed (2)
        return stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
    return exit_code(args)


class _Parser(argparse.ArgumentParser):
    """The top parser: an option of another assay's ``fit`` is refused naming that assay."""

    assay_parsers: dict[str, argparse.ArgumentParser]

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            assay = getattr(parsed, "assay", None)
            if assay in self.assay_parsers:
                self.assay_parsers[assay].error(self._misplaced(assay, extras))
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _misplaced(self, assay: str, extras: list[str]) -> str:
        said = []
        for option in (e.split("=", 1)[0] for e in extras if e.startswith("--")):
            owners = [name for name, parser in self.assay_parsers.items()
                      if option in parser._option_string_actions]
            said.append(f"{option} is an option of `chemoshift fit {' | '.join(owners)}`, "
                        f"not of {assay}" if owners else f"{option}: no such option")
        return "; ".join(said) or f"unrecognized arguments: {' '.join(extras)}"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chemoshift", description=__doc__.split("\n\n")[0],
                     allow_abbrev=False)
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
    study.add_argument("--allow-outside-paths", action="store_true",
                       help="let the study file name files outside its own folder (absolute "
                            "paths, or ../); refused by default")
    _study_options(study)
    study.set_defaults(command=_study)

    fit = commands.add_parser("fit", help="fit an assay file into a run directory",
                              description="fit an assay file into a run directory; "
                                          "`chemoshift fit ASSAY --help` lists its options")
    assays = fit.add_subparsers(dest="assay", required=True, metavar="ASSAY")
    for add in FIT_COMMANDS:
        add(assays)
    parser.assay_parsers = dict(assays.choices)

    report = commands.add_parser("report", help="(re)write RUN_DIR/report.html from saved results")
    report.add_argument("run_dir", type=Path)
    report.set_defaults(command=_report)
    expression_commands.add_commands(commands)
    return parser


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

    return _run_study(load_study(args.study_file,
                                 allow_outside_paths=args.allow_outside_paths), args)


def _run_study(study, args: argparse.Namespace) -> int:
    import dataclasses

    from chemoshift.study.run import default_workers, run_study, sampler_settings

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


def _demo(args: argparse.Namespace) -> int:
    """Run the bundled example study into ``args.out`` and check it against its truth."""
    from chemoshift import demo
    from chemoshift.study import bundled_study, load_study

    code = _run_study(load_study(bundled_study()), args)
    shifts = args.out / "dose-response" / "shifts.csv"
    if shifts.is_file() and not args.check:
        _compare_with_truth(shifts.parent, demo.dose_response_truth())
    return code


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
    """``chemoshift report RUN_DIR``: rewrite the run's own report.html (whole), holding the
    run directory's lock so that no fit replaces the run meanwhile."""
    from chemoshift.data.run_dir import run_lock

    run_dir = args.run_dir
    if not (run_dir / "run.json").is_file():
        return refuse(f"{run_dir} is not a run directory (no run.json)")
    with run_lock(run_dir):
        path = assay_of_run(run_dir).write_report(run_dir)
    print(f"chemoshift: wrote {path}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
