"""Simulated viability screens with known parameters (examples, recovery tests, benchmarks).

The generating process is the model's own (``chemoshift.models.dose_response``):
log10 IC50 = drug mean + cell-line effect + cell-line x drug effect + control effect
+ treatment shift (pooled over drugs) + curve deviation; a four-parameter
log-logistic curve per cell line x drug x treatment; plate-level tops; Student-t noise;
plus a few gross outlier wells and per-plate blank (medium-only) wells, as real
CCK-8 plates have.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROWS = "ABCDEFGH"


@dataclass(frozen=True)
class ScreenDesign:
    """What was tested and the true parameters that generate it.

    Concentrations are in uM; IC50s and shifts in log10 uM / log10 fold.
    """

    cell_lines: tuple[str, ...] = ("Huh7", "HepG2")
    drug_log10_ic50: dict[str, float] = field(
        default_factory=lambda: {"5-FU": 1.0, "PTX": -2.0, "DOX": -0.3})
    drug_hill: dict[str, float] = field(
        default_factory=lambda: {"5-FU": 1.1, "PTX": 0.9, "DOX": 1.4})
    drug_bottom: dict[str, float] = field(
        default_factory=lambda: {"5-FU": 0.12, "PTX": 0.2, "DOX": 0.05})
    controls: dict[str, str] = field(
        default_factory=lambda: {"si-IGF1R": "si-NC", "miR-379": "miR-NC"})
    true_shift: dict[str, float] = field(  # pooled log10 IC50 shift of each treated arm
        default_factory=lambda: {"si-IGF1R": -0.35, "miR-379": -0.45})
    n_concentrations: int = 8
    dilution_factor: float = 10**0.5  # half-log steps
    replicates: int = 3
    experiments: int = 1  # independent plates per cell line x treatment
    cell_line_sd: float = 0.3
    cell_line_drug_sd: float = 0.15
    control_sd: float = 0.1
    shift_drug_sd: float = 0.1
    curve_sd: float = 0.08
    hill_curve_sd: float = 0.1  # on the natural-log scale
    top: float = 1.2  # absorbance of vehicle wells after blank subtraction
    top_plate_sd: float = 0.08  # log scale
    blank: float = 0.1  # medium-only absorbance
    noise_sd: float = 0.04
    noise_nu: float = 5.0
    outlier_fraction: float = 0.01

    @property
    def treatments(self) -> tuple[str, ...]:
        arms = []
        for treated, control in self.controls.items():
            arms += [a for a in (control, treated) if a not in arms]
        return tuple(arms)

    def concentrations(self, drug: str) -> np.ndarray:
        """Tested concentrations (uM), centred on the drug's mean IC50, ascending."""
        steps = np.arange(self.n_concentrations) - (self.n_concentrations - 1) / 2
        return 10 ** (self.drug_log10_ic50[drug] + steps * np.log10(self.dilution_factor))


def screen_design(n_cell_lines: int, n_drugs: int, **settings) -> ScreenDesign:
    """A larger screen: ``n_cell_lines`` x ``n_drugs`` x the four study arms."""
    rng = np.random.default_rng(12345)  # drug properties are part of the design, fixed
    drugs = [f"drug{i + 1:02d}" for i in range(n_drugs)]
    return ScreenDesign(
        cell_lines=tuple(f"line{i + 1:02d}" for i in range(n_cell_lines)),
        drug_log10_ic50=dict(zip(drugs, rng.uniform(-2.5, 1.5, n_drugs).round(2), strict=True)),
        drug_hill=dict(zip(drugs, np.exp(rng.normal(0.0, 0.25, n_drugs)).round(2), strict=True)),
        drug_bottom=dict(zip(drugs, rng.uniform(0.02, 0.25, n_drugs).round(2), strict=True)),
        **settings,
    )


