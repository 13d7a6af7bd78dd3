"""A study's claims -> claims.csv: one row per claim, the answer the study report opens with.

Each claim names a quantity one assay's run directory already holds (a table row, or for
``shift_agreement`` posterior draws); this module reads those result files only, puts the
posterior estimate, its 95% interval, P(the claim holds), P(it holds by the practical
margin) and the classical p-value the field would use side by side, and says in words how
well the claim stands. A run whose diagnostics did not pass marks every claim resting on
it ``UNRELIABLE``, except where the row a claim reads carries its own ``converged`` (a
dose-response fit whose population converged and only some curves did not: a claim is
unreliable only when it rests on those); a missing run, table, row or posterior makes that claim
``not evaluable: <why>`` instead of an error, so one broken assay never hides the others.

Claim kinds (keys beyond ``claim`` and ``kind``, see :data:`CLAIM_KINDS`):

- ``ic50_shift`` (dose-response shifts.csv, beside a per-experiment least-squares test)
  and ``shift_agreement`` (two treatments' log10 shift draws from posterior.nc): see
  :mod:`chemoshift.reports.study.claims_dose_response`.
- ``qpcr_fold`` (folds.csv), ``western_fold`` (western.csv), ``luciferase``
  (luciferase.csv), ``apoptosis`` (apoptosis.csv effect rows): one table row each.
- ``hubs`` (network_hubs.csv) and ``pathways`` (enrichment.csv) of the expression run:
  one row per named gene / pathway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chemoshift.data import run_dir as files
from chemoshift.reports.study.claims_dose_response import ic50_shift, shift_agreement, shift_draws
from chemoshift.reports.study.claims_run import (
    NotEvaluable,
    Run,
    interval,
    joint_probability,
    number,
    one_row,
)

__all__ = ["APOPTOSIS_EFFECTS", "APOPTOSIS_SCALES", "CLAIM_ASSAY", "CLAIM_KINDS", "COLUMNS",
           "DIRECTIONS", "PER_ITEM", "SINGLE", "STEP", "NotEvaluable", "VerdictThresholds",
           "claim_problems", "evaluate_claims", "probability_mcse", "read_claims",
           "shift_draws", "verdict", "write_claims"]

# a dose-response fit of one experiment adds the prior's experiment variation to each
# curve (models/dose_response_design.py); the other assays' intervals rest on wells alone
ONE_EXPERIMENT_CAVEAT = {
    False: "one experiment: the interval does not include experiment-to-experiment variation",
    True: "one experiment: the interval carries the prior's experiment-to-experiment "
          "variation, not a measured one",
}
COLUMNS = ["claim", "assay", "estimate", "q2.5", "q97.5", "probability", "p_margin",
           "classical_p", "verdict", "kind", "step", "scale", "direction", "converged", "run",
           "classical_test", "detail", "mcse"]
NUMBERS = ("estimate", "q2.5", "q97.5", "probability", "p_margin", "classical_p", "mcse")
DIRECTIONAL = frozenset(("ic50_shift", "shift_agreement", "qpcr_fold", "western_fold",
                         "luciferase", "apoptosis"))  # 1 - probability is P(the opposite)
CLAIM_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ic50_shift": (("treatment",), ("cell_line", "drug", "every")),
    "shift_agreement": (("treatments", "factor"), ("cell_line", "drug")),
    "qpcr_fold": (("gene", "condition"), ("direction",)),
    "western_fold": (("condition",), ("cell_line", "dose")),
    "luciferase": (("construct",), ("cell_line",)),
    "apoptosis": (("effect",), ("cell_line", "scale")),
    "hubs": (("genes",), ()),
    "pathways": (("pathways",), ()),
}
CLAIM_ASSAY = {"ic50_shift": "dose-response", "shift_agreement": "dose-response",
               "qpcr_fold": "qpcr", "western_fold": "western", "luciferase": "luciferase",
               "apoptosis": "apoptosis", "hubs": "expression", "pathways": "expression"}
STEP = {"ic50_shift": "sensitisation", "shift_agreement": "agreement",
        "qpcr_fold": "IGF1R knock-down", "western_fold": "IGF1R knock-down",
        "luciferase": "3'UTR repression", "apoptosis": "apoptosis", "hubs": "network",
        "pathways": "enrichment"}
DIRECTIONS = ("down", "up")
APOPTOSIS_EFFECTS = ("mir_without_drug", "mir_with_drug", "interaction")
APOPTOSIS_SCALES = ("odds_ratio", "percentage_points")


@dataclass(frozen=True)
class VerdictThresholds:
    """Probabilities behind the words (the study file's ``[verdict]``)."""

    strong: float = 0.95  # P(claim) at or above: supported; P(opposite) at or above: contradicted
    weak: float = 0.80  # P(claim) at or above (below strong): weak evidence
    margin: float = 0.5  # P(by the practical margin) below this: possibly smaller than it
    below_margin: float = 0.05  # P(by the margin) below this: smaller than the margin
    borderline_mcse: float = 2.0  # a probability this many MCSEs from a threshold: borderline


def claim_problems(claim: dict) -> list[str]:
    """What is wrong with one claim dict (empty if nothing): unknown kind, missing or
    unknown keys, values outside what the kind accepts. For the study validator, which
    names the study file; :func:`evaluate_claims` raises ValueError on any."""
    kind = claim.get("kind")
    if kind not in CLAIM_KINDS:
        return [f"unknown claim kind {kind!r}; expected one of {', '.join(CLAIM_KINDS)}"]
    required, optional = CLAIM_KINDS[kind]
    problems = [f"{kind} claim needs key {key!r}" for key in ("claim", *required)
                if key not in claim]
    problems += [f"{kind} claim has unknown key {key!r}; expected one of "
                 f"{', '.join(('claim', 'kind', *required, *optional))}"
                 for key in claim if key not in ("claim", "kind", *required, *optional)]
    allowed = {"direction": DIRECTIONS, "effect": APOPTOSIS_EFFECTS, "scale": APOPTOSIS_SCALES}
    for key, values in allowed.items():
        if key in claim and key in (*required, *optional) and claim[key] not in values:
            problems.append(f"{kind} claim's {key} is {claim[key]!r}; expected one of "
                            f"{', '.join(values)}")
    if kind == "shift_agreement":
        if len(claim.get("treatments", ())) != 2 or isinstance(claim.get("treatments"), str):
            problems.append("shift_agreement claim needs treatments = [A, B], two names")
        if "factor" in claim and not number(claim["factor"]) > 1:
            problems.append(f"shift_agreement claim's factor is {claim['factor']!r}; "
                            "expected a number > 1")
    if "every" in claim and not isinstance(claim["every"], bool):
        problems.append(f"{kind} claim's every is {claim['every']!r}; expected true or false")
    for key in ("genes", "pathways"):
        if key in required and (isinstance(claim.get(key), str) or not claim.get(key, [])):
            problems.append(f"{kind} claim needs {key} = [a list of names]")
    return problems


def verdict(probability: float, p_margin: float,
            thresholds: VerdictThresholds = VerdictThresholds(), *, mcse: float = np.nan,
            directional: bool = False) -> str:
    """The verdict in words.

    ``p_margin`` is NaN when the claim has no practical margin; ``mcse`` the Monte Carlo
    standard error of ``probability`` (NaN: unknown); ``directional`` says that 1 -
    ``probability`` is P(the opposite direction), so a claim can be contradicted. Words:
    "supported" (P >= strong), "supported, smaller than the practical margin" (and P(beyond
    the margin) < below_margin), "supported, but possibly smaller than the practical margin"
    (< margin), "weak evidence: ..." (P >= weak), "contradicted: ..." (P(opposite) >=
    strong), "not supported"; "; borderline: ..." is appended when P lies within
    ``borderline_mcse`` MCSEs of a threshold it was compared with.
    """
    if not np.isfinite(probability):
        return "not evaluable: no posterior probability"
    opposite = 1.0 - probability if directional else np.nan
    if probability >= thresholds.strong:
        if np.isfinite(p_margin) and p_margin < thresholds.below_margin:
            said = "supported, smaller than the practical margin"
        elif np.isfinite(p_margin) and p_margin < thresholds.margin:
            said = "supported, but possibly smaller than the practical margin"
        else:
            said = "supported"
    elif probability >= thresholds.weak:
        said = (f"weak evidence: P(claim) = {probability:.2f}, below the {thresholds.strong:g}"
                " a supported claim needs")
    elif opposite >= thresholds.strong:
        said = f"contradicted: P(the opposite) = {opposite:.3f}"
    else:
        said = "not supported"
    return said + _borderline(probability, opposite, mcse, thresholds)


def _borderline(probability: float, opposite: float, mcse: float,
                thresholds: VerdictThresholds) -> str:
    """"; borderline: ..." when a probability sits within a few MCSEs of a threshold."""
    if not (np.isfinite(mcse) and mcse > 0):
        return ""
    compared = [(probability, "P(claim)", thresholds.strong),
                 (probability, "P(claim)", thresholds.weak),
                 (opposite, "P(the opposite)", thresholds.strong)]
    for value, what, threshold in compared:
        if np.isfinite(value) and abs(value - threshold) <= thresholds.borderline_mcse * mcse:
            return (f"; borderline: {what} = {value:.3f} is within "
                    f"{thresholds.borderline_mcse:g} Monte Carlo standard errors "
                    f"({mcse:.3f}) of {threshold:g}")
    return ""


def probability_mcse(probability: float, ess: float) -> float:
    """Monte Carlo standard error of a posterior probability estimated from draws whose
    effective sample size is ``ess``: sqrt(p (1 - p) / ESS), with p kept 1 / (ESS + 1)
    from 0 and 1 (all draws on one side still leave an error of about 1 / ESS). NaN when
    ``ess`` is unknown."""
    if not (np.isfinite(probability) and np.isfinite(ess) and ess > 0):
        return np.nan
    edge = 1.0 / (ess + 1.0)
    p = min(max(probability, edge), 1.0 - edge)
    return float(np.sqrt(p * (1.0 - p) / ess))


# ---- mechanism assays ------------------------------------------------------------------

def _qpcr_fold(claim: dict, run: Run) -> dict:
    gene, condition = str(claim["gene"]), str(claim["condition"])
    direction = str(claim.get("direction", "down"))
    folds = run.table("folds.csv", ("gene", "condition", "control", "median", "p_down",
                                    "p_beyond_margin", "classical_p"))
    row = one_row(folds, "folds.csv", {"gene": gene, "condition": condition})
    margin = _margin(run)
    if direction == "down":
        probability, p_margin = number(row.p_down), number(row.p_beyond_margin)
        said = f"probability = P(fold < 1), p_margin = P(fold < 1/{margin:g})"
    else:
        probability = 1 - number(row.p_down)
        p_margin, said = _qpcr_up_margin(run, folds, row, margin)
    return {**interval(row), "probability": probability, "p_margin": p_margin,
            "classical_p": number(row.classical_p),
            "classical_test": "Welch t-test on per-sample ΔCt (2^-ΔΔCt)",
            "scale": "fold change (2^-ΔΔCt)", "direction": direction,
            "detail": f"{gene}: {condition} vs {row.control}; {said}"}


def _margin(run: Run) -> float:
    try:
        return float(files.read_record(run.folder())["settings"]["margin"])
    except (OSError, TypeError, KeyError, ValueError):
        return np.nan


def _qpcr_up_margin(run: Run, folds: pd.DataFrame, row: pd.Series, margin: float
                    ) -> tuple[float, str]:
    """P(fold > margin) from the posterior's log2_fold (gene, comparison): folds.csv lists
    the comparisons in the model's order."""
    said = "probability = P(fold > 1)"
    pairs = list(dict.fromkeys(zip(folds.condition, folds.control, strict=True)))
    try:
        values = run.posterior()["posterior"]["log2_fold"]
        column = values.sel(gene=row.gene).isel(comparison=pairs.index((row.condition,
                                                                         row.control)))
    except (NotEvaluable, KeyError, ValueError, IndexError):
        return np.nan, f"{said}; p_margin not computed (no log2_fold draws)"
    if not np.isfinite(margin):
        return np.nan, f"{said}; p_margin not computed (no margin in run.json)"
    p_margin = float(np.mean(column.values > np.log2(margin)))
    return p_margin, f"{said}, p_margin = P(fold > {margin:g})"


def _western_fold(claim: dict, run: Run) -> dict:
    table = run.table("western.csv", ("condition", "control", "median", "p_decrease",
                                      "p_beyond_margin", "classical_p"))
    row = one_row(table, "western.csv", {"cell_line": claim.get("cell_line"),
                                         "condition": claim["condition"],
                                         "dose": claim.get("dose")})
    dose = f" {row.dose}" if "dose" in row and row.dose else ""
    return {**interval(row), "probability": number(row.p_decrease),
            "p_margin": number(row.p_beyond_margin), "classical_p": number(row.classical_p),
            "classical_test": "paired t-test on per-experiment log fold, lanes normalised "
                              "to their blot's control lanes and averaged within experiment "
                              "(Welch where the arms share no experiment)",
            "scale": "fold change (target / loading)", "direction": "down",
            "detail": f"{row.get('cell_line', '')}: {row.condition}{dose} vs {row.control}; "
                      f"probability = P(fold < 1), p_margin = P(fold < 1/{_margin(run):g})"}


def _luciferase(claim: dict, run: Run) -> dict:
    """A ``luciferase`` claim. ``construct = "interaction"`` says "represses the first
    construct (wild type) beyond the second (mutant)": its probability is the joint
    P(WT ratio < 1 and WT/MUT ratio < 1) over the draws, so an unchanged WT beside a
    de-repressed mutant does not read as repression."""
    table = run.table("luciferase.csv", ("construct", "treatment", "control", "median",
                                         "p_repressed", "p_beyond_margin", "classical_p"))
    construct = str(claim["construct"])
    row = one_row(table, "luciferase.csv", {"cell_line": claim.get("cell_line"),
                                            "construct": construct})
    interaction = construct == "interaction"
    what = (f"({row.construct_pair}) ratio" if interaction
            else f"{construct} firefly/Renilla ratio")
    test = ("paired t-test on per-experiment log ratios, construct vs reference (wells "
            "averaged within experiment; Welch where the arms share no experiment)"
            if interaction
            else "paired t-test on per-experiment log firefly/Renilla ratios, treated vs "
                 "control (wells averaged within experiment; Welch where the arms share no "
                 "experiment)")
    margin = _margin(run)
    found = {**interval(row), "probability": number(row.p_repressed),
             "p_margin": number(row.p_beyond_margin), "classical_p": number(row.classical_p),
             "classical_test": test, "scale": "ratio (treated / control)", "direction": "down",
             "detail": f"{row.get('cell_line', '')}: {row.treatment} vs {row.control}, {what}; "
                       f"probability = P(ratio < 1), p_margin = P(ratio < 1/{margin:g})"}
    if interaction:
        found |= _repressed_beyond(run, row, margin)
    return found


def _repressed_beyond(run: Run, row: pd.Series, margin: float) -> dict:
    """P(first construct repressed and repressed beyond the second), jointly over the
    draws of the posterior's ``ratio`` (contrasts labelled "cell | construct | treatment
    vs control" and "cell | interaction A / B | treatment vs control")."""
    first = str(row.construct_pair).split(" / ")[0]
    versus = f"{row.treatment} vs {row.control}"
    cell = [str(row.cell_line)] if "cell_line" in row and row.cell_line else []
    labels = {" | ".join([*cell, f"interaction {row.construct_pair}", versus]): "interaction",
              " | ".join([*cell, first, versus]): "first"}
    try:
        ratio = run.posterior()["posterior"]["ratio"]
        found = [str(c) for c in ratio.coords["contrast"].values]
        picked = ratio.sel(contrast=[c for c in found if c in labels])
    except (KeyError, ValueError) as error:
        raise NotEvaluable(f"posterior.nc has no ratio draws of {first} and the interaction "
                           f"({error})") from error
    if picked.sizes["contrast"] != 2:
        raise NotEvaluable(f"posterior.nc has no contrast {' or '.join(labels)}")
    values = picked.transpose("chain", "draw", "contrast").values
    probability, mcse = joint_probability(values < 1)
    p_margin, _ = joint_probability(values < 1 / margin) if np.isfinite(margin) else (np.nan,
                                                                                       None)
    return {"probability": probability, "mcse": mcse, "p_margin": p_margin,
            "detail": f"{row.get('cell_line', '')}: {row.treatment} vs {row.control}; "
                      f"probability = P({first} ratio < 1 and ({row.construct_pair}) ratio "
                      f"< 1) jointly over the draws, p_margin = P(both < 1/{margin:g}); "
                      f"estimate and interval: the ({row.construct_pair}) ratio"}


def _apoptosis(claim: dict, run: Run) -> dict:
    table = run.table("apoptosis.csv", ("effect", "scale", "median", "p_positive",
                                        "classical_p"))
    effect, scale = str(claim["effect"]), str(claim.get("scale", "odds_ratio"))
    match = {"cell_line": claim.get("cell_line"), "effect": effect}
    row = one_row(table[table.effect != ""], "apoptosis.csv", {**match, "scale": scale})
    # The field tests percentages (per-experiment means, paired by experiment) whatever
    # scale the claim reads: the odds-ratio row borrows that p-value.
    tested = one_row(table[table.effect != ""], "apoptosis.csv",
                     {**match, "scale": "percentage_points"})
    test = ("one-sample t-test of per-experiment differences of differences in apoptotic "
            "percentages (repeated-measures two-way ANOVA interaction; tubes averaged within "
            "experiment; two-way ANOVA on experiment means where no experiment has all four "
            "groups)" if effect == "interaction"
            else "paired t-test on per-experiment apoptotic percentages (tubes averaged "
                 "within experiment; Welch where the arms share no experiment)")
    unit = "odds ratio" if scale == "odds_ratio" else "difference in percentage points"
    return {**interval(row), "probability": number(row.p_positive),
            "p_margin": np.nan, "classical_p": number(tested.classical_p),
            "classical_test": test, "scale": unit, "direction": "up",
            "detail": f"{row.get('cell_line', '')}: {row.treatment} vs {row.control}, "
                      f"{row.drug}, {effect}; probability = P(more apoptosis) on the {unit} "
                      f"scale ({'odds ratio > 1' if scale == 'odds_ratio' else 'difference > 0'}"
                      "; an interaction can differ between the scales); no practical margin"}


# ---- expression: network and enrichment -------------------------------------------------

def _hub(gene: str, run: Run) -> dict:
    table = run.table("network_hubs.csv", ("gene", "p_hub", "p_connected", "rank_median",
                                           "rank_q2.5", "rank_q97.5", "classical_rank"))
    rows = table[table.gene.str.upper() == gene.upper()]
    if rows.empty:
        raise NotEvaluable(f"{gene} is not in the network (never among the top up-regulated "
                           "genes, or not a STRING node)")
    row = rows.iloc[0]
    if number(row.p_connected) == 0 and row.classical_rank == "":
        raise NotEvaluable(f"{gene} has no edge in the network (no STRING interaction among "
                           "the listed genes)")
    classical = row.classical_rank or "none (not in the classical network)"
    return {**interval(row, "rank_median", "rank_q2.5", "rank_q97.5"),
            "probability": number(row.p_hub), "p_margin": np.nan,
            "scale": "hub rank (1 = most central)", "direction": "",
            "detail": f"probability = P(top hub) over the posterior's top lists; P(connected) "
                      f"= {number(row.p_connected):.3g}; classical_rank = {classical}"}


def _pathway(name: str, run: Run) -> dict:
    table = run.table("enrichment.csv", ("pathway", "p_adjusted", "p_enriched",
                                         "fold_enrichment_median", "fold_enrichment_q2.5",
                                         "fold_enrichment_q97.5"))
    rows = table[table.pathway.str.lower().str.contains(name.lower(), regex=False)]
    if rows.empty:
        raise NotEvaluable(f"no pathway of enrichment.csv matches '{name}'")
    if len(rows) > 1:
        raise NotEvaluable(f"'{name}' matches {len(rows)} pathways ({'; '.join(rows.pathway)});"
                           " name one more precisely")
    row = rows.iloc[0]
    p_adjusted = number(row.p_adjusted)
    underflow = f" (p_adjusted = {row.p_adjusted})" if p_adjusted == 0 else ""
    return {**interval(row, "fold_enrichment_median", "fold_enrichment_q2.5",
                       "fold_enrichment_q97.5"),
            "probability": number(row.p_enriched), "p_margin": np.nan,
            "classical_p": p_adjusted,
            "classical_test": "hypergeometric over-representation, Benjamini-Hochberg adjusted",
            "scale": "fold enrichment", "direction": "up",
            "detail": f"{row.pathway}: overlap {row.get('overlap', '')} of "
                      f"{row.get('set_size', '')}; probability = P(BH-adjusted over-representation "
                      f"p < 0.05) across the posterior's top lists{underflow}"}


SINGLE: dict[str, Callable[[dict, Run], dict]] = {
    "ic50_shift": ic50_shift, "shift_agreement": shift_agreement, "qpcr_fold": _qpcr_fold,
    "western_fold": _western_fold, "luciferase": _luciferase, "apoptosis": _apoptosis}
PER_ITEM: dict[str, tuple[str, Callable[[str, Run], dict]]] = {
    "hubs": ("genes", _hub), "pathways": ("pathways", _pathway)}


def evaluate_claims(claims: list[dict], run_dirs: dict[str, Path],
                    thresholds: VerdictThresholds = VerdictThresholds()) -> pd.DataFrame:
    """claims.csv as a table: one row per claim in study order (``hubs`` / ``pathways``:
    one per gene / pathway, in the order named), columns :data:`COLUMNS`.

    Parameters
    ----------
    claims : validated claim dicts (``claim``, ``kind`` and the kind's keys).
    run_dirs : assay name (:data:`CLAIM_ASSAY` values) -> its run directory.
    thresholds : the probabilities behind the verdicts.

    A missing run, table, row or posterior gives ``not evaluable: <why>``; a malformed
    claim (:func:`claim_problems`, which the study validator should have refused) raises
    ValueError.
    """
    runs: dict[str, Run] = {}
    rows = []
    for claim in claims:
        problems = claim_problems(claim)
        if problems:
            raise ValueError(f"claim {claim.get('claim', '')!r}: {'; '.join(problems)}")
        kind = claim["kind"]
        assay = CLAIM_ASSAY[kind]
        if assay not in runs:
            runs[assay] = Run.open(assay, run_dirs.get(assay))
        run = runs[assay]
        if kind in PER_ITEM:
            key, evaluate_one = PER_ITEM[kind]
            for item in claim[key]:
                rows.append(_row(f"{claim['claim']}: {item}", kind, run, thresholds,
                                 lambda run, item=item, f=evaluate_one: f(str(item), run)))
        else:
            rows.append(_row(str(claim["claim"]), kind, run, thresholds,
                             lambda run, c=claim, f=SINGLE[kind]: f(c, run)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(text: str, kind: str, run: Run, thresholds: VerdictThresholds,
         evaluate: Callable[[Run], dict]) -> dict:
    row = dict.fromkeys(COLUMNS, "") | dict.fromkeys(NUMBERS, np.nan)
    row.update(claim=text, assay=run.assay, kind=kind, step=STEP[kind],
               converged="" if run.converged is None else str(run.converged),
               run="" if run.path is None else run.path.name)
    converged = run.converged
    try:
        found = evaluate(run)
        own = found.pop("row_converged", None)  # the row's own diagnostics, where it has them
        if own is not None:
            converged = own
            row["converged"] = str(own)
        ess = found.pop("ess", np.nan)  # the row's own ESS, where its table has one
        caveats = found.pop("caveats", [])
        row.update(found)
        if not np.isfinite(found.get("mcse", np.nan)):  # from the draws, where it could be
            row["mcse"] = probability_mcse(row["probability"],
                                           ess if np.isfinite(ess) else run.min_ess)
        if run.converged is None:
            raise NotEvaluable(f"the {run.assay} run records no diagnostics (run.json), so "
                               "whether its sampler converged is unknown")
        said = verdict(row["probability"], row["p_margin"], thresholds, mcse=row["mcse"],
                       directional=kind in DIRECTIONAL)
        if run.experiments == 1:
            said = _qualified(said, "one experiment")
            caveats = [*caveats, ONE_EXPERIMENT_CAVEAT[run.assay == "dose-response"]]
        said += "".join(f"; {caveat}" for caveat in caveats)
    except NotEvaluable as why:
        said = f"not evaluable: {why}"
    except (OSError, ValueError, KeyError, IndexError) as error:  # a damaged result file
        said = f"not evaluable: the {run.assay} run's files cannot be read ({run.scrub(error)})"
    if converged is False:
        where = (f"the curves it rests on did not converge in the {run.assay} fit"
                 if run.population_converged else f"the {run.assay} fit did not converge")
        said = f"UNRELIABLE ({where}): {said}"
    row["verdict"] = said
    return row


def _qualified(said: str, qualifier: str) -> str:
    """``qualifier`` in brackets after a verdict's first words: "supported (one experiment)",
    "weak evidence (one experiment): ..."."""
    cut = min((i for i in (said.find(":"), said.find(";"), said.find(",")) if i >= 0),
              default=len(said))
    return f"{said[:cut]} ({qualifier}){said[cut:]}"


def write_claims(path: Path, table: pd.DataFrame) -> None:
    """Write claims.csv atomically; fixed float format, so equal tables give equal bytes."""
    files.write_csv(Path(path), table.reindex(columns=COLUMNS))  # an older table: mcse blank


def read_claims(path: Path) -> pd.DataFrame:
    """claims.csv back as written: text columns as text, numbers as floats."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in NUMBERS:
        if column in table:  # mcse: claims.csv of 0.6 on
            table[column] = pd.to_numeric(table[column].replace("", np.nan))
    return table
