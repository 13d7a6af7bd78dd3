"""The qPCR options of ``chemoshift fit`` and the command that runs them.

    chemoshift fit qpcr CTS.csv|FOLDER --out RUN_DIR --reference GAPDH [--condition COLUMN]
        [--sample COLUMN] [--samples SHEET.csv] [--control CONDITION=CONTROL ...]
        [--columns name=column,...] [--genes A,B] [--max-cycle 40]
        [--efficiency GENE=E,... | --dilutions FILE] [--dose COLUMN]

FOLDER: a folder of plate maps (``<plate>-CTmap.csv``, ``-genemap.csv``, ``-wellmap.csv``)
or of one-gene files (``Name;Ct``, one file per gene): :mod:`chemoshift.data.qpcr_folders`.
``--samples`` (shared with ``fit expression``) is a sample sheet giving each sample its
condition when the Ct file has none.

These options belong to qPCR alone: given with another assay they are refused (exit 2),
and the dose-response options (``--unit``, ``--response-kind``) are refused with qpcr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from chemoshift.models.qpcr import QpcrPriors

QPCR_OPTIONS = ("reference", "condition", "sample", "max_cycle", "efficiency", "dilutions",
                "genes")
NOT_QPCR = {"unit": "uM", "response_kind": "absorbance", "construct_control": None,
            "background": None, "drug_control": None, "top": None, "pairs": None,
            "group": None, "background_lane": None, "loading_band": None,
            "drop_nonpositive": False}  # other assays' options and their defaults
EXIT_BAD_INPUT = 2
QPCR_PRIORS = [f.name for f in dataclasses.fields(QpcrPriors)]


def add_fit_options(fit: argparse.ArgumentParser) -> None:
    group = fit.add_argument_group("qpcr")
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
    # --dose is shared with western (chemoshift.mechanism adds it): for qpcr it names the
    # column with each condition's dose (e.g. mimic nM), whose trend goes to dose.csv


def refuse_foreign_options(args: argparse.Namespace) -> int | None:
    """Exit code 2 (with a message) when options of another assay were given, else None."""
    if args.assay == "qpcr":
        given = [f"--{n.replace('_', '-')}" for n, default in NOT_QPCR.items()
                 if getattr(args, n, default) != default]
        if args.prior:
            unknown = [p for p in args.prior if p.split("=")[0].strip() not in QPCR_PRIORS]
            if unknown:
                print(f"chemoshift: --prior {unknown}: the qPCR priors are {QPCR_PRIORS}",
                      file=sys.stderr)
                return EXIT_BAD_INPUT
        if not getattr(args, "reference", None):
            print("chemoshift: qpcr needs --reference GENE[,GENE] (or TARGET:REFERENCE,...)",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        given = [f"--{n.replace('_', '-')}" for n in QPCR_OPTIONS
                 if getattr(args, n, None) is not None]
    if given:
        print(f"chemoshift: {', '.join(given)} do(es) not apply to {args.assay}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return None


def _pairs(text: str, what: str) -> dict[str, str]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts or not all("=" in p for p in parts):
        raise ValueError(f"{what} {text!r}: expected NAME=VALUE pairs, comma separated")
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in parts)}


def read_options(args: argparse.Namespace) -> dict | int:
    """The read options of fit_qpcr from the command line, or exit code 2."""
    try:
        controls = _pairs(",".join(args.control), "--control") if args.control else None
        efficiency = ({g: float(e) for g, e in _pairs(args.efficiency, "--efficiency").items()}
                      if args.efficiency else None)
    except ValueError as error:
        print(f"chemoshift: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        for prior in args.prior:
            float(prior.split("=", 1)[1])
    except (IndexError, ValueError):
        print(f"chemoshift: --prior {args.prior}: expected NAME=NUMBER", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.margin > 1:
        print(f"chemoshift: --margin {args.margin}: expected a fold change above 1",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.max_cycle is not None and not args.max_cycle > 5:
        print(f"chemoshift: --max-cycle {args.max_cycle}: expected a cycle limit above 5",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    options = dict(references=args.reference, condition=args.condition, sample=args.sample,
                   samples=getattr(args, "samples", None),
                   controls=controls, columns=args.columns, efficiency=efficiency,
                   dilutions=args.dilutions, dose=args.dose,
                   genes=[g.strip() for g in args.genes.split(",") if g.strip()]
                   if args.genes else None)
    if args.max_cycle is not None:
        options["max_cycle"] = args.max_cycle
    return options
