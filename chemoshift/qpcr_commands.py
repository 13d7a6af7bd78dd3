"""``chemoshift fit qpcr``: its options and the command that runs them.

    chemoshift fit qpcr CTS.csv|FOLDER --out RUN_DIR --reference GAPDH [--condition COLUMN]
        [--sample COLUMN] [--samples SHEET.csv] [--control CONDITION=CONTROL ...]
        [--columns name=column,...] [--genes A,B] [--max-cycle 40]
        [--efficiency GENE=E,... | --dilutions FILE] [--dose COLUMN]
        [--exclude-plates PLATE [PLATE ...]]

FOLDER: a folder of plate maps (``<plate>-CTmap.csv``, ``-genemap.csv``, ``-wellmap.csv``)
or of one-gene files (``Name;Ct``, one file per gene): :mod:`chemoshift.data.qpcr_folders`.
``--samples`` is a sample sheet giving each sample its condition when the Ct file has none.
``--exclude-plates`` leaves plates out, named as the messages name them (plates that
contradict each other are refused: :mod:`chemoshift.data.qpcr_plates`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chemoshift import fit_command
from chemoshift.exit_codes import refuse


def add_command(assays) -> argparse.ArgumentParser:
    parser = fit_command.assay_parser(
        assays, "qpcr", help="qPCR Ct model: fold changes (ΔΔCt) with intervals",
        input_help="CSV of Cts (long: one row per reaction; wide: one Ct column per gene), "
                   "or a folder of plate maps or one-gene files",
        options=_options)
    parser.set_defaults(command=run)
    return parser


def _options(group) -> None:
    group.add_argument("--reference", help="reference gene(s), GENE[,GENE], or per target "
                       "TARGET:REFERENCE,... e.g. miR-379:RNU48,IGF1R:GAPDH")
    group.add_argument("--condition", help="column holding the condition (default: condition; "
                       "a file without one: --samples SHEET.csv with columns sample and "
                       "condition, and biological_sample where files spell a sample "
                       "differently)")
    group.add_argument("--sample", help="column naming the biological sample of each reaction "
                       "(default: sample; a long file needs one, its rows of one sample and "
                       "gene are technical replicates)")
    group.add_argument("--genes", help="the Ct columns of a wide file (or the genes of a long "
                       "one) to fit, comma separated (default: every column that is no key)")
    group.add_argument("--max-cycle", type=float, default=None,
                       help="cycle limit: a Ct above it is a non-detect (default 40)")
    group.add_argument("--efficiency", help="amplification efficiency per gene, GENE=E,... "
                       "(fold per cycle; default 2)")
    group.add_argument("--dilutions", help="dilution series CSV (amount, cq, gene): "
                       "efficiencies estimated jointly")
    group.add_argument("--dose", metavar="COLUMN",
                       help="the column holding each condition's dose (e.g. mimic 0/40/80 nM), "
                            "whose fold per dose step goes to dose.csv")
    group.add_argument("--samples", type=Path,
                       help="sample sheet giving each sample its condition (columns sample, "
                            "condition) when the Ct file has none")
    group.add_argument("--exclude-plates", nargs="+", action="extend", metavar="PLATE",
                       help="plates to leave out, as the file's plate column (or a folder's "
                            "plate paths, e.g. 'rep4/plate1') names them")


def run(args: argparse.Namespace) -> int:
    """``chemoshift fit qpcr``: needs ``--reference``; priors by the names of QpcrPriors."""
    if not args.reference:
        return refuse("qpcr needs --reference GENE[,GENE] (or TARGET:REFERENCE,...)")
    checked = fit_command.contrast_options(args, label="qPCR")
    if isinstance(checked, int):
        return checked
    controls, priors = checked
    options = read_options(args, controls)
    if isinstance(options, int):
        return options
    return fit_command.run_fit(args, options, priors)


def read_options(args: argparse.Namespace, controls: dict | None) -> dict | int:
    """The read options of fit_qpcr from the command line, or exit code 2."""
    try:
        efficiency = ({g: float(e) for g, e in fit_command.mapping(args.efficiency).items()}
                      if args.efficiency else None)
    except (argparse.ArgumentTypeError, ValueError) as error:
        return refuse(f"--efficiency: {error} (expected NAME=VALUE)")
    if args.max_cycle is not None and not args.max_cycle > 5:
        return refuse(f"--max-cycle {args.max_cycle}: expected a cycle limit above 5")
    options = dict(references=args.reference, condition=args.condition, sample=args.sample,
                   samples=args.samples, exclude_plates=args.exclude_plates,
                   controls=controls, columns=args.columns, efficiency=efficiency,
                   dilutions=args.dilutions, dose=args.dose,
                   genes=[g.strip() for g in args.genes.split(",") if g.strip()]
                   if args.genes else None)
    if args.max_cycle is not None:
        options["max_cycle"] = args.max_cycle
    return options