def simulate_screen(design: ScreenDesign, seed: int) -> tuple[pd.DataFrame, dict]:
    """Draw one screen: the wells (tidy schema) and the true parameters behind them.

    Returns
    -------
    wells : DataFrame in the schema of ``chemoshift.data.dose_response`` (concentration
        in uM, response in absorbance, blank wells included).
    truth : dict with ``curves`` (list of records: keys, ``log10_ic50``,
        ``log10_ic50_absolute``), ``comparisons`` (keys, ``log10_shift``),
        ``shift_drug`` (treatment, drug, ``log10_shift``) and ``shift_pooled``
        (treatment -> log10 shift).
    """
    rng = np.random.default_rng(seed)
    drugs = list(design.drug_log10_ic50)
    lines = list(design.cell_lines)
    arms = list(design.treatments)
    control_arms = [a for a in arms if a not in design.controls]

    cell_line_effect = _zero_sum(rng.normal(0, design.cell_line_sd, len(lines)))
    cell_line_drug = _zero_sum(_zero_sum(
        rng.normal(0, design.cell_line_drug_sd, (len(lines), len(drugs))), axis=0), axis=1)
    control_effect = dict(zip(control_arms, _zero_sum(
        rng.normal(0, design.control_sd, len(control_arms))), strict=True))
    shift_drug = {(t, d): design.true_shift[t] + rng.normal(0, design.shift_drug_sd)
                  for t in design.controls for d in drugs}

    curves, wells = {}, []
    plate_number = 0
    for li, line in enumerate(lines):
        for arm in arms:
            control = design.controls.get(arm, arm)
            for experiment in range(design.experiments):
                plate_number += 1
                plate = f"P{plate_number:02d}"
                top = design.top * np.exp(rng.normal(0, design.top_plate_sd))
                position = ((ROWS[i % 8], i // 8 + 1) for i in itertools.count())
                for di, drug in enumerate(drugs):
                    if experiment == 0:
                        log10_ic50 = (design.drug_log10_ic50[drug] + cell_line_effect[li]
                                      + cell_line_drug[li, di] + control_effect[control]
                                      + shift_drug.get((arm, drug), 0.0)
                                      + rng.normal(0, design.curve_sd))
                        hill = design.drug_hill[drug] * np.exp(rng.normal(0, design.hill_curve_sd))
                        bottom = design.drug_bottom[drug]
                        curves[line, drug, arm] = dict(
                            cell_line=line, drug=drug, treatment=arm, log10_ic50=log10_ic50,
                            hill=hill, bottom=bottom,
                            log10_ic50_absolute=_absolute(log10_ic50, hill, bottom))
                    curve = curves[line, drug, arm]
                    doses = np.concatenate([[0.0], design.concentrations(drug)])
                    for dose in doses:
                        for replicate in range(1, design.replicates + 1):
                            fraction = 1.0 if dose == 0 else 1 / (1 + 10 ** (
                                curve["hill"] * (np.log10(dose) - curve["log10_ic50"])))
                            mean = top * (curve["bottom"] + (1 - curve["bottom"]) * fraction)
                            wells.append(_well(line, drug, arm, design, plate, position, dose,
                                               replicate, mean, rng))
                for replicate in range(1, 4):
                    wells.append(_well(line, "", arm, design, plate, position, 0.0, replicate,
                                       0.0, rng, well_type="blank"))

    frame = pd.DataFrame(wells)
    frame["control"] = frame.treatment.map(design.controls).fillna("")
    comparisons = [
        dict(cell_line=c["cell_line"], drug=c["drug"], treatment=c["treatment"],
             control=design.controls[c["treatment"]],
             log10_shift=c["log10_ic50"]
             - curves[c["cell_line"], c["drug"], design.controls[c["treatment"]]]["log10_ic50"])
        for c in curves.values() if c["treatment"] in design.controls
    ]
    truth = dict(
        unit="uM",
        curves=list(curves.values()),
        comparisons=comparisons,
        shift_drug=[dict(treatment=t, drug=d, log10_shift=v) for (t, d), v in shift_drug.items()],
        shift_pooled=dict(design.true_shift),
    )
    return frame, truth


def _well(line, drug, arm, design, plate, position, dose, replicate, mean, rng,
          well_type=None) -> dict:
    noise = design.noise_sd * rng.standard_t(design.noise_nu)
    reading = mean + noise
    if well_type is None and rng.random() < design.outlier_fraction:
        reading = mean * rng.uniform(0.3, 1.8) + 0.2 * design.top * rng.standard_normal()
    row, column = next(position)
    return dict(
        cell_line=line, drug=drug, treatment=arm, plate=plate, well=f"{row}{column}",
        replicate=replicate, well_type=well_type or ("vehicle" if dose == 0 else "sample"),
        concentration=float(f"{dose:.6g}"), unit="uM",
        response=round(float(reading + design.blank), 4),
    )


def _zero_sum(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return values - values.mean(axis=axis, keepdims=True)


def _absolute(log10_ic50: float, hill: float, bottom: float) -> float:
    """log10 concentration where the curve reaches half its top (inf if it never does)."""
    if bottom >= 0.5:
        return float("inf")
    return log10_ic50 + np.log10(0.5 / (0.5 - bottom)) / hill
