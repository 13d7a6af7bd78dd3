"""``chemoshift fit dose-response``: its options and the command that runs them.

    chemoshift fit dose-response WELLS.csv --out RUN_DIR [--columns name=column,...]
        [--control TREATMENT=CONTROL ...] [--unit uM] [--response-kind absorbance]
"""

from __future__ import annotations

import argparse

from chemoshift import fit_command


def add_command(assays) -> argparse.ArgumentParser:
    parser = fit_command.assay_parser(
        assays, "dose-response", help="hierarchical dose-response: IC50s and their shifts",
        input_help="CSV file, one row per well (or a wide file: --columns response=a+b+c)",
        options=_options)
    parser.set_defaults(command=run)
    return parser


def _options(group) -> None:
    group.add_argument("--unit", default="uM",
                       help="concentration unit when the file has no unit column (default uM)")
    group.add_argument("--response-kind", default="absorbance",
                       choices=["absorbance", "percent_viability", "other"],
                       help="what the response column holds (labels the report)")


def run(args: argparse.Namespace) -> int:
    checked = fit_command.contrast_options(args)
    if isinstance(checked, int):
        return checked
    controls, priors = checked
    read_options = dict(columns=args.columns, controls=controls, unit=args.unit,
                        response_kind=args.response_kind)
    return fit_command.run_fit(args, read_options, priors)
