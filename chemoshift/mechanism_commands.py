"""``chemoshift fit luciferase | western | apoptosis``: their options and the command.

    chemoshift fit luciferase LUC.csv --out RUN_DIR --control miR-379=miR-NC
        [--construct-control IGF1R-3'UTR-MUT] [--background RLU] [--drop-nonpositive]
    chemoshift fit western BANDS.csv --out RUN_DIR --control miR-379=miR-NC
        [--dose COLUMN] [--background-lane LANE] [--loading-band BAND]
    chemoshift fit apoptosis FRACTIONS.csv --out RUN_DIR --control miR-379=miR-NC
        [--drug-control vehicle]
"""

from __future__ import annotations

import argparse

from chemoshift import fit_command

# assay -> its options' dests, each the read option of the same name (``dose`` is
# ``--columns dose=COLUMN``)
READ_OPTIONS = {"luciferase": ("construct_control", "background", "drop_nonpositive"),
                "western": ("dose", "background_lane", "loading_band"),
                "apoptosis": ("drug_control",)}
HELP = {"luciferase": "dual-luciferase 3'UTR reporter: firefly / Renilla contrasts",
        "western": "Western blot densitometry: band / loading-control contrasts",
        "apoptosis": "apoptosis fractions (annexin V / PI counts): beta-binomial contrasts"}


def add_commands(assays) -> None:
    for name in READ_OPTIONS:
        parser = fit_command.assay_parser(
            assays, name, help=HELP[name],
            input_help="CSV or TSV file, one row per well, lane or band", options=OPTIONS[name])
        parser.set_defaults(command=run)


def _luciferase(group) -> None:
    group.add_argument("--construct-control", metavar="CONSTRUCT",
                       help="the reference (mutant) construct (default: the one construct "
                            "named MUT/mutant)")
    group.add_argument("--background", type=float, metavar="RLU",
                       help="readings below this luminescence are refused")
    group.add_argument("--drop-nonpositive", action="store_true",
                       help="leave out wells with a reading <= 0 (each named in the notes) "
                            "instead of refusing the file")


def _western(group) -> None:
    group.add_argument("--dose", metavar="COLUMN",
                       help="the column holding each lane's dose, e.g. dose_nM (default: a "
                            "column named dose; doses in nM)")
    group.add_argument("--background-lane", metavar="LANE",
                       help="the lane (as the lane column names it) of each blot's "
                            "background: subtracted from the blot's other lanes, then left out")
    group.add_argument("--loading-band", metavar="BAND",
                       help="one row per band (--columns band=COLUMN,intensity=COLUMN): the "
                            "loading control's band (default: the one named like actin, "
                            "GAPDH, H3, ...)")


def _apoptosis(group) -> None:
    group.add_argument("--drug-control", metavar="LEVEL",
                       help="the drug level without drug (default: the level named vehicle, "
                            "control, DMSO or none)")


OPTIONS = {"luciferase": _luciferase, "western": _western, "apoptosis": _apoptosis}


def run(args: argparse.Namespace) -> int:
    checked = fit_command.contrast_options(args)
    if isinstance(checked, int):
        return checked
    controls, priors = checked
    return fit_command.run_fit(args, read_options(args, controls), priors)


def read_options(args: argparse.Namespace, controls: dict | None) -> dict:
    """Read options of a mechanism assay from its parsed command line."""
    options = dict(columns=dict(args.columns), controls=controls)
    for dest in READ_OPTIONS[args.assay]:
        value = getattr(args, dest, None)
        if value in (None, False):
            continue
        if dest == "dose":  # --dose COLUMN is --columns dose=COLUMN
            options["columns"].setdefault("dose", value)
        else:
            options[dest] = value
    return options
