"""An expression sample sheet -> the design the model fits: paired or unpaired two groups.

- **Paired** (tumour / normal of the same patient): the model sees each pair's treated -
  control difference; samples without a partner are left out (listed in ``unpaired``),
  several samples of one pair and group are averaged.
- **Unpaired** (mimic or inhibitor vs control, independent cultures): the model sees the
  two groups' means and the pooled within-group variance of every probe.
- ``design="auto"`` (the default) is paired exactly when a pairs column is there: named by
  ``pairs=``, a GDS ``individual`` subset, or a sample-sheet column called ``pair``;
  otherwise unpaired. The choice and its reason are a note (run.json, the report).
- **Control group**: ``control=``, else the one group whose name is a control word
  (normal, control, ...) or, failing that, the one group whose name holds one as a word
  (``normal tissue adjacent to RCC`` vs ``RCC tissue``; ``miR-NC`` vs ``miR-379``).
- **Scale**: values on the MAS5 / counts scale are log2-transformed with GEO2R's rule
  (q99 > 100, or q99 - q0 > 50 with q25 > 0); values <= 0 become missing before the log.

For the classical peer of an unpaired design, :func:`equivalent_contrasts` re-expresses
each probe's two groups as ``n_c + n_t - 1`` one-sample values with the same mean
difference and whose one-sample t is the pooled two-sample t (an orthogonal rotation, the
one limma's QR decomposition makes), so one moderated-t routine serves both designs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg

from chemoshift.data.errors import InputError, Problem

CONTROL_NAMES = ("normal", "control", "healthy", "non-tumour", "non-tumor", "nontumor",
                 "adjacent normal", "untreated")
CONTROL_WORDS = ("normal", "control", "controls", "healthy", "untreated", "vehicle", "mock",
                 "scrambled", "scramble", "nc", "non-targeting", "non-tumour", "non-tumor",
                 "nontumor", "wild-type", "wildtype")
PAIR_COLUMNS = ("pair",)  # a sample-sheet column the auto design reads as the pairs
DESIGNS = ("auto", "paired", "unpaired")
MIN_PROBES = 2  # a variance prior shared by probes is estimated from more than one


@dataclass(frozen=True)
class ExpressionData:
    """A two-group expression data set, paired or unpaired, validated and on the log2 scale.

    Attributes
    ----------
    values : log2 expression, shape (n_probes, n_samples); NaN where missing.
    probes : probe ids (n_probes,), unique.
    genes : gene symbol of each probe ("" when none), (n_probes,).
    samples : one row per sample of ``values``: ``sample``, ``pair`` ("" when unpaired),
        ``group``, ``role`` (``control`` / ``treated``).
    control, treated : the two group names (the effect is treated - control).
    pairs : pair ids in model order (paired design; ``()`` when unpaired).
    unpaired : samples of a paired design left out for want of a partner.
    log_transformed : whether the reader took log2 of the file's values.
    notes : what the reader did, in words.
    sources : file path -> sha256 of its bytes.
    fmt : ``gds``, ``gse``, ``series_matrix``, ``table`` or ``frame``.
    design : ``paired`` or ``unpaired``.
    design_reason : why (``auto: ...`` or ``as asked: ...``).
    """

    values: np.ndarray
    probes: np.ndarray
    genes: np.ndarray
    samples: pd.DataFrame
    control: str
    treated: str
    pairs: tuple[str, ...]
    unpaired: tuple[str, ...] = ()
    log_transformed: bool = False
    notes: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    fmt: str = "table"
    design: str = "paired"
    design_reason: str = ""

    @property
    def treated_mask(self) -> np.ndarray:
        """True for the treated samples, (n_samples,) in the order of ``values``' columns."""
        return (self.samples["role"] == "treated").to_numpy()

    @property
    def differences(self) -> np.ndarray:
        """treated - control log2 values per pair, shape (n_probes, n_pairs); paired only."""
        if self.design != "paired":
            raise ValueError("an unpaired design has no within-pair differences (see "
                             "ExpressionData.contrasts)")
        columns = []
        for pair in self.pairs:
            rows = self.samples[self.samples.pair == pair]
            mean = {role: np.nanmean(self.values[:, rows.index[rows.role == role]], axis=1)
                    if (rows.role == role).sum() > 1 else
                    self.values[:, rows.index[rows.role == role][0]]
                    for role in ("control", "treated")}
            columns.append(mean["treated"] - mean["control"])
        return np.column_stack(columns)

    @property
    def contrasts(self) -> np.ndarray:
        """One-sample values of every probe whose moderated t is the design's: paired, the
        ``differences``; unpaired, :func:`equivalent_contrasts` (n_probes, n_samples - 1)."""
        if self.design == "paired":
            return self.differences
        return equivalent_contrasts(self.values, self.treated_mask)

    @property
    def n_probes(self) -> int:
        return len(self.probes)


