"""Which gene normalises which, and dilution series for amplification efficiencies.

References: ``"GAPDH"`` or ``"GAPDH,ACTB"`` (every other gene is a target of them, one
normalisation group) or per target ``"miR-379:RNU48,IGF1R:GAPDH"`` (a microRNA
normalised to a small-RNA reference and an mRNA to an mRNA reference in one file; a
target may name several references, ``IGF1R:GAPDH+ACTB``). Targets sharing the same
references form a group: a group's genes share one loading (cDNA amount) per sample,
so separately reverse-transcribed microRNA and mRNA each get their own.

Dilution series (Matz et al. 2013's ``PrimEff`` input): columns ``amount`` (or ``dna``,
``dilution``, ``quantity``: relative template amount, > 0), ``cq`` (or ``ct``) and ``gene``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data.errors import InputError, Problem
from chemoshift.data.text_tables import decode, read_table

AMOUNT_NAMES = ("amount", "dna", "dilution", "quantity", "concentration")
CQ_NAMES = ("cq", "ct")


@dataclass(frozen=True)
class Dilutions:
    """A dilution series: ``table`` with ``gene``, ``amount`` (> 0) and ``cq`` (cycles)."""

    table: pd.DataFrame
    path: str
    sha256: str
    notes: tuple[str, ...] = ()

    @property
    def genes(self) -> list[str]:
        return list(dict.fromkeys(self.table.gene))


def parse_references(references, genes: Sequence[str], name: str,
                     problems: list[Problem]) -> pd.DataFrame:
    """The genes table (gene, role, group, reference) from a reference specification."""
    spec = _spec(references)
    known = set(genes)
    where = "--reference"
    if not spec:
        problems.append(Problem(name, None, None, "no reference gene",
                                f"--reference GENE[,GENE] naming one of {list(genes)} (or "
                                "TARGET:REFERENCE pairs)", option="references"))
        return _table(genes, {}, {})
    per_target = isinstance(spec, dict)
    refs_of: dict[str, tuple[str, ...]] = {}
    if per_target:
        for target, refs in spec.items():
            refs_of[target] = tuple(refs)
    else:
        refs = tuple(spec)
        refs_of = {g: refs for g in genes if g not in refs}
    listed = {g for refs in refs_of.values() for g in refs} | set(refs_of)
    for gene in sorted(listed - known, key=str):
        problems.append(Problem(name, None, where, f"gene {gene!r} is not in the file",
                                f"one of the file's genes {list(genes)}", option="references"))
    references_all = {g for refs in refs_of.values() for g in refs}
    for target in refs_of:
        if target in references_all:
            problems.append(Problem(name, None, where, f"{target!r} is both a target and a "
                                    "reference", "each gene one or the other", option="references"))
    if per_target:
        for gene in genes:
            if gene not in listed:
                problems.append(Problem(name, None, where, f"gene {gene!r} has no reference",
                                        "every gene of the file named as TARGET:REFERENCE "
                                        "(or as a reference)", option="references"))
    return _table(genes, refs_of, references_all)


def _spec(references):
    """None, a list of reference genes, or a dict target -> list of references."""
    if references is None:
        return None
    if isinstance(references, Mapping):
        return {str(t): [r.strip() for r in re.split(r"[+;]", v) if r.strip()] if isinstance(
            v, str) else [str(r) for r in v] for t, v in references.items()}
    if isinstance(references, str):
        parts = [p.strip() for p in references.split(",") if p.strip()]
        if any(":" in p for p in parts):
            return {p.split(":", 1)[0].strip(): [r.strip() for r in re.split(
                r"[+;]", p.split(":", 1)[1]) if r.strip()] for p in parts if ":" in p} | {
                p: [] for p in parts if ":" not in p}
        return parts
    return [str(r) for r in references]


def _table(genes, refs_of, references_all) -> pd.DataFrame:
    group_of: dict[str, str] = {}
    for target, refs in refs_of.items():
        key = "+".join(refs) if refs else target
        group_of[target] = key
        for ref in refs:
            group_of.setdefault(ref, key)
    rows = []
    for gene in genes:
        group = group_of.get(gene, gene)
        role = "reference" if gene in references_all else "target"
        first = group.split("+")[0]
        first = "" if first == gene else first
        rows.append(dict(gene=gene, role=role, group=group, reference=first))
    return pd.DataFrame(rows, columns=["gene", "role", "group", "reference"])


def read_dilutions(path: str | Path) -> Dilutions:
    """Read a dilution series CSV (amount, cq, gene); missing Cqs are skipped, with a note."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, None, None, "no such file",
                                  "a CSV dilution series: amount, cq, gene")])
    raw = path.read_bytes()
    read = read_table(decode(raw, name, "a CSV dilution series: amount, cq, gene"), name,
                      row="dilution well")
    frame = read.frame
    lower = {c.lower(): c for c in frame.columns}
    problems: list[Problem] = []
    picked = {}
    for ours, names in (("amount", AMOUNT_NAMES), ("cq", CQ_NAMES), ("gene", ("gene", "target"))):
        found = next((lower[n] for n in names if n in lower), None)
        if found is None:
            problems.append(Problem(name, None, ours, "column missing",
                                    f"one of {list(names)}; the file has {list(frame.columns)}"))
        picked[ours] = found
    if problems:
        raise InputError(problems)
    rows, skipped = [], 0
    for i, record in frame.iterrows():
        line = int(read.lines[i])
        amount, cq, gene = (str(record[picked[k]]).strip() for k in ("amount", "cq", "gene"))
        if cq.lower() in ("", "na", "nan", "undetermined", "n/a"):
            skipped += 1
            continue
        try:
            amount_value = float(amount)
        except ValueError:
            amount_value = np.nan
        if not amount_value > 0:
            problems.append(Problem(name, line, picked["amount"], repr(amount),
                                    "a relative template amount > 0"))
        try:
            cq_value = float(cq)
        except ValueError:
            cq_value = np.nan
        if not cq_value >= 5:
            problems.append(Problem(name, line, picked["cq"], repr(cq), "a Cq of at least 5"))
        if not gene:
            problems.append(Problem(name, line, picked["gene"], "empty", "a gene name"))
        rows.append(dict(gene=gene, amount=amount_value, cq=cq_value))
    table = pd.DataFrame(rows, columns=["gene", "amount", "cq"])
    for gene, series in table.groupby("gene", sort=False):
        if series.amount.nunique() < 3:
            problems.append(Problem(name, None, picked["amount"], f"gene {gene!r} has "
                                    f"{series.amount.nunique()} distinct amount(s)",
                                    "at least 3 dilution steps per gene"))
    if problems:
        raise InputError(problems)
    notes = (f"{skipped} dilution well(s) without a Cq skipped",) if skipped else ()
    return Dilutions(table, name, hashlib.sha256(raw).hexdigest(), notes)


