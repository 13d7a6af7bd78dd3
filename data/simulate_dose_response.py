"""Simulated viability screens with known parameters (examples, recovery tests, benchmarks).

What real CCK-8 plates have, not only what the model assumes:

- log10 IC50 = drug mean + cell-line effect + cell-line x drug effect + control effect
  + treatment shift (pooled over drugs, with a drug and a cell-line part) + curve deviation;
- independent **experiments** (transfections) in which every arm of a cell line x drug
  moves together (``experiment_shared_sd``) and each curve moves on its own
  (``experiment_sd``); each experiment has its own plates, and tops vary by plate;
- cell lines of different **brightness** (vehicle absorbance differing several-fold);
- **noise that grows with the signal**: multiplicative log-normal noise with a
  coefficient of variation ``noise_cv`` plus an additive reader floor ``noise_sd``
  (Student-t): not the model's own noise law;
- about 1% gross **outlier** wells, medium-only **blank** wells on every plate, and
  optionally a **shared vehicle** column per plate (drug "DMSO") instead of vehicle
  wells per drug.

What real screens add (each off by default, so earlier screens keep their draws):

- **cliffs** (``cliff_fraction``): curves so steep that viability falls from near the top
  to near the bottom between two adjacent doses (Hill slopes 6-20);
- an **outlier beside a cliff** (``cliff_outlier_fraction``): one well two doses past the
  cliff reads well above its neighbours (thunor's public screen: 0.27 among 0.05);
- **inactive drugs** (``inactive_drugs``): doses centred where the drug was expected to
  act, the true IC50 1-1.5 decades above the highest dose (no effect in range);
- curve **bottoms that vary** within a drug (``bottom_curve_sd``), and bottoms above half
  the top (curves that never reach 50%, as in :func:`hts_design`);
- **viability fractions** (``normalise``): each plate's readings minus its blanks, divided
  by its vehicle mean, blank wells dropped (what screening pipelines export).

The truth of a curve is its IC50 across experiments (before the experiment moves), the
quantity the model's ``log10_ic50`` estimates; the truth of a shift is the difference of
two such IC50s.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chemoshift.data.curve import four_parameter_response, log10_absolute_ic50

ROWS = "ABCDEFGH"
SHARED_VEHICLE_DRUG = "DMSO"


@dataclass(frozen=True)
class ScreenDesign:
    """What was tested and the true parameters that generate it.

    Concentrations are in uM; IC50s and shifts in log10 uM / log10 fold; scales of
    experiment, curve and plate variation are standard deviations (log10, or natural log
    for slopes and tops).
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
    experiments: int = 1  # independent repeats, each with its own plates
    cell_line_sd: float = 0.3
    cell_line_drug_sd: float = 0.15
    control_sd: float = 0.1
    shift_drug_sd: float = 0.1
    shift_cell_line_sd: float = 0.05
    curve_sd: float = 0.08
    experiment_sd: float = 0.1  # a curve's IC50 between experiments
    experiment_shared_sd: float = 0.1  # every arm of a cell line x drug, between experiments
    hill_curve_sd: float = 0.1  # on the natural-log scale
    bottom_curve_sd: float = 0.0  # curves' bottoms within a drug, logit scale (0: identical)
    top: float = 1.2  # absorbance of vehicle wells after blank subtraction
    cell_line_brightness: tuple[float, ...] = ()  # top multiplier per cell line (default 1)
    top_plate_sd: float = 0.08  # natural-log scale
    blank: float = 0.1  # medium-only absorbance
    noise_cv: float = 0.06  # multiplicative (log-normal) noise, grows with the reading
    noise_sd: float = 0.015  # additive reader noise (Student-t scale)
    noise_nu: float = 5.0
    outlier_fraction: float = 0.01
    shared_vehicle: bool = False  # one vehicle column per plate (drug DMSO), not per drug
    duplicate_fraction: float = 0.0  # share of doses given one more well (HTS: 1-2 wells)
    single_arm: str = "untreated"  # the one arm of a screen without treatments (no controls)
    cliff_fraction: float = 0.0  # share of curves whose transition lies between two doses
    cliff_hill: tuple[float, float] = (6.0, 20.0)  # a cliff's Hill slope: log-uniform range
    cliff_outlier_fraction: float = 0.0  # share of cliff curves with a high well past the cliff
    cliff_outlier_height: float = 0.2  # that well's excess reading, as a fraction of the top
    inactive_drugs: int = 0  # the last drugs act 1-1.5 decades above their highest dose
    normalise: bool = False  # viability fractions of the plate's vehicle mean, no blanks
    # one experiment moves its curves too (by experiment_sd, experiment_shared_sd): the
    # truth is each curve's value across experiments, as a lab's single repeat estimates it
    single_experiment_moves: bool = False
    shift_by_drug: dict[str, float] = field(default_factory=dict)  # added to a drug's shift

    @property
    def treatments(self) -> tuple[str, ...]:
        arms = []
        for treated, control in self.controls.items():
            arms += [a for a in (control, treated) if a not in arms]
        return tuple(arms) or (self.single_arm,)

    def concentrations(self, drug: str) -> np.ndarray:
        """Tested concentrations (uM), centred on the drug's expected mean IC50 (its
        ``drug_log10_ic50``; an inactive drug's true IC50 lies beyond them), ascending."""
        steps = np.arange(self.n_concentrations) - (self.n_concentrations - 1) / 2
        return 10 ** (self.drug_log10_ic50[drug] + steps * np.log10(self.dilution_factor))

    def brightness(self, index: int) -> float:
        return self.cell_line_brightness[index] if self.cell_line_brightness else 1.0


