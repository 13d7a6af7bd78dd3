"""Dose-response claims: ``ic50_shift`` (a shifts.csv row beside a classical test) and
``shift_agreement`` (two treatments' shift draws from posterior.nc).

- ``ic50_shift``: relative IC50 fold shift treated / control (< 1 sensitises). Classical:
  least-squares 4PL IC50 per curve and experiment
  (:func:`chemoshift.reports.classical.fit_curves`), tested on the unit of replication,
  the experiment: one cell line x drug: paired t-test of treated vs control log10 IC50,
  paired by experiment (the experiments where both curves were fitted); a pooled row
  (``all``): the log10 shifts averaged within each experiment over the cell lines x drugs
  in scope, then a one-sample t-test of those experiment means across experiments (the
  cell line x drug rows of one experiment share its cells, plates and day, so they are
  not independent replicates). Fewer than 2 experiments: p NaN and ``classical_test``
  says so.
- ``shift_agreement``: estimate = fold ratio shift_A / shift_B, probability =
  P(|log10 ratio| < log10 factor), from :func:`shift_draws`.

Each evaluator takes the claim dict and its :class:`~chemoshift.reports.study.claims_run.Run`
and returns the claims.csv fields it knows; :mod:`chemoshift.reports.study.claims` adds the rest.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from xarray import DataTree

from chemoshift.reports.classical import fit_curves
from chemoshift.reports.dose_response.inputs import read_curves, read_wells
from chemoshift.reports.dose_response.tables import ALL, RELATIVE, draws
from chemoshift.reports.study.claims_run import (
    NotEvaluable,
    Run,
    interval,
    joint_probability,
    number,
    one_row,
)


def ic50_shift(claim: dict, run: Run) -> dict:
    """An ``ic50_shift`` claim: its shifts.csv ``ic50_relative`` row and the classical test."""
    treatment = str(claim["treatment"])
    cell_line, drug = str(claim.get("cell_line", ALL)), str(claim.get("drug", ALL))
    shifts = run.table("shifts.csv", ("quantity", "treatment", "median", "p_sensitised",
                                      "p_beyond_margin"))
    row = one_row(shifts[shifts.quantity == RELATIVE], "shifts.csv (ic50_relative)",
                  {"treatment": treatment, "cell_line": cell_line, "drug": drug})
    margin = number(row.get("margin"))
    p_value, test, note = _classical_shift(run, treatment, cell_line, drug)
    control = row.get("control", "")
    joint = _every_shift(claim, run, treatment, cell_line, drug, margin)
    extrapolated = number(row.get("p_extrapolated"))
    caveats = ([f"rests on an IC50 extrapolated beyond the tested range (p_extrapolated = "
                f"{extrapolated:.2f})"] if extrapolated > 0.5 else [])
    if str(row.get("prior_sensitive", "")).lower() == "true":
        caveats.append("prior-sensitive: its interval moves by more than 10% when a scale "
                       "fixed for want of values is halved or doubled")
    return {**interval(row), "probability": number(row.p_sensitised),
            "row_converged": row_converged(row), "ess": number(row.get("ess_bulk")),
            "caveats": caveats,
            "p_margin": number(row.p_beyond_margin), "classical_p": p_value,
            "classical_test": test, "scale": "fold shift (IC50 treated / control)",
            "direction": "down",
            "detail": f"{cell_line} · {drug}: {treatment} vs {control} "
                      f"({row.get('level', '')}); probability = P(shift < 1), p_margin = "
                      f"P(shift < 1/{margin:g}); {note}"} | joint


def _every_shift(claim: dict, run: Run, treatment: str, cell_line: str, drug: str,
                 margin: float) -> dict:
    """For ``every = true``: the probability of the sentence "sensitises every named cell
    line to every named drug", P(every comparison's shift < 1) jointly over the draws (and
    p_margin = P(every shift < 1/margin)), in place of the pooled row's P(pooled shift < 1).
    Empty for a claim about one pooled quantity."""
    if not claim.get("every"):
        return {}
    curves = run.table("curves.csv", ("treatment", "control"))
    treated, mine = _comparisons(curves, treatment, cell_line, drug)
    posterior = run.posterior()["posterior"]
    if "log10_shift" not in posterior:
        raise NotEvaluable("posterior.nc has no log10_shift")
    shifts = posterior["log10_shift"].transpose("chain", "draw", ...).values[..., mine.to_numpy()]
    probability, mcse = joint_probability(shifts < 0)
    p_margin, _ = joint_probability(shifts < -np.log10(margin))
    names = [" · ".join(str(row[c]) for c in ("cell_line", "drug") if c in treated.columns)
             for _, row in treated[mine].iterrows()]
    return {"probability": probability, "mcse": mcse, "p_margin": p_margin,
            "detail": f"{cell_line} · {drug}: {treatment}; probability = P(every one of the "
                      f"{len(names)} shifts < 1) jointly over the draws ({'; '.join(names)}), "
                      f"p_margin = P(every shift < 1/{margin:g}); estimate and interval: "
                      "the pooled shift"}


def row_converged(row: pd.Series) -> bool | None:
    """A shifts.csv row's own ``converged`` (its curves, its shift, the population); None
    for a run written before rows carried one (the whole fit's verdict decides then)."""
    value = str(row.get("converged", "")).strip().lower()
    return {"true": True, "false": False}.get(value)


def _experiment_fits(run: Run) -> pd.DataFrame:
    """Least-squares log10 IC50 per curve and experiment (columns curve, experiment,
    log10_ic50, converged); shared vehicle wells join the fits of their top group."""
    if "experiment fits" not in run.cache:
        wells = read_wells(run.folder())
        experiment = (wells.experiment if "experiment" in wells.columns
                      else pd.Series("", index=wells.index))
        own = wells.curve >= 0
        pairs = (pd.DataFrame({"curve": wells.curve[own], "experiment": experiment[own]})
                 .drop_duplicates().sort_values(["curve", "experiment"], kind="stable")
                 .reset_index(drop=True))
        code = {(c, e): i for i, (c, e) in enumerate(zip(pairs.curve, pairs.experiment,
                                                         strict=True))}
        codes = [code[(c, e)] if c >= 0 else -1
                 for c, e in zip(wells.curve, experiment, strict=True)]
        fits = fit_curves(wells.assign(curve=codes))
        run.cache["experiment fits"] = pairs.join(
            fits.set_index("curve")[["log10_ic50", "converged"]], how="left")
    return run.cache["experiment fits"]


def _classical_shift(run: Run, treatment: str, cell_line: str, drug: str
                     ) -> tuple[float, str, str]:
    """(p-value, test name, note) of the classical IC50-shift test on the experiment (the
    unit of replication); p NaN with the reason in the test name (fewer than 2 experiments
    with both curves fitted) or, with an empty name, in the note (no inputs to test)."""
    try:
        for name in ("wells.csv", "curves.csv"):
            if not (run.folder() / name).is_file():
                raise NotEvaluable(f"the run has no {name}")
        curves = read_curves(run.folder())
        fits = _experiment_fits(run)
    except (NotEvaluable, OSError, ValueError, KeyError) as error:
        return np.nan, "", f"classical test not computed: {run.scrub(error)}"
    treated = curves[(curves.treatment == treatment) & (curves.control != "")]
    for column, value in (("cell_line", cell_line), ("drug", drug)):
        if value != ALL and column in curves.columns:
            treated = treated[treated[column] == value]
    good = fits[fits.converged.fillna(False).astype(bool)]
    log10_ic50 = {(c, e): v for c, e, v in zip(good.curve, good.experiment, good.log10_ic50,
                                                strict=True)}
    match = [k for k in ("cell_line", "drug") if k in curves.columns]
    index = {(*(r[k] for k in match), r.treatment): i for i, r in curves.iterrows()}
    pairs = [(c, index.get((*(row[k] for k in match), row.control)))
             for c, row in treated.iterrows()]
    by_experiment = _paired_by_experiment(log10_ic50, pairs, sorted(set(fits.experiment)))
    failed = int((~fits.converged.fillna(False).astype(bool)).sum())
    lost = f"; {failed} curve-experiment fit(s) of the run failed" if failed else ""
    n = len(by_experiment)
    if cell_line == ALL or drug == ALL:
        test = (f"one-sample t-test across experiments of the per-experiment mean log10 IC50 "
                f"shift treated - control (averaged over the {len(pairs)} cell line x drug "
                "comparison(s) in scope; least-squares 4PL)")
        shifts = [float(np.mean([t - c for t, c in values])) for values in by_experiment]
        said = (f"classical: {n} experiment(s), {sum(map(len, by_experiment))} paired shifts "
                f"averaged within experiment{lost}")
        p = _t_test(stats.ttest_1samp, shifts, 0.0) if n >= 2 else np.nan
    else:
        test = ("paired t-test of treated vs control log10 IC50, paired by experiment "
                "(least-squares 4PL per curve and experiment)")
        treated_values = [float(np.mean([t for t, _ in values])) for values in by_experiment]
        control_values = [float(np.mean([c for _, c in values])) for values in by_experiment]
        said = f"classical: {n} experiment(s) with both curves fitted{lost}"
        p = (_t_test(stats.ttest_rel, treated_values, control_values) if n >= 2 else np.nan)
    if n < 2:
        test += (f"; not computed: fewer than 2 experiments with both curves fitted "
                 f"({n})")
    return p, test, said


def _paired_by_experiment(log10_ic50: dict, pairs: list[tuple[int, int | None]],
                          experiments: list[str]) -> list[list[tuple[float, float]]]:
    """Per experiment (in order; those with no pair fitted left out), the (treated,
    control) log10 IC50 of every comparison in ``pairs`` (treated, control curve codes)
    whose two curves were both fitted in that experiment."""
    out = []
    for e in experiments:
        both = [(log10_ic50[(t, e)], log10_ic50[(c, e)]) for t, c in pairs
                if (t, e) in log10_ic50 and (c, e) in log10_ic50]
        if both:
            out.append(both)
    return out


def _t_test(test, *values) -> float:
    """A scipy t-test's two-sided p; NaN (not a warning) where the values have no
    variance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(test(*values).pvalue)


def shift_draws(datatree: DataTree, curves: pd.DataFrame, treatment: str, cell_line: str,
                drug: str) -> np.ndarray:
    """Posterior draws (sample,) of the log10 relative-IC50 shift of ``treatment`` vs its
    control, from the same variables and rules as shifts.csv's rows
    (:func:`chemoshift.reports.dose_response.tables.shifts_table`): one comparison
    (``log10_shift``), one drug over cell lines (``log10_shift_drug``), one cell line over
    drugs (the mean of its per-drug shifts), all (``log10_shift_pooled``).

    ``curves``: curves.csv as text, in the model's curve order.
    """
    posterior = datatree["posterior"]
    if "log10_shift" not in posterior:
        raise NotEvaluable("posterior.nc has no log10_shift")
    treated, mine = _comparisons(curves, treatment, cell_line, drug)
    over_lines = (cell_line == ALL and "cell_line" in treated.columns
                  and treated.cell_line.nunique() > 1)
    over_drugs = drug == ALL and "drug" in treated.columns and treated.drug.nunique() > 1
    if over_lines:
        name = "log10_shift_pooled" if over_drugs else "log10_shift_drug"
        if name not in posterior:
            raise NotEvaluable(f"posterior.nc has no {name}")
        where = {"treated": treatment}
        if not over_drugs:
            where["drug"] = treated.drug[mine].iloc[0]
        for dim, level in where.items():
            if level not in posterior[name].coords[dim].values:
                raise NotEvaluable(f"{name} of posterior.nc has no {dim} {level}")
        return posterior[name].sel(where).values.reshape(-1)
    return draws(datatree, "log10_shift")[:, mine.to_numpy()].mean(axis=1)


def _comparisons(curves: pd.DataFrame, treatment: str, cell_line: str, drug: str
                 ) -> tuple[pd.DataFrame, pd.Series]:
    """The treated curves (comparison order) and which of them a claim names."""
    treated = curves[curves.control != ""].reset_index(drop=True)
    mine = treated.treatment == treatment
    for column, value in (("cell_line", cell_line), ("drug", drug)):
        if value != ALL and column in treated.columns:
            mine &= treated[column] == value
    if not mine.any():
        raise NotEvaluable(f"no comparison of {treatment} in {cell_line} · {drug} in curves.csv")
    return treated, mine


def shift_agreement(claim: dict, run: Run) -> dict:
    """A ``shift_agreement`` claim: the fold ratio of two treatments' shifts, per draw."""
    first, second = (str(t) for t in claim["treatments"])
    cell_line, drug = str(claim.get("cell_line", ALL)), str(claim.get("drug", ALL))
    factor = float(claim["factor"])
    curves = run.table("curves.csv", ("treatment", "control"))
    datatree = run.posterior()
    log10_ratio = (shift_draws(datatree, curves, first, cell_line, drug)
                   - shift_draws(datatree, curves, second, cell_line, drug))
    low, median, high = 10 ** np.quantile(log10_ratio, (0.025, 0.5, 0.975))
    shifts = run.table("shifts.csv", ("quantity", "treatment"))
    rows = [one_row(shifts[shifts.quantity == RELATIVE], "shifts.csv (ic50_relative)",
                    {"treatment": t, "cell_line": cell_line, "drug": drug})
            for t in (first, second)]
    both = [row_converged(r) for r in rows]
    return {"estimate": median, "q2.5": low, "q97.5": high,
            "row_converged": None if None in both else all(both),
            "probability": float(np.mean(np.abs(log10_ratio) < np.log10(factor))),
            "scale": f"fold ratio (shift {first} / shift {second})", "direction": "within",
            "detail": f"{cell_line} · {drug}: probability = P(the two IC50 shifts within "
                      f"{factor:g}-fold of each other), {len(log10_ratio)} draws"}

