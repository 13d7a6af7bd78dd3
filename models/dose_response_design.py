"""The design behind a dose-response model: integer codes of each curve's levels, which
hierarchical terms the design can identify, and whether each term's scale can be learnt.

A scale is learnt only from enough independent values (``MIN_VALUES_DEFAULT``; fewer,
``MIN_VALUES_FOR_SCALE``, for levels each pinned by many wells of their own); below that
it is fixed at its prior value: a scale learnt from two values is a funnel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from chemoshift.data.dose_response import DoseResponseData

if TYPE_CHECKING:  # the priors module imports this one
    from chemoshift.models.dose_response import DoseResponsePriors

MIN_VEHICLE_WELLS = 3  # vehicle wells that pin a plate's top
# A curve "shows its bottom" when, at its two highest doses, the mean reading has fallen by
# at least BOTTOM_EFFECT of its top and levelled off (the two within BOTTOM_PLATEAU of the
# top). Where its data pin the bottom more tightly than bottoms spread between curves, the
# centred form mixes better (issue 8's geometry benchmark: 7-25x where bottoms vary);
# elsewhere (a curve that never gets there, or bottoms that are all alike) the
# non-centred form avoids the funnel: see _bottoms_pinned.
BOTTOM_EFFECT = 0.25
BOTTOM_PLATEAU = 0.12
# ... and only when bottoms do spread: the moment estimate reads 0.06-0.22 (logit) on
# screens simulated with identical bottoms (fits of the last doses, outliers, tops that
# vary), 0.43-0.52 with a logit sd of 0.5. Centred bottoms with a scale near zero are a
# funnel (issue 8: 0.005 ESS a draw), so a smaller spread keeps the non-centred form.
MIN_BOTTOM_SPREAD = 0.3
# A curve "shows its slope" when at least SLOPE_POINTS of its doses read inside its
# transition (between SLOPE_RANGE of the way from its lowest dose mean to its top): the
# data then pin its Hill slope, and the centred form mixes better; a cliff between two
# doses (or a curve with no effect in range) pins it only from one side, and the
# non-centred form avoids the funnel. On a 216-curve screen with cliffs and bottoms that
# vary (benchmarks/real_screens.py) choosing both per curve cut leapfrog steps a draw from
# 172 (all non-centred) to 40.
SLOPE_POINTS = 2
SLOPE_RANGE = (0.15, 0.85)
# A curve "shows its IC50" when it loses at least BOTTOM_EFFECT of its top within the
# tested doses and its lowest dose still reads in the upper half of that fall: the doses
# bracket the inflection, and with MIN_WELLS_IN_VIEW wells its IC50 is pinned (centred).
# A drug with no effect in range (or a curve already at its bottom) leaves the IC50 to the
# prior above (below) the doses: non-centred, the centred form mixed at 0.02 ESS a draw.
MIN_WELLS_IN_VIEW = 6
# The steepest transition the doses resolve: from 10% to 90% of the effect over one dose
# step (log10 81 / hill = the transition's width in log10 dose). A curve that drops
# between two adjacent doses says only that its transition is narrower than the step.
SLOPE_RESOLUTION_STEPS = 1.0
TRANSITION_WIDTH = float(np.log10(81.0))  # log10 dose from 10% to 90% of the effect, x hill

MIN_VALUES_DEFAULT = 10  # fewer independent values: the scale is fixed, not learnt
# ... except where each value is pinned by many wells of its own: a curve in one
# experiment (~27 wells) pins its IC50, so six of them (two arms x three experiments)
# tell how far experiments disagree, and the shift's interval must follow them
MIN_VALUES_FOR_SCALE = {"experiment_curve": 6, "top_group": 6,
                        # how far drugs' and cell lines' shifts disagree: learnt from few
                        # values (non-centred, Gamma(2) prior), so the pooled shift widens
                        # when drugs disagree (a fixed scale held it at its prior width
                        # whatever the drugs said). Below four, two cell lines of one
                        # treatment whose truth is near zero diverged: fixed. The curves'
                        # own scale (curve_effect) learnt from fewer than ten diverged on
                        # the study (centred IC50s) or mixed at ESS 170 on real-shaped
                        # screens (non-centred): fixed there, and its prior's pull on every
                        # shift is measured instead (reports.dose_response_sensitivity)
                        "shift_drug": 2, "shift_cell_line": 4}
# each hierarchical term's scale (``{term}_sd`` in the model) -> its DoseResponsePriors field
TERM_PRIOR = {
    "cell_line_effect": "cell_line_sd", "cell_line_drug_effect": "cell_line_drug_sd",
    "control_effect": "control_sd", "shift_drug": "shift_drug_sd",
    "shift_cell_line": "shift_cell_line_sd", "curve_effect": "curve_sd",
    "experiment_shared": "experiment_shared_sd", "experiment_curve": "experiment_sd",
    "hill_curve": "hill_curve_sd", "hill_drug": "hill_drug_sd",
    "bottom_curve": "bottom_curve_sd",
    "top_group": "top_group_sd",
}


@dataclass(frozen=True)
class Design:
    """Integer codes of each curve's levels, and which terms the design can identify."""

    cell_line: np.ndarray  # (curve,) index into coords["cell_line"]
    drug: np.ndarray  # (curve,)
    control: np.ndarray  # (curve,) index into coords["control"]: the arm's control, or itself
    treated: np.ndarray  # (curve,) index into coords["treated"], n_treated for control arms
    sizes: dict[str, int]
    drug_centre: np.ndarray  # (drug,) middle of the tested log10 range
    comparisons: list[tuple[int, int]]  # (treated curve, its control curve)
    extra_coords: dict[str, list[str]]  # comparison, experiment, curve_experiment, wells
    ce_curve: np.ndarray  # (curve_experiment,) curve of each curve x experiment
    ce_experiment: np.ndarray  # (curve_experiment,) experiment of each
    dosed: pd.DataFrame  # dosed wells
    dosed_curve_experiment: np.ndarray  # (well,) index into curve_experiment
    vehicles: pd.DataFrame  # vehicle wells (own or shared)
    term_values: dict[str, int]  # term -> independent values that inform its scale
    top_pinned: np.ndarray  # (top_group,) enough vehicle wells pin the plate's top
    interaction_per_curve: bool  # one curve a cell line x drug: the interaction is the curve's
    top_fixed_sd: float | None  # tops alike (fractions): their scale, fixed (see _tops)
    median_wells_per_curve: float
    response_scale: float
    bottom_in_view: np.ndarray  # (curve,) the highest doses level off below the top
    bottom_pinned: np.ndarray  # (curve,) ... and pin the bottom beyond the curves' spread
    bottom_spread: float  # between-curve spread of bottoms within drugs (logit), estimated
    bottom_se: np.ndarray  # (curve,) standard error of a shown bottom (logit); inf elsewhere
    slope_in_view: np.ndarray  # (curve,) the data pin the curve's Hill slope (SLOPE_POINTS)
    drug_slope_in_view: np.ndarray  # (drug,) some curve of the drug pins its slope
    ic50_in_view: np.ndarray  # (curve,) the doses bracket the curve's IC50
    ic50_experiment_in_view: np.ndarray  # (curve_experiment,) ... in that experiment
    hill_max: np.ndarray  # (curve,) steepest Hill slope the curve's dose steps resolve

    def n(self, dim: str) -> int:
        return self.sizes[dim]

    def terms(self, priors: DoseResponsePriors) -> dict[str, tuple[bool, float]]:
        """Term -> (scale learnt?, prior scale or fixed sd), for the terms the design has."""
        terms = {name: (values >= MIN_VALUES_FOR_SCALE.get(name, MIN_VALUES_DEFAULT),
                        getattr(priors, TERM_PRIOR[name]))
                 for name, values in self.term_values.items() if values > 0}
        if self.n("experiment") == 1:
            # one experiment cannot measure how experiments disagree: the prior's variation
            # (fixed) joins each curve, so an IC50's and a shift's interval carry it
            for name in ("experiment_curve", "experiment_shared"):
                if name in terms:
                    terms[name] = (False, getattr(priors, TERM_PRIOR[name]))
        if "top_group" in terms and self.top_fixed_sd is not None:
            terms["top_group"] = (False, self.top_fixed_sd)  # tops alike: see _tops
        for name in set(priors.fixed_scales) & set(terms):  # fixed by the caller
            terms[name] = (False, getattr(priors, TERM_PRIOR[name]))
        return terms

    def curve_members(self) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
        """Which curve(s) each element of a curve-level quantity belongs to, by its dims:
        ``(element, curve)`` index pairs over the flattened elements. A comparison belongs
        to its two curves, a plate's top to every curve with wells on it, an experiment's
        shared move and a cell-line x drug effect to every arm of that cell line x drug."""
        n_curves = len(self.drug)
        n_drugs = self.n("drug")
        curves = np.arange(n_curves)
        members = {("curve",): (curves, curves),
                   ("curve_experiment",): (np.arange(len(self.ce_curve)), self.ce_curve)}
        if self.comparisons:
            treated, control = map(np.array, zip(*self.comparisons, strict=True))
            index = np.arange(len(treated))
            members[("comparison",)] = (np.r_[index, index], np.r_[treated, control])
        on_plate = self.dosed[["top_group", "curve"]].drop_duplicates()
        members[("top_group",)] = (on_plate.top_group.to_numpy(), on_plate.curve.to_numpy())
        line_drug = self.cell_line * n_drugs + self.drug  # (curve,) flat cell line x drug
        members[("cell_line", "drug")] = (line_drug, curves)
        cells = self.n("cell_line") * n_drugs
        members[("experiment", "cell_line", "drug")] = (
            np.concatenate([e * cells + line_drug for e in range(self.n("experiment"))]),
            np.tile(curves, self.n("experiment")))
        return members

    @classmethod
    def from_data(cls, data: DoseResponseData) -> Design:
        coords = data.coords
        curves = data.curves
        wells = data.wells
        code = {dim: {level: i for i, level in enumerate(coords[dim])} for dim in coords}
        own_control = curves.control.where(curves.control != "", curves.treatment)
        treated = curves.treatment.map(code["treated"]).fillna(len(coords["treated"]))
        log_range = np.log10(curves[["min_concentration", "max_concentration"]])
        drug_centre = log_range.mean(axis=1).groupby(curves.drug).mean()
        position = {tuple(k): i for i, k in enumerate(curves[["cell_line", "drug", "treatment"]]
                                                     .itertuples(index=False))}
        comparisons, names = [], []
        for i, row in curves.iterrows():
            if row.control:
                comparisons.append((i, position[(row.cell_line, row.drug, row.control)]))
                names.append(f"{row.cell_line} | {row.drug} | {row.treatment} vs {row.control}")
        codes = dict(
            cell_line=curves.cell_line.map(code["cell_line"]).to_numpy(),
            drug=curves.drug.map(code["drug"]).to_numpy(),
            control=own_control.map(code["control"]).to_numpy(),
            treated=treated.to_numpy(dtype=int),
        )
        sizes = {dim: len(levels) for dim, levels in coords.items()}

        experiment = (wells.experiment.astype(str) if "experiment" in wells
                      else pd.Series("1", wells.index))
        experiments = list(pd.unique(experiment))
        sizes["experiment"] = len(experiments)
        is_vehicle = (wells.well_type == "vehicle").to_numpy()
        dosed = wells[~is_vehicle].reset_index(drop=True)
        vehicles = wells[is_vehicle].reset_index(drop=True)
        dosed_experiment = experiment[~is_vehicle].map(
            {e: i for i, e in enumerate(experiments)}).to_numpy()
        pairs = pd.DataFrame({"curve": dosed.curve.to_numpy(), "experiment": dosed_experiment})
        ce = pairs.drop_duplicates().sort_values(["curve", "experiment"]).reset_index(drop=True)
        dosed_ce = pd.MultiIndex.from_frame(ce).get_indexer(pd.MultiIndex.from_frame(pairs))
        ce_names = [f"{coords['curve'][c]} | {experiments[e]}"
                    for c, e in zip(ce.curve, ce.experiment, strict=True)]
        per_curve = dosed.groupby("curve").size()

        n_lines, n_drugs = sizes["cell_line"], sizes["drug"]
        n_curves = len(curves)
        several_experiments = sizes["experiment"] > 1
        term_values = {
            "cell_line_effect": n_lines if n_lines > 1 else 0,
            "cell_line_drug_effect": (n_lines - 1) * (n_drugs - 1),
            "control_effect": sizes["control"] if sizes["control"] > 1 else 0,
            "shift_drug": sizes["treated"] * n_drugs if n_drugs > 1 else 0,
            "shift_cell_line": sizes["treated"] * n_lines if n_lines > 1 else 0,
            "curve_effect": n_curves - _fixed_rank(codes, sizes),
            "experiment_shared": (sizes["experiment"] * n_lines * n_drugs
                                  if (several_experiments or comparisons)
                                  and _arms_share(curves) else 0),
            "experiment_curve": len(ce) if several_experiments or comparisons else 0,
            "hill_curve": n_curves - n_drugs,
            "hill_drug": n_drugs if n_drugs >= MIN_VALUES_DEFAULT else 0,
            "bottom_curve": n_curves - n_drugs,
            "top_group": sizes["top_group"] if sizes["top_group"] > 1 else 0,
        }
        return cls(
            **codes, sizes=sizes,
            drug_centre=drug_centre.reindex(coords["drug"]).to_numpy(),
            comparisons=comparisons,
            interaction_per_curve=not _arms_share(curves),
            extra_coords={"comparison": names, "experiment": experiments,
                          "curve_experiment": ce_names,
                          "well": [str(i) for i in range(len(dosed))],
                          "vehicle_well": [str(i) for i in range(len(vehicles))]},
            ce_curve=ce.curve.to_numpy(), ce_experiment=ce.experiment.to_numpy(),
            dosed=dosed, dosed_curve_experiment=dosed_ce, vehicles=vehicles,
            term_values={k: int(max(v, 0)) for k, v in term_values.items()},
            **dict(zip(("top_pinned", "top_fixed_sd"), _tops(vehicles, sizes["top_group"]),
                       strict=True)),
            median_wells_per_curve=float(per_curve.median()),
            response_scale=max(data.response_scale, 1e-12),
            **dict(zip(("bottom_in_view", "bottom_pinned", "bottom_spread", "bottom_se"),
                       _bottoms_pinned(dosed, vehicles, codes["drug"], n_curves), strict=True)),
            slope_in_view=(slopes := _slopes_in_view(dosed, vehicles, n_curves)),
            drug_slope_in_view=np.bincount(codes["drug"], weights=slopes,
                                           minlength=n_drugs) > 0,
            ic50_in_view=_ic50s_in_view(dosed, vehicles, "curve", n_curves),
            ic50_experiment_in_view=_ic50s_in_view(
                dosed.assign(curve_experiment=dosed_ce), vehicles, "curve_experiment", len(ce)),
            hill_max=_hill_max(dosed, n_curves),
        )


