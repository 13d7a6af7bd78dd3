"""Reading a folder of Ct files as labs keep them: plate maps, or one file per gene.

Two layouts, told apart by the file names:

- **Plate maps**: each plate is three grids (8 x 12, or any rows x columns, with row
  letters down the first column and column numbers along the header) in files named
  ``<plate>-CTmap.csv`` (the Ct of each well; ``Cq`` also read), ``<plate>-genemap.csv``
  (the primer / gene of each well; ``target`` also read) and ``<plate>-wellmap.csv`` (the
  condition of each well; ``sample`` / ``condition`` also read). Plates may sit in
  subfolders at any depth. A well is read when any of its three cells is filled; a well
  with a gene and a condition but a blank Ct is a missing Ct (non-detect or failed
  reaction, as :mod:`chemoshift.data.qpcr` reads every missing Ct). Each reaction gets
  ``plate`` (the plate's path below the folder, e.g. ``rep1/plate1``), ``folder`` (the
  first folder below the one given, e.g. ``rep1``: ``--sample folder`` when each
  biological replicate's plates are kept in a folder of their own), ``well`` (``C5``).
- **One file per gene**: every ``.csv`` / ``.tsv`` / ``.txt`` file of the folder holds one
  gene's Cts (a ``ct`` / ``cq`` column and key columns such as ``sample``; the qpcr
  package's ``Name;Ct`` files), the gene named by the file's name without its extension.
  ``--genes`` picks files by that name; a file of another layout in the folder is refused
  unless ``--genes`` leaves it out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.file_text import file_text
from chemoshift.data.qpcr_files import KEYS, CtFile, _rename
from chemoshift.data.well_files import _split

MAP_KINDS = {"ct": ("ctmap", "cqmap"), "gene": ("genemap", "targetmap", "primermap"),
             "condition": ("wellmap", "samplemap", "conditionmap")}
MAP_FILE = re.compile(r"^(?P<plate>.*?)[\s_\-.]*(?P<kind>" + "|".join(
    k for kinds in MAP_KINDS.values() for k in kinds) + r")$", re.IGNORECASE)
GENE_FILE_SUFFIXES = (".csv", ".tsv", ".txt")


def read_ct_folder(folder: str | Path, columns: Mapping[str, str] | None = None,
                   genes: Sequence[str] | None = None) -> CtFile:
    """Read a folder of plate maps or of one-gene files into one :class:`CtFile`.

    Rows carry their own file (``CtFile.files``); ``hashes`` holds every file read.
    """
    folder = Path(folder)
    maps = [p for p in sorted(folder.rglob("*")) if p.is_file() and _map_kind(p)]
    if maps:
        return read_plate_maps(folder, maps, columns, genes)
    return read_gene_files(folder, columns, genes)


def _map_kind(path: Path) -> tuple[str, str] | None:
    """(plate prefix, ``ct`` / ``gene`` / ``condition``) of a plate-map file, else None."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return None
    match = MAP_FILE.match(path.stem)
    if not match:
        return None
    kind = next(k for k, names in MAP_KINDS.items() if match["kind"].lower() in names)
    return match["plate"], kind


