"""Posterior of the dose-response model -> the IC50 and fold-shift tables users read.

``summary.csv``: one row per curve and quantity (``ic50_relative``, the inflection;
``ic50_absolute``, where viability crosses half the vehicle reading), with the
posterior median, 95% equal-tailed interval, 95% highest-density interval (found on
the log10 scale, then exponentiated), the curve's own concentration unit and the
probability that the IC50 lies outside the tested concentrations
(``p_beyond_range`` = ``p_below_range`` + ``p_above_range``).

* A relative IC50 always keeps its numbers, even far beyond the tested range: the
  model (partial pooling across curves) still says where the inflection lies; its
  ``note`` and ``p_beyond_range`` say it is an extrapolation.
* An absolute IC50 that is more likely than not beyond the tested range has no number
  (median and intervals blank): it is +inf in every draw where the curve never reaches
  half its top, and otherwise rests on a curve nobody measured there. ``note`` says which
  side, ``p_beyond_range`` how sure.

``shifts.csv``: fold shift = IC50(treatment) / IC50(control), so a shift below 1 means
the treatment sensitises. All ``quantity = ic50_relative`` rows come first (per
comparison, then pooled), then the ``ic50_absolute`` rows (per comparison only).

* Relative rows are the model's shift parameters (``log10_shift``, ``log10_shift_drug``,
  ``log10_shift_pooled``). Pooled rows read ``all`` in the pooled key: (all cell lines,
  one drug) and (all, all) are the model's population-level shifts; (one cell line, all
  drugs) is the mean of that cell line's per-drug log shifts.
* Absolute rows are computed per draw from ``log10_ic50_absolute`` of the treated curve
  and of its matched control curve. A draw where the treated curve never reaches half
  its top (+inf) is a shift of +inf (not sensitised); a draw where only the control never
  does is a shift of 0 (sensitised); a draw where neither does has no shift and counts as
  not sensitised (``p_sensitised`` and ``p_beyond_margin`` are therefore conservative).
  The median and 95% interval are blank, with a ``note``, when either curve's absolute
  IC50 is more likely than not beyond the tested range (the same rule that blanks it in
  summary.csv) or when the 95% interval is not finite (too many draws never reach half).
* There are no pooled absolute rows: the model has no population-level parameter for
  absolute IC50s, and averaging per-curve log ratios that are infinite or undefined in
  some draws would give a number with no honest meaning.

Every shift row has ``p_extrapolated``: the larger of the two curves' P(IC50 beyond the
tested range) for that quantity; for a pooled row, the largest over the curves it pools.

**Diagnostics per row.** ``summary.csv`` has ``rhat``, ``ess_bulk`` and ``ess_tail`` of
the row's own quantity (rank-normalised split R-hat, bulk and tail ESS of
``log10_ic50`` or ``log10_ic50_absolute``; an IC50 never reached ranks above every finite
draw) and ``converged``: true when those pass (R-hat <= 1.01, ESS >= 400), every parameter
of the curve passed (its IC50, slope, bottom, experiment IC50s, plates' tops) and every
population parameter passed. ``shifts.csv`` has the same for the shift parameter of a
curve, drug-pooled or pooled row, and ``converged`` on every row: its own figures, the
population, and for a row of one comparison (relative or absolute) or a cell line's mean
over drugs, every curve it rests on (treated and control). A pooled row is a population
parameter: it stands on its own figures. A row is never called converged on figures it does
not have: a run saved before per-element diagnostics existed, or a table made without the
fit's diagnostics, leaves the figures blank and reads ``converged`` False.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from xarray import DataTree

CI_PROB = 0.95
QUANTILES = (0.025, 0.5, 0.975)
ALL = "all"
RELATIVE, ABSOLUTE = "ic50_relative", "ic50_absolute"
VARIABLE = {RELATIVE: "log10_ic50", ABSOLUTE: "log10_ic50_absolute"}
SHIFT_COLUMNS = ["quantity", "treatment", "control", "median", "q2.5", "q97.5", "p_sensitised",
                 "p_beyond_margin", "margin", "p_extrapolated", "level", "note"]
DIAGNOSTIC_COLUMNS = ["rhat", "ess_bulk", "ess_tail", "converged"]
MAX_RHAT, MIN_ESS = 1.01, 400  # the thresholds of chemoshift.inference.diagnostics


class RowDiagnostics:
    """Per-element figures of the fit's diagnostics (the run record's ``diagnostics``), read
    for the tables: which curves failed, whether the population passed, each reported
    variable's R-hat and ESS by element."""

    def __init__(self, diagnostics: Mapping | None, curve_labels: list[str]):
        self.known = diagnostics is not None  # without the fit's diagnostics: blank
        diagnostics = diagnostics or {}
        self.elements = diagnostics.get("elements") or {}
        self.population = bool(diagnostics.get("population_passed",
                                               diagnostics.get("passed", False)))
        failed = set(diagnostics.get("unit_failures") or {})
        self.curve_ok = np.array([label not in failed for label in curve_labels], bool)

    def figures(self, name: str, index) -> dict:
        """rhat, ess_bulk, ess_tail of element(s) ``index`` of ``name`` (flat), NaN unknown."""
        found = self.elements.get(name)
        if not found:
            return dict.fromkeys(("rhat", "ess_bulk", "ess_tail"), np.nan)
        return {key: np.asarray(found[key], dtype=float)[index]
                for key in ("rhat", "ess_bulk", "ess_tail")}

    def curve_rows(self, figures: dict) -> np.ndarray:
        """``converged`` of one row per curve (curve order): own figures (which must exist),
        curve, population (False throughout without the fit's diagnostics)."""
        if not self.known:
            return np.zeros(len(self.curve_ok), bool)
        measured = np.isfinite(np.asarray(figures["rhat"], dtype=float))
        return _passes(figures) & measured & self.curve_ok & self.population

    def row(self, figures: dict, curves: np.ndarray) -> bool:
        """``converged`` of a row resting on ``curves``: the worst of its own figures, every
        one of those curves, the population (False without the fit's diagnostics)."""
        if not self.known:
            return False
        return bool(_passes(_worst(figures)) and self.curve_ok[np.asarray(curves, int)].all()
                    and self.population)