def _dose_means(dosed: pd.DataFrame, vehicles: pd.DataFrame, key: str = "curve"
                ) -> tuple[pd.Series, pd.Series]:
    """Mean reading per ``key`` (curve, or curve x experiment) and dose (ascending doses),
    and each one's top: the mean vehicle reading of its plates, without vehicle wells its
    highest dose mean."""
    by_dose = dosed.groupby([key, "log10_concentration"]).response.mean()
    by_dose.index = by_dose.index.set_names(["curve", "log10_concentration"])
    vehicle_top = vehicles.groupby("top_group").response.mean()
    groups = dosed[[key, "top_group"]].drop_duplicates()
    top = (groups.assign(top=groups.top_group.map(vehicle_top)).groupby(key).top.mean()
           .fillna(by_dose.groupby(level="curve").max()))
    return by_dose, top


def _ic50s_in_view(dosed: pd.DataFrame, vehicles: pd.DataFrame, key: str, n: int
                   ) -> np.ndarray:
    """Whether the doses bracket each ``key``'s IC50: it falls by at least
    ``BOTTOM_EFFECT`` of its top within them, its lowest dose still reads in the upper half
    of that fall, and it has ``MIN_WELLS_IN_VIEW`` dosed wells. (n,) bool."""
    by_dose, top = _dose_means(dosed, vehicles, key)
    lowest = by_dose.groupby(level="curve").min()
    first = by_dose.groupby(level="curve").first()
    top = top.reindex(lowest.index)
    span = top - lowest
    wells = dosed.groupby(key).size().reindex(lowest.index)
    shown = ((span >= BOTTOM_EFFECT * top.abs()) & (first >= lowest + 0.5 * span)
             & (wells >= MIN_WELLS_IN_VIEW))
    return shown.reindex(range(n), fill_value=False).to_numpy(dtype=bool)


