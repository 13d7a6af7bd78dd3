"""Recovery: simulate Cts with known folds, non-detects, failed wells, experiment and plate
effects; fit; check coverage, that the nuisance effects are recovered and do not bias
the folds, and that a failed reference well is read as failed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from chemoshift.data.qpcr import validate_qpcr
from chemoshift.data.simulate_qpcr import QpcrDesign, simulate_qpcr
from chemoshift.inference import SamplerSettings, fit
from chemoshift.inference.fit import compile_model
from chemoshift.models.qpcr import (
    DEFAULT_PRIORS,
    build_model,
    model_terms,
    plate_groups,
    zero_sum_basis,
)
from chemoshift.qpcr import _failure_probability
from chemoshift.reports.qpcr.tables import folds_table

DATASETS = 4
SETTINGS = SamplerSettings(draws=300, tune=300, chains=2, progress=False, extend=False,
                           posterior_predictive=False, target_accept=0.9)
DESIGN = QpcrDesign(conditions=("NC", "A", "B", "C"), genes={
    "REF1": ("reference", "REF1+REF2", 20.0), "REF2": ("reference", "REF1+REF2", 24.0),
    **{f"T{i}": ("target", "REF1+REF2", 24.0 + 2 * i) for i in range(1, 6)},
    "LOW": ("target", "REF1+REF2", 38.5)},  # near the limit: non-detects
    n_biological=3, failure_rate=0.03,
    n_experiments=2, experiment_sd=0.3, n_plates=3, plate_sd=0.3)


def read(frame):
    return validate_qpcr(frame, "simulated", references="REF1,REF2")


def test_zero_sum_basis_is_orthonormal_and_sums_to_zero_within_levels():
    labels = np.array([0, 0, 0, 1, 1, 2])
    basis = zero_sum_basis(labels)
    assert basis.shape == (6, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    for level in (0, 1, 2):
        np.testing.assert_allclose(basis[labels == level].sum(axis=0), 0.0, atol=1e-12)


def test_model_terms_and_shapes():
    data = read(simulate_qpcr(DESIGN, seed=0)[0])
    terms = model_terms(data)
    assert terms["technical_replicates"] and not terms["reference_sd_learnt"]
    assert terms["experiments"] and terms["plates"] and terms["loading_sd_learnt"]
    model = build_model(data)
    assert model.named_vars_to_dims["log2_fold"] == ("gene", "comparison")
    assert model.named_vars_to_dims["loading"] == ("bio_sample", "group")
    assert "sample" not in model.coords  # beside chain/draw ArviZ warns about it
    assert model["ct"].get_value().shape == (len(data.reactions),)


@pytest.fixture(scope="module")
def compiled():
    """One compile for every fit of this design (the data are swapped in)."""
    return compile_model(build_model(read(simulate_qpcr(DESIGN, seed=0)[0])))


def fold_coverage(fold, data, truth) -> tuple[list[bool], list[float]]:
    """Whether each gene x comparison's 90% interval holds its true log2 fold, and each
    posterior median's error."""
    hits, errors = [], []
    for gene in data.genes.gene:
        for comparison, (condition, _) in zip(fold.comparison.values, data.comparisons,
                                              strict=True):
            draws = fold.sel(gene=gene, comparison=comparison).values.ravel()
            low, high = np.quantile(draws, [0.05, 0.95])
            true = truth["log2_fold"][gene][condition]
            hits.append(bool(low <= true <= high))
            errors.append(float(np.median(draws) - true))
    return hits, errors


