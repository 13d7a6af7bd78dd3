"""Wells of a lab's Ct file that are no reaction of the design, and a sample sheet.

Between reading a Ct file (:mod:`chemoshift.data.qpcr_files`, ``qpcr_folders``) and
validating it (:mod:`chemoshift.data.qpcr`), on text cells with our column names:

- **Unused wells** (no Ct, and no condition or no gene: a plate's empty row, a primer
  laid out but never loaded) are left out, with a note; a well with a Ct but no
  condition or gene is still refused by validation.
- **Copied wells**: where three or more Cts of one sample and gene each repeat another
  well's Ct to the file's last digit, on the same plate or another, the block was pasted
  twice (the same reference-gene triplicate beside each target, or in each target's plate
  map); the copies are left out, with a note, so one measurement does not count as two.
- **Sample sheet** (``samples``): a CSV of ``sample`` (as the Ct file names it) and
  ``condition`` (and optionally ``experiment``, ``dose``) for a file that names its
  samples but not their conditions (the qpcr package's files ``NK1..NK12``, their groups
  given by the experiment's notes). An optional ``biological_sample`` column joins names
  of one sample that different files spell differently (``NK1`` in one assay's file,
  ``Sample A1 @ C2`` in another's): its reactions pair with each other's references.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.qpcr_files import CtFile
from chemoshift.data.well_files import read_well_file

SHEET_COLUMNS = ("sample", "condition", "experiment", "dose", "biological_sample")
NO_CT = {"", "undetermined", "no ct", "n/a", "na", "nan", "-", "none", "no cq"}
COPIED_AT_LEAST = 3  # repeated Cts that make a pasted block, not a coincidence


def subset(file: CtFile, keep: np.ndarray, note: str | None = None) -> CtFile:
    """``file`` with the rows where ``keep`` (reaction,) is True, and ``note`` added."""
    keep = np.asarray(keep, dtype=bool)
    return dataclasses.replace(
        file, frame=file.frame[keep].reset_index(drop=True), lines=file.lines[keep],
        files=None if file.files is None else file.files[keep],
        ct_columns=None if file.ct_columns is None else file.ct_columns[keep],
        notes=file.notes + ((note,) if note else ()))


def _places(file: CtFile, rows: np.ndarray, limit: int = 6) -> str:
    """Where some rows are, for a note: ``file:line`` (the file once when it is one)."""
    if file.files is None:
        spots = [f"line {file.lines[i]}" for i in rows[:limit]]
    else:  # paths below the folder the files were read from
        root = os.path.commonpath([str(f) for f in pd.unique(file.files)])
        root = root if len(pd.unique(file.files)) > 1 else str(Path(root).parent)
        spots = [f"{os.path.relpath(str(file.files[i]), root)}:{file.lines[i]}"
                 + (f":{file.ct_columns[i]}" if file.ct_columns is not None else "")
                 for i in rows[:limit]]
    return ", ".join(spots) + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def drop_unused_wells(file: CtFile) -> CtFile:
    """Leave out rows with no Ct and no condition or no gene (noted with their lines)."""
    frame = file.frame
    if "ct" not in frame.columns:
        return file
    empty_ct = frame["ct"].astype(str).str.strip().str.lower().isin(NO_CT)
    unlabelled = np.zeros(len(frame), dtype=bool)
    for column in ("condition", "gene"):
        if column in frame.columns:
            unlabelled |= (frame[column].astype(str).str.strip() == "").to_numpy()
    unused = empty_ct.to_numpy() & unlabelled
    if not unused.any():
        return file
    rows = np.flatnonzero(unused)
    return subset(file, ~unused, f"{len(rows)} well(s) with no Ct and no condition or no gene "
                  f"were left out as unused ({_places(file, rows)})")


def drop_copied_wells(file: CtFile) -> CtFile:
    """Leave out the second copy of Cts pasted twice within one sample and gene.

    A group (sample, condition, gene; on any plate) whose detected Ct texts repeat exactly
    in at least ``COPIED_AT_LEAST`` values is a pasted block: each repeated value's later
    wells are left out. Fewer repeats can be chance at two decimals and are kept.
    """
    frame = file.frame
    if file.layout != "long" or not {"sample", "ct"} <= set(frame.columns) or frame.empty:
        return file  # a wide row is a sample of its own: equal Cts there are no copies
    keys = [c for c in ("experiment", "sample", "condition", "gene") if c in frame.columns]
    cells = frame[keys].astype(str).assign(ct=frame["ct"].astype(str).str.strip())
    cells = cells[~cells.ct.str.lower().isin(NO_CT)]
    group = cells[keys].agg(" | ".join, axis=1)
    repeated = cells.duplicated([*keys, "ct"], keep=False)
    values = cells[repeated].drop_duplicates([*keys, "ct"]).groupby(group[repeated]).size()
    pasted = set(values.index[values >= COPIED_AT_LEAST])
    later = cells.duplicated([*keys, "ct"], keep="first") & group.isin(pasted)
    drop = np.zeros(len(frame), dtype=bool)
    drop[later.index[later]] = True
    described = list(pd.unique(group[later]))
    if not drop.any():
        return file
    rows = np.flatnonzero(drop)
    shown = "; ".join(described[:4]) + (f"; and {len(described) - 4} more" if len(described) > 4
                                         else "")
    return subset(file, ~drop, f"{len(rows)} well(s) repeat, to the last digit, the Cts of "
                  f"other wells of the same sample and gene in blocks of "
                  f"{COPIED_AT_LEAST} or more (a block pasted twice): each copy was counted "
                  f"once ({shown}; left out: {_places(file, rows)})")


def apply_sample_sheet(file: CtFile, sheet: str | Path, name: str) -> CtFile:
    """Each row's condition (and experiment, dose) from the sample sheet, by its sample.

    Refused: a Ct file that has a condition column too, a sheet without ``sample`` and
    ``condition``, a sample listed twice, a sample of the Ct file the sheet lacks.
    """
    read = read_well_file(sheet, None, known=SHEET_COLUMNS, numeric=("dose",))
    table, where = read.frame, str(sheet)
    problems = [Problem(where, None, c, "column missing", f"a {c!r} column: the sample sheet "
                        "gives each sample's condition") for c in ("sample", "condition")
                if c not in table.columns]
    if "sample" not in file.frame.columns:
        problems.append(Problem(name, None, "sample", "column missing", "a sample column "
                                "(--sample COLUMN) to look samples up in the sample sheet"))
    clash = [c for c in SHEET_COLUMNS[1:4] if c in table.columns and c in file.frame.columns]
    problems += [Problem(name, None, c, f"a {c} column in the Ct file and in the sample sheet "
                         f"{where}", "one of the two") for c in clash]
    if problems:
        raise InputError(problems)
    table = table.assign(sample=table["sample"].str.strip())
    for i in np.flatnonzero(table.duplicated("sample", keep="first").to_numpy()):
        problems.append(Problem(where, int(read.lines[i]), "sample", f"sample "
                                f"{table['sample'].iat[i]!r} listed twice", "each sample once"))
    lookup = table.drop_duplicates("sample").set_index("sample")
    samples = file.frame["sample"].astype(str).str.strip()
    names = file.files if file.files is not None else np.full(len(samples), name, object)
    for i in np.flatnonzero(~samples.isin(lookup.index).to_numpy()):
        problems.append(Problem(str(names[i]), int(file.lines[i]), file.source.get(
            "sample", "sample"), f"sample {samples.iat[i]!r} is not in the sample sheet "
            f"{where}", f"one of its samples {list(lookup.index)[:12]}"))
    if problems:
        raise InputError(problems[:50])
    added = [c for c in SHEET_COLUMNS[1:] if c in lookup.columns]
    frame = file.frame.assign(**{c: samples.map(lookup[c]).to_numpy() for c in added})
    if "biological_sample" in frame.columns:  # one sample, several spellings
        given = frame.pop("biological_sample").astype(str).str.strip()
        frame["sample"] = given.where(given != "", samples).to_numpy()
    note = (f"conditions from the sample sheet {where} ({len(lookup)} samples: "
            + ", ".join(f"{c}: {', '.join(map(str, pd.unique(g['sample'])[:4]))}"
                        for c, g in table.groupby("condition", sort=False)) + ")")
    hashes = {**(file.hashes or {name: file.sha256}), where: read.sha256}
    return dataclasses.replace(file, frame=frame, notes=(*file.notes, note), hashes=hashes)


def check_repeated_wells(file: CtFile, name: str) -> CtFile:
    """A well listed twice: refused when its rows differ (two Cts for one reaction: which is
    right is the lab's call), counted once with a note when they are the same row exported
    twice (every cell equal).

    A well is the file's ``well`` (on its plate and in its experiment; per gene, as a
    multiplexed tube holds several), or without a well column a sample's gene and
    ``technical_replicate``. Without either, rows of one sample and gene are its technical
    replicates and repeats cannot be told from chance.
    """
    frame = file.frame
    if "well" in frame.columns:
        keys = [c for c in ("experiment", "plate", "well", "gene") if c in frame.columns]
        named = frame["well"].astype(str).str.strip() != ""
    elif {"technical_replicate", "sample"} <= set(frame.columns):  # no sample: refused later
        keys = [c for c in ("experiment", "plate", "condition", "sample", "replicate", "gene",
                            "technical_replicate") if c in frame.columns]
        named = frame["technical_replicate"].astype(str).str.strip() != ""
    else:
        return file
    cells = frame.astype(str).apply(lambda column: column.str.strip())
    repeated = cells.duplicated(keys, keep=False).to_numpy() & named.to_numpy()
    if not repeated.any():
        return file
    names = file.files if file.files is not None else np.full(len(frame), name, dtype=object)
    problems, copies = [], np.zeros(len(frame), dtype=bool)
    for _, rows in cells[repeated].groupby(keys, sort=False):
        first = rows.index[0]
        for i in rows.index[1:]:
            if cells.loc[i].equals(cells.loc[first]):
                copies[i] = True
                continue
            differ = [c for c in cells.columns if cells.at[i, c] != cells.at[first, c]]
            shown = ", ".join(f"{file.source.get(c, c)} {cells.at[i, c]!r} here, "
                              f"{cells.at[first, c]!r} there" for c in differ)
            problems.append(Problem(str(names[i]), int(file.lines[i]), _ct_place(file, i),
                                    f"{_well(cells, i, keys)} a second time (first on "
                                    f"{_places(file, np.array([first]))}): {shown}",
                                    "each well once: two Cts of one reaction cannot both be "
                                    "right; remove the wrong row"))
    if problems:
        raise InputError(problems[:50])
    rows = np.flatnonzero(copies)
    return subset(file, ~copies, f"{len(rows)} row(s) repeat another row of the same well "
                  f"cell for cell (a row exported twice): each counted once (left out: "
                  f"{_places(file, rows)})")


def _ct_place(file: CtFile, i: int) -> str:
    """Where row ``i``'s Ct cell is, as the user's file names it."""
    if file.ct_columns is not None:
        return str(file.ct_columns[i])
    if file.layout == "wide":
        return str(file.frame["gene"].iat[i])
    return file.source.get("ct", "ct")


def _well(cells: pd.DataFrame, i: int, keys: list[str]) -> str:
    if "well" in keys:
        where = f"well {cells.at[i, 'well']}"
        where += f" of plate {cells.at[i, 'plate']}" if "plate" in keys else ""
        return f"{where} (gene {cells.at[i, 'gene']})"
    return (f"the well of sample {cells.at[i, 'sample']}, gene "
            f"{cells.at[i, 'gene']}, technical replicate {cells.at[i, 'technical_replicate']}")