def _passes(figures: dict) -> np.ndarray:
    """Figures meet the thresholds; an unknown (NaN) figure passes: the curve and the
    population decide then."""
    return (~(np.asarray(figures["rhat"]) > MAX_RHAT) & ~(np.asarray(figures["ess_bulk"]) < MIN_ESS)
            & ~(np.asarray(figures["ess_tail"]) < MIN_ESS))


def _worst(figures: dict) -> dict:
    """The worst of several elements' figures: largest R-hat, smallest ESS (NaN if none)."""
    out = {}
    for key, values in figures.items():
        values = np.atleast_1d(np.asarray(values, dtype=float))
        finite = values[np.isfinite(values)]
        out[key] = np.nan if not finite.size else float(
            finite.max() if key == "rhat" else finite.min())
    return out


def draws(datatree: DataTree, name: str) -> np.ndarray:
    """Posterior draws of a variable with chain and draw stacked first: (sample, ...)."""
    values = datatree["posterior"][name].values
    return values.reshape(-1, *values.shape[2:])


def curve_units(curves: pd.DataFrame, unit: str) -> np.ndarray:
    """Each curve's concentration unit: curves.csv's ``unit`` column, else ``unit``."""
    if "unit" not in curves.columns:
        return np.full(len(curves), unit, dtype=object)
    own = curves["unit"].astype(str).str.strip()
    return np.where(own.isin(["", "nan"]), unit, own).astype(object)