def real_screen_design(**settings) -> ScreenDesign:
    """:func:`hts_design` with what a real public screen of that shape has (thunor's
    8 x 27 x 9 doses): cliffs in one curve of ten, an outlier beside half of them, three
    inactive drugs, bottoms varying between curves, viability fractions."""
    values = dict(cliff_fraction=0.1, cliff_outlier_fraction=0.5, inactive_drugs=3,
                  bottom_curve_sd=0.5, normalise=True)
    return hts_design(**(values | settings))


def single_curves_design(**settings) -> ScreenDesign:
    """Shaped like a real toxicity set of 21 metals and mixtures: one curve each, ten doses x
    three wells, four with hardly any effect in the tested range."""
    rng = np.random.default_rng(21)
    names = [f"metal{i + 1:02d}" for i in range(21)]
    values = dict(
        cell_lines=("algae",),
        drug_log10_ic50=dict(zip(names, rng.uniform(-1.0, 2.0, 21).round(2), strict=True)),
        drug_hill=dict(zip(names, np.exp(rng.normal(0.3, 0.4, 21)).round(2), strict=True)),
        drug_bottom=dict(zip(names, rng.uniform(0.0, 0.3, 21).round(2), strict=True)),
        controls={}, n_concentrations=10, dilution_factor=10**0.4, replicates=3,
        inactive_drugs=4,
    )
    return ScreenDesign(**(values | settings))


def combination_design(**settings) -> ScreenDesign:
    """Shaped like a real three-experiment SRB study: one drug alone and in a fixed-ratio
    combination (the combination's shift against the drug alone), seven doses x three
    wells, three assays on different days; fit it with its blank wells dropped (the lab's
    file has none)."""
    values = dict(
        cell_lines=("H460",), drug_log10_ic50={"drug": -1.1}, drug_hill={"drug": 1.3},
        drug_bottom={"drug": 0.1}, controls={"combination": "alone"},
        true_shift={"combination": -0.09}, n_concentrations=7, dilution_factor=10**0.5,
        replicates=3, experiments=3, experiment_sd=0.1, experiment_shared_sd=0.15,
        noise_cv=0.08, top=0.9,
    )
    return ScreenDesign(**(values | settings))


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


def hts_design(**settings) -> ScreenDesign:
    """A screen shaped like a public HTS viability screen: 8 cell lines x 27 drugs, one arm.

    Nine doses over four decades, one well a dose (two for a third of them), one
    experiment; cell lines differ widely (sd 0.5 log10) and many drugs leave a high bottom,
    so many curves never reach 50% in the tested range.
    """
    rng = np.random.default_rng(2016)
    drugs = [f"drug{i + 1:02d}" for i in range(27)]
    values = dict(
        cell_lines=tuple(f"line{i + 1:02d}" for i in range(8)),
        drug_log10_ic50=dict(zip(drugs, rng.uniform(-2.0, 1.0, 27).round(2), strict=True)),
        drug_hill=dict(zip(drugs, np.exp(rng.normal(0.0, 0.3, 27)).round(2), strict=True)),
        drug_bottom=dict(zip(drugs, rng.uniform(0.02, 0.7, 27).round(2), strict=True)),
        controls={}, n_concentrations=9, dilution_factor=10**0.5, replicates=1,
        duplicate_fraction=1 / 3, cell_line_sd=0.5, cell_line_drug_sd=0.25,
    )
    return ScreenDesign(**(values | settings))