@pytest.mark.slow
def test_recovery_with_non_detects_failed_wells_experiments_and_plates(compiled):
    covered, total, missing, errors, plate_errors, experiment_errors = 0, 0, 0, [], [], []
    for seed in range(DATASETS):
        frame, truth = simulate_qpcr(DESIGN, seed=100 + seed)
        if seed == 0:  # one failed reference well beside replicates at ~20 cycles
            failed = frame.index[(frame.gene == "REF1") & (frame.ct != "")][0]
            frame.loc[failed, "ct"] = ""
        data = read(frame)
        missing += int((data.reactions.status != "detected").sum())
        result = fit(build_model(data), SETTINGS, reuse=compiled)
        assert result.diagnostics.divergences <= 2, result.diagnostics.verdict
        posterior = result.datatree["posterior"]
        hits, fold_errors = fold_coverage(posterior["log2_fold"], data, truth)
        covered, total = covered + sum(hits), total + len(hits)
        errors.extend(fold_errors)
        experiment = posterior["experiment_effect"].median(("chain", "draw"))
        contrast = (experiment.sel(experiment="E1") - experiment.sel(experiment="E2")).values
        true = np.array([e1 - e2 for e1, e2 in (truth["experiment"][g]
                                                for g in experiment.gene.values)])
        experiment_errors.extend(contrast - (true - true.mean()))  # one group: genes centred
        plate = posterior["plate_effect"].median(("chain", "draw"))
        true_plate = np.array([truth["plate"][p] for p in ("P1", "P2", "P3")])
        plate_errors.extend(plate.sel(plate=["P1", "P2", "P3"]).values
                            - (true_plate - true_plate.mean()))
        if seed == 0:
            p_failed = _failure_probability(data, DEFAULT_PRIORS, result.datatree)
            assert p_failed[failed] > 0.9, f"P(failed) of the blank REF1 well {p_failed[failed]}"
    coverage, bias = covered / total, float(np.mean(errors))
    plate_rmse = float(np.sqrt(np.mean(np.square(plate_errors))))
    experiment_rmse = float(np.sqrt(np.mean(np.square(experiment_errors))))
    print(f"coverage {covered}/{total} = {coverage:.3f}, mean log2 fold error {bias:.3f}, "
          f"plate offset rmse {plate_rmse:.3f} cycles, experiment contrast rmse "
          f"{experiment_rmse:.3f} log2, {missing} missing Cts")
    assert missing >= 2 * DATASETS  # the data had non-detects and failed wells to read
    assert 0.85 <= coverage <= 0.95, f"90% intervals covered {covered}/{total} = {coverage:.3f}"
    # plate offsets (sd 0.3 cycles) and each gene's E1 - E2 contrast (sd 0.42 log2) are
    # recovered, and the folds are not shifted by them
    assert plate_rmse < 0.1, f"plate offsets off by {plate_rmse:.3f} cycles (rmse)"
    assert experiment_rmse < 0.2, f"experiment contrasts off by {experiment_rmse:.3f} (rmse)"
    assert abs(bias) < 0.1, f"mean error of log2 folds {bias:.3f} over {total}"


DEFAULTS = SamplerSettings(progress=False, posterior_predictive=False)
NESTED_DATASETS = 12
NESTED = QpcrDesign(conditions=("NC", "A", "B", "C"), genes={
    "REF": ("reference", "REF", 20.0),
    **{f"T{i}": ("target", "REF", 22.0 + 2 * i) for i in range(1, 6)}},
    n_biological=4, n_plates=3, plate_sd=0.3, plates_per_replicate=True)


def test_plates_nested_in_replicates_form_one_group_per_replicate():
    data = validate_qpcr(simulate_qpcr(NESTED, seed=0)[0], "simulated", references="REF")
    groups = plate_groups(data)
    assert len(groups) == 12 and len(np.unique(groups)) == 4
    for plate, group in zip(data.coords["plate"], groups, strict=True):  # R1P1..R4P3
        assert (groups[[p[:2] == plate[:2] for p in data.coords["plate"]]] == group).all()
    terms = model_terms(data)
    assert terms["plates"] and terms["plate_groups"] == 4 and terms["plate_sd_learnt"]
    assert len(build_model(data).coords["plate_basis"]) == 8  # 12 plates - 4 group means
    # every plate of the usual design shares samples with every other: one group
    assert model_terms(read(simulate_qpcr(DESIGN, seed=0)[0]))["plate_groups"] == 1


