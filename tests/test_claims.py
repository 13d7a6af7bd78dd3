"""claims.csv: each claim reads its assay's row, verdicts follow the thresholds, and a broken
or unconverged run is said so in words. Fixtures are small run directories built in code
(CSVs, run.json, a tiny posterior with the real variable names); no model is fitted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from xarray import DataTree

from chemoshift.data import run_dir as files
from chemoshift.data.curve import four_parameter_fraction
from chemoshift.reports.classical import fit_curve
from chemoshift.reports.dose_response.inputs import read_curves
from chemoshift.reports.dose_response.tables import shifts_table
from chemoshift.reports.study import claims as claims_module
from chemoshift.reports.study.claims import (
    CLAIM_ASSAY,
    CLAIM_KINDS,
    COLUMNS,
    VerdictThresholds,
    claim_problems,
    evaluate_claims,
    probability_mcse,
    read_claims,
    shift_draws,
    verdict,
    write_claims,
)

LINES, DRUGS, ARMS = ("Huh7", "HepG2"), ("DOX", "PTX"), ("NC", "miR", "si")
CONTROL = {"NC": "", "miR": "NC", "si": "NC"}
TRUE_SHIFT = {"NC": 0.0, "miR": -0.5, "si": 0.0}  # log10; si does nothing
EXPERIMENTS = ("E1", "E2", "E3")


def _record(folder: Path, assay: str, passed: bool = True) -> None:
    files.write_json(folder / files.RECORD, {"assay": assay, "settings": {"margin": 1.5},
                                             "diagnostics": {"passed": passed}})


def _tree(**variables: tuple[tuple[str, ...], np.ndarray, dict]) -> DataTree:
    """A posterior group of (chain, draw, ...) variables: name -> (dims, values, coords)."""
    data = {}
    for name, (dims, values, coords) in variables.items():
        data[name] = xr.DataArray(values, dims=("chain", "draw", *dims),
                                  coords={d: list(c) for d, c in coords.items()})
    return DataTree.from_dict({"posterior": xr.Dataset(data)})


def _dose_response(folder: Path, passed: bool = True) -> Path:
    """curves.csv, wells.csv (3 experiments, a vehicle well per curve and experiment),
    posterior.nc with the shift variables, and shifts.csv made from it by shifts_table."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    curves = pd.DataFrame([dict(cell_line=c, drug=d, treatment=t, control=CONTROL[t], unit="uM",
                                min_concentration=0.001, max_concentration=100.0)
                           for c in LINES for t in ARMS for d in DRUGS])
    doses = np.linspace(-3, 2, 8)
    wells, groups = [], {}
    for e in EXPERIMENTS:
        for curve, row in curves.iterrows():
            group = groups.setdefault((e, row.cell_line, row.treatment), len(groups))
            centre = TRUE_SHIFT[row.treatment] + rng.normal(0, 0.05)
            for x in [np.nan, *doses]:
                y = 0.1 + 0.9 * (1.0 if np.isnan(x) else
                                 four_parameter_fraction(x, centre, 1.0)) + rng.normal(0, 0.02)
                wells.append(dict(cell_line=row.cell_line, drug=row.drug,
                                  treatment=row.treatment, experiment=e, plate=f"P{group}",
                                  replicate="1", well_type="vehicle" if np.isnan(x) else "sample",
                                  concentration=0.0 if np.isnan(x) else 10**x, unit="uM",
                                  log10_concentration=x, response=y, curve=curve,
                                  top_group=group))
    files.write_csv(folder / "wells.csv", pd.DataFrame(wells))
    files.write_csv(folder / "curves.csv", curves)
    n_treated = int((curves.control != "").sum())
    shape = (2, 200)
    tree = _tree(
        log10_ic50=(("curve",), rng.normal(0, 0.1, (*shape, len(curves))), {}),
        log10_ic50_absolute=(("curve",), rng.normal(0, 0.1, (*shape, len(curves))), {}),
        log10_shift=(("comparison",), rng.normal(-0.3, 0.15, (*shape, n_treated)), {}),
        log10_shift_drug=(("treated", "drug"), rng.normal(-0.3, 0.2, (*shape, 2, 2)),
                          {"treated": ["miR", "si"], "drug": DRUGS}),
        log10_shift_pooled=(("treated",), rng.normal(-0.3, 0.3, (*shape, 2)),
                            {"treated": ["miR", "si"]}),
    )
    files.write_datatree(folder / files.POSTERIOR, tree)
    curves = read_curves(folder)
    files.write_csv(folder / "shifts.csv",
                    shifts_table(tree, curves, ["cell_line", "drug", "treatment"], 1.5,
                                 {"passed": passed, "population_passed": passed,
                                  "unit_failures": {}}))
    _record(folder, "dose-response", passed)
    return folder


