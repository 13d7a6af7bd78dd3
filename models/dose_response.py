"""Hierarchical four-parameter log-logistic model of cell viability.

For well ``w`` of curve ``c`` (cell line x drug x treatment) on plate group ``g``
(plate x cell line x treatment), with ``x_w`` the log10 concentration::

    response_w ~ StudentT(nu, mu_w, sigma)
    mu_w       = top_g * (bottom_d + (1 - bottom_d) / (1 + 10 ** (hill_c * (x_w - log10_ic50_c))))
    mu_w       = top_g                                  for vehicle wells (concentration 0)

    log10_ic50_c = drug_mean[d] + cell_line_effect[l] + cell_line_drug_effect[l, d]
                   + control_effect[arm] + shift[t, d] (treated arms only) + curve_effect[c]
    shift[t, d]  = shift_mean[t] + shift_drug_effect[t, d]     (treatment shifts pooled over drugs)
    log hill_c   = log_hill_drug[d] + hill_curve_effect[c]     (slopes pooled per drug)
    logit bottom_c = logit bottom_drug[d] + bottom_curve_effect[c] (bottoms pooled per drug)

The cell-line, cell-line x drug and control effects are zero-sum (``pm.ZeroSumNormal``):
plain Normal effects form a ridge with the drug means that NUTS mixes poorly on. A
term is left out when its grouping has a single level or the terms above it already
give every group its own mean (its scale could not be learnt); so one curve (drc's
ryegrass) and a two-curve potency comparison (drc's G.aparine) are the same model
with fewer terms.

The quantities users ask for are deterministics: ``log10_ic50`` (relative IC50, the
inflection), ``log10_ic50_absolute`` (where the curve crosses half the vehicle
reading; +inf when it never does), ``log10_shift`` / ``fold_shift`` per comparison
(treated curve vs its matched control curve), ``log10_shift_drug`` (per drug,
pooled over cell lines) and ``log10_shift_pooled`` (per treatment, pooled over
drugs and cell lines). Concentrations are in the data's ``unit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from chemoshift.data.dose_response import DoseResponseData

LN10 = float(np.log(10.0))
CENTRED_WELLS_PER_CURVE = 12  # curves with at least this many wells pin their own IC50
MIN_VEHICLE_WELLS = 3  # vehicle wells that pin a plate's top
CENTRED_CELL_LINES = 5  # cell lines that pin a drug's shift (400 curves: ESS 30 -> 160)


@dataclass(frozen=True)
class DoseResponsePriors:
    """Prior scales, in the units named in each field (log10 concentration unless said).

    The drug means are centred on the middle of each drug's tested log10 range and
    the tops on the data's typical vehicle reading, so the defaults are weakly
    informative whatever the concentration or response units.
    """

    drug_mean_sd: float = 1.5  # IC50 within ~3 decades of the tested range's middle
    cell_line_sd: float = 0.5  # cell lines differ by up to ~10-fold
    cell_line_drug_sd: float = 0.3  # cell-line differences vary by drug, ~2-fold
    control_sd: float = 0.3  # control arms (si-NC, miR-NC) differ little
    shift_mean_sd: float = 0.5  # a pooled shift of 3-fold either way is plausible
    shift_drug_sd: float = 0.2  # half-normal scale: shifts differ between drugs by ~1.6-fold
    curve_sd: float = 0.2  # half-normal scale: residual curve-to-curve variation
    log_hill_mean: float = 0.0  # Hill slopes around 1 ...
    log_hill_sd: float = 0.7  # ... between ~0.25 and ~4 (natural log scale)
    hill_curve_sd: float = 0.3  # half-normal scale: curves' slopes within a drug, ~1.35-fold
    bottom_alpha: float = 1.2  # Beta prior on a drug's bottom as a fraction of the top:
    bottom_beta: float = 4.0  # mean 0.23, most mass below 0.5
    bottom_curve_sd: float = 0.5  # half-normal scale: curves' bottoms within a drug (logit)
    log_top_sd: float = 0.5  # top within ~e**1 of the typical vehicle reading (log scale)
    top_group_sd: float = 0.2  # half-normal scale: plate-to-plate variation of the top (log)
    noise_sd: float = 0.2  # half-normal scale of the noise, as a fraction of the vehicle reading
    nu_alpha: float = 2.0  # Gamma(2, 0.1) on Student-t degrees of freedom (Juarez & Steel)
    nu_beta: float = 0.1


DEFAULT_PRIORS = DoseResponsePriors()


def build_model(
    data: DoseResponseData,
    priors: DoseResponsePriors = DEFAULT_PRIORS,
    *,
    curve_parameterisation: Literal["auto", "centred", "non_centred"] = "auto",
    shape_parameterisation: Literal["auto", "centred", "non_centred"] = "non_centred",
) -> pm.Model:
    """Build the hierarchical dose-response model for validated wells.

    Parameters
    ----------
    data : validated wells (``chemoshift.data.read_dose_response``).
    priors : prior scales; override a field with ``dataclasses.replace``.
    curve_parameterisation : how the curve-level IC50 deviations are written. A curve
        with many wells pins its own IC50 and then the centred form mixes better;
        ``auto`` picks centred when the median curve has at least
        ``CENTRED_WELLS_PER_CURVE`` wells.
    shape_parameterisation : the same choice for the curve-level Hill slopes and bottoms.
        Non-centred by default: a slope or bottom is pinned less tightly than an IC50,
        and on the study design and drc's G.aparine the centred form diverged 60-70
        times per run where the non-centred form diverged 0-1 times.

    Returns
    -------
    pm.Model with coords ``cell_line, drug, treatment, control, treated, curve,
    comparison, top_group, well`` and the deterministics named in the module docstring.
    """
    design = _Design.from_data(data)
    coords = dict(data.coords)
    coords["comparison"] = design.comparison_names
    wells = data.wells
    centred = _use_centred(curve_parameterisation, wells)
    centred_shape = _use_centred(shape_parameterisation, wells)

    with pm.Model(coords=coords) as model:
        log10_concentration = pm.Data(
            "log10_concentration", np.nan_to_num(wells.log10_concentration.to_numpy(), nan=0.0),
            dims="well")
        is_vehicle = pm.Data("is_vehicle", (wells.well_type == "vehicle").to_numpy(), dims="well")
        curve_idx = pm.Data("curve_index", wells.curve.to_numpy(), dims="well")
        top_idx = pm.Data("top_group_index", wells.top_group.to_numpy(), dims="well")
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
        log10_ic50 = drug_mean[design.drug]
        if design.n("cell_line") > 1:
            cell_line_effect = pm.ZeroSumNormal("cell_line_effect", sigma=priors.cell_line_sd,
                                                dims="cell_line")
            log10_ic50 += cell_line_effect[design.cell_line]
            if design.n("drug") > 1:
                cell_line_drug_effect = pm.ZeroSumNormal(
                    "cell_line_drug_effect", sigma=priors.cell_line_drug_sd,
                    dims=("cell_line", "drug"), n_zerosum_axes=2)
                log10_ic50 += cell_line_drug_effect[design.cell_line, design.drug]
        if design.n("control") > 1:
            control_effect = pm.ZeroSumNormal("control_effect", sigma=priors.control_sd,
                                              dims="control")
            log10_ic50 += control_effect[design.control]
        if design.n("treated") > 0:
            shift_mean = pm.Normal("shift_mean", 0.0, priors.shift_mean_sd, dims="treated")
            shift = shift_mean[:, None] * pt.ones((1, design.n("drug")))
            if design.n("drug") > 1:
                # a drug's shift averages over cell lines: pinned (centred form) only when
                # there are many; with the study's two, non-centred avoids divergences
                shift_drug_sd = pm.HalfNormal("shift_drug_sd", priors.shift_drug_sd)
                shift = _group_level("log10_shift_drug", shift, shift_drug_sd,
                                     ("treated", "drug"),
                                     centred and design.n("cell_line") >= CENTRED_CELL_LINES)
            else:
                shift = pm.Deterministic("log10_shift_drug", shift, dims=("treated", "drug"))
            pm.Deterministic("log10_shift_pooled", shift_mean, dims="treated")
            padded = pt.concatenate([shift, pt.zeros((1, design.n("drug")))], axis=0)
            log10_ic50 += padded[design.treated, design.drug]  # untreated arms index the zeros
        if design.has_curve_effect:
            curve_sd = pm.HalfNormal("curve_sd", priors.curve_sd)
            log10_ic50 += _group_level("curve_effect", 0.0, curve_sd, "curve", centred)
        log10_ic50 = pm.Deterministic("log10_ic50", log10_ic50, dims="curve")

        # --- shape: Hill slope, bottom, top ------------------------------------------------
        log_hill_drug = pm.Normal("log_hill_drug", priors.log_hill_mean, priors.log_hill_sd,
                                  dims="drug")
        log_hill = log_hill_drug[design.drug]
        if design.n("curve") > design.n("drug"):
            hill_curve_sd = pm.HalfNormal("hill_curve_sd", priors.hill_curve_sd)
            log_hill = _group_level("log_hill", log_hill, hill_curve_sd, "curve", centred_shape)
        hill = pm.Deterministic("hill", pt.exp(log_hill), dims="curve")
        bottom_drug = pm.Beta("bottom_drug", priors.bottom_alpha, priors.bottom_beta, dims="drug")
        logit_bottom = pt.log(bottom_drug[design.drug]) - pt.log1p(-bottom_drug[design.drug])
        if design.n("curve") > design.n("drug"):
            bottom_curve_sd = pm.HalfNormal("bottom_curve_sd", priors.bottom_curve_sd)
            logit_bottom = _group_level("logit_bottom", logit_bottom, bottom_curve_sd,
                                        "curve", centred_shape)
        bottom = pm.Deterministic("bottom", pt.sigmoid(logit_bottom), dims="curve")
        log_top_mean = pm.Normal("log_top_mean", pt.log(response_scale), priors.log_top_sd)
        log_top = log_top_mean * pt.ones(design.n("top_group"))
        if design.n("top_group") > 1:
            top_group_sd = pm.HalfNormal("top_group_sd", priors.top_group_sd)
            # vehicle wells pin a plate's top (centred form mixes better); a group
            # without them learns its top through the curve's shape (non-centred)
            log_top = _group_level("log_top", log_top, top_group_sd, "top_group",
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

        # --- likelihood --------------------------------------------------------------------
        distance = log10_concentration - log10_ic50[curve_idx]  # log10 units past the IC50
        fraction = pt.sigmoid(-LN10 * hill[curve_idx] * distance)
        well_bottom = bottom[curve_idx]
        surviving = pt.switch(is_vehicle, 1.0, well_bottom + (1.0 - well_bottom) * fraction)
        mu = top[top_idx] * surviving
        sigma = pm.HalfNormal("sigma", priors.noise_sd * response_scale)
        nu = pm.Gamma("nu", priors.nu_alpha, priors.nu_beta)
        observed = pm.Data("observed_response", wells.response.to_numpy(), dims="well")
        pm.StudentT("response", nu=nu, mu=mu, sigma=sigma, observed=observed, dims="well")
    return model


def _group_level(name: str, mean, sd, dim: str | tuple[str, ...], centred: bool):
    """A quantity per level of ``dim`` partially pooled around ``mean``."""
    if centred:
        return pm.Normal(name, mean, sd, dims=dim)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dim)
    return pm.Deterministic(name, mean + sd * z, dims=dim)


def _use_centred(choice: str, wells: pd.DataFrame) -> bool:
    if choice == "auto":
        return float(wells.groupby("curve").size().median()) >= CENTRED_WELLS_PER_CURVE
    if choice not in ("centred", "non_centred"):
        raise ValueError(
            f"curve_parameterisation {choice!r}; expected auto, centred or non_centred")
    return choice == "centred"


@dataclass(frozen=True)
class _Design:
    """Integer codes of each curve's levels, and which terms the design can identify."""

    cell_line: np.ndarray  # (curve,) index into coords["cell_line"]
    drug: np.ndarray  # (curve,)
    control: np.ndarray  # (curve,) index into coords["control"]: the arm's control, or itself
    treated: np.ndarray  # (curve,) index into coords["treated"], n_treated for control arms
    sizes: dict[str, int]
    drug_centre: np.ndarray  # (drug,) middle of the tested log10 range
    comparisons: list[tuple[int, int]]  # (treated curve, its control curve)
    comparison_names: list[str]
    has_curve_effect: bool
    vehicles_in_every_top_group: bool
    response_scale: float

    def n(self, dim: str) -> int:
        return self.sizes[dim]

    @classmethod
    def from_data(cls, data: DoseResponseData) -> _Design:
        coords = data.coords
        curves = data.curves
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
        design = dict(
            cell_line=curves.cell_line.map(code["cell_line"]).to_numpy(),
            drug=curves.drug.map(code["drug"]).to_numpy(),
            control=own_control.map(code["control"]).to_numpy(),
            treated=treated.to_numpy(dtype=int),
        )
        sizes = {dim: len(levels) for dim, levels in coords.items()}
        return cls(
            **design, sizes=sizes,
            drug_centre=drug_centre.reindex(coords["drug"]).to_numpy(),
            comparisons=comparisons, comparison_names=names,
            has_curve_effect=len(curves) > _fixed_rank(design, sizes),
            vehicles_in_every_top_group=bool(
                data.wells[data.wells.well_type == "vehicle"].groupby("top_group").size()
                .reindex(range(sizes["top_group"]), fill_value=0).min() >= MIN_VEHICLE_WELLS),
            response_scale=max(data.response_scale, 1e-12),
        )


def _fixed_rank(design: dict[str, np.ndarray], sizes: dict[str, int]) -> int:
    """Rank of the curve-level design of the population terms: how many curve means they fix.

    A curve-level deviation is identifiable only when there are more curves than this.
    """
    n_curve = len(design["drug"])
    columns = [np.eye(sizes["drug"])[design["drug"]],
               np.eye(sizes["cell_line"])[design["cell_line"]],
               np.eye(sizes["cell_line"] * sizes["drug"])[design["cell_line"] * sizes["drug"]
                                                          + design["drug"]],
               np.eye(sizes["control"])[design["control"]]]
    treated = design["treated"] < sizes["treated"]
    pair = np.zeros((n_curve, max(sizes["treated"], 1) * sizes["drug"]))
    pair[treated, design["treated"][treated] * sizes["drug"] + design["drug"][treated]] = 1.0
    columns.append(pair)
    return int(np.linalg.matrix_rank(np.hstack(columns)))
