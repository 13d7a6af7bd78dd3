"""Hierarchical four-parameter log-logistic model of cell viability.

For a dosed well ``w`` of curve ``c`` (cell line ``l`` x drug ``d`` x treatment ``t``) in
experiment ``e`` on top group ``g`` (experiment x plate x cell line x treatment), with
``x_w`` the log10 concentration::

    response_w ~ StudentT(nu, mu_w, sqrt(noise_floor**2 + (noise_cv * mu_w)**2))
    mu_w       = top_g * (bottom_c + (1 - bottom_c) * sigmoid(-ln10 * hill_c * (x_w - ic50_ce)))
    vehicle wells (concentration 0): mu_w = top_g, same noise

    log10_ic50_c  ~ Normal(population_c, curve_sd)       (or = population_c: see below)
    population_c  = drug_mean[d] + cell_line_effect[l] + cell_line_drug_effect[l, d]
                    + control_effect[arm] + shift[t, d, l]   (treated arms only)
    shift[t, d, l] = shift_mean[t] + shift_drug[t, d] + shift_cell_line[t, l]
    ic50_ce       = log10_ic50_c + experiment_shared[e, l, d] + experiment_curve[c, e]
    log hill_c    = log_hill_drug[d] + deviation,  logit bottom_c = logit bottom_drug[d] + deviation

**Experiments** (independent repeats: transfections, biological replicates) move each
curve's IC50 and each plate's top. ``experiment_shared`` moves every arm of a cell line x
drug together (it cancels in a shift); ``experiment_curve`` moves one curve (it does
not), so a shift is estimated within experiments and its interval widens with the
experiments' disagreement. Both are Normal, not zero-sum: ``log10_ic50`` is the curve's
value across experiments, with the uncertainty of having seen only a few.

**Noise** grows with the signal: absorbance noise is roughly proportional to the
reading (a bright cell line has larger residuals), with a floor for readings near the
blank. One constant scale made the Student-t's ``nu`` collapse towards 1 to absorb a
bright cell line's residuals and left its IC50 intervals over-confident. ``nu`` is
``2 + Gamma``: heavy tails for outlier wells, never the Cauchy region.

**Which scales are learnt.** A hierarchical scale is learnt (half-normal prior) only
when at least ``MIN_VALUES_DEFAULT`` independent values inform it (fewer for
levels each pinned by many wells: ``MIN_VALUES_FOR_SCALE``); below that it is
fixed at its prior's value (documented in :class:`DoseResponsePriors`): a scale learnt
from two values is a funnel that NUTS cannot sample (two-curve designs gave 39-60
divergences). Cell-line, cell-line x drug and control effects are zero-sum
(``pm.ZeroSumNormal``): plain Normal effects form a ridge with the drug means. A term is
left out when the design cannot identify it, so one curve (drc's ryegrass) and a
two-curve potency comparison (drc's G.aparine) are the same model with fewer terms.

**Parameterisation.** A curve with many wells pins its own IC50: the curve level and the
experiment level (from eight wells a curve in an experiment) are then written centred
(``log10_ic50 ~ Normal(population, curve_sd)``),
which removes the ridge between drug means, shifts and curve deviations; sparse curves
get the non-centred form. On the study design (3 experiments, 2,016 wells) the centred
form took 23 leapfrog steps per draw where non-centred curve IC50s took 120. Slopes are
centred only with many data-rich curves per drug (>= 4 curves of >= 20 wells): on the
400-curve screen (27 wells a curve) centred slopes cut steps per draw from 21 to 20 (issue
8's probe); on an HTS-shaped screen (216 curves of ~12 wells, one well a dose, many never
reaching 50%) centred slopes mixed so slowly that the slope scale needed three batches of
chains (9,000 draws for a tail ESS of 730, R-hat 1.010), non-centred ones one batch
(3,000 draws, ESS 551, R-hat 1.006). Bottoms are always non-centred (their scale is
often near zero). Learnt scales have a Gamma(2) prior, zero at zero, so a scale learnt
from few values does not sit in the funnel's neck.

**Measured on this model (issue 8, 2 cores, nutpie, 300 tuning steps).** With the
experiment terms and the signal-dependent noise the screens take longer trajectories than
the issue's probe of the earlier model (20-21 leapfrog steps a draw): 31 on the 400-curve,
three-experiment screen (10,800 wells) at target_accept 0.9 and at 0.8 alike, and centring
``experiment_shared`` did not shorten them; 31 on the HTS-shaped screen at 0.9, 15-18 at
0.8, where the drug-level slope, bottom and IC50 (tied together on curves that never reach
50%) then mixed ~2x worse a draw, so 0.8 needed 3,500-4,000+ draws a chain where 0.9
needed 2,000-2,500. The slowest quantity is the curve-to-curve bottom scale (0.10-0.14
bulk ESS a draw) on both screens. Every draw on the 400-curve screen builds a depth-5 tree
(step size ~0.12 on ~3,000 parameters), and the long trajectories are needed: capped at
depth 4 (15 steps) the slowest ESS a draw fell from 0.11 to 0.002
(``benchmarks/gradient_floor.py --depth``). Not only because of the ridge between
``experiment_shared`` (whose mean over the experiments only its prior tells apart from the
cell-line x drug and curve IC50s) and the IC50 terms: with ``experiment_shared`` zero-sum
over experiments (no ridge; a different model, measured only as a bound) the trees stayed
at depth 5 and depth 4 still cut the bottom scale's ESS a draw to 0.002. Writing
``experiment_shared`` exactly as its experiment mean plus zero-sum deviations raised the
IC50 terms' ESS a draw from 0.15 to 0.24 on one simulated screen and cut ``drug_mean``'s
to 0.05 on another, so it is not used; centred bottoms mixed at 0.005 a draw (their
scale's posterior sits near 0.04 on the logit scale). A gradient costs 0.6-1 ms on the
screen's 10,800 wells, and a hand-fused numba loop of the same likelihood and gradient
~25% less: three transcendental functions a well (the sigmoid's exp, the noise's log, the
Student-t's log1p) set the floor. The step size (~0.12), not only the ridges, sets the
tree depth: sampled with a dense mass matrix from 8,000 earlier draws (whitened
coordinates; the most any linear rewrite, marginalising the linear IC50 terms included,
could give) the same screen took 54 steps a draw, though the scales mixed ~1.8x better a
draw. The non-centred bottoms suit the simulator, whose bottoms do not vary between the
curves of a drug (the scale's posterior near 0.04). Given bottoms that do (logit sd 0.5),
non-centred curve bottoms left the drug bottoms mixing at 0.037 ESS a draw, centred ones
the slowest quantity at 0.25 (a choice the data would have to make, as for slopes; not
built).

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
from chemoshift.models.dose_response_design import Design

CENTRED_WELLS_PER_CURVE = 12  # curves with this many wells pin their IC50
# a curve's deviation in one experiment is small (sd ~0.1 log10) beside its own value: eight
# wells (one a dose) pin it. 400 curves x 3 experiments x 8 wells: centred 31 leapfrog
# steps per draw, non-centred 127
CENTRED_WELLS_PER_CURVE_EXPERIMENT = 8
CENTRED_CURVES_PER_DRUG = 4  # curves of a drug that pin its slope scale (centred slopes)
CENTRED_SLOPE_WELLS_PER_CURVE = 20  # wells a curve needs to pin its own slope
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
    hill_curve_sd: float = 0.3  # curves' slopes within a drug, ~1.35-fold (natural log)
    bottom_alpha: float = 1.2  # Beta prior on a drug's bottom as a fraction of the top:
    bottom_beta: float = 4.0  # mean 0.23, most mass below 0.5
    bottom_curve_sd: float = 0.5  # curves' bottoms within a drug (logit scale)
    log_top_sd: float = 0.5  # top within ~e**1 of the typical vehicle reading (log scale)
    top_group_sd: float = 0.2  # plate-to-plate variation of the top (log scale)
    noise_floor_sd: float = 0.05  # half-normal: noise near zero signal, fraction of the top
    noise_cv_sd: float = 0.15  # half-normal: noise as a fraction of the mean reading
    nu_alpha: float = 2.0  # nu - 2 ~ Gamma(2, 0.1): mean 22, tails heavy enough for
    nu_beta: float = 0.1  # outlier wells, never Cauchy-like (nu > 2)


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
        picks centred when the median curve (curve x experiment) has at least
        ``CENTRED_WELLS_PER_CURVE`` wells.
    shape_parameterisation : the same choice for the curve-level Hill slopes; ``auto`` also
        asks for at least ``CENTRED_CURVES_PER_DRUG`` curves per drug.
    bottom_parameterisation : the curve-level bottoms; ``auto`` is non-centred: their
        curve-to-curve scale is often near zero, the centred form's funnel. ``centred``
        mixed 7-25x better a draw on simulated screens whose bottoms vary between curves
        (see above).

    Returns
    -------
    pm.Model with coords ``cell_line, drug, treatment, control, treated, curve,
    comparison, top_group, experiment, curve_experiment, well, vehicle_well`` and the
    deterministics named in the module docstring.
    """
    design = Design.from_data(data)
    terms = design.terms(priors)
    coords = {**data.coords, **design.extra_coords}
    centred = _use_centred(curve_parameterisation, design.median_wells_per_curve)
    centred_experiment = _use_centred(curve_parameterisation,
                                      design.median_wells_per_curve_experiment,
                                      CENTRED_WELLS_PER_CURVE_EXPERIMENT)
    # slopes: centred only with many data-rich curves per drug (a drug's few curves
    # leave its slope scale weakly identified, and the centred form then diverges)
    slope_rich = (design.median_curves_per_drug >= CENTRED_CURVES_PER_DRUG
                  and design.median_wells_per_curve >= CENTRED_SLOPE_WELLS_PER_CURVE)
    centred_slopes = _use_centred(shape_parameterisation,
                                  design.median_wells_per_curve if slope_rich else 0.0)

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
        if "cell_line_drug_effect" in terms:
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

        if "curve_effect" in terms:
            curve_sd = _scale(terms, "curve_effect")
            if centred:  # sampled around the population prediction: no ridge
                log10_ic50 = pm.Normal("log10_ic50", population, curve_sd, dims="curve")
            else:
                z = pm.Normal("curve_effect_z", 0.0, 1.0, dims="curve")
                log10_ic50 = pm.Deterministic("log10_ic50", population + curve_sd * z,
                                              dims="curve")
        else:
            log10_ic50 = pm.Deterministic("log10_ic50", population, dims="curve")

        experiment_ic50 = log10_ic50[design.ce_curve]
        if "experiment_shared" in terms:
            shared = _group_level("experiment_shared", 0.0, _scale(terms, "experiment_shared"),
                                  ("experiment", "cell_line", "drug"), centred=False)
            experiment_ic50 += shared[design.ce_experiment, design.cell_line[design.ce_curve],
                                      design.drug[design.ce_curve]]
        if "experiment_curve" in terms:
            experiment_ic50 = _group_level(
                "log10_ic50_experiment", experiment_ic50, _scale(terms, "experiment_curve"),
                "curve_experiment", centred_experiment)
        elif "experiment_shared" in terms:
            experiment_ic50 = pm.Deterministic("log10_ic50_experiment", experiment_ic50,
                                               dims="curve_experiment")

        # --- shape: Hill slope, bottom, top ------------------------------------------------
        log_hill = pm.Normal("log_hill_drug", priors.log_hill_mean, priors.log_hill_sd,
                             dims="drug")[design.drug]
        if "hill_curve" in terms:
            log_hill = _group_level("log_hill", log_hill, _scale(terms, "hill_curve"), "curve",
                                    centred_slopes)
        hill = pm.Deterministic("hill", pt.exp(log_hill), dims="curve")
        bottom_drug = pm.Beta("bottom_drug", priors.bottom_alpha, priors.bottom_beta, dims="drug")
        logit_bottom = (pt.log(bottom_drug) - pt.log1p(-bottom_drug))[design.drug]
        if "bottom_curve" in terms:
            logit_bottom = _group_level("logit_bottom", logit_bottom,
                                        _scale(terms, "bottom_curve"), "curve",
                                        # no wells count makes ``auto`` centre bottoms
                                        _use_centred(bottom_parameterisation, 0.0))
        bottom = pm.Deterministic("bottom", pt.sigmoid(logit_bottom), dims="curve")
        log_top = pm.Normal("log_top_mean", pt.log(response_scale), priors.log_top_sd)
        log_top = log_top * pt.ones(design.n("top_group"))
        if "top_group" in terms:
            # vehicle wells pin a plate's top (centred form mixes better); a group
            # without them learns its top through the curve's shape (non-centred)
            log_top = _group_level("log_top", log_top, _scale(terms, "top_group"), "top_group",
                                   centred=design.vehicles_in_every_top_group)
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
        noise_floor = pm.HalfNormal("noise_floor", priors.noise_floor_sd * response_scale)
        noise_cv = pm.HalfNormal("noise_cv", priors.noise_cv_sd)
        nu = pm.Deterministic("nu", 2.0 + pm.Gamma("nu_minus_two", priors.nu_alpha,
                                                   priors.nu_beta))
        observed = pm.Data("observed_response", dosed.response.to_numpy(), dims="well")
        pm.StudentT("response", nu=nu, mu=mu, sigma=_noise(mu, noise_floor, noise_cv),
                    observed=observed, dims="well")
        if len(design.vehicles):
            vehicle_mu = top[vehicle_top_idx]
            vehicle_observed = pm.Data("observed_vehicle_response",
                                       design.vehicles.response.to_numpy(), dims="vehicle_well")
            pm.StudentT("vehicle_response", nu=nu, mu=vehicle_mu,
                        sigma=_noise(vehicle_mu, noise_floor, noise_cv),
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
        by_line = pm.ZeroSumNormal("shift_cell_line_effect",
                                   sigma=_scale(terms, "shift_cell_line"),
                                   dims=("treated", "cell_line"))
        shift += by_line[rows, design.cell_line]
    return pt.switch(treated, shift, 0.0)


def _scale(terms: dict, name: str):
    """The scale of a term: a learnt half-normal variable, or its fixed prior value."""
    learnt, value = terms[name]
    if not learnt:
        return value
    model = pm.modelcontext(None)
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