def _table_run(folder: Path, assay: str, tables: dict[str, pd.DataFrame],
               passed: bool = True) -> Path:
    folder.mkdir(parents=True)
    for name, table in tables.items():
        files.write_csv(folder / name, table)
    _record(folder, assay, passed)
    return folder


FOLDS = pd.DataFrame([
    dict(gene="IGF1R", condition="miR 80nM", control="miR-NC", median=0.55, **{"q2.5": 0.37},
         **{"q97.5": 0.83}, p_down=0.9967, p_beyond_margin=0.81, n_censored=0,
         classical_fold=0.55, classical_p=0.056),
    dict(gene="miR-379", condition="miR 80nM", control="miR-NC", median=55.7, **{"q2.5": 35.0},
         **{"q97.5": 89.0}, p_down=0.0, p_beyond_margin=0.0, n_censored=1,
         classical_fold=55.9, classical_p=2.4e-05),
])
WESTERN = pd.DataFrame([
    dict(cell_line="Huh7", condition="miR-379", dose=d, control="miR-NC 80 nM", median=m,
         **{"q2.5": m - 0.2, "q97.5": m + 0.2}, p_decrease=p, p_beyond_margin=pm,
         p_monotone_decrease=0.97, classical_fold=m, classical_p=cp)
    for d, m, p, pm, cp in (("40 nM", 0.69, 0.985, 0.40, 0.1), ("80 nM", 0.46, 1.0, 0.99, 2e-4))
])
LUCIFERASE = pd.DataFrame([
    dict(cell_line="Huh7", construct="WT", treatment="miR-379", control="miR-NC", median=0.63,
         **{"q2.5": 0.52, "q97.5": 0.78}, p_repressed=1.0, p_beyond_margin=0.70,
         construct_pair="", classical_ratio=0.64, classical_p=0.0033),
    dict(cell_line="Huh7", construct="interaction", treatment="miR-379", control="miR-NC",
         median=0.64, **{"q2.5": 0.48, "q97.5": 0.86}, p_repressed=0.9983, p_beyond_margin=0.63,
         construct_pair="WT / MUT", classical_ratio=0.59, classical_p=0.0046),
])
APOPTOSIS = pd.DataFrame([
    dict(cell_line="Huh7", treatment="miR-NC", drug="vehicle", fraction_median=0.077,
         **{"q2.5": 0.05, "q97.5": 0.11}, observed_percent=8.2),
    dict(cell_line="Huh7", treatment="miR-379", drug="DOX", effect="interaction",
         scale="odds_ratio", control="miR-NC", median=1.85, **{"q2.5": 1.23, "q97.5": 2.78},
         p_positive=0.999, classical_estimate=1.91),
    dict(cell_line="Huh7", treatment="miR-379", drug="DOX", effect="interaction",
         scale="percentage_points", control="miR-NC", median=11.2,
         **{"q2.5": 6.4, "q97.5": 16.3}, p_positive=0.999, classical_estimate=11.5,
         classical_p=0.091),
], columns=["cell_line", "treatment", "drug", "fraction_median", "q2.5", "q97.5",
            "observed_percent", "effect", "scale", "control", "median", "p_positive",
            "classical_estimate", "classical_p"])