def _slopes_in_view(dosed: pd.DataFrame, vehicles: pd.DataFrame, n_curves: int) -> np.ndarray:
    """Whether each curve's data show its slope: it falls by at least ``BOTTOM_EFFECT`` of
    its top (a flat curve's noise is no transition) and at least ``SLOPE_POINTS`` dose means
    lie inside ``SLOPE_RANGE`` of the way from its lowest dose mean up to its top. (curve,)."""
    by_dose, top = _dose_means(dosed, vehicles)
    lowest = by_dose.groupby(level="curve").min()
    curve = by_dose.index.get_level_values("curve")
    span = (top - lowest).reindex(curve).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = (by_dose.to_numpy() - lowest.reindex(curve).to_numpy()) / span
    effect = span >= BOTTOM_EFFECT * np.abs(top.reindex(curve).to_numpy())  # not flat
    inside = pd.Series((fraction > SLOPE_RANGE[0]) & (fraction < SLOPE_RANGE[1]) & effect,
                       index=curve)
    shown = inside.groupby(level=0).sum() >= SLOPE_POINTS
    return shown.reindex(range(n_curves), fill_value=False).to_numpy(dtype=bool)


def _bottoms_pinned(dosed: pd.DataFrame, vehicles: pd.DataFrame, drug: np.ndarray,
                    n_curves: int) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Which curves show their bottom, which of those pin it against the spread of bottoms
    between curves, that spread (logit scale, a method-of-moments estimate), and each
    shown bottom's standard error (logit; inf where not shown or not estimable).

    A curve shows its bottom when, at its two highest doses, the mean reading is at least
    ``BOTTOM_EFFECT`` below its top and the two agree within ``BOTTOM_PLATEAU`` of the top.
    Its bottom's standard error there (replicate noise over the wells, on the logit scale)
    is set against the spread of those curves' empirical bottoms within drugs beyond what
    the noise explains: the centred form pays where the curve's own data say more than the
    spread does (se < spread); where bottoms are alike (spread < ``MIN_BOTTOM_SPREAD``)
    every curve keeps the non-centred form (centred, a scale near zero is a funnel).
    """
    by_dose, top = _dose_means(dosed, vehicles)
    highest = by_dose.groupby(level="curve").tail(2)  # ascending doses: the last two
    last = highest.groupby(level="curve").last()
    before = highest.groupby(level="curve").first()
    levels = highest.groupby(level="curve").size()
    scale = top.reindex(last.index).abs().where(lambda t: t > 0)
    in_view = ((levels >= 2) & (last <= (1 - BOTTOM_EFFECT) * scale)
               & ((last - before).abs() <= BOTTOM_PLATEAU * scale))
    shown = in_view.index[in_view.to_numpy()]
    in_view = in_view.reindex(range(n_curves), fill_value=False).to_numpy(dtype=bool)
    unknown = np.full(n_curves, np.inf)
    if len(shown) < 3:
        return in_view, np.zeros(n_curves, bool), 0.0, unknown
    wells = dosed.set_index(["curve", "log10_concentration"]).response
    wells = wells[wells.index.isin(highest.index) & wells.index.get_level_values(0).isin(shown)]
    curve = wells.index.get_level_values(0)
    fraction = wells / scale.reindex(curve).to_numpy()
    within = fraction - fraction.groupby(level=[0, 1]).transform("mean")
    dof = int((fraction.groupby(level=[0, 1]).size() - 1).sum())
    noise = (float(np.sqrt((within**2).sum() / dof)) if dof >= 5 else
             float(((last - before).abs() / scale)[shown].median()))
    plateau = fraction.groupby(level=0).mean().clip(0.02, 0.98)
    logit = np.log(plateau / (1 - plateau))
    se = noise / np.sqrt(fraction.groupby(level=0).size()) / (plateau * (1 - plateau))
    by_drug = pd.Series(drug[logit.index], index=logit.index)
    deviation = logit - logit.groupby(by_drug).transform("mean")
    between_dof = int((by_drug.value_counts() - 1).sum())
    se_by_curve = se.reindex(range(n_curves), fill_value=np.inf).to_numpy(dtype=float)
    if between_dof < 3:
        return in_view, np.zeros(n_curves, bool), 0.0, se_by_curve
    spread = float(np.sqrt(max(0.0, (deviation**2).sum() / between_dof - (se**2).mean())))
    pinned = ((se < spread) & (spread >= MIN_BOTTOM_SPREAD)).reindex(range(n_curves),
                                                                   fill_value=False)
    return in_view, pinned.to_numpy(dtype=bool), spread, se_by_curve


def _hill_max(dosed: pd.DataFrame, n_curves: int) -> np.ndarray:
    """The steepest Hill slope each curve's doses resolve: a 10-90% transition as wide as
    ``SLOPE_RESOLUTION_STEPS`` median log10 steps between its doses. (curve,)."""
    doses = dosed[["curve", "log10_concentration"]].drop_duplicates().sort_values(
        ["curve", "log10_concentration"])
    step = doses.groupby("curve").log10_concentration.diff().groupby(doses.curve).median()
    step = step.reindex(range(n_curves)).fillna(1.0).clip(lower=0.05)
    return (TRANSITION_WIDTH / (SLOPE_RESOLUTION_STEPS * step)).to_numpy(dtype=float)


def _tops(vehicles: pd.DataFrame, n_groups: int) -> tuple[np.ndarray, float | None]:
    """How the plates' (top groups') tops are written, from their vehicle wells.

    Returns which plates are pinned (written centred: ``MIN_VEHICLE_WELLS`` vehicle wells
    or more) and, where the tops are alike, the scale to fix instead of learning one: the
    spread of the plates' log vehicle means beyond what their standard errors explain (a
    method-of-moments estimate) is then below twice the median standard error. Viability
    fractions (each plate divided by its own vehicle mean) are the case: a scale learnt
    near zero from plates each pinned by its wells is a funnel centred and a hyperbolic
    ridge non-centred (a 216-curve screen of fractions mixed its tops at 0.03 ESS a draw),
    so the scale is fixed there at the median standard error (a plate then moves by about
    what its wells cannot tell apart). A plate with too few vehicle wells learns its top
    through its curves' shapes: non-centred. ((top_group,), fixed scale or None).
    """
    positive = vehicles[vehicles.response > 0]
    reading = positive.groupby("top_group").response
    counts = reading.size()
    log_mean = np.log(reading.mean())
    se = reading.std() / reading.mean() / np.sqrt(counts)
    enough = counts >= MIN_VEHICLE_WELLS
    pinned = enough.reindex(range(n_groups), fill_value=False).to_numpy(dtype=bool)
    if enough.sum() < 3 or not se[enough].notna().all():
        return pinned, None
    typical = float(se[enough].median())
    spread = float(np.sqrt(max(float(log_mean[enough].var() - (se[enough] ** 2).mean()), 0.0)))
    return pinned, (typical if spread < 2 * typical and typical > 0 else None)


def _arms_share(curves: pd.DataFrame) -> bool:
    """Whether some cell line x drug has several arms (else a shared move is a curve move)."""
    return bool((curves.groupby(["cell_line", "drug"]).size() > 1).any())


def _fixed_rank(codes: dict[str, np.ndarray], sizes: dict[str, int]) -> int:
    """Rank of the curve-level design of the population terms: how many curve means they fix.

    A curve-level deviation is identifiable only when there are more curves than this.
    """
    n_curve = len(codes["drug"])
    n_treated = max(sizes["treated"], 1)
    treated = codes["treated"] < sizes["treated"]

    def indicator(index: np.ndarray, size: int, rows: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((n_curve, size))
        rows = np.ones(n_curve, bool) if rows is None else rows
        out[np.flatnonzero(rows), index[rows]] = 1.0
        return out

    columns = [indicator(codes["drug"], sizes["drug"]),
               indicator(codes["cell_line"], sizes["cell_line"]),
               indicator(codes["cell_line"] * sizes["drug"] + codes["drug"],
                         sizes["cell_line"] * sizes["drug"]),
               indicator(codes["control"], sizes["control"]),
               indicator(codes["treated"] * sizes["drug"] + codes["drug"],
                         n_treated * sizes["drug"], treated),
               indicator(codes["treated"] * sizes["cell_line"] + codes["cell_line"],
                         n_treated * sizes["cell_line"], treated)]
    return int(np.linalg.matrix_rank(np.hstack(columns)))
