"""The luciferase / Western log-ratio model and the beta-binomial apoptosis model: their
shape (fast), and recovery (slow): simulate experiments shaped like the study's (three
transfections that move every reading and each group a little, outlier wells, sample
fractions that vary beyond the binomial), fit each with the model compiled once per
assay, and check that the truth falls inside the 90% intervals at 0.85-0.95."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chemoshift.data.apoptosis import read_apoptosis
from chemoshift.data.luciferase import read_luciferase
from chemoshift.data.simulate_mechanism import (
    LuciferaseDesign,
    simulate_apoptosis,
    simulate_luciferase,
    simulate_western,
)
from chemoshift.data.western import read_western
from chemoshift.inference.fit import SamplerSettings, compile_model, fit
from chemoshift.models import apoptosis as apoptosis_model
from chemoshift.models import log_ratio
from chemoshift.reports.mechanism_tables import draws

SETTINGS = SamplerSettings(draws=500, tune=500, chains=2, progress=False,
                           posterior_predictive=False, extend=False)
N_DATASETS = {"luciferase": 16, "western": 16, "apoptosis": 10}


def interval_hits(samples: np.ndarray, truth: np.ndarray, prob: float = 0.90) -> np.ndarray:
    low, high = np.quantile(samples, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return (low <= truth) & (truth <= high)


# -- shapes (no sampling) ---------------------------------------------------------------

def test_luciferase_model_names_every_contrast_and_the_interaction():
    wells, _ = simulate_luciferase(seed=1)
    data = read_luciferase(wells.astype(str))
    model = log_ratio.build_model(data.log_ratio_table())
    assert len(model.coords["contrast"]) == 6  # 2 cell lines x (WT, MUT, interaction)
    assert {"group_in_sample", "batch_raw", "deviation_z", "sigma"} <= {
        v.name for v in model.free_RVs}
    interaction = data.contrasts.kind.eq("interaction").to_numpy()
    assert (data.weights[interaction].sum(axis=1) == 0).all()  # (WT_t - WT_c) - (MUT_t - MUT_c)
    assert (np.abs(data.weights[interaction]).sum(axis=1) == 4).all()


def test_one_lane_per_group_and_experiment_has_no_separate_deviation_term():
    lanes, _ = simulate_western(seed=1)
    table = read_western(lanes.astype(str)).log_ratio_table()
    model = log_ratio.build_model(table)
    assert not log_ratio.has_deviation(table)  # it would be the noise itself: a funnel
    assert "deviation_z" not in {v.name for v in model.free_RVs}


def test_one_experiment_leaves_batch_and_deviation_out():
    wells, _ = simulate_luciferase(LuciferaseDesign(experiments=1, cell_lines=("Huh7",)),
                                   seed=2)
    data = read_luciferase(wells.astype(str))
    names = {v.name for v in log_ratio.build_model(data.log_ratio_table()).free_RVs}
    assert names == {"group_mean", "sigma"}
    assert any("one experiment" in note for note in data.notes)


def test_apoptosis_effect_weights_make_the_interaction_a_difference_of_differences():
    samples, _ = simulate_apoptosis(seed=1)
    data = read_apoptosis(samples.astype(str))
    model = apoptosis_model.build_model(data)
    effects = data.effects()
    assert list(effects.effect[:3]) == ["mir_without_drug", "mir_with_drug", "interaction"]
    assert {"log_kappa", "logit_in_sample", "experiment_raw"} <= {v.name for v in
                                                                    model.free_RVs}
    assert len(model.coords["effect"]) == 6


# -- recovery (slow) ---------------------------------------------------------------------

def _recover(assay: str) -> tuple[np.ndarray, list[float]]:
    hits, worst = [], []
    compiled = None
    for k in range(N_DATASETS[assay]):
        seed = 500 + k
        if assay == "apoptosis":
            table, truth = simulate_apoptosis(seed=seed)
            data = read_apoptosis(table.astype(str))
            model = apoptosis_model.build_model(data)
        else:
            simulate, read = ((simulate_luciferase, read_luciferase) if assay == "luciferase"
                              else (simulate_western, read_western))
            table, truth = simulate(seed=seed)
            data = read(table.astype(str))
            model = log_ratio.build_model(data.log_ratio_table())
        compiled = compiled or compile_model(model)
        result = fit(model, dataclasses.replace(SETTINGS, seed=seed), reuse=compiled)
        worst.append(result.diagnostics.max_rhat)
        for name, values in _truth(assay, data, truth).items():
            hits += list(interval_hits(draws(result.datatree, name), values))
    return np.array(hits), worst


def _truth(assay: str, data, truth: dict) -> dict[str, np.ndarray]:
    """True values in the model's coordinate order, by variable name."""
    if assay == "apoptosis":
        fraction = {(f["cell_line"], f["treatment"], f["drug"]): f["fraction"]
                    for f in truth["fractions"]}
        effect = {(e["cell_line"], e["drug"], e["effect"]): e for e in truth["effects"]}
        rows = [effect[r.cell_line, r.drug, r.effect] for r in data.effects().itertuples()]
        return {"fraction": np.array([fraction[tuple(g)] for g in
                                      data.groups.itertuples(index=False)]),
                "log_odds_ratio": np.array([r["log_odds_ratio"] for r in rows]),
                "percentage_points": np.array([r["percentage_points"] for r in rows])}
    if assay == "luciferase":
        contrast = {(c["cell_line"], c["construct"]): c["log_ratio"] for c in truth["contrasts"]}
        group = {(g["cell_line"], g["construct"], g["treatment"]): g["log_ratio"]
                 for g in truth["groups"]}
        return {"log_contrast": np.array([contrast[r.cell_line, r.construct] for r in
                                          data.contrasts.itertuples()]),
                "group_mean": np.array([group[tuple(g)] for g in
                                        data.groups.itertuples(index=False)])}
    contrast = {(c["cell_line"], f"{c['dose']:g} nM"): c["log_ratio"] for c in truth["contrasts"]}
    group = {(g["cell_line"], g["condition"], f"{g['dose']:g} nM"): g["log_ratio"]
             for g in truth["groups"]}
    return {"log_contrast": np.array([contrast[r.cell_line, r.dose] for r in
                                      data.contrasts.itertuples()]),
            "group_mean": np.array([group[tuple(g)] for g in
                                    data.groups.itertuples(index=False)])}


@pytest.mark.slow
@pytest.mark.parametrize("assay", ["luciferase", "western", "apoptosis"])
def test_ninety_percent_intervals_cover_the_truth_at_the_nominal_rate(assay):
    hits, worst_rhat = _recover(assay)
    coverage = hits.mean()
    # 160-220 intervals per assay, correlated within a data set: 0.85-0.95 tells calibrated
    # intervals from over-confident ones (well noise only) or ones far too wide (~1.0)
    assert 0.85 <= coverage <= 0.95, (assay, coverage, len(hits))
    assert max(worst_rhat) < 1.05, worst_rhat  # short chains: agreement, not the 1.01 bar