HUBS = pd.DataFrame([
    dict(gene="IGF2", p_hub=0.97, p_in_list=1.0, p_connected=1.0, rank_median=3,
         **{"rank_q2.5": 1, "rank_q97.5": 12}, classical_rank=2, classical_hub=True),
    dict(gene="LONER", p_hub=0.0, p_in_list=0.4, p_connected=0.0, rank_median=np.nan,
         **{"rank_q2.5": np.nan, "rank_q97.5": np.nan}, classical_rank=np.nan,
         classical_hub=False),
])
ENRICHMENT = pd.DataFrame([
    dict(pathway="Pathways in cancer Homo sapiens hsa05200", overlap=6, set_size=14,
         p_value=0.014, p_adjusted=0.065, p_enriched=0.83, fold_enrichment_median=2.7,
         **{"fold_enrichment_q2.5": 1.8, "fold_enrichment_q97.5": 3.2}),
    dict(pathway="PI3K-Akt signaling pathway Homo sapiens hsa04151", overlap=3, set_size=14,
         p_value=0.38, p_adjusted=0.66, p_enriched=0.0017, fold_enrichment_median=1.4,
         **{"fold_enrichment_q2.5": 0.9, "fold_enrichment_q97.5": 2.3}),
    dict(pathway="Viral carcinogenesis Homo sapiens hsa05203", overlap=1, set_size=10,
         p_value=0.8, p_adjusted=0.9, p_enriched=0.0, fold_enrichment_median=0.6,
         **{"fold_enrichment_q2.5": 0.6, "fold_enrichment_q97.5": 1.9}),
])


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Path]:
    """One converged run directory per assay (qpcr with a log2_fold posterior)."""
    root = tmp_path_factory.mktemp("study")
    runs = {"dose-response": _dose_response(root / "dose-response"),
            "qpcr": _table_run(root / "qpcr", "qpcr", {"folds.csv": FOLDS}),
            "western": _table_run(root / "western", "western", {"western.csv": WESTERN}),
            "luciferase": _luciferase_run(root / "luciferase", wt=0.63, mut=0.98),
            "apoptosis": _table_run(root / "apoptosis", "apoptosis",
                                    {"apoptosis.csv": APOPTOSIS}),
            "expression": _table_run(root / "expression", "expression",
                                     {"network_hubs.csv": HUBS, "enrichment.csv": ENRICHMENT})}
    log2_fold = np.random.default_rng(3).normal(0.0, 1.0, (2, 500, 2, 1))
    log2_fold[:, :, 1, 0] += 5.8  # miR-379 up about 55-fold
    files.write_datatree(runs["qpcr"] / files.POSTERIOR, _tree(
        log2_fold=(("gene", "comparison"), log2_fold,
                   {"gene": ["IGF1R", "miR-379"], "comparison": ["miR 80nM vs miR-NC"]})))
    return runs


CLAIMS = [
    dict(claim="miR sensitises Huh7 to DOX", kind="ic50_shift", treatment="miR",
         cell_line="Huh7", drug="DOX"),
    dict(claim="miR sensitises everywhere", kind="ic50_shift", treatment="miR"),
    dict(claim="miR and si agree", kind="shift_agreement", treatments=["miR", "si"],
         cell_line="Huh7", drug="DOX", factor=2),
    dict(claim="miR lowers IGF1R mRNA", kind="qpcr_fold", gene="IGF1R", condition="miR 80nM"),
    dict(claim="miR lowers IGF1R protein", kind="western_fold", cell_line="Huh7",
         condition="miR-379", dose="80 nM"),
    dict(claim="3'UTR", kind="luciferase", cell_line="Huh7", construct="interaction"),
    dict(claim="apoptosis", kind="apoptosis", cell_line="Huh7", effect="interaction"),
    dict(claim="hub", kind="hubs", genes=["IGF2", "FOS", "LONER"]),
    dict(claim="pathway", kind="pathways", pathways=["pathways in CANCER", "hsa04151"]),
]


@pytest.fixture(scope="module")
def table(study) -> pd.DataFrame:
    return evaluate_claims(CLAIMS, study)


def _only(table: pd.DataFrame, claim: str) -> pd.Series:
    rows = table[table.claim == claim]
    assert len(rows) == 1, claim
    return rows.iloc[0]


def test_one_row_per_claim_in_study_order_with_the_contract_columns(table):
    assert list(table.columns) == COLUMNS
    assert list(table.claim) == [*(c["claim"] for c in CLAIMS[:7]), "hub: IGF2", "hub: FOS",
                                 "hub: LONER", "pathway: pathways in CANCER",
                                 "pathway: hsa04151"]
    assert list(table.step[:7]) == ["sensitisation", "sensitisation", "agreement",
                                    "IGF1R knock-down", "IGF1R knock-down", "3'UTR repression",
                                    "apoptosis"]
    assert set(table.converged) == {"True"}
    assert list(table.run) == [CLAIM_ASSAY[k] for k in table.kind]  # folder names, not paths


def test_ic50_shift_reads_the_shifts_row(study, table):
    shifts = pd.read_csv(study["dose-response"] / "shifts.csv")
    for claim, line, drug in (("miR sensitises Huh7 to DOX", "Huh7", "DOX"),
                              ("miR sensitises everywhere", "all", "all")):
        expected = shifts[(shifts.quantity == "ic50_relative") & (shifts.treatment == "miR")
                          & (shifts.cell_line == line) & (shifts.drug == drug)].iloc[0]
        row = _only(table, claim)
        assert row[["estimate", "q2.5", "q97.5", "probability", "p_margin"]].tolist() == \
            expected[["median", "q2.5", "q97.5", "p_sensitised", "p_beyond_margin"]].tolist()


