"""Simulated luciferase, Western blot and apoptosis experiments with known truth.

Each simulator follows the lab's process, not the model's code: per-well transfection
efficiency (luciferase) and lane loading (Western) multiply both channels; experiments
(transfections, blots) move every reading they hold and move each group a little on its
own; wells and lanes add log-normal noise with ~2% gross outliers; apoptosis counts are
binomial draws from sample (tube) fractions that vary beyond the binomial (a beta
distribution), around an experiment's shift and, if ``deviation_sd`` > 0 (default 0, as
the bundled example was made), each group's own move in that experiment.
Every function returns ``(table, truth)``: the table as a user's CSV holds it, and the
true quantities the models estimate (natural-log ratios; apoptosis fractions, odds ratios
and percentage points) keyed by the same descriptors the output tables use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _expit(x):
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class LuciferaseDesign:
    cell_lines: tuple[str, ...] = ("Huh7", "HepG2")
    wild_type: str = "IGF1R-3'UTR-WT"
    mutant: str = "IGF1R-3'UTR-MUT"
    treatment: str = "miR-379"
    control: str = "miR-NC"
    experiments: int = 3
    wells: int = 3  # wells per construct x treatment x experiment
    repression: dict = field(default_factory=lambda: {"Huh7": 0.55, "HepG2": 0.62})
    mutant_repression: float = 0.95  # off-target: the mutant barely moves
    batch_sd: float = 0.25
    deviation_sd: float = 0.08
    noise_sd: float = 0.15
    outlier_rate: float = 0.02


def simulate_luciferase(design: LuciferaseDesign = LuciferaseDesign(), seed: int = 0
                        ) -> tuple[pd.DataFrame, dict]:
    """Wells of a dual-luciferase assay; truth: each construct's treated/control log ratio
    and the interaction (wild type beyond mutant), per cell line."""
    rng = np.random.default_rng(seed)
    rows, truth, group_truth = [], [], []
    for cell_line in design.cell_lines:
        base = {design.wild_type: rng.normal(0.0, 0.3), design.mutant: rng.normal(0.2, 0.3)}
        wt = float(np.log(design.repression.get(cell_line, 0.6)))
        mut = float(np.log(design.mutant_repression))
        effect = {design.wild_type: wt, design.mutant: mut}
        for construct in effect:  # firefly = 1.5 x Renilla x exp(base + effect) in a typical run
            for treatment in (design.control, design.treatment):
                group_truth.append(dict(
                    cell_line=cell_line, construct=construct, treatment=treatment,
                    log_ratio=float(np.log(1.5) + base[construct]
                                    + (effect[construct] if treatment == design.treatment
                                       else 0.0))))
        for construct, value in effect.items():
            truth.append(dict(cell_line=cell_line, construct=construct,
                              treatment=design.treatment, control=design.control,
                              log_ratio=value))
        truth.append(dict(cell_line=cell_line, construct="interaction",
                          treatment=design.treatment, control=design.control,
                          log_ratio=wt - mut))
        for e in range(1, design.experiments + 1):
            batch = rng.normal(0, design.batch_sd)
            plate = f"{cell_line}-E{e}"
            position = 0
            for construct in effect:
                for treatment in (design.control, design.treatment):
                    mean = (base[construct] + batch + rng.normal(0, design.deviation_sd)
                            + (effect[construct] if treatment == design.treatment else 0.0))
                    for _ in range(design.wells):
                        renilla = float(np.exp(rng.normal(np.log(4e5), 0.5)))
                        noise = rng.normal(0, design.noise_sd)
                        if rng.random() < design.outlier_rate:
                            noise += rng.choice([-1, 1]) * 0.8
                        position += 1
                        rows.append(dict(
                            cell_line=cell_line, experiment=f"E{e}", plate=plate,
                            well=f"{'ABCDEFGH'[(position - 1) // 12]}{(position - 1) % 12 + 1}",
                            construct=construct, treatment=treatment,
                            firefly=round(renilla * 1.5 * np.exp(mean + noise)),
                            renilla=round(renilla)))
    return pd.DataFrame(rows), {"contrasts": truth, "groups": group_truth}


@dataclass(frozen=True)
class WesternDesign:
    cell_lines: tuple[str, ...] = ("Huh7", "HepG2")
    control: str = "miR-NC"
    control_dose: float = 80.0
    treatment: str = "miR-379"
    doses: tuple[float, ...] = (40.0, 80.0)
    fold: dict = field(default_factory=lambda: {40.0: 0.7, 80.0: 0.45})
    experiments: int = 3
    lanes: int = 1  # lanes per condition x dose on each blot
    blot_sd: float = 0.3
    deviation_sd: float = 0.08
    noise_sd: float = 0.12
    outlier_rate: float = 0.0


def simulate_western(design: WesternDesign = WesternDesign(), seed: int = 0
                     ) -> tuple[pd.DataFrame, dict]:
    """Lanes of IGF1R / β-actin blots, one blot per experiment and cell line; truth: each
    dose's log fold change vs the control condition, per cell line."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    arms = [(design.control, design.control_dose, 0.0)] + [
        (design.treatment, d, float(np.log(design.fold[d]))) for d in design.doses]
    group_truth = []
    for cell_line in design.cell_lines:
        base = rng.normal(-0.5, 0.3)
        for condition, dose, effect in arms[1:]:
            truth.append(dict(cell_line=cell_line, condition=condition, dose=dose,
                              control=design.control, log_ratio=effect))
        for condition, dose, effect in arms:  # target / loading of a typical blot
            group_truth.append(dict(cell_line=cell_line, condition=condition, dose=dose,
                                    log_ratio=float(base + effect)))
        for e in range(1, design.experiments + 1):
            blot = rng.normal(0, design.blot_sd)
            lane = 0
            for condition, dose, effect in arms:
                mean = base + blot + effect + rng.normal(0, design.deviation_sd)
                for _ in range(design.lanes):
                    lane += 1
                    loading = float(np.exp(rng.normal(np.log(3e4), 0.25)))
                    noise = rng.normal(0, design.noise_sd)
                    if rng.random() < design.outlier_rate:
                        noise += rng.choice([-1, 1]) * 0.6
                    rows.append(dict(cell_line=cell_line, experiment=f"E{e}",
                                     blot=f"{cell_line}-blot{e}", lane=lane,
                                     condition=condition, dose=dose,
                                     target=round(loading * np.exp(mean + noise), 1),
                                     loading=round(loading, 1)))
    return pd.DataFrame(rows), {"contrasts": truth, "groups": group_truth}


