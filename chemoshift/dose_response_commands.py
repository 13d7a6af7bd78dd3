"""``chemoshift fit dose-response``: its options and the command that runs them.

    chemoshift fit dose-response WELLS.csv --out RUN_DIR [--columns name=column,...]
        [--control TREATMENT=CONTROL ...] [--unit uM] [--response-kind absorbance]
        [--shard-by drug [--scheduler ADDRESS] [--workers N]]

``--shard-by`` fits a screen shard by shard on Dask (:mod:`chemoshift.screen`): a
``LocalCluster`` on this machine, or the scheduler at ``--scheduler``; its input may also
be Parquet (a file, or a folder of files), read per shard on the workers.
"""

from __future__ import annotations

import argparse
import sys

from chemoshift import fit_command
from chemoshift.exit_codes import refuse


def add_command(assays) -> argparse.ArgumentParser:
    parser = fit_command.assay_parser(
        assays, "dose-response", help="hierarchical dose-response: IC50s and their shifts",
        input_help="CSV file, one row per well (or a wide file: --columns response=a+b+c); "
                   "with --shard-by also a Parquet file or folder of Parquet files",
        options=_options)
    parser.set_defaults(command=run)
    return parser


def _options(group) -> None:
    group.add_argument("--unit", default="uM",
                       help="concentration unit when the file has no unit column (default uM)")
    group.add_argument("--response-kind", default="absorbance",
                       choices=["absorbance", "percent_viability", "other"],
                       help="what the response column holds (labels the report)")
    group.add_argument("--shard-by", metavar="COLUMN",
                       help="fit a screen shard by shard on Dask, one shard a level of "
                            "COLUMN (e.g. drug), and pool the shift across shards")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --shard-by: a running dask.distributed scheduler (default: "
                            "a LocalCluster here, one worker a core)")
    group.add_argument("--workers", type=int, help="with --shard-by and no --scheduler: "
                                                   "LocalCluster workers (default: the cores)")


def run(args: argparse.Namespace) -> int:
    checked = fit_command.contrast_options(args)
    if isinstance(checked, int):
        return checked
    controls, priors = checked
    read_options = dict(columns=args.columns, controls=controls, unit=args.unit,
                        response_kind=args.response_kind)
    if args.shard_by:
        return _run_screen(args, read_options, priors)
    if args.scheduler or args.workers:
        return refuse("--scheduler / --workers: only with --shard-by COLUMN")
    return fit_command.run_fit(args, read_options, priors)


def _run_screen(args: argparse.Namespace, read_options: dict, priors: dict) -> int:
    """``--shard-by``: the sharded fit; prints where it wrote and which shards failed."""
    from chemoshift.screen.run import fit_screen

    print(f"chemoshift: fitting {args.input} shard by shard ({args.shard_by}) ...",
          file=sys.stderr)
    result = fit_screen(args.input, args.out, shard_by=args.shard_by, scheduler=args.scheduler,
                        workers=args.workers, read_options=read_options, priors=priors,
                        settings=fit_command.settings(args), margin=args.margin,
                        overwrite=args.overwrite)
    for outcome in result.shards:
        state = outcome.status if outcome.status == "failed" else (
            "converged" if outcome.passed else "NOT CONVERGED")
        print(f"  {args.shard_by} {outcome.key}: {outcome.status}, {state}"
              f"{': ' + outcome.error if outcome.error else ''}", file=sys.stderr)
    print(f"chemoshift: wrote {args.out}/ (report.html, shards.csv, summary.csv, shifts.csv, "
          f"run.json, shards/); exit code {result.exit_code}", file=sys.stderr)
    return result.exit_code
