"""Hierarchical four-parameter log-logistic model of cell viability.

For a dosed well ``w`` of curve ``c`` (cell line ``l`` x drug ``d`` x treatment ``t``) in
experiment ``e`` on top group ``g`` (experiment x plate x cell line x treatment), with
``x_w`` the log10 concentration::

    response_w ~ Huber(mu_w, sqrt(noise_floor**2 + (noise_cv * mu_w)**2))
    mu_w       = top_g * (bottom_c + (1 - bottom_c) * sigmoid(-ln10 * hill_c * (x_w - ic50_ce)))
    vehicle wells (concentration 0): mu_w = top_g, same noise

    log10_ic50_c  ~ Normal(population_c, curve_sd)       (or = population_c: see below)
    population_c  = drug_mean[d] + cell_line_effect[l] + cell_line_drug_effect[l, d]
                    + control_effect[arm] + shift[t, d, l]   (treated arms only)
    shift[t, d, l] = shift_mean[t] + shift_drug[t, d] + shift_cell_line[t, l]
    ic50_ce       = log10_ic50_c + experiment_shared[e, l, d] + experiment_curve[c, e]
    hill_c        = resolvable(exp(log_hill_drug[d] + deviation), hill_max_c)
    log_hill_drug[d] ~ Normal(log_hill_mean, hill_drug_sd)   (ten or more drugs; else fixed prior)
    logit bottom_c = logit bottom_drug[d] + deviation

**Experiments** (independent repeats: transfections, biological replicates) move each
curve's IC50 and each plate's top. ``experiment_shared`` moves every arm of a cell line x
drug together (it cancels in a shift); ``experiment_curve`` moves one curve (it does
not), so a shift is estimated within experiments and its interval widens with the
experiments' disagreement. Both are Normal, not zero-sum: ``log10_ic50`` is the curve's
value across experiments, with the uncertainty of having seen only a few.

**Noise** grows with the signal (a floor plus a coefficient of variation): absorbance
noise is roughly proportional to the reading, and one constant scale left a bright cell
line's intervals over-confident. Its law is **Huber's** (:mod:`.huber`): a Normal core
with exponential tails, so an outlier well pulls a curve with a bounded force, and
log-concave, so a curve's wells never offer two explanations. The Student-t of 0.5 did:
on a real screen a well reading 0.27 two doses past a cliff (its neighbours 0.05) let one
chain call it an outlier of a steep curve and the other fit it with a shallow one (R-hat
1.47). On the simulated study design Huber fits covered as the t fits did (IC50s 0.91 vs
0.92, shifts 0.87 vs 0.85 of 90% intervals) in ~60% of the time (no ``nu``).

**Slopes the doses can resolve.** A curve that falls between two adjacent doses says only
that its transition is narrower than the step. ``hill_max_c`` is the slope whose 10-90%
transition spans one median dose step (``log10(81) / step``; 3.8 for half-log doses), and
``resolvable`` a soft minimum (``hill / (1 + (hill / hill_max)**4)**(1/4)``): slopes well
below it are unchanged, a cliff's slope approaches it, so a cliff curve's posterior is one
broad mode up to the bound instead of a ridge running off to infinity. The reported
``hill`` is the resolvable slope.

**Which scales are learnt.** A hierarchical scale is learnt (Gamma(2) prior, zero at zero,
so a scale learnt from few values does not sit in the funnel's neck) only when at least
``MIN_VALUES_DEFAULT`` independent values inform it (fewer for levels each pinned by many
wells: ``MIN_VALUES_FOR_SCALE``); below that it is fixed at its prior's value (documented
in :class:`DoseResponsePriors`): a scale learnt from two values is a funnel NUTS cannot
sample. Plate tops that are alike beyond what their vehicle wells can tell apart (viability
fractions: every plate divided by its own vehicle mean) get their scale fixed at that
precision instead (``Design.top_fixed_sd``; run.json's ``model_terms`` says so).
Cell-line and control effects are zero-sum (``pm.ZeroSumNormal``): plain Normal effects
form a ridge with the drug means; so is the cell-line x drug effect where several arms share
a cell line x drug, while a screen with one curve a cell line x drug writes it as each
curve's own deviation (centred where the curve's data pin its IC50). A term is left out
when the design cannot identify it, so one curve (drc's ryegrass) and a two-curve potency
comparison (drc's G.aparine) are the same model with fewer terms.

**Parameterisation: the data choose, per curve.** A level whose own data pin it mixes
better written centred (``x ~ Normal(mean, sd)``), one the data leave to its prior mixes
better non-centred (``x = mean + sd * z``). IC50s, experiment IC50s, slopes, bottoms and
plate tops are chosen level by level (:class:`~.dose_response_design.Design`): an IC50 is
centred where the doses bracket it (the curve falls within them and starts in the upper
half of its fall; a drug with no effect in range stays non-centred), a slope where at least
two doses read inside the curve's transition (a cliff stays non-centred), a bottom where
the two highest doses have levelled off (and, where the bottoms' scale is learnt, pin it
more tightly than bottoms spread between curves: bottoms that are all alike stay
non-centred, as a centred scale near zero is a funnel; a fixed scale has none), a top
where three or more vehicle wells pin it. The choice is data (masks), so one compiled model
serves every data set of the same shape. On a 216-curve screen shaped like a real one
(cliffs, outliers beside them, inactive drugs, bottoms that vary: ``real_screen_design``)
the per-curve choice cut leapfrog steps a draw from 172 (all non-centred) or 89 (all
bottoms centred) to 31; a drug with no effect in range mixed at 0.02 ESS a draw with
centred IC50s. Issue 8's measurements of the earlier forms (the 400-curve screen's depth-5
trees, the gradient floor) are in benchmarks/README.

The quantities users ask for are named: ``log10_ic50`` (relative IC50, the inflection),
``log10_ic50_absolute`` (where the curve crosses half the vehicle reading; +inf when it
never does), ``log10_shift`` / ``fold_shift`` per comparison (treated curve vs its matched
control curve), ``log10_shift_drug`` (per treatment and drug, over the cell lines) and
``log10_shift_pooled`` (per treatment, over drugs and cell lines). Concentrations are in
the data's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from chemoshift.data.curve import four_parameter_response
from chemoshift.data.dose_response import DoseResponseData
from chemoshift.models.dose_response_design import MIN_VALUES_DEFAULT, Design
from chemoshift.models.huber import Huber

CENTRED_WELLS_PER_CURVE = 12  # curves this rich pin their IC50s: drug shifts may be centred
CENTRED_CELL_LINES = 5  # cell lines that pin a drug's shift (400 curves: ESS 30 -> 160)
Parameterisation = Literal["auto", "centred", "non_centred"]


@dataclass(frozen=True)
class DoseResponsePriors:
    """Prior scales, in the units named in each field (log10 concentration unless said).

    A ``*_sd`` of a hierarchical term is the half-normal prior scale of its standard
    deviation when the design has enough levels to learn it, and the standard deviation
    itself when it has not (see ``MIN_VALUES_DEFAULT``). The drug means are centred on
    the middle of each drug's tested log10 range and the tops on the data's typical
    vehicle reading, so the defaults are weakly informative in any units.
    """

    drug_mean_sd: float = 1.5  # IC50 within ~3 decades of the tested range's middle
    cell_line_sd: float = 0.5  # cell lines differ by up to ~10-fold
    cell_line_drug_sd: float = 0.3  # cell-line differences vary by drug, ~2-fold
    control_sd: float = 0.3  # control arms (si-NC, miR-NC) differ little
    shift_mean_sd: float = 0.5  # a pooled shift of 3-fold either way is plausible
    shift_drug_sd: float = 0.2  # shifts differ between drugs by ~1.6-fold
    shift_cell_line_sd: float = 0.15  # a treatment works better in one cell line, ~1.4-fold
    curve_sd: float = 0.1  # residual curve variation (arm x cell line x drug), below main effects
    experiment_sd: float = 0.15  # a curve's IC50 moves between experiments, ~1.4-fold
    experiment_shared_sd: float = 0.15  # all arms of a cell line x drug move together
    log_hill_mean: float = 0.0  # Hill slopes around 1 ...
    log_hill_sd: float = 0.7  # ... between ~0.25 and ~4 (natural log scale)
    hill_drug_sd: float = 0.4  # drugs' typical slopes around the screen's, ~1.5-fold (many drugs)
    hill_curve_sd: float = 0.3  # curves' slopes within a drug, ~1.35-fold (natural log)
    bottom_alpha: float = 1.2  # Beta prior on a drug's bottom as a fraction of the top:
    bottom_beta: float = 4.0  # mean 0.23, most mass below 0.5
    bottom_curve_sd: float = 0.5  # curves' bottoms within a drug (logit scale)
    log_top_sd: float = 0.5  # top within ~e**1 of the typical vehicle reading (log scale)
    top_group_sd: float = 0.2  # plate-to-plate variation of the top (log scale)
    noise_floor_sd: float = 0.05  # Gamma(2) mean: noise near zero signal, fraction of the top
    noise_cv_sd: float = 0.15  # half-normal: noise as a fraction of the mean reading
    # terms (Design.terms' names, e.g. "hill_curve") whose scale is fixed at its *_sd value
    # even where the design could learn it: a sharded screen's shard refitted at scales
    # pooled over the other shards (chemoshift.screen.scales)
    fixed_scales: tuple[str, ...] = ()


DEFAULT_PRIORS = DoseResponsePriors()


def build_model(
    data: DoseResponseData,
    priors: DoseResponsePriors = DEFAULT_PRIORS,
    *,
    curve_parameterisation: Parameterisation = "auto",
    shape_parameterisation: Parameterisation = "auto",
    bottom_parameterisation: Parameterisation = "auto",
) -> pm.Model:
    """Build the hierarchical dose-response model for validated wells.

    Parameters
    ----------
    data : validated wells (``chemoshift.data.read_dose_response``).
    priors : prior scales; override a field with ``dataclasses.replace``.
    curve_parameterisation : how curve- and experiment-level IC50s are written; ``auto``
        lets each curve (curve x experiment) choose: centred where the doses bracket its
        IC50 (``Design.ic50_in_view``), non-centred elsewhere.
    shape_parameterisation : the curve-level Hill slopes; ``auto`` lets each curve's data
        choose: centred where two or more doses read inside its transition
        (``Design.slope_in_view``), non-centred elsewhere.
    bottom_parameterisation : the curve-level bottoms; ``auto`` lets each curve's data
        choose: centred where the highest doses level off (``Design.bottom_in_view``) and,
        when the bottoms' scale is learnt, pin the bottom more tightly than bottoms spread
        between curves (``Design.bottom_pinned``); non-centred elsewhere.

    Returns
    -------
    pm.Model with coords ``cell_line, drug, treatment, control, treated, curve,
    comparison, top_group, experiment, curve_experiment, well, vehicle_well`` and the
    deterministics named in the module docstring.
    """
    design = Design.from_data(data)
    terms = design.terms(priors)
    coords = {**data.coords, **design.extra_coords}
    centred = _use_centred(curve_parameterisation, design.median_wells_per_curve)  # shifts
    # IC50s, slopes and bottoms: each curve's data choose (see Design.ic50_in_view, ...)
    centred_ic50 = _forms(curve_parameterisation, design.ic50_in_view)
    # experiment IC50s centred only where their scale is learnt from many values: from a
    # few (two arms x three experiments) its posterior reaches near zero, where centred
    # values pinned by their wells are a funnel (divergences at target_accept 0.99)
    few = design.term_values.get("experiment_curve", 0) < MIN_VALUES_DEFAULT
    centred_experiment = _forms(curve_parameterisation, design.ic50_experiment_in_view & (not few))
    centred_slopes = _forms(shape_parameterisation, design.slope_in_view)
    centred_bottoms = _forms(bottom_parameterisation, _bottoms_centred(design, priors))

    with pm.Model(coords=coords) as model:
        dosed = design.dosed
        log10_concentration = pm.Data("log10_concentration", dosed.log10_concentration.to_numpy(),
                                      dims="well")
        curve_idx = pm.Data("curve_index", dosed.curve.to_numpy(), dims="well")
        ce_idx = pm.Data("curve_experiment_index", design.dosed_curve_experiment, dims="well")
        top_idx = pm.Data("top_group_index", dosed.top_group.to_numpy(), dims="well")
        vehicle_top_idx = pm.Data("vehicle_top_group_index",
                                  design.vehicles.top_group.to_numpy(), dims="vehicle_well")
        pm.Data("min_log10_concentration", np.log10(data.curves.min_concentration.to_numpy()),
                dims="curve")
        pm.Data("max_log10_concentration", np.log10(data.curves.max_concentration.to_numpy()),
                dims="curve")
        # data-derived prior centres are data too, so a compiled model can take new data
        drug_centre = pm.Data("drug_centre", design.drug_centre, dims="drug")
        response_scale = pm.Data("response_scale", design.response_scale)

        # --- log10 IC50 --------------------------------------------------------------
        drug_mean = pm.Normal("drug_mean", mu=drug_centre, sigma=priors.drug_mean_sd,
                              dims="drug")
        population = drug_mean[design.drug]
        if "cell_line_effect" in terms:
            effect = pm.ZeroSumNormal("cell_line_effect", sigma=_scale(terms, "cell_line_effect"),
                                      dims="cell_line")
            population += effect[design.cell_line]
        # one curve a cell line x drug (a screen's single arm): the interaction is each
        # curve's own deviation, written per curve below, so a curve whose data pin its
        # IC50 is centred on drug + cell line (zero-sum over the matrix, every curve's IC50
        # was tied to its row and column: a ridge that mixed at 0.08-0.12 ESS a draw)
        per_curve = "cell_line_drug_effect" in terms and design.interaction_per_curve
        if "cell_line_drug_effect" in terms and not per_curve:
            effect = pm.ZeroSumNormal("cell_line_drug_effect",
                                      sigma=_scale(terms, "cell_line_drug_effect"),
                                      dims=("cell_line", "drug"), n_zerosum_axes=2)
            population += effect[design.cell_line, design.drug]
        if "control_effect" in terms:
            effect = pm.ZeroSumNormal("control_effect", sigma=_scale(terms, "control_effect"),
                                      dims="control")
            population += effect[design.control]
        if design.n("treated"):
            population += _shifts(design, terms, priors, centred)

        deviation = ("curve_effect" if "curve_effect" in terms
                     else "cell_line_drug_effect" if per_curve else None)
        if deviation:  # centred: around the population prediction, no ridge
            log10_ic50 = _partly_centred("log10_ic50", population, _scale(terms, deviation),
                                         centred_ic50, what="ic50", z_name=f"{deviation}_z",
                                         auto=curve_parameterisation == "auto")
        else:
            log10_ic50 = pm.Deterministic("log10_ic50", population, dims="curve")

        experiment_ic50 = log10_ic50[design.ce_curve]
        if "experiment_shared" in terms:
            shared = _group_level("experiment_shared", 0.0, _scale(terms, "experiment_shared"),
                                  ("experiment", "cell_line", "drug"), centred=False)
            experiment_ic50 += shared[design.ce_experiment, design.cell_line[design.ce_curve],
                                      design.drug[design.ce_curve]]
        if "experiment_curve" in terms:
            experiment_ic50 = _partly_centred(
                "log10_ic50_experiment", experiment_ic50, _scale(terms, "experiment_curve"),
                centred_experiment, dim="curve_experiment", what="ic50_experiment",
                auto=curve_parameterisation == "auto")
        elif "experiment_shared" in terms:
            experiment_ic50 = pm.Deterministic("log10_ic50_experiment", experiment_ic50,
                                               dims="curve_experiment")

        # --- shape: Hill slope, bottom, top ------------------------------------------------
        if "hill_drug" in terms:  # many drugs: their slopes pooled around the screen's
            log_hill = _partly_centred(
                "log_hill_drug", pm.Normal("log_hill_mean", priors.log_hill_mean,
                                           priors.log_hill_sd) * pt.ones(design.n("drug")),
                _scale(terms, "hill_drug"), design.drug_slope_in_view, what="hill_drug",
                dim="drug", auto=shape_parameterisation == "auto")[design.drug]
        else:
            log_hill = pm.Normal("log_hill_drug", priors.log_hill_mean, priors.log_hill_sd,
                                 dims="drug")[design.drug]
        if "hill_curve" in terms:
            log_hill = _partly_centred("log_hill", log_hill, _scale(terms, "hill_curve"),
                                       centred_slopes, what="hill",
                                       auto=shape_parameterisation == "auto")
        hill_max = pm.Data("hill_max", design.hill_max, dims="curve")
        hill = pm.Deterministic("hill", _resolvable(pt.exp(log_hill), hill_max), dims="curve")
        bottom_drug = pm.Beta("bottom_drug", priors.bottom_alpha, priors.bottom_beta, dims="drug")
        logit_bottom = (pt.log(bottom_drug) - pt.log1p(-bottom_drug))[design.drug]
        if "bottom_curve" in terms:
            logit_bottom = _partly_centred("logit_bottom", logit_bottom,
                                           _scale(terms, "bottom_curve"), centred_bottoms,
                                           what="bottom", auto=bottom_parameterisation == "auto")
        bottom = pm.Deterministic("bottom", pt.sigmoid(logit_bottom), dims="curve")
        log_top = pm.Normal("log_top_mean", pt.log(response_scale), priors.log_top_sd)
        log_top = log_top * pt.ones(design.n("top_group"))
        if "top_group" in terms:
            # vehicle wells pin a plate's top where tops spread between plates (centred);
            # a plate without them, or tops all alike (fractions), non-centred
            log_top = _partly_centred("log_top", log_top, _scale(terms, "top_group"),
                                      design.top_pinned, what="top", dim="top_group")
        top = pm.Deterministic("top", pt.exp(log_top), dims="top_group")

        # --- derived quantities ------------------------------------------------------------
        half_way = pt.switch(bottom < 0.5,
                             pt.log10(0.5 / pt.maximum(0.5 - bottom, 1e-12)) / hill, np.inf)
        pm.Deterministic("log10_ic50_absolute", log10_ic50 + half_way, dims="curve")
        if design.comparisons:
            treated_curve, control_curve = map(np.array, zip(*design.comparisons, strict=True))
            log10_shift = pm.Deterministic(
                "log10_shift", log10_ic50[treated_curve] - log10_ic50[control_curve],
                dims="comparison")
            pm.Deterministic("fold_shift", 10.0**log10_shift, dims="comparison")

        # --- likelihood: dosed wells, then vehicle wells --------------------------------
        mu = four_parameter_response(log10_concentration, experiment_ic50[ce_idx],
                                     hill[curve_idx], bottom[curve_idx], top[top_idx],
                                     sigmoid=pt.sigmoid)
        # a reader's noise floor is never zero: Gamma(2) (zero density at zero, mean the
        # prior scale). Half-normal let the floor drift to ~0 where the CV term carried the
        # noise, and a zero floor made the likelihood of near-blank wells a spike (a
        # three-experiment two-curve study diverged there at target_accept 0.99)
        noise_floor = pm.Gamma("noise_floor", alpha=2.0,
                               beta=2.0 / (priors.noise_floor_sd * response_scale))
        noise_cv = pm.HalfNormal("noise_cv", priors.noise_cv_sd)
        observed = pm.Data("observed_response", dosed.response.to_numpy(), dims="well")
        Huber("response", mu, _noise(mu, noise_floor, noise_cv), observed=observed,
              dims="well")
        if len(design.vehicles):
            vehicle_mu = top[vehicle_top_idx]
            vehicle_observed = pm.Data("observed_vehicle_response",
                                       design.vehicles.response.to_numpy(), dims="vehicle_well")
            Huber("vehicle_response", vehicle_mu, _noise(vehicle_mu, noise_floor, noise_cv),
                  observed=vehicle_observed, dims="vehicle_well")
    return model


def _noise(mu, floor, cv):
    """Noise scale that grows with the mean reading: sqrt(floor^2 + (cv * mu)^2)."""
    return pt.sqrt(floor**2 + (cv * mu) ** 2)


def _shifts(design: Design, terms: dict, priors: DoseResponsePriors, centred: bool):
    """Each curve's treatment shift (0 for control arms): pooled mean + drug + cell line."""
    shift_mean = pm.Normal("shift_mean", 0.0, priors.shift_mean_sd, dims="treated")
    shift_drug = shift_mean[:, None] * pt.ones((1, design.n("drug")))
    if "shift_drug" in terms:
        # a drug's shift averages over cell lines: pinned (centred form) only when
        # there are many; with the study's two, non-centred avoids divergences
        shift_drug = _group_level("log10_shift_drug", shift_drug, _scale(terms, "shift_drug"),
                                  ("treated", "drug"),
                                  centred and design.n("cell_line") >= CENTRED_CELL_LINES)
    else:
        shift_drug = pm.Deterministic("log10_shift_drug", shift_drug, dims=("treated", "drug"))
    pm.Deterministic("log10_shift_pooled", shift_mean, dims="treated")
    treated = design.treated < design.n("treated")
    rows = np.where(treated, design.treated, 0)
    shift = shift_drug[rows, design.drug]
    if "shift_cell_line" in terms:
        # zero-sum over cell lines: the drug and pooled shifts are the cell lines' mean
        # non-centred: its scale is learnt from as few as two cell lines' values
        by_line = _scale(terms, "shift_cell_line") * pm.ZeroSumNormal(
            "shift_cell_line_z", sigma=1.0, dims=("treated", "cell_line"))
        by_line = pm.Deterministic("shift_cell_line_effect", by_line,
                                   dims=("treated", "cell_line"))
        shift += by_line[rows, design.cell_line]
    return pt.switch(treated, shift, 0.0)