def test_ic50_classical_test_is_paired_by_experiment_on_per_experiment_fits(study, table):
    wells = pd.read_csv(study["dose-response"] / "wells.csv")
    curves = read_curves(study["dose-response"])

    def ic50s(treatment):  # each curve-experiment fitted on its own wells, independently
        curve = curves.index[(curves.cell_line == "Huh7") & (curves.drug == "DOX")
                             & (curves.treatment == treatment)][0]
        mine = wells[wells.curve == curve]
        return [fit_curve(g.log10_concentration.fillna(-np.inf), g.response)["log10_ic50"]
                for _, g in mine.groupby("experiment")]

    expected = stats.ttest_rel(ic50s("miR"), ic50s("NC")).pvalue  # experiments E1-E3 in order
    row = _only(table, "miR sensitises Huh7 to DOX")
    assert row.classical_p == pytest.approx(expected, rel=1e-9)
    assert row.classical_p < 0.05  # a true 3-fold shift, 0.05 noise on log10 IC50; 2 df
    assert row.classical_test.startswith("paired t-test")
    assert "3 experiment(s) with both curves fitted" in row.detail


def test_pooled_ic50_claim_tests_experiment_means_of_the_paired_shifts(table):
    row = _only(table, "miR sensitises everywhere")
    assert row.classical_test.startswith("one-sample t-test across experiments")
    assert "3 experiment(s), 12 paired shifts" in row.detail  # 2 lines x 2 drugs x 3 exps
    assert row.classical_p < 0.01  # n = 3 experiment means, each averaging 4 shifts of -0.5


def test_classical_test_finds_nothing_where_there_is_no_shift(study):
    claim = dict(claim="si does nothing", kind="ic50_shift", treatment="si", cell_line="HepG2",
                 drug="PTX")
    row = evaluate_claims([claim], study).iloc[0]
    assert row.classical_p > 0.01  # true shift 0: only a 1% chance below


def test_shift_draws_reproduce_every_relative_shifts_row(study):
    tree = files.read_datatree(study["dose-response"])
    curves = read_curves(study["dose-response"])
    shifts = pd.read_csv(study["dose-response"] / "shifts.csv", keep_default_na=False)
    relative = shifts[shifts.quantity == "ic50_relative"]
    assert len(relative) == 8 + 4 + 4 + 2  # per comparison, per drug, per cell line, pooled
    for _, row in relative.iterrows():
        log10 = shift_draws(tree, curves, row.treatment, row.cell_line, row.drug)
        assert np.median(log10) == pytest.approx(row.log10_median, abs=1e-6)
        assert np.mean(log10 < 0) == pytest.approx(row.p_sensitised, abs=1e-9)


def test_shift_agreement_is_the_ratio_of_the_two_shifts(study, table):
    tree = files.read_datatree(study["dose-response"])
    curves = read_curves(study["dose-response"])
    ratio = (shift_draws(tree, curves, "miR", "Huh7", "DOX")
             - shift_draws(tree, curves, "si", "Huh7", "DOX"))
    row = _only(table, "miR and si agree")
    assert row.estimate == pytest.approx(10 ** np.median(ratio))
    assert row.probability == pytest.approx(np.mean(np.abs(ratio) < np.log10(2)))
    assert np.isnan(row.p_margin) and np.isnan(row.classical_p)


@pytest.mark.parametrize("claim, frame, match, columns", [
    ("miR lowers IGF1R mRNA", FOLDS, dict(gene="IGF1R"),
     ("median", "q2.5", "q97.5", "p_down", "p_beyond_margin", "classical_p")),
    ("miR lowers IGF1R protein", WESTERN, dict(dose="80 nM"),
     ("median", "q2.5", "q97.5", "p_decrease", "p_beyond_margin", "classical_p")),
    ("3'UTR", LUCIFERASE, dict(construct="interaction"),  # probabilities: joint, from draws
     ("median", "q2.5", "q97.5", "skip", "skip", "classical_p")),
    ("hub: IGF2", HUBS, dict(gene="IGF2"),
     ("rank_median", "rank_q2.5", "rank_q97.5", "p_hub", None, None)),
    ("pathway: pathways in CANCER", ENRICHMENT, dict(overlap=6),
     ("fold_enrichment_median", "fold_enrichment_q2.5", "fold_enrichment_q97.5",
      "p_enriched", None, "p_adjusted")),
])
def test_table_claims_carry_their_rows_numbers(table, claim, frame, match, columns):
    source = frame.loc[(frame[list(match)] == pd.Series(match)).all(axis=1)].iloc[0]
    row = _only(table, claim)
    for ours, theirs in zip(("estimate", "q2.5", "q97.5", "probability", "p_margin",
                             "classical_p"), columns, strict=True):
        if theirs is None:
            assert np.isnan(row[ours]), ours
        elif theirs != "skip":
            assert row[ours] == pytest.approx(source[theirs]), ours