@dataclass(frozen=True)
class BlotPanelDesign:
    """rasilab's blots (Park & Subramaniam 2019): each blot holds two reporters (cell
    lines) x three conditions, one lane each, and only some reporters sit on two blots, so
    most groups are seen in one lane. One experiment; log effects of a condition vs the
    control drawn per reporter (``effect_sd``), lane noise ``noise_sd`` (natural logs)."""

    blots: tuple[tuple[str, str], ...] = (
        ("r1", "r2"), ("r3", "r4"), ("r1", "r5"), ("r4", "r3"),
        ("r6", "r7"), ("r8", "r9"), ("r10", "r11"), ("r12", "r13"))
    conditions: tuple[str, ...] = ("ctgc", "ccac", "caaa")
    control: str = "ccac"
    effect_sd: float = 0.4
    blot_sd: float = 0.3
    noise_sd: float = 0.15
    outlier_rate: float = 0.0


def simulate_blot_panels(design: BlotPanelDesign = BlotPanelDesign(), seed: int = 0
                         ) -> tuple[pd.DataFrame, dict]:
    """Lanes of reporter / loading blots shaped like rasilab's; truth: each condition's log
    fold change vs the control per reporter, and each group's log ratio on a typical blot."""
    rng = np.random.default_rng(seed)
    reporters = list(dict.fromkeys(r for blot in design.blots for r in blot))
    value = {}
    for reporter in reporters:
        base = rng.normal(0.0, 0.5)
        for condition in design.conditions:
            value[reporter, condition] = base + (
                0.0 if condition == design.control else rng.normal(0.0, design.effect_sd))
    rows = []
    for b, blot in enumerate(design.blots, start=1):
        shift = rng.normal(0, design.blot_sd)
        for lane, (reporter, condition) in enumerate(
                [(r, c) for r in blot for c in design.conditions], start=1):
            loading = float(np.exp(rng.normal(np.log(3e4), 0.25)))
            noise = rng.normal(0, design.noise_sd)
            if rng.random() < design.outlier_rate:
                noise += rng.choice([-1, 1]) * 0.6
            rows.append(dict(cell_line=reporter, blot=f"blot{b}", lane=lane,
                             condition=condition,
                             target=round(loading * np.exp(value[reporter, condition] + shift
                                                           + noise), 1),
                             loading=round(loading, 1)))
    contrasts = [dict(cell_line=r, condition=c, control=design.control,
                      log_ratio=value[r, c] - value[r, design.control])
                 for r in reporters for c in design.conditions if c != design.control]
    groups = [dict(cell_line=r, condition=c, log_ratio=value[r, c])
              for r in reporters for c in design.conditions]
    return pd.DataFrame(rows), {"contrasts": contrasts, "groups": groups}