def test_a_target_without_reactions_in_a_condition_is_the_prior_there():
    frame = simulate_qpcr(NESTED, seed=0)[0]
    data = validate_qpcr(frame[~((frame.gene == "T1") & (frame.condition == "B"))],
                         "simulated", references="REF")
    assert model_terms(data)["prior_only_cells"] == 1
    model = build_model(data)
    apparent = pm.draw(model["target_apparent"], random_seed=1)  # (target, condition)
    t1, b = list(model.coords["target"]).index("T1"), list(model.coords["condition"]).index("B")
    assert abs(apparent[t1].sum() - apparent[t1, b]) < 1e-9  # zero-sum without B
    np.testing.assert_allclose(np.delete(apparent, t1, axis=0).sum(axis=1), 0.0, atol=1e-9)
    assert model_terms(read(simulate_qpcr(DESIGN, seed=0)[0]))["prior_only_cells"] == 0


def test_a_prior_only_fold_says_so_in_folds_csv():
    frame = simulate_qpcr(NESTED, seed=0)[0]
    data = validate_qpcr(frame[~((frame.gene == "T1") & (frame.condition == "B"))],
                         "simulated", references="REF")
    genes = list(data.genes.gene)
    draws = np.zeros((1, 4, len(genes), len(data.comparisons)))
    posterior = xr.Dataset({"log2_fold": (("chain", "draw", "gene", "comparison"), draws)},
                           coords={"gene": genes})
    folds = folds_table(xr.DataTree.from_dict({"posterior": posterior}), data.reactions,
                        data.genes, list(data.comparisons), 1.5).set_index(["gene", "condition"])
    assert folds.loc[("T1", "B"), "note"] == "prior only: no T1 reaction in B"
    assert (folds.drop(("T1", "B")).note == "").all()


@pytest.mark.extended  # 5 minutes on two cores, beyond CI's 15-minute budget; CI runs the
# qPCR recovery on the usual design (above) and the plate groups' structure (fast tests)
def test_recovery_with_plates_nested_in_replicates():
    """Each biological replicate's samples sit on its own three plates (syeddans' plate
    maps). A replicate's mean plate offset is its samples' loading shift, which the data
    cannot tell apart: the loadings carry it, the plates their contrasts within the
    replicate. The fits converge and the folds cover at the nominal rate."""
    covered, total, plate_errors = 0, 0, []
    compiled = None
    for seed in range(NESTED_DATASETS):
        frame, truth = simulate_qpcr(NESTED, seed=200 + seed)
        data = validate_qpcr(frame, "simulated", references="REF")
        model = build_model(data)
        compiled = compiled or compile_model(model)
        result = fit(model, DEFAULTS, reuse=compiled)
        diagnostics = result.diagnostics  # converged at the defaults: ESS >= 400
        assert diagnostics.passed and diagnostics.divergences == 0, diagnostics.verdict
        assert diagnostics.max_rhat <= 1.01, diagnostics.verdict
        print(diagnostics.verdict)
        posterior = result.datatree["posterior"]
        hits, _ = fold_coverage(posterior["log2_fold"], data, truth)
        covered, total = covered + sum(hits), total + len(hits)
        plate = posterior["plate_effect"].median(("chain", "draw")).to_series()
        true = pd.Series(truth["plate"])
        within = true - true.groupby(true.index.str[:2]).transform("mean")
        plate_errors.extend(plate.loc[within.index] - within)
    coverage = covered / total
    plate_rmse = float(np.sqrt(np.mean(np.square(plate_errors))))
    print(f"coverage {covered}/{total} = {coverage:.3f}, within-replicate plate contrast "
          f"rmse {plate_rmse:.3f} cycles")
    # 0.84 here (216 folds); the same data sets with the plates shared by all samples
    # 0.875, without plates 0.88: the folds of one data set share its control samples,
    # so coverage over 12 data sets varies by about +-0.03
    assert 0.8 <= coverage <= 0.96, f"90% intervals covered {covered}/{total} = {coverage:.3f}"
    assert plate_rmse < 0.1, f"plate contrasts off by {plate_rmse:.3f} cycles (rmse)"
