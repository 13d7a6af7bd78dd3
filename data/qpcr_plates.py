"""Plates of a Ct file that contradict each other, and leaving plates out.

A sample's cDNA reads the same ΔCt (target Ct minus its reference's Ct on the same
plate) on every plate, within about a cycle. Three checks read the plates against each
other, the first before :mod:`chemoshift.data.qpcr_wells` counts pasted blocks once (a
copied plate shares its control's wells with the plate it copies), the others after:

- **Copied plate**: two plates whose detected Cts agree in every well, to the file's
  last digit (at least ``COPIED_PLATE_WELLS`` of them). With the same samples and
  conditions in those wells it is one plate saved twice (a "rerun" folder holding the
  first run's map): counted once, with a note. With other samples or conditions it is
  one plate's Ct map saved as another's, and which one is right the file cannot say:
  refused.
- **Disagreeing plates** (refused): one sample and gene whose ΔCt differs by more than
  ``DISAGREE_CYCLES`` between two plates (an 8-fold change inside one tube of cDNA): a
  gene map with swapped labels, or a plate of another run. The plate reading farther
  from the gene's ΔCt on all plates is named as the likelier one.
- **Odd plate** (a note): a plate whose gene reads more than ``DISAGREE_CYCLES`` from the
  same conditions on every other plate, in the median over its samples. Replicate
  experiments can differ, so this is reported, not refused.

``--exclude-plates`` (:func:`leave_out_plates`) drops plates by the names the messages use.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.qpcr_files import CtFile
from chemoshift.data.qpcr_wells import NO_CT, subset

COPIED_PLATE_WELLS = 12  # identical detected wells that make a copied plate
DISAGREE_CYCLES = 3.0  # ΔCt gap within one sample and gene (8-fold) that two plates can't have
EXCLUDE_HINT = "--exclude-plates"


def leave_out_plates(file: CtFile, plates: Sequence[str], name: str) -> CtFile:
    """``file`` without the reactions of ``plates`` (names as the plate column holds them)."""
    plates = [p.strip() for p in plates if p.strip()]
    if not plates:
        return file
    if "plate" not in file.frame.columns:
        raise InputError([Problem(name, None, "plate", f"{EXCLUDE_HINT} with no plate column",
                                  "a plate column (--columns plate=YOURS) or a folder of "
                                  "plate maps")])
    column = file.frame["plate"].astype(str).str.strip()
    known = list(pd.unique(column))
    unknown = [p for p in plates if p not in known]
    if unknown:
        raise InputError([Problem(name, None, file.source.get("plate", "plate"),
                                  f"{EXCLUDE_HINT} {unknown}: no such plate",
                                  f"plates as the file names them, e.g. {known[:6]}")])
    drop = column.isin(plates).to_numpy()
    return subset(file, ~drop, f"{int(drop.sum())} reaction(s) of the plate(s) {plates} were "
                  f"left out ({EXCLUDE_HINT})")


def drop_copied_plates(file: CtFile, name: str) -> CtFile:
    """Count a plate saved twice once; refuse a plate whose Cts repeat another's, well for
    well to the last digit, for different samples."""
    frame = file.frame
    if not {"plate", "ct", "sample"} <= set(frame.columns):
        return file
    cells = frame.assign(ct=frame["ct"].astype(str).str.strip())
    cells = cells[~cells["ct"].str.lower().isin(NO_CT)]
    at = cells["well"] if "well" in cells.columns else pd.Series("", index=cells.index)
    keys = [c for c in ("experiment", "sample", "condition", "gene") if c in cells.columns]
    seen: dict[tuple, tuple[str, tuple]] = {}
    twice, problems = [], []
    for plate, wells in cells.groupby("plate", sort=False):
        if len(wells) < COPIED_PLATE_WELLS:
            continue
        cts = tuple(sorted(zip(at[wells.index], wells["ct"], strict=True)))
        design = tuple(sorted(zip(at[wells.index], wells["ct"],
                                  *(wells[k] for k in keys), strict=True)))
        first, first_design = seen.setdefault(cts, (plate, design))
        if first == plate:
            continue
        if first_design == design:
            twice.append((first, plate))
            continue
        problems.append(Problem(
            name, None, file.source.get("plate", "plate"),
            f"plates {first!r} and {plate!r} hold the same Ct in every one of their "
            f"{len(wells)} detected wells, to the last digit, for different samples or "
            "conditions: one plate's Ct map saved as another's",
            f"the right Ct map in each plate's folder, or leave the copy out with "
            f"{EXCLUDE_HINT} (both plates when you cannot tell which is right)"))
    if problems:
        raise InputError(problems)
    if not twice:
        return file
    drop = frame["plate"].isin([copy for _, copy in twice]).to_numpy()
    return subset(file, ~drop, "plate(s) saved twice (the same Cts and samples in every "
                  "well) were counted once: " + ", ".join(f"{copy!r} repeats {first!r}"
                                                          for first, copy in twice))


def delta_cts(reactions: pd.DataFrame, references: Sequence[str]) -> pd.DataFrame:
    """Median ΔCt per (sample, condition, plate, gene): a target's median detected Ct minus
    the mean of its plate's reference medians for the same sample (cycles)."""
    detected = reactions[reactions.status == "detected"]
    medians = (detected.groupby(["sample", "condition", "plate", "gene"]).ct.median()
               .unstack("gene"))
    present = [r for r in references if r in medians.columns]
    if not present:
        return pd.DataFrame(columns=["sample", "condition", "plate", "gene", "dct"])
    reference = medians[present].mean(axis=1, skipna=False)
    targets = medians.drop(columns=present)
    return (targets.sub(reference, axis=0).stack().rename("dct").reset_index())


