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

MIN_VALUES_DEFAULT = 10  # fewer independent values: the scale is fixed, not learnt
# ... except where each value is pinned by many wells of its own: a curve in one
# experiment (~27 wells) pins its IC50, so six of them (two arms x three experiments)
# tell how far experiments disagree, and the shift's interval must follow them
MIN_VALUES_FOR_SCALE = {"experiment_curve": 6, "top_group": 6}


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
    vehicles_in_every_top_group: bool
    median_wells_per_curve: float
    median_wells_per_curve_experiment: float
    median_curves_per_drug: float
    response_scale: float

    def n(self, dim: str) -> int:
        return self.sizes[dim]

    def terms(self, priors: DoseResponsePriors) -> dict[str, tuple[bool, float]]:
        """Term -> (scale learnt?, prior scale or fixed sd), for the terms the design has."""
        prior_sd = {
            "cell_line_effect": priors.cell_line_sd,
            "cell_line_drug_effect": priors.cell_line_drug_sd,
            "control_effect": priors.control_sd, "shift_drug": priors.shift_drug_sd,
            "shift_cell_line": priors.shift_cell_line_sd, "curve_effect": priors.curve_sd,
            "experiment_shared": priors.experiment_shared_sd,
            "experiment_curve": priors.experiment_sd, "hill_curve": priors.hill_curve_sd,
            "bottom_curve": priors.bottom_curve_sd, "top_group": priors.top_group_sd,
        }
        return {name: (values >= MIN_VALUES_FOR_SCALE.get(name, MIN_VALUES_DEFAULT), prior_sd[name])
                for name, values in self.term_values.items() if values > 0}

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
        per_ce = pairs.groupby(["curve", "experiment"]).size()

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
                                  if several_experiments and _arms_share(curves) else 0),
            "experiment_curve": len(ce) if several_experiments else 0,
            "hill_curve": n_curves - n_drugs,
            "bottom_curve": n_curves - n_drugs,
            "top_group": sizes["top_group"] if sizes["top_group"] > 1 else 0,
        }
        vehicle_counts = (vehicles.groupby("top_group").size()
                          .reindex(range(sizes["top_group"]), fill_value=0))
        return cls(
            **codes, sizes=sizes,
            drug_centre=drug_centre.reindex(coords["drug"]).to_numpy(),
            comparisons=comparisons,
            extra_coords={"comparison": names, "experiment": experiments,
                          "curve_experiment": ce_names,
                          "well": [str(i) for i in range(len(dosed))],
                          "vehicle_well": [str(i) for i in range(len(vehicles))]},
            ce_curve=ce.curve.to_numpy(), ce_experiment=ce.experiment.to_numpy(),
            dosed=dosed, dosed_curve_experiment=dosed_ce, vehicles=vehicles,
            term_values={k: int(max(v, 0)) for k, v in term_values.items()},
            vehicles_in_every_top_group=bool(vehicle_counts.min() >= MIN_VEHICLE_WELLS),
            median_wells_per_curve=float(per_curve.median()),
            median_wells_per_curve_experiment=float(per_ce.median()),
            median_curves_per_drug=float(curves.groupby("drug").size().median()),
            response_scale=max(data.response_scale, 1e-12),
        )


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