def read_plate_maps(folder: Path, maps: list[Path], columns: Mapping[str, str] | None,
                    genes: Sequence[str] | None) -> CtFile:
    """One row per filled well of every plate (three grids per plate: Ct, gene, condition)."""
    plates: dict[tuple[Path, str], dict[str, Path]] = {}
    problems: list[Problem] = []
    for path in maps:
        prefix, kind = _map_kind(path)
        plate = plates.setdefault((path.parent, prefix), {})
        if kind in plate:
            problems.append(Problem(str(path), None, None, f"a second {kind} map of plate "
                                    f"{prefix!r} (first {plate[kind].name})",
                                    "one CTmap, genemap and wellmap per plate"))
        plate[kind] = path
    for (parent, prefix), files in plates.items():
        missing = [MAP_KINDS[k][0] for k in MAP_KINDS if k not in files]
        if missing:
            problems.append(Problem(str(parent), None, None, f"plate {prefix!r} has no "
                                    f"{', '.join(missing)} file", "three maps per plate: "
                                    f"{prefix}-CTmap.csv, {prefix}-genemap.csv, "
                                    f"{prefix}-wellmap.csv"))
    if problems:
        raise InputError(problems)
    frames, hashes, notes = [], {}, []
    for (parent, prefix), files in plates.items():
        frame, digests = _plate_wells(folder, parent, prefix, files)
        frames.append(frame)
        hashes.update(digests)
    wells = pd.concat(frames, ignore_index=True)
    if genes:
        wells = _pick_genes(wells, genes, str(folder))
    wells, renamed = _rename(wells, dict(columns or {}), str(folder))
    notes.append(f"plate maps: {len(plates)} plates in {folder} read into {len(wells)} wells "
                 "(a well is read when its Ct, gene or condition cell is filled; columns plate, "
                 "folder, well)")
    return CtFile(wells.drop(columns=["file", "line", "cell"]).reset_index(drop=True),
                  wells.line.to_numpy(dtype=int), {"ct": "CTmap", "gene": "genemap",
                                                   "condition": "wellmap", **renamed},
                  "long", tuple(notes), _digest(hashes), files=wells.file.to_numpy(),
                  ct_columns=wells.cell.to_numpy(), hashes=hashes)


def _plate_wells(folder: Path, parent: Path, prefix: str, files: dict[str, Path]):
    """The filled wells of one plate: ``condition, gene, ct, plate, folder, well`` plus the
    CTmap's ``file``, ``line`` and ``cell`` (its header label and the well) for messages."""
    grids = {kind: _read_grid(path) for kind, path in files.items()}
    shape = {kind: (tuple(g[0]), tuple(g[1])) for kind, g in grids.items()}
    if len(set(shape.values())) > 1:
        raise InputError([Problem(str(files[k]), None, None, f"rows {list(shape[k][0])} x "
                                  f"columns {list(shape[k][1])}", "the same rows and columns "
                                  f"as {files['ct'].name} {list(shape['ct'][0])} x "
                                  f"{list(shape['ct'][1])}") for k in shape
                          if shape[k] != shape["ct"]])
    rows, cols, _, lines = grids["ct"]
    relative = parent.relative_to(folder)
    plate = "/".join([*relative.parts, *([prefix] if prefix and prefix != parent.name
                                          else [])]) or prefix or "1"
    top = relative.parts[0] if relative.parts else "."
    records = []
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            cells = {kind: grids[kind][2][i][j] for kind in grids}
            if not any(cells.values()):
                continue
            records.append(dict(condition=cells["condition"], gene=cells["gene"],
                                ct=cells["ct"], plate=plate, folder=top, well=f"{row}{col}",
                                file=str(files["ct"]), line=lines[i],
                                cell=f"{col} (well {row}{col})"))
    digests = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()}
    return pd.DataFrame(records, columns=["condition", "gene", "ct", "plate", "folder", "well",
                                          "file", "line", "cell"]), digests


def _read_grid(path: Path) -> tuple[list[str], list[str], list[list[str]], list[int]]:
    """A plate grid: row labels, column labels, cells [row][column] (text), file lines."""
    notes: list[str] = []
    text = file_text(path.read_bytes(), str(path), notes)
    header, rows, lines, _ = _split(text, str(path), notes)
    if len(header) < 2 or not rows:
        raise InputError([Problem(str(path), 1, None, f"header {header}", "a plate grid: "
                                  "column numbers along the first line, row letters down the "
                                  "first column")])
    labels = [r[0] for r in rows]
    blank = [line for line, label in zip(lines, labels, strict=True) if not label]
    if blank:
        raise InputError([Problem(str(path), line, header[0], "a grid row without its row "
                                  "letter", "A, B, C ... down the first column")
                          for line in blank])
    return labels, header[1:], [r[1:] for r in rows], lines


def _pick_genes(wells: pd.DataFrame, genes: Sequence[str], name: str) -> pd.DataFrame:
    present = set(wells.gene)
    missing = [g for g in genes if g not in present]
    if missing:
        raise InputError([Problem(name, None, "gene", f"--genes {missing} not in the plate "
                                  "maps", f"genes of the maps {sorted(present - {''})}")])
    return wells[wells.gene.isin(list(genes))]


