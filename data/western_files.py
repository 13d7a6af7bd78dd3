"""A blot file as densitometry software writes it: one row per band, a background lane.

Between reading (:func:`chemoshift.data.mechanism_files.read_rows`) and validating
(:mod:`chemoshift.data.western`), on text cells with our column names:

- **Background lane** (``background_lane``, e.g. ``7``): an empty lane measured on every
  blot. Its reading is subtracted from every other lane of the same blot (and band), and
  the lane is dropped. A lane's reading at or below its blot's background is refused.
  Without the option, a lane with no condition (empty or ``NA``) is refused with the
  option named, since it is most often such a lane.
- **One row per band** (ImageJ's measurements; rasilab's ``quantification.tsv``): a
  ``band`` column naming what a row measured (``flag`` / ``h3``; map yours with
  ``--columns band=antibody``) and an ``intensity`` column (``--columns intensity=mean``)
  instead of ``target`` and ``loading``. The two rows of one blot and lane become one
  lane; the loading band is ``loading_band``, else the one band named like a loading
  control (actin, GAPDH, tubulin, H3, histone, vinculin, lamin, HSP90, TBP, PCNA,
  Ponceau, total protein).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.mechanism_files import Rows
from chemoshift.data.well_files import column_label

LONG = ("band", "intensity")
NO_CONDITION = {"", "na", "n/a", "nan"}
LOADING_NAMES = re.compile(r"actin|gapdh|tubulin|(^|[^a-z0-9])h3([^a-z0-9]|$)|histone|"
                           r"vinculin|lamin|hsp90|(^|[^a-z])tbp([^a-z]|$)|pcna|ponceau|"
                           r"total.?protein|loading", re.IGNORECASE)
BLOT_KEYS = ("experiment", "blot")


def is_long(frame: pd.DataFrame) -> bool:
    """Whether the rows are bands (``band`` and ``intensity``) rather than lanes."""
    return set(LONG) <= set(frame.columns) and not {"target", "loading"} & set(frame.columns)


def _problem(rows: Rows, i: int | None, column: str | None, found: str, expected: str,
             option: str | None = None) -> Problem:
    label = None if column is None else column_label(column, rows.source_columns)
    return Problem(rows.name, None if i is None else int(rows.lines[i]), label, found, expected,
                   option=option)


def refuse_unlabelled_lanes(rows: Rows) -> None:
    """Refuse lanes without a condition, naming ``--background-lane`` (a background lane)."""
    frame = rows.frame
    if "condition" not in frame.columns:
        return
    empty = frame["condition"].astype(str).str.strip().str.lower().isin(NO_CONDITION)
    if not empty.any():
        return
    lanes = frame["lane"].astype(str).str.strip() if "lane" in frame.columns else None
    problems = []
    for i in np.flatnonzero(empty.to_numpy()):
        lane = f"lane {lanes.iat[i]}" if lanes is not None else "this lane"
        hint = f"--background-lane {lanes.iat[i]}" if lanes is not None else (
            "--background-lane LANE (with a lane column)")
        problems.append(_problem(
            rows, i, "condition", f"{frame['condition'].iat[i]!r}: {lane} has no condition",
            f"a condition; if it is a background lane (an empty lane measured on every blot), "
            f"{hint} subtracts it from the other lanes of its blot; else leave the row out"))
    raise InputError(problems)


def subtract_background(rows: Rows, lane: str, values: tuple[str, ...]) -> tuple[Rows, str]:
    """Subtract each blot's background lane from its other lanes, then drop it.

    ``values``: the reading columns (``target``, ``loading``; or ``intensity``, per
    ``band``). A reading left at or below 0 becomes a text the validation refuses,
    naming both numbers. Returns the rows and a note.
    """
    frame = rows.frame
    if "lane" not in frame.columns:
        raise InputError([_problem(rows, None, "lane", "column missing with --background-lane",
                                   "a lane column (--columns lane=COLUMN) to find the "
                                   "background lane by")])
    keys = [k for k in (*BLOT_KEYS, "band") if k in frame.columns]
    blot = (frame[keys].astype(str).agg(" | ".join, axis=1) if keys
            else pd.Series("1", index=frame.index))
    is_background = frame["lane"].astype(str).str.strip() == str(lane).strip()
    problems = [_problem(rows, None, "lane", f"--background-lane {lane}: no such lane on "
                         + (f"blot {b}" if keys else "the blot"),
                         "the background lane on every blot", "background_lane")
                for b in pd.unique(blot)
                if not (is_background & (blot == b)).any()]
    repeated = blot[is_background].duplicated()
    problems += [_problem(rows, i, "lane", f"a second background lane {lane} on blot {blot[i]}",
                          "one background lane per blot (and band)")
                 for i in repeated.index[repeated]]
    if problems:
        raise InputError(problems)
    frame = frame.copy()
    for column in values:
        numbers = pd.to_numeric(frame[column].astype(str).str.strip(), errors="coerce")
        background = blot.map(numbers[is_background].groupby(blot[is_background]).first())
        net = numbers - background
        frame[column] = [f"{n:.10g}" if n > 0 else
                         f"{v:g} minus the background lane's {b:g} = {n:g}"
                         if np.isfinite(n) else raw
                         for n, v, b, raw in zip(net, numbers, background, frame[column],
                                                 strict=True)]
    keep = ~is_background.to_numpy()
    kept = dataclasses.replace(rows, frame=frame[keep].reset_index(drop=True),
                               lines=rows.lines[keep])
    return kept, (f"background lane {lane} subtracted from the other lanes of its blot "
                  f"({int((~keep).sum())} background rows, then left out)")


def pair_bands(rows: Rows, loading_band: str | None) -> tuple[Rows, str]:
    """One row per lane from one row per band: ``target`` and ``loading`` from the
    ``intensity`` of the lane's two bands; other columns from the target's row, whose
    file line the lane keeps. Returns the rows and a note."""
    frame = rows.frame
    band = frame["band"].astype(str).str.strip()
    bands = list(pd.unique(band))
    loading = _loading_band(rows, bands, loading_band)
    target = next(b for b in bands if b != loading)
    if "lane" not in frame.columns:
        raise InputError([_problem(rows, None, "lane", "column missing in a file of one row "
                                   "per band", "a lane column (--columns lane=COLUMN) pairing "
                                   "each lane's target and loading bands")])
    keys = [k for k in (*BLOT_KEYS, "lane") if k in frame.columns]
    lane_key = frame[keys].astype(str).agg(" | ".join, axis=1)
    problems = []
    for name in (target, loading):
        mine = lane_key[band == name]
        for i in mine.index[mine.duplicated()]:
            problems.append(_problem(rows, i, "lane", f"band {name!r} twice on lane "
                                     f"{lane_key[i]}", "one row per band and lane"))
    targets, loadings = frame[band == target], frame[band == loading]
    partner = pd.Series(loadings.index, index=lane_key[loadings.index])
    partner = partner[~partner.index.duplicated()]
    others = [c for c in ("condition", "dose", "cell_line") if c in frame.columns]
    for i in targets.index:
        j = partner.get(lane_key[i])
        if j is None:
            problems.append(_problem(rows, i, "band", f"lane {lane_key[i]} has no {loading!r} "
                                     "row", f"a {loading!r} (loading) row for every "
                                     f"{target!r} row"))
            continue
        for column in others:
            if str(frame.at[i, column]).strip() != str(frame.at[j, column]).strip():
                problems.append(_problem(rows, j, column, f"{frame.at[j, column]!r} on the "
                                         f"{loading!r} row, {frame.at[i, column]!r} on the "
                                         f"{target!r} row (line {rows.lines[i]})",
                                         "the same lane described alike on both rows"))
    unpaired = set(lane_key[loadings.index]) - set(lane_key[targets.index])
    problems += [_problem(rows, j, "band", f"lane {lane_key[j]} has no {target!r} row",
                          f"a {target!r} (target) row for every {loading!r} row")
                 for j in loadings.index if lane_key[j] in unpaired]
    if problems:
        raise InputError(problems)
    lanes = targets.drop(columns=list(LONG)).assign(
        target=targets["intensity"].to_numpy(),
        loading=frame.loc[partner[lane_key[targets.index]].to_numpy(), "intensity"].to_numpy())
    intensity = column_label("intensity", rows.source_columns).split(" (")[0]
    source = {**{k: v for k, v in rows.source_columns.items() if k not in LONG},
              "target": f"{intensity} of band {target}", "loading": f"{intensity} of band "
              f"{loading}"}
    paired = dataclasses.replace(rows, frame=lanes.reset_index(drop=True),
                                 lines=rows.lines[targets.index.to_numpy()],
                                 source_columns=source)
    return paired, (f"one row per band: {target!r} is the target and {loading!r} the loading "
                    f"control of each lane ({len(lanes)} lanes)")


def _loading_band(rows: Rows, bands: list[str], given: str | None) -> str:
    """The loading control among the two bands: ``given``, else the one named like one."""
    if len(bands) != 2:
        raise InputError([_problem(rows, None, "band", f"bands {bands}", "two bands per lane, "
                                   "the target and the loading control (fit one target at a "
                                   "time)")])
    if given is not None:
        if given not in bands:
            raise InputError([_problem(rows, None, "band", f"--loading-band {given!r} is not "
                                       "a band of the file", f"one of {bands}",
                                       "loading_band")])
        return given
    named = [b for b in bands if LOADING_NAMES.search(b)]
    if len(named) != 1:
        raise InputError([_problem(rows, None, "band", f"{'no' if not named else 'both'} "
                                   f"band(s) of {bands} read as the loading control",
                                   "the loading control named: --loading-band NAME")])
    return named[0]