def _luciferase_run(folder: Path, wt: float, mut: float) -> Path:
    """A luciferase run whose posterior ratio draws centre on ``wt`` and ``mut`` (log-normal,
    sd 0.1) with the interaction their ratio, as the model's contrasts are labelled."""
    rng = np.random.default_rng(3)
    log_wt = rng.normal(np.log(wt), 0.1, (2, 1000))
    log_mut = rng.normal(np.log(mut), 0.1, (2, 1000))
    versus = "miR-379 vs miR-NC"
    labels = [f"Huh7 | WT | {versus}", f"Huh7 | MUT | {versus}",
              f"Huh7 | interaction WT / MUT | {versus}"]
    ratio = np.exp(np.stack([log_wt, log_mut, log_wt - log_mut], axis=-1))
    folder = _table_run(folder, "luciferase", {"luciferase.csv": LUCIFERASE})
    files.write_datatree(folder / files.POSTERIOR,
                         _tree(ratio=(("contrast",), ratio, {"contrast": labels})))
    return folder


def test_wt_unchanged_with_the_mutant_de_repressed_is_not_repression(tmp_path):
    claim = dict(claim="represses WT beyond MUT", kind="luciferase", cell_line="Huh7",
                 construct="interaction")
    unchanged = _luciferase_run(tmp_path / "a", wt=1.0, mut=1.6)  # WT/MUT = 0.62: "repressed"
    row = evaluate_claims([claim], {"luciferase": unchanged}).iloc[0]
    assert row.probability == pytest.approx(0.5, abs=0.05)  # P(WT < 1 and WT/MUT < 1)
    assert row.verdict == "not supported" and "jointly over the draws" in row.detail
    repressed = _luciferase_run(tmp_path / "b", wt=0.6, mut=1.0)
    row = evaluate_claims([claim], {"luciferase": repressed}).iloc[0]
    assert row.probability > 0.99 and row.verdict.startswith("supported")
    assert 0 < row.mcse < 0.01


def test_every_named_shift_is_the_joint_probability_not_the_pooled_mean(tmp_path):
    folder = _dose_response(tmp_path / "dose-response")
    pooled = dict(claim="pooled", kind="ic50_shift", treatment="miR")
    every = dict(pooled, claim="every", every=True)
    rows = evaluate_claims([pooled, every], {"dose-response": folder})
    shifts = files.read_datatree(folder)["posterior"]["log10_shift"].values
    curves = pd.read_csv(folder / "curves.csv", dtype=str, keep_default_na=False)
    treated = curves[curves.control != ""].reset_index(drop=True)
    mine = (treated.treatment == "miR").to_numpy()
    expected = np.mean(np.all(shifts[..., mine] < 0, axis=-1))
    assert rows.probability[1] == pytest.approx(expected)
    assert rows.probability[1] != rows.probability[0]  # not the pooled row's P(shift < 1)
    assert "every one of the 4 shifts" in rows.detail[1]
    assert claim_problems(dict(every, every="yes"))  # a boolean, or refused


def test_apoptosis_odds_ratio_claim_borrows_the_percentage_test(table):
    row = _only(table, "apoptosis")
    assert (row.estimate, row.probability, row.classical_p) == (1.85, 0.999, 0.091)
    assert "two-way ANOVA interaction" in row.classical_test and row.scale == "odds ratio"


def test_apoptosis_percentage_claim_reads_its_own_row(study):
    claim = dict(claim="pp", kind="apoptosis", effect="interaction", scale="percentage_points")
    row = evaluate_claims([claim], study).iloc[0]
    assert (row.estimate, row["q2.5"], row.classical_p) == (11.2, 6.4, 0.091)


def test_qpcr_up_claim_reads_p_up_and_its_margin_from_the_posterior(study):
    claim = dict(claim="mimic raises miR-379", kind="qpcr_fold", gene="miR-379",
                 condition="miR 80nM", direction="up")
    row = evaluate_claims([claim], study).iloc[0]
    draws = files.read_datatree(study["qpcr"])["posterior"]["log2_fold"].values[:, :, 1, 0]
    assert row.probability == 1.0 and row.direction == "up"
    assert row.p_margin == pytest.approx(np.mean(draws > np.log2(1.5)))
    assert row.verdict == "supported"