def check_detected(table: pd.DataFrame, genes: pd.DataFrame, comparisons, where,
                   problems: list[Problem]) -> list[str]:
    """Refuse what no Ct can normalise or estimate; return notes of what it costs.

    table : one row per reaction (``file``, ``line``, ``gene``, ``condition``, ``sample``,
        ``label``, ``status``); genes : :func:`parse_references`'s table; comparisons :
        (condition, control) pairs; where : (reaction,) the Ct cell's column as the user's
        file names it.

    Refused (``problems``): a reference gene with no detected Ct in the file (nothing to
    normalise its targets to); references of a group with no detected Ct in any sample of
    a condition (that condition's folds would rest on the prior alone); a target with no
    detected Ct in the file, or in either condition of a comparison (a fold between two
    censored groups is unbounded). Noted: a sample whose references have no detected Ct
    (its targets cannot be normalised and inform no fold). A target undetected in one
    condition only is a real result (a knock-down below detection), read as censored.
    """
    detected = table.status.to_numpy() == "detected"
    notes: list[str] = []

    def refuse(rows: np.ndarray, found: str, expected: str) -> None:
        i = int(rows[0])
        problems.append(Problem(str(table.file.iat[i]), int(table.line.iat[i]), str(where[i]),
                                found, expected))

    dead: set[str] = set()
    for gene in genes.gene:
        rows = np.flatnonzero(table.gene.to_numpy() == gene)
        if len(rows) and not detected[rows].any():
            dead.add(gene)
            role = genes.role[genes.gene == gene].iat[0]
            refuse(rows, f"{role} gene {gene!r}: none of its {len(rows)} Ct(s) detected "
                   "(Undetermined, empty or above the cycle limit in every well)",
                   "a reference detected in the samples it normalises (choose another "
                   "--reference)" if role == "reference" else "a target detected in at "
                   "least one sample: with every Ct censored no fold can be estimated "
                   "(leave it out with --genes)")
    for _group, members in genes.groupby("group", sort=False):
        references = list(members.gene[members.role == "reference"])
        targets = list(members.gene[members.role == "target"])
        if not references or not targets or set(references) <= dead:
            continue
        is_ref = table.gene.isin(references).to_numpy()
        is_target = table.gene.isin(targets).to_numpy()
        for condition in pd.unique(table.condition[is_target]):
            here = table.condition.to_numpy() == condition
            if (is_ref & here).any() and not (detected & is_ref & here).any():
                refuse(np.flatnonzero(is_ref & here), f"reference gene(s) {references}: no "
                       f"Ct detected in any sample of condition {condition!r}",
                       f"a detected reference Ct in the samples of {condition!r}: without "
                       "one its folds cannot be normalised")
        found = table["sample"][is_ref & detected].unique()
        lost = table[is_target & ~table["sample"].isin(found).to_numpy()]
        if len(lost):
            labels = list(pd.unique(lost.label))
            notes.append(f"{len(labels)} sample(s) have no detected Ct of {'+'.join(references)}"
                         f" ({', '.join(map(str, labels[:6]))}): their {', '.join(targets)} "
                         "Cts cannot be normalised and inform no fold")
    for gene in genes.gene[genes.role == "target"]:
        if gene in dead:
            continue
        mine = table.gene.to_numpy() == gene
        seen = set(table.condition[mine & detected])
        present = set(table.condition[mine])
        for condition, control in comparisons:
            if {condition, control} <= present and not {condition, control} & seen:
                refuse(np.flatnonzero(mine & table.condition.isin([condition, control])
                                      .to_numpy()),
                       f"target {gene!r}: no Ct detected in {condition!r} nor in {control!r}",
                       "a target detected in at least one side of each comparison: the fold "
                       f"{condition} vs {control} would be unbounded")
    return notes