def simulate_screen(design: ScreenDesign, seed: int) -> tuple[pd.DataFrame, dict]:
    """Draw one screen: the wells (tidy schema) and the true parameters behind them.

    Returns
    -------
    wells : DataFrame in the schema of ``chemoshift.data.dose_response`` (concentration
        in uM, response in absorbance, blank wells included; an ``experiment`` column when
        ``design.experiments > 1``).
    truth : dict with ``curves`` (records: keys, ``log10_ic50``, ``log10_ic50_absolute``,
        ``hill``, ``bottom``, ``log10_ic50_by_experiment``), ``comparisons`` (keys,
        ``log10_shift``), ``shift_drug`` (treatment, drug, ``log10_shift``) and
        ``shift_pooled`` (treatment -> log10 shift).
    """
    rng = np.random.default_rng(seed)
    features = np.random.default_rng([seed, 20])  # real screens' features: rng's draws unchanged
    drugs = list(design.drug_log10_ic50)
    lines = list(design.cell_lines)
    arms = list(design.treatments)
    control_arms = [a for a in arms if a not in design.controls]

    cell_line_effect = _zero_sum(rng.normal(0, design.cell_line_sd, len(lines)))
    cell_line_drug = _zero_sum(_zero_sum(
        rng.normal(0, design.cell_line_drug_sd, (len(lines), len(drugs))), axis=0), axis=1)
    control_effect = dict(zip(control_arms, _zero_sum(
        rng.normal(0, design.control_sd, len(control_arms))), strict=True))
    shift_drug = {(t, d): design.true_shift[t] + design.shift_by_drug.get(d, 0.0)
                  + rng.normal(0, design.shift_drug_sd)
                  for t in design.controls for d in drugs}
    shift_line = {t: dict(zip(lines, _zero_sum(rng.normal(0, design.shift_cell_line_sd,
                                                          len(lines))), strict=True))
                  for t in design.controls}

    inactive = drugs[len(drugs) - design.inactive_drugs:] if design.inactive_drugs else []
    drug_offset = {d: (np.log10(design.concentrations(d)[-1]) + features.uniform(1.0, 1.5)
                       - design.drug_log10_ic50[d]) if d in inactive else 0.0 for d in drugs}
    curves = {}
    for (li, line), (di, drug), arm in itertools.product(enumerate(lines), enumerate(drugs),
                                                         arms):
        shift = (shift_drug[arm, drug] + shift_line[arm][line]) if arm in design.controls else 0.0
        log10_ic50 = (design.drug_log10_ic50[drug] + drug_offset[drug] + cell_line_effect[li]
                      + cell_line_drug[li, di] + control_effect[design.controls.get(arm, arm)]
                      + shift + rng.normal(0, design.curve_sd))
        hill = design.drug_hill[drug] * np.exp(rng.normal(0, design.hill_curve_sd))
        bottom = design.drug_bottom[drug]
        if design.bottom_curve_sd:  # drawn only when asked: other screens keep their draws
            logit = np.log(bottom / (1.0 - bottom)) + rng.normal(0, design.bottom_curve_sd)
            bottom = float(1.0 / (1.0 + np.exp(-logit)))
        cliff = design.cliff_fraction > 0 and features.random() < design.cliff_fraction
        if cliff:
            hill = float(np.exp(features.uniform(*np.log(design.cliff_hill))))
        outlier_beside = cliff and features.random() < design.cliff_outlier_fraction
        curves[line, drug, arm] = dict(
            cell_line=line, drug=drug, treatment=arm, log10_ic50=log10_ic50, hill=hill,
            bottom=bottom, log10_ic50_absolute=log10_absolute_ic50(log10_ic50, hill, bottom),
            log10_ic50_by_experiment=[], cliff=cliff, outlier_beside_cliff=outlier_beside)
    moves = design.experiments > 1 or design.single_experiment_moves
    for _ in range(design.experiments):
        shared = rng.normal(0, design.experiment_shared_sd, (len(lines), len(drugs)))
        for (li, line), (di, drug), arm in itertools.product(enumerate(lines),
                                                             enumerate(drugs), arms):
            curve = curves[line, drug, arm]
            moved = (curve["log10_ic50"] + shared[li, di]
                     + rng.normal(0, design.experiment_sd)) if moves else curve["log10_ic50"]
            curve["log10_ic50_by_experiment"].append(moved)

    wells = []
    plate_number = 0
    for experiment in range(design.experiments):
        for li, line in enumerate(lines):
            for arm in arms:
                plate_number += 1
                plate = f"P{plate_number:02d}"
                top = (design.top * design.brightness(li)
                       * np.exp(rng.normal(0, design.top_plate_sd)))
                position = ((ROWS[i % 8], i // 8 + 1) for i in itertools.count())
                where = dict(experiment=experiment, plate=plate, cell_line=line, treatment=arm)
                if design.shared_vehicle:
                    for replicate in range(1, design.replicates + 1):
                        wells.append(_well(where, SHARED_VEHICLE_DRUG, 0.0, replicate, top,
                                           design, position, rng))
                for drug in drugs:
                    curve = curves[line, drug, arm]
                    doses = design.concentrations(drug)
                    if not design.shared_vehicle:
                        doses = np.concatenate([[0.0], doses])
                    with np.errstate(divide="ignore"):
                        means = four_parameter_response(
                            np.log10(doses), curve["log10_ic50_by_experiment"][experiment],
                            curve["hill"], curve["bottom"], top)
                    beside = _beside_cliff(doses, curve, experiment)
                    for k, (dose, mean) in enumerate(zip(doses, means, strict=True)):
                        extra = int(rng.random() < design.duplicate_fraction)
                        for replicate in range(1, design.replicates + 1 + extra):
                            bump = (design.cliff_outlier_height * top
                                    if k == beside and replicate == 1 else 0.0)
                            wells.append(_well(where, drug, dose, replicate, mean, design,
                                               position, rng, bump=bump))
                for replicate in range(1, 4):
                    wells.append(_well(where, "", 0.0, replicate, 0.0, design, position, rng,
                                       well_type="blank"))

    frame = pd.DataFrame(wells)
    if design.normalise:
        frame = _viability_fractions(frame)
    frame["control"] = frame.treatment.map(lambda arm: design.controls.get(arm, ""))
    if design.experiments > 1:
        frame["experiment"] = "E" + (frame.experiment + 1).astype(str)
    else:
        frame = frame.drop(columns="experiment")
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
        shift_pooled={t: shift + float(np.mean([design.shift_by_drug.get(d, 0.0)
                                                  for d in drugs]))
                      for t, shift in design.true_shift.items()},
    )
    return frame, truth


def _beside_cliff(doses: np.ndarray, curve: dict, experiment: int) -> int:
    """Index (into ``doses``) of the well reading high two doses past a cliff; -1 if none."""
    if not curve["outlier_beside_cliff"]:
        return -1
    with np.errstate(divide="ignore"):
        past = np.flatnonzero(np.log10(doses) > curve["log10_ic50_by_experiment"][experiment])
    return int(min(past[0] + 2, len(doses) - 1)) if past.size else -1


def _viability_fractions(frame: pd.DataFrame) -> pd.DataFrame:
    """Each plate's readings minus its blank mean, over its vehicle mean; blanks dropped."""
    blank = frame.response.where(frame.well_type == "blank")
    offset = blank.groupby([frame.experiment, frame.plate]).transform("mean")
    vehicle = (frame.response - offset).where(frame.well_type == "vehicle")
    scale = vehicle.groupby([frame.experiment, frame.plate]).transform("mean")
    frame = frame.assign(response=((frame.response - offset) / scale).round(4))
    return frame[frame.well_type != "blank"].reset_index(drop=True)


def _well(where: dict, drug: str, dose: float, replicate: int, mean: float,
          design: ScreenDesign, position, rng, well_type: str | None = None,
          bump: float = 0.0) -> dict:
    """One well's reading: mean x log-normal noise + reader noise + blank; rare outliers;
    ``bump`` added (an outlier beside a cliff)."""
    reading = (mean * np.exp(design.noise_cv * rng.standard_normal())
               + design.noise_sd * rng.standard_t(design.noise_nu) + bump)
    if well_type is None and rng.random() < design.outlier_fraction:
        reading = mean * rng.uniform(0.3, 1.8) + 0.2 * design.top * rng.standard_normal()
    row, column = next(position)
    return dict(
        **where, drug=drug, well=f"{row}{column}", replicate=replicate,
        well_type=well_type or ("vehicle" if dose == 0 else "sample"),
        concentration=float(f"{dose:.6g}"), unit="uM",
        response=round(float(reading + design.blank), 4),
    )


def _zero_sum(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return values - values.mean(axis=axis, keepdims=True)