def read_gene_files(folder: Path, columns: Mapping[str, str] | None,
                    genes: Sequence[str] | None) -> CtFile:
    """One row per reaction of every one-gene file of ``folder`` (gene = the file's name)."""
    paths = [p for p in sorted(folder.iterdir())
             if p.is_file() and p.suffix.lower() in GENE_FILE_SUFFIXES]
    if genes:
        named = {p.stem: p for p in paths}
        missing = [g for g in genes if g not in named]
        if missing:
            raise InputError([Problem(str(folder), None, None, f"--genes {missing}: no such "
                                      "file", f"file names (without extension) of the folder "
                                      f"{sorted(named)}")])
        paths = [named[g] for g in genes]
    if not paths:
        raise InputError([Problem(str(folder), None, None, "no Ct files", "a folder of plate "
                                  "maps (<plate>-CTmap.csv, -genemap.csv, -wellmap.csv) or of "
                                  "one-gene files (one .csv per gene: sample and Ct columns)")])
    frames, problems, notes, hashes, seen = [], [], [], {}, set()
    source: dict[str, str] = {}
    for path in paths:
        frame, lines, renamed, file_notes = _gene_file(path, columns, problems, seen)
        if frame is None:
            continue
        source.update(renamed)
        frames.append(frame.assign(gene=path.stem, file=str(path), line=lines))
        hashes[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        notes += [f"{path.name}: {n}" for n in file_notes]
    problems += [Problem(str(folder), None, theirs, "--columns names a column no file has",
                         f"a column of the files {sorted(seen)}")
                 for theirs in dict(columns or {}).values() if theirs not in seen]
    if problems:
        raise InputError(problems)
    reactions = pd.concat(frames, ignore_index=True).fillna("")
    notes.insert(0, f"one file per gene: {len(paths)} files of {folder} "
                 f"({', '.join(p.stem for p in paths)}), the gene named by each file's name")
    return CtFile(reactions.drop(columns=["file", "line"]), reactions.line.to_numpy(dtype=int),
                  source, "long", tuple(notes), _digest(hashes),
                  files=reactions.file.to_numpy(), hashes=hashes)


def _gene_file(path: Path, columns, problems: list[Problem], seen: set[str]):
    """One one-gene file as text cells (our names), its lines, renames and notes; None
    (with a problem added) when the file is of another layout. ``seen`` collects the
    file's own column names."""
    notes: list[str] = []
    text = file_text(path.read_bytes(), str(path), notes)
    header, rows, lines, _ = _split(text, str(path), notes)
    seen.update(header)
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame, source = _rename(frame, _present(columns, frame), str(path))
    others = [c for c in frame.columns if c not in (*KEYS, "ct")]
    if "ct" not in frame.columns or "gene" in frame.columns or others:
        why = ("no Ct column" if "ct" not in frame.columns else
               "a gene column" if "gene" in frame.columns else f"columns {others} beside "
               "the sample and Ct")
        problems.append(Problem(str(path), None, None, f"not a one-gene file ({why}) in a folder "
                                "of one-gene files", "name the gene files to fit with --genes "
                                "NAME,... (file names without extension), or fit this file on "
                                "its own"))
        return None, None, None, None
    ct = frame["ct"].str.strip()
    commas = ct.str.fullmatch(r"[+-]?\d*,\d+")
    if commas.any():
        frame = frame.assign(ct=ct.str.replace(",", ".", regex=False))
        notes.append("Cts were written with decimal commas: read 25,3 as 25.3")
    return frame, np.asarray(lines, dtype=int), source, notes


def _present(columns: Mapping[str, str] | None, frame: pd.DataFrame) -> dict[str, str]:
    """The ``--columns`` mappings whose column this file has (one-gene files differ)."""
    return {ours: theirs for ours, theirs in dict(columns or {}).items()
            if theirs in frame.columns}


def _digest(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(hashes.items())).encode()
                          ).hexdigest()
