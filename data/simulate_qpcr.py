"""Simulated qPCR experiments with known truth: Cts, non-detects and failed reactions.

The generating process follows the model's structure (sample loading per normalisation
group, gene x condition effects, biological and technical variation) with its own noise:
Normal technical noise plus rare gross outlier wells (+-3 cycles), Cts above the cycle
limit written ``Undetermined`` and failed reactions written as empty cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class QpcrDesign:
    """What to simulate. ``genes``: name -> (role, group, Ct at zero effect);
    ``effects``: gene -> {condition: true log2 effect} (missing: 0; references 0 unless
    given); ``random_effect_sd``: targets' effects drawn Normal(0, sd) when not given."""

    conditions: tuple[str, ...] = ("NC", "A", "B")
    doses: dict[str, float] = field(default_factory=dict)
    genes: dict[str, tuple[str, str, float]] = field(default_factory=lambda: {
        "REF1": ("reference", "REF1+REF2", 20.0), "REF2": ("reference", "REF1+REF2", 24.0),
        "T1": ("target", "REF1+REF2", 26.0), "T2": ("target", "REF1+REF2", 28.0),
        "T3": ("target", "REF1+REF2", 30.0), "T4": ("target", "REF1+REF2", 37.0)})
    effects: dict[str, dict[str, float]] = field(default_factory=dict)
    random_effect_sd: float = 1.0
    reference_sd: float = 0.05
    n_biological: int = 3
    n_technical: int = 3
    loading_sd: float = 0.4
    bio_sd: float = 0.25
    noise_sd: float = 0.15
    outlier_rate: float = 0.01
    failure_rate: float = 0.02
    max_cycle: float = 40.0
    n_experiments: int = 1  # independent experiments; samples split evenly across them
    experiment_sd: float = 0.0  # log2: a gene's shift in one experiment
    n_plates: int = 1  # technical replicate t of every sample sits on plate t % n_plates
    plate_sd: float = 0.0  # cycles: a plate's offset
    plates_per_replicate: bool = False  # each biological replicate b has its own n_plates
    # plates ("R{b}P{t % n_plates}"): the samples of replicate b sit on its plates only


def simulate_qpcr(design: QpcrDesign = QpcrDesign(), seed: int = 0
                  ) -> tuple[pd.DataFrame, dict]:
    """A long table (condition, sample, technical_replicate, gene, ct[, dose]) of text
    cells as an instrument export reads, and the truth: every gene's log2 effects and the
    log2 fold of every condition against the first condition."""
    rng = np.random.default_rng(seed)
    effect = {}
    for gene, (role, _, _) in design.genes.items():
        given = design.effects.get(gene)
        if given is not None:
            effect[gene] = {c: float(given.get(c, 0.0)) for c in design.conditions}
        else:
            sd = design.reference_sd if role == "reference" else design.random_effect_sd
            effect[gene] = {c: float(rng.normal(0, sd)) for c in design.conditions}
    groups = sorted({group for _, group, _ in design.genes.values()})
    experiment = {(e, gene): float(rng.normal(0, design.experiment_sd)) if design.experiment_sd
                  else 0.0 for e in range(design.n_experiments) for gene in design.genes}
    n_plates = design.n_plates * (design.n_biological if design.plates_per_replicate else 1)
    plate = (rng.normal(0, design.plate_sd, n_plates) if design.plate_sd
             else np.zeros(n_plates))
    plate_names = ([f"R{b + 1}P{t + 1}" for b in range(design.n_biological)
                    for t in range(design.n_plates)] if design.plates_per_replicate
                   else [f"P{t + 1}" for t in range(design.n_plates)])
    rows = []
    for condition in design.conditions:
        for b in range(design.n_biological):
            e = b * design.n_experiments // design.n_biological
            loading = {k: rng.normal(0, design.loading_sd) for k in groups}
            for gene, (_, group, ct0) in design.genes.items():
                mean = ct0 - (effect[gene][condition] + loading[group] + experiment[e, gene]
                              + rng.normal(0, design.bio_sd))
                for t in range(design.n_technical):
                    on = t % design.n_plates + (b * design.n_plates
                                                if design.plates_per_replicate else 0)
                    ct = mean + plate[on] + rng.normal(0, design.noise_sd)
                    if rng.random() < design.outlier_rate:
                        ct += rng.choice([-3.0, 3.0])
                    if rng.random() < design.failure_rate:
                        cell = ""
                    elif ct > design.max_cycle:
                        cell = "Undetermined"
                    else:
                        cell = f"{ct:.2f}"
                    row = dict(condition=condition, sample=f"{condition}-{b + 1}",
                               technical_replicate=str(t + 1), gene=gene, ct=cell)
                    if design.n_experiments > 1:
                        row["experiment"] = f"E{e + 1}"
                    if len(plate_names) > 1:
                        row["plate"] = plate_names[on]
                    if design.doses:
                        dose = design.doses.get(condition)
                        row["dose"] = "" if dose is None else f"{dose:g}"
                    rows.append(row)
    base = design.conditions[0]
    truth = dict(log2_effect=effect,
                 log2_fold={g: {c: effect[g][c] - effect[g][base] for c in design.conditions[1:]}
                            for g in design.genes},
                 control=base, plate=dict(zip(plate_names, plate.tolist(), strict=True)),
                 experiment={g: [experiment[e, g] for e in range(design.n_experiments)]
                             for g in design.genes})
    return pd.DataFrame(rows), truth