def equivalent_contrasts(values: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Two groups re-expressed as one-sample values with the same t, per probe.

    values : (n_probes, n_samples) log2, NaN where missing; treated : (n_samples,) bool.
    Returns (n_probes, n_samples - 1): a probe with n_c control and n_t treated values has
    m = n_c + n_t - 1 values (NaN after them; all NaN when a group is empty or m < 2) whose
    mean is the difference of the group means and whose sum of squares about it is
    m (1/n_c + 1/n_t) x the pooled within-group sum of squares: their one-sample t is the
    pooled two-sample t, on m - 1 = n_c + n_t - 2 degrees of freedom.
    """
    treated = np.asarray(treated, dtype=bool)
    out = np.full((values.shape[0], max(values.shape[1] - 1, 0)), np.nan)
    finite = np.isfinite(values)
    patterns, which = np.unique(finite, axis=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        control_columns, treated_columns = pattern & ~treated, pattern & treated
        n_c, n_t = int(control_columns.sum()), int(treated_columns.sum())
        if n_c < 1 or n_t < 1 or n_c + n_t < 3:
            continue
        rows = np.flatnonzero(which.ravel() == index)
        control = values[np.ix_(rows, np.flatnonzero(control_columns))]
        case = values[np.ix_(rows, np.flatnonzero(treated_columns))]
        residual = np.hstack([control @ _helmert(n_c), case @ _helmert(n_t)])
        m = n_c + n_t - 1
        scale = np.sqrt(m * (1.0 / n_c + 1.0 / n_t))
        difference = case.mean(axis=1) - control.mean(axis=1)
        out[rows, :m] = difference[:, None] + scale * residual @ _helmert(m).T
    return out


def _helmert(m: int) -> np.ndarray:
    """(m, m - 1) orthonormal columns orthogonal to the vector of ones."""
    return linalg.helmert(m).T if m > 1 else np.zeros((m, 0))


def needs_log2(values: np.ndarray) -> bool:
    """GEO2R's rule: counts / MAS5 scale when q99 > 100, or q99 - q0 > 50 with q25 > 0."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    q0, q25, q99 = np.quantile(finite, [0, 0.25, 0.99])
    return bool(q99 > 100 or (q99 - q0 > 50 and q25 > 0))


def choose_design(design: str, pairs: str | None, sheet: pd.DataFrame, name: str,
                  pairs_named: bool) -> tuple[str, str | None, str]:
    """(design, pairs column or None, reason) from ``design`` and the sample sheet.

    pairs : the pairs column asked for or defaulted by the format (a GDS's ``individual``);
    pairs_named : whether the user named it (a named column with ``unpaired`` is refused).
    """
    if design not in DESIGNS:
        raise InputError([Problem(name, None, None, f"--design {design!r}",
                                  f"one of {list(DESIGNS)}")])
    present = pairs if pairs in sheet else next((c for c in PAIR_COLUMNS if c in sheet), None)
    if design == "unpaired":
        if pairs_named:
            raise InputError([Problem(name, None, pairs, "--pairs with --design unpaired",
                                      "one of them: an unpaired design has no pairs")])
        ignored = f"; the {present!r} column not used" if present else ""
        return "unpaired", None, f"as asked: --design unpaired{ignored}"
    if design == "paired":
        return "paired", pairs or present, "as asked: --design paired"
    if pairs_named:  # a named column must be there: no silent fall-back to unpaired
        return "paired", pairs, f"auto: pairs from the {pairs!r} column named by --pairs"
    if present is None:
        missing = (f"no {pairs!r} column" if pairs else
                   f"no pairs column named (--pairs) and no {' or '.join(PAIR_COLUMNS)!r} column")
        return "unpaired", None, f"auto: {missing}, so two independent groups"
    return "paired", present, f"auto: pairs from the {present!r} column"


def control_group(levels: list[str], control: str | None, name: str, column: str) -> str:
    """The control group: ``control``, an exact control name, else the one level with a
    control word in it; an InputError naming the levels when none or several qualify."""
    if control is not None:
        if control not in levels:
            raise InputError([Problem(name, None, column, f"--control {control!r} not a group",
                                      f"one of {levels}")])
        return control
    named = [g for g in levels if g.lower() in CONTROL_NAMES]
    if len(named) != 1:
        words = re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, CONTROL_WORDS))
                           + r")(?![a-z0-9])")
        named = [g for g in levels if words.search(g.lower())]
    if len(named) != 1:
        raise InputError([Problem(name, None, column, f"groups {levels}",
                                  "--control GROUP naming the control group")])
    return named[0]