@pytest.mark.parametrize("probability, p_margin, expected", [
    (0.99, 0.9, "supported"),
    (0.95, np.nan, "supported"),  # no margin: supported on probability alone
    (0.99, 0.3, "supported, but possibly smaller than the practical margin"),
    (0.90, 0.9, "weak evidence: "),
    (0.80, np.nan, "weak evidence: "),
    (0.79, 0.9, "not supported"),
])
def test_verdict_thresholds(probability, p_margin, expected):
    assert verdict(probability, p_margin).startswith(expected)
    if expected == "supported":
        assert verdict(probability, p_margin) == "supported"


@pytest.mark.parametrize("probability, p_margin, expected", [
    (0.99, 0.01, "supported, smaller than the practical margin"),  # P(beyond margin) ~ 0
    (0.01, np.nan, "contradicted: P(the opposite) = 0.990"),
    (0.30, np.nan, "not supported"),
])
def test_new_verdict_words_for_directional_claims(probability, p_margin, expected):
    assert verdict(probability, p_margin, directional=True) == expected


def test_an_undirected_claim_is_never_contradicted():
    assert verdict(0.01, np.nan) == "not supported"  # P(top hub) = 0.01 is no opposite


def test_a_probability_within_two_mcse_of_a_threshold_is_borderline():
    assert verdict(0.952, np.nan, mcse=0.004, directional=True).startswith(
        "supported; borderline: P(claim) = 0.952 is within 2 Monte Carlo standard errors")
    assert verdict(0.952, np.nan, mcse=0.0005) == "supported"
    assert "borderline: P(the opposite) = 0.949" in verdict(0.051, np.nan, mcse=0.01,
                                                            directional=True)


def test_probability_mcse_is_the_binomial_error_at_the_effective_sample_size():
    assert probability_mcse(0.5, 400) == pytest.approx(0.025)
    assert probability_mcse(1.0, 400) == pytest.approx(np.sqrt(400 / 401 / 401 / 400), rel=1e-6)
    assert np.isnan(probability_mcse(0.5, np.nan))


def test_claims_carry_mcse_from_the_rows_ess_or_the_fits_smallest(tmp_path):
    folder = _table_run(tmp_path / "qpcr", "qpcr", {"folds.csv": FOLDS})
    record = {"assay": "qpcr", "settings": {"margin": 1.5},
              "diagnostics": {"passed": True, "min_ess_bulk": 400.0}}
    files.write_json(folder / files.RECORD, record)
    row = evaluate_claims([CLAIMS[3]], {"qpcr": folder}).iloc[0]
    assert row.mcse == pytest.approx(probability_mcse(row.probability, 400.0))


def test_a_one_experiment_run_says_so_in_the_verdict(tmp_path):
    folder = _table_run(tmp_path / "qpcr", "qpcr", {"folds.csv": FOLDS})
    record = {"assay": "qpcr", "settings": {"margin": 1.5}, "data": {"experiments": ["E1"]},
              "diagnostics": {"passed": True, "min_ess_bulk": 1000.0}}
    files.write_json(folder / files.RECORD, record)
    row = evaluate_claims([CLAIMS[3]], {"qpcr": folder}).iloc[0]
    assert row.verdict.startswith("supported (one experiment); one experiment: the interval "
                                  "does not include experiment-to-experiment variation")


def test_a_claim_on_an_extrapolated_ic50_says_so(tmp_path):
    folder = _dose_response(tmp_path / "dose-response")
    shifts = pd.read_csv(folder / "shifts.csv", dtype=str, keep_default_na=False)
    shifts["p_extrapolated"] = "0.7"
    files.write_csv(folder / "shifts.csv", shifts)
    row = evaluate_claims(CLAIMS[:1], {"dose-response": folder}).iloc[0]
    assert "rests on an IC50 extrapolated beyond the tested range (p_extrapolated = 0.70)" in (
        row.verdict)


def test_study_thresholds_change_the_words(study):
    claim = [dict(claim="protein", kind="western_fold", condition="miR-379", dose="40 nM")]
    assert evaluate_claims(claim, study).verdict[0].startswith("supported, but possibly")
    lax = VerdictThresholds(strong=0.98, weak=0.5, margin=0.3)
    assert evaluate_claims(claim, study, lax).verdict[0] == "supported"
    strict = VerdictThresholds(strong=0.99, weak=0.99)  # P = 0.985
    assert evaluate_claims(claim, study, strict).verdict[0] == "not supported"