@dataclass(frozen=True)
class ApoptosisDesign:
    cell_lines: tuple[str, ...] = ("Huh7", "HepG2")
    treatment: str = "miR-379"
    control: str = "miR-NC"
    drug: str = "DOX 0.5 uM"
    vehicle: str = "vehicle"
    experiments: int = 3
    samples: int = 1  # samples per cell of the 2 x 2 per experiment
    total: int = 20000
    fractions: dict = field(default_factory=lambda: {  # (treatment, drug) -> fraction
        ("miR-NC", "vehicle"): 0.05, ("miR-379", "vehicle"): 0.07,
        ("miR-NC", "DOX 0.5 uM"): 0.15, ("miR-379", "DOX 0.5 uM"): 0.27})
    cell_line_sd: float = 0.2  # cell lines move every fraction's logit a little
    experiment_sd: float = 0.2
    deviation_sd: float = 0.0  # logit sd of one group's move in one experiment; 0: none
    kappa: float = 400.0


def simulate_apoptosis(design: ApoptosisDesign = ApoptosisDesign(), seed: int = 0
                       ) -> tuple[pd.DataFrame, dict]:
    """Samples (tubes) of PI-positive counts out of ``total`` cells; truth: every group's
    fraction in a typical experiment (no experiment shift, no deviation) and, per cell line,
    the miR effect without and with the drug and the interaction, as log odds ratios and
    percentage points.

    An experiment shifts every group's logit by one draw (``experiment_sd``) and each group
    by its own (``deviation_sd``), shared by that group's ``samples`` tubes; each tube's
    fraction is a beta draw around that (precision ``kappa``), its count a binomial. The
    deviations come from their own random stream, so ``deviation_sd`` leaves every other
    draw (and the bundled example, made with 0) as it was.
    """
    rng = np.random.default_rng(seed)
    deviation_rng = rng.spawn(1)[0]
    rows, fractions, effects = [], [], []
    for cell_line in design.cell_lines:
        move = rng.normal(0, design.cell_line_sd, size=len(design.fractions))
        logit = {key: float(np.log(f / (1 - f)) + m)
                 for (key, f), m in zip(design.fractions.items(), move, strict=True)}
        for (treatment, drug), value in logit.items():
            fractions.append(dict(cell_line=cell_line, treatment=treatment, drug=drug,
                                  fraction=float(_expit(value))))
        t, c, d, v = design.treatment, design.control, design.drug, design.vehicle
        for effect, drug, (a, b, x, y) in (
                ("mir_without_drug", v, ((t, v), (c, v), None, None)),
                ("mir_with_drug", d, ((t, d), (c, d), None, None)),
                ("interaction", d, ((t, d), (c, d), (t, v), (c, v)))):
            log_or = logit[a] - logit[b] - (logit[x] - logit[y] if x else 0.0)
            points = 100 * (_expit(logit[a]) - _expit(logit[b]) - (
                _expit(logit[x]) - _expit(logit[y]) if x else 0.0))
            effects.append(dict(cell_line=cell_line, treatment=t, drug=drug, effect=effect,
                                log_odds_ratio=float(log_or), percentage_points=float(points)))
        for e in range(1, design.experiments + 1):
            shift = rng.normal(0, design.experiment_sd)
            for (treatment, drug), value in logit.items():
                deviation = deviation_rng.normal(0, design.deviation_sd)
                for _ in range(design.samples):
                    p = _expit(value + shift + deviation)
                    sample_p = rng.beta(p * design.kappa, (1 - p) * design.kappa)
                    rows.append(dict(cell_line=cell_line, experiment=f"E{e}",
                                     treatment=treatment, drug=drug,
                                     apoptotic=int(rng.binomial(design.total, sample_p)),
                                     total=design.total))
    return pd.DataFrame(rows), {"fractions": fractions, "effects": effects}