def _scale(terms: dict, name: str):
    """The scale of a term: a learnt Gamma(2) variable, or its fixed prior value (data,
    ``{name}_sd_fixed``, so refits at other values reuse the compiled model)."""
    learnt, value = terms[name]
    model = pm.modelcontext(None)
    if not learnt:
        fixed = f"{name}_sd_fixed"
        return model[fixed] if fixed in model.named_vars else pm.Data(fixed, float(value))
    sd_name = f"{name}_sd"
    if sd_name in model.named_vars:
        return model[sd_name]
    # Gamma(2, 2 / value): mean ``value``, zero density at zero. A scale learnt from a
    # handful of values otherwise sits in the funnel's neck (Chung et al. 2013, a
    # boundary-avoiding prior for group-level scales); an effect that is truly absent
    # is then estimated as small, with an honest, slightly wider interval.
    return pm.Gamma(sd_name, alpha=2.0, beta=2.0 / value)


def _group_level(name: str, mean, sd, dim: str | tuple[str, ...], centred: bool):
    """A quantity per level of ``dim`` partially pooled around ``mean``."""
    if centred:
        return pm.Normal(name, mean, sd, dims=dim)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dim)
    return pm.Deterministic(name, mean + sd * z, dims=dim)


def _resolvable(hill, hill_max):
    """The Hill slope as the doses resolve it: ``hill`` below ``hill_max`` (nearly
    unchanged up to ~half of it), approaching ``hill_max`` above it (a soft minimum, the
    4-norm): ``hill / (1 + (hill / hill_max)**4)**(1/4)``."""
    return hill * pt.exp(-0.25 * pt.log1p((hill / hill_max) ** 4))