def test_unconverged_run_marks_its_claims_unreliable(tmp_path, study):
    runs = dict(study, qpcr=_table_run(tmp_path / "qpcr", "qpcr", {"folds.csv": FOLDS},
                                       passed=False))
    out = evaluate_claims(CLAIMS[3:5], runs)
    assert out.verdict[0] == "UNRELIABLE (the qpcr fit did not converge): supported"
    assert out.converged.tolist() == ["False", "True"]
    assert out.verdict[1] == "supported"  # the western claim rests on a converged run


def test_unconverged_dose_response_marks_even_an_unevaluable_claim(tmp_path):
    folder = _dose_response(tmp_path / "dose-response", passed=False)
    (folder / files.POSTERIOR).unlink()
    out = evaluate_claims(CLAIMS[:3], {"dose-response": folder})
    assert all(out.verdict.str.startswith("UNRELIABLE (the dose-response fit did not converge)"))
    assert out.verdict[2].endswith("not evaluable: the dose-response run has no posterior.nc")


@pytest.mark.parametrize("change, why", [
    (lambda runs: runs.pop("qpcr"), "the study has no qpcr run"),
    (lambda runs: (runs["qpcr"] / "folds.csv").unlink(), "the qpcr run has no folds.csv"),
    (lambda runs: files.write_csv(runs["qpcr"] / "folds.csv", FOLDS[FOLDS.gene != "IGF1R"]),
     "no row of folds.csv has gene = IGF1R, condition = miR 80nM"),
    (lambda runs: files.write_csv(runs["qpcr"] / "folds.csv", FOLDS.drop(columns="p_down")),
     "folds.csv has no column p_down"),
    (lambda runs: runs.update(qpcr=runs["qpcr"].parent / "gone"),
     "the qpcr run directory gone is missing"),
])
def test_missing_run_table_row_or_column_is_not_evaluable(tmp_path, change, why):
    runs = {"qpcr": _table_run(tmp_path / "qpcr", "qpcr", {"folds.csv": FOLDS})}
    change(runs)
    row = evaluate_claims([CLAIMS[3]], runs).iloc[0]
    assert row.verdict == f"not evaluable: {why}"
    assert np.isnan(row.estimate) and np.isnan(row.probability)


def test_damaged_files_are_not_evaluable_and_name_no_absolute_path(tmp_path):
    folder = _dose_response(tmp_path / "dose-response")
    (folder / files.POSTERIOR).write_bytes(b"not netCDF")
    (folder / "wells.csv").unlink()
    out = evaluate_claims(CLAIMS[:3], {"dose-response": folder})
    assert out.verdict[0] == "supported" and np.isnan(out.classical_p[0])
    assert "classical test not computed: the run has no wells.csv" in out.detail[0]
    assert out.verdict[2].startswith("not evaluable: posterior.nc of the dose-response run "
                                     "cannot be read")
    assert not out.astype(str).apply(lambda c: c.str.contains(str(tmp_path))).any().any()


def test_ambiguous_row_is_not_evaluable(study):
    claim = dict(claim="which dose?", kind="western_fold", condition="miR-379")
    assert "2 rows of western.csv" in evaluate_claims([claim], study).verdict[0]


def test_hub_gene_absent_or_without_edges_is_not_evaluable(table):
    assert _only(table, "hub: FOS").verdict.startswith("not evaluable: FOS is not in the network")
    assert _only(table, "hub: LONER").verdict.startswith("not evaluable: LONER has no edge")
    assert _only(table, "hub: IGF2").verdict == "supported"
    assert "classical_rank = 2" in _only(table, "hub: IGF2").detail


def test_pathways_match_case_insensitive_substrings(study, table):
    assert _only(table, "pathway: pathways in CANCER").verdict.startswith("weak evidence")
    assert _only(table, "pathway: hsa04151").verdict == "not supported"
    out = evaluate_claims([dict(claim="p", kind="pathways",
                                pathways=["homo sapiens", "Wnt signalling"])], study)
    assert out.verdict[0].startswith("not evaluable: 'homo sapiens' matches 3 pathways")
    assert out.verdict[1] == "not evaluable: no pathway of enrichment.csv matches 'Wnt signalling'"