def check_plate_agreement(reactions: pd.DataFrame, references: Sequence[str], name: str,
                          labels: pd.Series) -> list[str]:
    """Refuse a sample and gene whose ΔCts differ by > ``DISAGREE_CYCLES`` between plates;
    return notes for plates whose gene reads that far from every other plate.

    ``labels``: sample key -> the sample as the file names it.
    """
    dct = delta_cts(reactions, references)
    if dct.empty or reactions.plate.nunique() < 2:
        return []
    overall = dct.groupby("gene").dct.median()
    spread = dct.groupby(["sample", "gene"]).dct.agg(["min", "max", "count"])
    apart = spread[(spread["count"] > 1) & (spread["max"] - spread["min"] > DISAGREE_CYCLES)]
    pairs: dict[tuple[str, str], list[tuple[str, float, float, bool]]] = {}
    for sample, gene in apart.index:
        cells = dct[(dct["sample"] == sample) & (dct.gene == gene)]
        rows = cells.set_index("plate").dct
        low, high = sorted((rows.idxmin(), rows.idxmax()))
        farther = abs(rows[low] - overall[gene]) > abs(rows[high] - overall[gene])
        pairs.setdefault((low, high), []).append(
            (f"{gene} of {labels.get(sample, sample)} ({cells.condition.iat[0]})",
             rows[low], rows[high], farther))
    problems = []
    for (first, second), found in pairs.items():
        # the plate farther from the gene's median in most cases is the likelier one
        odd, other = ((first, second) if 2 * sum(f[3] for f in found) > len(found)
                      else (second, first))
        shown = [f"{what} {a if odd == first else b:.1f} against {b if odd == first else a:.1f}"
                 for what, a, b, _ in found]
        problems.append(Problem(
            name, None, "plate",
            f"plate {odd!r} reads ΔCt (Ct minus the reference's on the same plate) more than "
            f"{DISAGREE_CYCLES:g} cycles from plate {other!r} for the same sample and gene: "
            + "; ".join(shown[:4]) + (f"; and {len(shown) - 4} more" if len(shown) > 4 else "")
            + f". {odd!r} is the one farther from the gene's median ΔCt on all plates",
            f"one sample's ΔCt within a cycle or two on every plate: check {odd!r}'s gene and "
            f"well maps (labels swapped?), or leave it out with {EXCLUDE_HINT} {odd!r}"))
    if problems:
        raise InputError(problems)
    return _odd_plate_notes(dct)


def _odd_plate_notes(dct: pd.DataFrame) -> list[str]:
    """A note per plate and gene reading > ``DISAGREE_CYCLES`` from the same conditions on
    the other plates, in the median over at least three of its samples."""
    notes = []
    for (plate, gene), rows in dct.groupby(["plate", "gene"]):
        others = dct[(dct.gene == gene) & (dct.plate != plate)]
        elsewhere = others.groupby("condition").dct.median()
        gap = (rows.dct - rows.condition.map(elsewhere)).dropna()
        if len(gap) >= 3 and abs(gap.median()) > DISAGREE_CYCLES:
            notes.append(f"plate {plate!r} reads {gene} {abs(gap.median()):.1f} cycles "
                         f"{'above' if gap.median() > 0 else 'below'} (ΔCt) the same "
                         f"conditions on the other plates ({len(gap)} samples): replicate "
                         f"experiments can differ, but check its gene map "
                         f"({EXCLUDE_HINT} leaves a plate out)")
    return notes