def _partly_centred(name: str, mean, sd, centred: np.ndarray, *, what: str,
                    dim: str = "curve", z_name: str | None = None, auto: bool = True):
    """A quantity per level of ``dim`` pooled around ``mean``, written centred for the
    levels in ``centred`` (their data pin it) and non-centred for the rest.

    ``auto`` (the data chose): two free variables over ``dim``, ``{name}_pinned`` and
    ``{name}_free_z``, and the mask ``pinned_{what}`` as data; each level uses one of them
    and leaves the other a standard Normal that touches nothing, so one compiled model
    serves any data set of the same shape whatever its data chose. Otherwise (the user
    chose for every level): centred, the free variable ``name``; non-centred, ``z_name``
    (default ``{name}_z``) and ``name`` a deterministic.
    """
    if not auto:
        if centred.all():
            return pm.Normal(name, mean, sd, dims=dim)
        z = pm.Normal(z_name or f"{name}_z", 0.0, 1.0, dims=dim)
        return pm.Deterministic(name, mean + sd * z, dims=dim)
    pinned = pm.Data(f"pinned_{what}", np.asarray(centred, bool), dims=dim)
    centred_value = pm.Normal(f"{name}_pinned", pt.switch(pinned, mean, 0.0),
                              pt.switch(pinned, sd, 1.0), dims=dim)
    z = pm.Normal(f"{name}_free_z", 0.0, 1.0, dims=dim)
    return pm.Deterministic(name, pt.switch(pinned, centred_value, mean + sd * z), dims=dim)