def assemble(table: pd.DataFrame, genes: np.ndarray, sheet: pd.DataFrame, name: str, *,
             design: str, design_reason: str, pairs: str | None, group: str | None,
             control: str | None, notes: list[str], sources: dict, fmt: str
             ) -> ExpressionData:
    """The :class:`ExpressionData` of a probe x sample table and its sample sheet.

    table : (n_probes, samples) numbers, index = probe ids; sheet : ``sample`` + columns;
    design : ``paired`` (``pairs`` names its column) or ``unpaired``.
    """
    _check_columns(sheet, name, pairs if design == "paired" else "", group)
    missing = sorted(set(sheet["sample"]) - set(table.columns))
    if missing:
        raise InputError([Problem(name, None, "sample", f"sample(s) {missing[:5]} not in the "
                                  "expression table", "sample names equal to its columns")])
    sheet = sheet.copy()
    sheet["pair"] = (_clean(sheet[pairs]) if design == "paired" else "")
    sheet["group"] = _clean(sheet[group])
    sheet = sheet[(sheet["group"] != "") & ((sheet["pair"] != "") | (design != "paired"))]
    levels = list(pd.unique(sheet["group"]))
    if len(levels) != 2:
        raise InputError([Problem(name, None, group, f"{len(levels)} group(s) {levels}",
                                  "exactly two groups (control and treated)")])
    control = control_group(levels, control, name, group)
    treated = next(g for g in levels if g != control)
    sheet["role"] = np.where(sheet["group"] == control, "control", "treated")
    if design == "paired":
        used, paired, unpaired = _pairs_of(sheet, name, pairs, notes)
    else:
        used, paired, unpaired = _groups_of(sheet, name, group), (), ()
    values, log_transformed = _log2(table[list(used["sample"])].to_numpy(float), notes)
    samples = used[["sample", "pair", "group", "role"]].reset_index(drop=True)
    if design == "paired":
        notes.append(f"{len(paired)} complete pairs; effect = {treated} - {control} (log2)")
    else:
        counts = samples["role"].value_counts()
        notes.append(f"unpaired design: {counts.get('treated', 0)} {treated} vs "
                     f"{counts.get('control', 0)} {control} samples; effect = difference of "
                     f"the group means, {treated} - {control} (log2)")
    notes.append(f"design: {design} ({design_reason})")
    data = ExpressionData(values=values, probes=np.asarray(table.index, dtype=str),
                          genes=genes, samples=samples, control=control, treated=treated,
                          pairs=tuple(paired), unpaired=unpaired,
                          log_transformed=log_transformed, notes=tuple(notes),
                          sources=dict(sources), fmt=fmt, design=design,
                          design_reason=design_reason)
    _check_probes(data, name)
    return data