def tested_range(curves: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """log10 of each curve's lowest and highest tested (non-zero) concentration."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.log10(curves.min_concentration.to_numpy(dtype=float)),
                np.log10(curves.max_concentration.to_numpy(dtype=float)))


def beyond_range(log10_values: np.ndarray, low: np.ndarray, high: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """P(below) and P(above) the tested range per curve; draws (sample, curve).
    +inf (never reaches half) and NaN count as above."""
    below = np.mean(log10_values < low, axis=0)
    above = np.mean(~(log10_values <= high), axis=0)
    return below, above


def summary_table(datatree: DataTree, curves: pd.DataFrame, keys: list[str],
                  unit: str, diagnostics: Mapping | None = None) -> pd.DataFrame:
    """IC50 table: one row per curve and quantity (see module docstring).

    Parameters
    ----------
    datatree : posterior with ``log10_ic50`` and ``log10_ic50_absolute`` (chain, draw, curve).
    curves : one row per curve, in the model's curve order, with the key columns and
        ``min_concentration`` / ``max_concentration`` (in the curve's unit); an optional
        ``unit`` column gives each curve its own unit.
    keys : the key columns to keep (those the input file had).
    unit : the unit of curves without a ``unit`` of their own.
    diagnostics : the run record's ``diagnostics`` (per-element figures, failed curves).
    """
    low, high = tested_range(curves)
    units = curve_units(curves, unit)
    rows = _row_diagnostics(datatree, diagnostics)
    everyone = np.arange(len(curves))
    frames = []
    for quantity, name in VARIABLE.items():
        frame = curves[keys].reset_index(drop=True).copy() if keys else pd.DataFrame(
            index=range(len(curves)))
        frame["quantity"] = quantity
        ic50 = _ic50_columns(draws(datatree, name), low, high, blank_beyond=quantity == ABSOLUTE)
        frame = pd.concat([frame, ic50], axis=1)
        frame.insert(frame.columns.get_loc("p_beyond_range"), "unit", units)
        figures = rows.figures(name, everyone)
        frame = frame.assign(**figures, converged=rows.curve_rows(figures))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def unconverged_curves(datatree: DataTree, diagnostics: Mapping | None) -> list[int]:
    """Indices (curve order) of the curves whose own parameters did not converge."""
    return [int(c) for c in np.flatnonzero(~_row_diagnostics(datatree, diagnostics).curve_ok)]


def _row_diagnostics(datatree: DataTree, diagnostics: Mapping | None) -> RowDiagnostics:
    labels = [str(c) for c in datatree["posterior"]["log10_ic50"].coords["curve"].values]
    return RowDiagnostics(diagnostics, labels)


def _ic50_columns(log10_values: np.ndarray, low: np.ndarray, high: np.ndarray, *,
                  blank_beyond: bool) -> pd.DataFrame:
    """Per-curve columns from (sample, curve) draws of a log10 IC50; vectorised over curves."""
    below, above = beyond_range(log10_values, low, high)
    beyond = below + above
    q_low, median, q_high = np.quantile(log10_values, QUANTILES, method="inverted_cdf", axis=0)
    hdi_low, hdi_high = _hdi(log10_values)
    side = np.where(above >= below, "above", "below")
    prefix = "" if blank_beyond else "extrapolated: "
    note = np.where(beyond > 0.5, np.char.add(f"{prefix}beyond tested range (",
                                              np.char.add(side, ")")), "")
    with np.errstate(over="ignore"):
        numbers = pd.DataFrame({"median": 10**median, "q2.5": 10**q_low, "q97.5": 10**q_high,
                                "hdi_low": 10**hdi_low, "hdi_high": 10**hdi_high})
    blank = ~np.isfinite(median) | ((beyond > 0.5) if blank_beyond else False)
    numbers[blank] = np.nan
    note = np.where(blank & (note == ""), "no finite median", note)
    with np.errstate(over="ignore"):
        return numbers.assign(p_beyond_range=beyond, p_below_range=below, p_above_range=above,
                              min_tested=10**low, max_tested=10**high, log10_median=median,
                              note=note)


def _hdi(values: np.ndarray, prob: float = CI_PROB) -> tuple[np.ndarray, np.ndarray]:
    """Narrowest interval holding ``prob`` of the draws (one mode assumed), per column of
    (sample, curve) draws; NaN where any draw is not finite."""
    ordered = np.sort(values, axis=0)
    n = len(ordered)
    n_inside = int(np.ceil(prob * n))
    with np.errstate(invalid="ignore"):
        widths = ordered[n_inside - 1:] - ordered[: n - n_inside + 1]
    start = np.argmin(np.nan_to_num(widths, nan=np.inf), axis=0)
    columns = np.arange(ordered.shape[1])
    finite = np.isfinite(values).all(axis=0)
    return (np.where(finite, ordered[start, columns], np.nan),
            np.where(finite, ordered[start + n_inside - 1, columns], np.nan))


ONE_EXPERIMENT = ("one experiment: the interval carries the prior's experiment-to-experiment "
                  "variation, not a measured one")


SENSITIVITY_THRESHOLD = 0.10  # a 95% width moved by more than 10% at half or twice a scale
SENSITIVITY_GROUP = "prior_sensitivity_"  # DataTree groups of the refits' shift draws


def _log_width(row: dict) -> float:
    """A row's 95% width on the log10 scale (NaN where an end is not a positive number)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(row["q97.5"]) - np.log10(row["q2.5"]))


def _prior_sensitive(datatree: DataTree, curves: pd.DataFrame, keys: list[str],
                     margin: float, rows: list[dict]) -> list[bool]:
    """Whether each row's 95% width moves by more than ``SENSITIVITY_THRESHOLD`` in any
    refit stored in the DataTree (``prior_sensitivity_*`` groups: the refits' posterior
    draws of the shift variables, the rows built from them as from the fit's)."""
    refits = [name for name in datatree.children if name.startswith(SENSITIVITY_GROUP)]
    flags = [False] * len(rows)
    for name in refits:
        moved = shifts_table(DataTree.from_dict({"posterior": datatree[name].to_dataset()}),
                             curves, keys, margin).to_dict("records")
        for i, (row, other) in enumerate(zip(rows, moved, strict=True)):
            own, theirs = _log_width(row), _log_width(other)
            if np.isfinite(own) and np.isfinite(theirs) and own > 0:
                flags[i] = flags[i] or abs(theirs / own - 1) > SENSITIVITY_THRESHOLD
    return flags


def shifts_table(datatree: DataTree, curves: pd.DataFrame, keys: list[str],
                 margin: float, diagnostics: Mapping | None = None,
                 experiments: int | None = None) -> pd.DataFrame:
    """Fold-shift table: relative rows (per comparison, per drug, per cell line, pooled),
    then absolute rows (per comparison); see the module docstring.

    Parameters
    ----------
    curves : curves.csv in the model's curve order; treated rows (non-empty ``control``)
        are the comparisons, in order.
    margin : practical fold change; ``p_beyond_margin`` = P(shift < 1 / margin).
    diagnostics : the run record's ``diagnostics`` (per-element figures, failed curves).
    experiments : independent experiments in the data; with one, every row's ``note``
        says that its interval carries the prior's experiment variation
        (:data:`ONE_EXPERIMENT`).
    ``prior_sensitive``: the row's 95% width moved by more than 10% in a refit at half or
    twice the scales fixed below ten values (the DataTree's ``prior_sensitivity_*``
    groups, written by ``chemoshift.dose_response``); False where there were none.
    """
    posterior = datatree["posterior"]
    curve_keys = [k for k in keys if k != "treatment"]
    columns = [*curve_keys, *SHIFT_COLUMNS, *DIAGNOSTIC_COLUMNS, "prior_sensitive"]
    if "log10_shift" not in posterior:
        return pd.DataFrame(columns=columns)
    checks = _row_diagnostics(datatree, diagnostics)
    curves = curves.reset_index(drop=True)
    treated = curves[curves.control != ""]
    control_curve = _control_curves(curves, treated)
    low, high = tested_range(curves)
    beyond = {q: sum(beyond_range(draws(datatree, v), low, high)) for q, v in VARIABLE.items()}
    rel_beyond = beyond[RELATIVE]

    def involved(rows: pd.Index) -> np.ndarray:  # curve rows of treated, and their controls
        controls = control_curve[treated.index.get_indexer(rows)]
        return np.r_[rows.to_numpy(), controls[controls >= 0]]

    def extrapolated(rows: pd.Index) -> float:
        return float(rel_beyond[involved(rows)].max())

    def diagnosed(row: dict, name: str, index, rows: pd.Index | None, own: bool = True
                  ) -> dict:
        """The row with its parameter's figures (``own``; else blank: a row derived from
        per-curve shifts) and ``converged``, which also asks every curve of ``rows`` (and
        their controls); a population parameter's row (``rows`` None) stands on its own."""
        figures = checks.figures(name, index)
        shown = _worst(figures) if own else dict.fromkeys(figures, np.nan)
        curves = involved(rows) if rows is not None else np.zeros(0, int)
        return row | shown | {"converged": checks.row(figures, curves)}

    per_comparison = draws(datatree, "log10_shift")
    rows = []
    for i, (c, row) in enumerate(treated.iterrows()):
        rows.append(diagnosed(_shift_row({k: row[k] for k in curve_keys}, RELATIVE,
                                         row.treatment, row.control, "curve",
                                         per_comparison[:, i], margin,
                                         extrapolated(pd.Index([c]))),
                              "log10_shift", i, pd.Index([c])))
    control_of = dict(zip(treated.treatment, treated.control, strict=False))
    pooled_keys = {"cell_line", "drug"} <= set(curve_keys)
    if pooled_keys and treated.cell_line.nunique() > 1 and "log10_shift_drug" in posterior:
        by_drug = posterior["log10_shift_drug"]
        treated_levels = list(by_drug.coords["treated"].values)
        drugs = list(by_drug.coords["drug"].values)
        values = draws(datatree, "log10_shift_drug")
        for t, treatment in enumerate(treated_levels):
            for d, drug in enumerate(drugs):
                pooled = treated.index[(treated.treatment == treatment) & (treated.drug == drug)]
                if len(pooled):
                    rows.append(diagnosed(_shift_row(
                        _keys(curve_keys, ALL, drug), RELATIVE, treatment, control_of[treatment],
                        "drug, pooled over cell lines", values[:, t, d], margin,
                        extrapolated(pooled)), "log10_shift_drug", t * len(drugs) + d, None))
    if pooled_keys and treated.drug.nunique() > 1:
        position = pd.Series(np.arange(len(treated)), index=treated.index)
        for (line, treatment), group in treated.groupby(["cell_line", "treatment"], sort=False):
            mean_shift = per_comparison[:, position[group.index]].mean(axis=1)
            rows.append(diagnosed(_shift_row(
                _keys(curve_keys, line, ALL), RELATIVE, treatment, control_of[treatment],
                "cell line, mean over drugs", mean_shift, margin, extrapolated(group.index)),
                "log10_shift", position[group.index].to_numpy(), group.index, own=False))
    if "log10_shift_pooled" in posterior:
        pooled_draws = draws(datatree, "log10_shift_pooled")
        levels = list(posterior["log10_shift_pooled"].coords["treated"].values)
        for t, treatment in enumerate(levels):
            pooled = treated.index[treated.treatment == treatment]
            if len(pooled):
                rows.append(diagnosed(_shift_row(
                    _keys(curve_keys, ALL, ALL), RELATIVE, treatment, control_of[treatment],
                    "pooled over drugs and cell lines", pooled_draws[:, t], margin,
                    extrapolated(pooled)), "log10_shift_pooled", t, None))
    absolute = draws(datatree, VARIABLE[ABSOLUTE])
    for c, row in treated.iterrows():
        k = control_curve[treated.index.get_loc(c)]
        if k < 0:
            continue
        p_beyond = max(float(beyond[ABSOLUTE][c]), float(beyond[ABSOLUTE][k]))
        both = np.array([c, k])
        figures = checks.figures(VARIABLE[ABSOLUTE], both)
        rows.append(_absolute_shift_row({k_: row[k_] for k_ in curve_keys}, row, absolute[:, c],
                                        absolute[:, k], margin, p_beyond)
                    | dict.fromkeys(figures, np.nan)
                    | {"converged": checks.row(figures, both)})
    flags = _prior_sensitive(datatree, curves, keys, margin, rows)
    for row, flag in zip(rows, flags, strict=True):
        row["prior_sensitive"] = flag
    if experiments == 1:
        for row in rows:
            row["note"] = "; ".join(n for n in (row.get("note", ""), ONE_EXPERIMENT) if n)
    return pd.DataFrame(rows, columns=[*columns, "log10_median", "log10_q2_5", "log10_q97_5"])


def _control_curves(curves: pd.DataFrame, treated: pd.DataFrame) -> np.ndarray:
    """Row of each treated curve's matched control curve (same keys but treatment), -1 if none."""
    match = [k for k in curves.columns if k in ("cell_line", "drug", "experiment")]
    index = {(*(r[k] for k in match), r["treatment"]): i for i, r in curves.iterrows()}
    return np.array([index.get((*(r[k] for k in match), r["control"]), -1)
                     for _, r in treated.iterrows()], dtype=int)


def _keys(curve_keys: list[str], cell_line: str, drug: str) -> dict:
    return {k: {"cell_line": cell_line, "drug": drug}.get(k, ALL) for k in curve_keys}


def _shift_row(keys: dict, quantity: str, treatment: str, control: str, level: str,
               log10_shift: np.ndarray, margin: float, p_extrapolated: float) -> dict:
    q_low, median, q_high = np.quantile(log10_shift, QUANTILES)
    note = "extrapolated: an IC50 likely beyond the tested range" if p_extrapolated > 0.5 else ""
    return keys | dict(
        quantity=quantity, treatment=treatment, control=control, median=10**median,
        **{"q2.5": 10**q_low, "q97.5": 10**q_high},
        p_sensitised=float(np.mean(log10_shift < 0)),
        p_beyond_margin=float(np.mean(log10_shift < -np.log10(margin))),
        margin=margin, p_extrapolated=p_extrapolated, level=level, note=note,
        log10_median=median, log10_q2_5=q_low, log10_q97_5=q_high,
    )


def _absolute_shift_row(keys: dict, curve: pd.Series, treated: np.ndarray, control: np.ndarray,
                        margin: float, p_extrapolated: float) -> dict:
    """Shift of the absolute IC50 from the two curves' draws (+inf = never reaches half)."""
    with np.errstate(invalid="ignore"):
        log10_shift = treated - control  # inf - inf = NaN: no shift in that draw
    defined = ~np.isnan(log10_shift)
    p_sensitised = float(np.mean(log10_shift < 0))  # NaN compares False: conservative
    p_margin = float(np.mean(log10_shift < -np.log10(margin)))
    # Undefined draws rank with +inf (as p_sensitised counts them: not sensitised); any
    # infinite quantile blanks the row below.
    ranked = np.where(defined, log10_shift, np.inf)
    q_low, median, q_high = np.quantile(ranked, QUANTILES, method="inverted_cdf")
    note = ""
    if p_extrapolated > 0.5:
        note = "beyond tested range: an absolute IC50 is more likely than not outside it"
    elif not np.isfinite([q_low, median, q_high]).all():
        note = (f"interval not finite: an absolute IC50 is never reached in "
                f"{np.mean(~np.isfinite(log10_shift)):.0%} of draws")
    with np.errstate(over="ignore"):
        values = dict(median=10**median, **{"q2.5": 10**q_low, "q97.5": 10**q_high})
    if note:
        values = dict.fromkeys(values, np.nan)
        q_low = median = q_high = np.nan
    return keys | dict(
        quantity=ABSOLUTE, treatment=curve.treatment, control=curve.control, **values,
        p_sensitised=p_sensitised, p_beyond_margin=p_margin, margin=margin,
        p_extrapolated=p_extrapolated, level="curve", note=note,
        log10_median=median, log10_q2_5=q_low, log10_q97_5=q_high,
    )