def _forms(choice: str, pinned: np.ndarray) -> np.ndarray:
    """Which levels are written centred: as the data say (``auto``: ``pinned``), or all
    or none."""
    if choice == "auto":
        return np.asarray(pinned, bool)
    return np.full(len(pinned), _use_centred(choice, 0.0))


def _use_centred(choice: str, median_wells: float,
                 threshold: float = CENTRED_WELLS_PER_CURVE) -> bool:
    if choice == "auto":
        return median_wells >= threshold
    if choice not in ("centred", "non_centred"):
        raise ValueError(f"parameterisation {choice!r}; expected auto, centred or non_centred")
    return choice == "centred"


def model_terms(data: DoseResponseData,
                priors: DoseResponsePriors = DEFAULT_PRIORS) -> dict[str, dict]:
    """Which hierarchical terms the design has, and whether each scale is learnt or fixed.

    Returns term name -> ``{"scale": "learnt" | "fixed", "sd": prior scale or fixed sd,
    "values": independent values informing it}``, for the run record and the report.
    """
    design = Design.from_data(data)
    return {name: {"scale": "learnt" if learnt else "fixed", "sd": value,
                   "values": design.term_values[name]}
            for name, (learnt, value) in design.terms(priors).items()}


def _bottoms_centred(design: Design, priors: DoseResponsePriors) -> np.ndarray:
    """(curve,) bottoms ``auto`` writes centred. A learnt scale near zero is a funnel where
    bottoms are alike: centred only past the spread rule (``Design.bottom_pinned``). A
    scale fixed for want of values has no funnel: a bottom in view is centred. A scale the
    caller fixed (a shard refitted at a pooled scale, maybe near zero) is a ridge where it
    is tighter than the curve's own data: centred only where they pin the bottom closer."""
    learnt, sd = design.terms(priors).get("bottom_curve", (False, 0.0))
    if learnt:
        return design.bottom_pinned
    if "bottom_curve" in priors.fixed_scales:
        return design.bottom_in_view & (design.bottom_se < sd)
    return design.bottom_in_view


def model_forms(data: DoseResponseData,
                priors: DoseResponsePriors = DEFAULT_PRIORS) -> dict[str, dict]:
    """How ``auto`` writes each curve-level quantity for these data, for the run record:
    quantity -> ``{"centred": levels written centred, "of": levels}``, and the estimates
    behind the choice (``bottom_spread``, logit; ``top_fixed_sd``, log scale or None;
    ``hill_max``: the steepest slope the doses resolve, lowest over curves)."""
    design = Design.from_data(data)
    forms = {name: {"centred": int(np.sum(mask)), "of": int(np.size(mask))}
             for name, mask in (("log10_ic50", design.ic50_in_view),
                                ("log10_ic50_experiment", design.ic50_experiment_in_view),
                                ("log_hill", design.slope_in_view),
                                ("logit_bottom", _bottoms_centred(design, priors)),
                                ("log_top", design.top_pinned))}
    return forms | {"bottom_spread": round(design.bottom_spread, 4),
                    "top_fixed_sd": design.top_fixed_sd,
                    "hill_max": round(float(np.min(design.hill_max)), 4)}