def _check_probes(data: ExpressionData, name: str) -> None:
    """Refuse a table with fewer than ``MIN_PROBES`` probes the model can estimate: two or
    more values of its design's contrasts (paired: two complete pairs; unpaired: a value
    in each group and three in all)."""
    usable = int((np.isfinite(data.contrasts).sum(axis=1) >= 2).sum())
    if usable >= MIN_PROBES:
        return
    needs = ("values in at least two complete pairs" if data.design == "paired" else
             "a value in each group and three values in all")
    raise InputError([Problem(name, None, None, f"{usable} of {data.n_probes} probe(s) with "
                              f"{needs}", f"at least {MIN_PROBES} such probes: the model "
                              "shares one variance prior across probes")])


def _check_columns(sheet: pd.DataFrame, name: str, pairs: str | None, group: str | None
                   ) -> None:
    problems = []
    for option, column in (("pairs", pairs), ("group", group)):
        if column == "":  # not needed (unpaired)
            continue
        if column is None:
            problems.append(Problem(name, None, None, f"no --{option} column given",
                                    f"--{option} COLUMN naming the sample-sheet column "
                                    f"(columns: {list(sheet.columns)})"))
        elif column not in sheet:
            hint = (" or --design unpaired (independent samples)" if option == "pairs"
                    else "")
            problems.append(Problem(name, None, column, f"--{option}: no such column",
                                    f"one of {list(sheet.columns)}{hint}"))
    if problems:
        raise InputError(problems)


def _clean(column: pd.Series) -> pd.Series:
    """Text cells, stripped; missing ones '' (pandas 3 keeps NaN through astype(str))."""
    return column.astype(object).where(column.notna(), "").astype(str).str.strip().replace(
        {"nan": ""})


def _pairs_of(sheet: pd.DataFrame, name: str, pairs: str, notes: list[str]
              ) -> tuple[pd.DataFrame, list[str], tuple[str, ...]]:
    """The samples of complete pairs, the pairs (model order), the samples left out."""
    complete = sheet.groupby("pair")["role"].nunique()
    paired = [p for p in pd.unique(sheet["pair"]) if complete.get(p, 0) == 2]
    unpaired = tuple(sheet.loc[~sheet["pair"].isin(paired), "sample"])
    if len(paired) < 2:
        raise InputError([Problem(name, None, pairs, f"{len(paired)} complete pair(s)",
                                  "at least two pairs with a control and a treated sample "
                                  "(or --design unpaired)")])
    if unpaired:
        notes.append(f"{len(unpaired)} unpaired sample(s) left out of the paired model: "
                     f"{', '.join(unpaired)}")
    used = sheet[sheet["pair"].isin(paired)]
    repeats = used.groupby(["pair", "role"]).size()
    if (repeats > 1).any():
        notes.append(f"{int((repeats > 1).sum())} pair x group cell(s) hold several samples: "
                     "their log2 values are averaged")
    return used, paired, unpaired


def _groups_of(sheet: pd.DataFrame, name: str, group: str) -> pd.DataFrame:
    """The samples of an unpaired design, controls first; at least one per group and three
    in all (one residual degree of freedom)."""
    counts = sheet["role"].value_counts()
    if min(counts.get("control", 0), counts.get("treated", 0)) < 1 or len(sheet) < 3:
        raise InputError([Problem(name, None, group, f"{dict(counts)} samples per role",
                                  "at least one sample per group and three in all")])
    return sheet.sort_values("role", kind="stable")


def _log2(values: np.ndarray, notes: list[str]) -> tuple[np.ndarray, bool]:
    log_transformed = needs_log2(values)
    if log_transformed:
        nonpositive = int((values <= 0).sum())
        values = np.where(values > 0, values, np.nan)
        values = np.log2(values)
        notes.append("values on the counts / MAS5 scale (GEO2R's rule): log2-transformed"
                     + (f"; {nonpositive} value(s) <= 0 set missing" if nonpositive else ""))
    else:
        notes.append("values already on a log scale: kept as they are")
    return values, log_transformed