def test_write_claims_is_byte_identical_and_reads_back(tmp_path, study, table):
    first, second = tmp_path / "a" / "claims.csv", tmp_path / "b" / "claims.csv"
    write_claims(first, table)
    write_claims(second, evaluate_claims(CLAIMS, study))  # evaluated afresh
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and text.splitlines()[0] == ",".join(COLUMNS)
    back = read_claims(first)
    assert back.claim.tolist() == table.claim.tolist()
    assert np.allclose(back.probability, table.probability, equal_nan=True, rtol=1e-5)


def test_claim_kinds_are_complete_and_consistent(study):
    assert set(CLAIM_KINDS) == set(CLAIM_ASSAY) == set(claims_module.STEP)
    assert set(CLAIM_ASSAY.values()) <= {"dose-response", "qpcr", "western", "luciferase",
                                         "apoptosis", "expression"}
    for required, optional in CLAIM_KINDS.values():
        assert not set(required) & set(optional)
        assert not {"claim", "kind"} & (set(required) | set(optional))
    used = {c["kind"] for c in CLAIMS}
    assert used == set(CLAIM_KINDS)  # the fixture claims exercise every kind
    for claim in CLAIMS:  # every key a test claim uses is declared for its kind
        required, optional = CLAIM_KINDS[claim["kind"]]
        assert set(required) <= set(claim) <= {"claim", "kind", *required, *optional}


def test_required_keys_alone_are_enough(study):
    examples = {"ic50_shift": dict(treatment="miR"),
                "shift_agreement": dict(treatments=["miR", "si"], factor=2),
                "qpcr_fold": dict(gene="IGF1R", condition="miR 80nM"),
                "western_fold": dict(condition="miR-379"),
                "luciferase": dict(construct="WT"),
                "apoptosis": dict(effect="interaction"),
                "hubs": dict(genes=["IGF2"]), "pathways": dict(pathways=["PI3K"])}
    assert set(examples) == set(CLAIM_KINDS)
    for kind, keys in examples.items():
        assert set(keys) == set(CLAIM_KINDS[kind][0])
        out = evaluate_claims([dict(claim=kind, kind=kind, **keys)], study)
        assert len(out) == 1 and out.verdict[0], kind


def test_unknown_kind_is_a_programming_error(study):
    with pytest.raises(ValueError, match="unknown claim kind 'ec50'"):
        evaluate_claims([dict(claim="x", kind="ec50")], study)


@pytest.mark.parametrize("claim, problem", [
    (dict(claim="c", kind="qpcr_fold", gene="IGF1R"), "needs key 'condition'"),
    (dict(claim="c", kind="hubs", genes=["A"], cell_line="Huh7"), "unknown key 'cell_line'"),
    (dict(claim="c", kind="qpcr_fold", gene="G", condition="C", direction="sideways"),
     "direction is 'sideways'"),
    (dict(claim="c", kind="apoptosis", effect="interaction", scale="log"), "scale is 'log'"),
    (dict(claim="c", kind="shift_agreement", treatments=["A"], factor=2), "two names"),
    (dict(claim="c", kind="shift_agreement", treatments=["A", "B"], factor=1), "factor is 1"),
    (dict(claim="c", kind="pathways", pathways="PI3K"), "a list of names"),
])
def test_malformed_claims_are_refused_by_name(study, claim, problem):
    assert any(problem in p for p in claim_problems(claim))
    with pytest.raises(ValueError, match=problem):
        evaluate_claims([claim], study)


def test_the_fixture_claims_are_well_formed():
    assert all(claim_problems(c) == [] for c in CLAIMS)


def test_run_json_without_diagnostics_is_not_evaluable_never_converged(tmp_path):
    folder = _table_run(tmp_path / "qpcr", "qpcr", {"folds.csv": FOLDS})
    (folder / files.RECORD).write_text(json.dumps({"assay": "qpcr"}), encoding="utf-8")
    row = evaluate_claims([CLAIMS[3]], {"qpcr": folder}).iloc[0]
    assert row.converged == ""
    assert row.verdict.startswith("not evaluable: the qpcr run records no diagnostics")


def test_a_claim_on_a_prior_sensitive_shift_says_so(tmp_path):
    folder = _dose_response(tmp_path / "dose-response")
    shifts = pd.read_csv(folder / "shifts.csv", dtype=str, keep_default_na=False)
    shifts["prior_sensitive"] = "True"
    files.write_csv(folder / "shifts.csv", shifts)
    row = evaluate_claims(CLAIMS[:1], {"dose-response": folder}).iloc[0]
    assert "; prior-sensitive: its interval moves by more than 10%" in row.verdict
