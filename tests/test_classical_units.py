"""The classical peers test the unit of replication, the experiment, not its clustered rows.

Each design has 3 experiments whose technical rows (wells, lanes, tubes, or the cell line x
drug curves of one experiment) are nearly identical: a test on the rows sees 9-36
"replicates" and a tiny p (pseudo-replication); the test on experiment means has n = 3 and
matches scipy on the experiment means computed here by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chemoshift.data import run_dir as files
from chemoshift.data.curve import four_parameter_fraction
from chemoshift.reports.classical import fit_curve
from chemoshift.reports.mechanism import classical
from chemoshift.reports.study.claims_dose_response import _classical_shift
from chemoshift.reports.study.claims_run import Run

EXPERIMENTS = ("E1", "E2", "E3")
EFFECT = {"E1": -0.5, "E2": -0.3, "E3": -0.7}  # log effect per experiment: mean -0.5, sd 0.2
ROWS = 3  # technical replicates per experiment x arm
JITTER = 0.002  # relative spread of technical rows: nearly identical within an experiment


def _jitter(rng: np.random.Generator) -> float:
    return float(np.exp(rng.normal(0, JITTER)))


def test_luciferase_tests_experiment_means_of_wells_paired_by_experiment():
    rng = np.random.default_rng(1)
    wells = pd.DataFrame([dict(cell_line="Huh7", construct="WT", treatment=arm, experiment=e,
                               firefly=np.exp(EFFECT[e] if arm == "miR" else 0.0) * _jitter(rng),
                               renilla=1.0)
                          for e in EXPERIMENTS for arm in ("miR", "NC") for _ in range(ROWS)])
    row = pd.Series(dict(cell_line="Huh7", construct="WT", treatment="miR", control="NC"))
    _, p = classical.luciferase_row(wells, row, "MUT")
    means = wells.assign(ratio=wells.firefly / wells.renilla).groupby(
        ["treatment", "experiment"]).ratio.mean()
    expected = stats.ttest_rel(np.log(means["miR"]), np.log(means["NC"])).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01  # n = 3 experiments (t = -4.3, 2 df): the 18 wells gave p ~ 4e-6


def test_luciferase_interaction_pairs_construct_and_reference_by_experiment():
    rng = np.random.default_rng(2)
    effect = {("WT", e): v for e, v in EFFECT.items()} | {("MUT", e): 0.0 for e in EXPERIMENTS}
    wells = pd.DataFrame([dict(cell_line="Huh7", construct=c, treatment=arm, experiment=e,
                               firefly=np.exp(effect[c, e] if arm == "miR" else 0.0)
                               * _jitter(rng), renilla=1.0)
                          for e in EXPERIMENTS for c in ("WT", "MUT") for arm in ("miR", "NC")
                          for _ in range(ROWS)])
    row = pd.Series(dict(cell_line="Huh7", construct="interaction", construct_pair="WT / MUT",
                         treatment="miR", control="NC"))
    _, p = classical.luciferase_row(wells, row, "MUT")
    log_means = np.log(wells.groupby(["construct", "treatment", "experiment"]).firefly.mean())
    expected = stats.ttest_rel(log_means["WT", "miR"] - log_means["WT", "NC"],
                               log_means["MUT", "miR"] - log_means["MUT", "NC"]).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01


def test_western_averages_blot_normalised_lanes_within_experiment():
    rng = np.random.default_rng(3)
    lanes = pd.DataFrame([dict(cell_line="Huh7", condition=arm, experiment=e, blot=f"B{e}",
                               target=2.0 * np.exp(EFFECT[e] if arm == "miR" else 0.0)
                               * _jitter(rng), loading=2.0)
                          for e in EXPERIMENTS for arm in ("miR", "NC") for _ in range(ROWS)])
    treated, control = lanes.condition == "miR", lanes.condition == "NC"
    _, p = classical.western_row(lanes, treated, control)
    ratio = lanes.target / lanes.loading
    normalised = ratio / lanes.experiment.map(ratio[control].groupby(lanes.experiment).mean())
    means = normalised.groupby([lanes.condition, lanes.experiment]).mean()
    expected = stats.ttest_rel(np.log(means["miR"]), np.log(means["NC"])).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01  # the 18 lanes gave p ~ 4e-6


def _tubes(points: dict[tuple[int, str], float], rng: np.random.Generator) -> pd.DataFrame:
    """Tubes of 20,000 cells with the given apoptotic percentage per (group, experiment)."""
    rows = [dict(group=g, experiment=e, total=20000,
                 apoptotic=round(200 * percent * _jitter(rng)))
            for (g, e), percent in points.items() for _ in range(ROWS)]
    return pd.DataFrame(rows)


def _percent_means(samples: pd.DataFrame) -> pd.Series:
    percent = 100 * samples.apoptotic / samples.total
    return percent.groupby([samples.group, samples.experiment]).mean()


def test_apoptosis_main_effect_is_a_paired_test_on_experiment_percentages():
    rng = np.random.default_rng(4)
    rise = {"E1": 5.0, "E2": 2.0, "E3": 8.0}
    samples = _tubes({(g, e): 10 + (rise[e] if g == 0 else 0.0) for g in (0, 1)
                      for e in EXPERIMENTS}, rng)
    effect = pd.Series(dict(a=0, b=1, c=-1, d=-1))
    _, p = classical.apoptosis_rows(samples, effect, pd.DataFrame())["percentage_points"]
    means = _percent_means(samples)
    expected = stats.ttest_rel(means[0], means[1]).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01  # the 9 vs 9 tubes gave p ~ 4e-4


def test_apoptosis_interaction_tests_per_experiment_difference_of_differences():
    rng = np.random.default_rng(5)
    extra = {"E1": 5.0, "E2": 2.0, "E3": 8.0}  # miR's added effect under the drug
    points = {}
    for e in EXPERIMENTS:
        points |= {(0, e): 30 + extra[e], (1, e): 20.0, (2, e): 15.0, (3, e): 10.0}
    samples = _tubes(points, rng)
    effect = pd.Series(dict(a=0, b=1, c=2, d=3))
    _, p = classical.apoptosis_rows(samples, effect, pd.DataFrame())["percentage_points"]
    m = _percent_means(samples)
    expected = stats.ttest_1samp(m[0] - m[1] - (m[2] - m[3]), 0.0).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01  # the two-way ANOVA on 36 tubes gave p ~ 5e-13


# ---- dose response -----------------------------------------------------------------------

LINES, DRUGS = ("Huh7", "HepG2"), ("DOX", "PTX")
DOSES = np.linspace(-3, 2, 8)


def _dose_run(folder: Path, experiments: tuple[str, ...], centre) -> Run:
    """A run directory with curves.csv and wells.csv (noise-free 4PL wells plus a vehicle
    well per curve and experiment); ``centre(experiment, treatment)`` is the log10 IC50."""
    folder.mkdir(parents=True)
    curves = pd.DataFrame([dict(cell_line=c, drug=d, treatment=t, control="" if t == "NC"
                                else "NC", unit="uM", min_concentration=0.001,
                                max_concentration=100.0)
                           for c in LINES for t in ("NC", "miR") for d in DRUGS])
    wells = []
    for e in experiments:
        for curve, row in curves.iterrows():
            for x in [np.nan, *DOSES]:
                y = 0.1 + 0.9 * (1.0 if np.isnan(x) else four_parameter_fraction(
                    x, centre(e, row.treatment), 1.0))
                wells.append(dict(cell_line=row.cell_line, drug=row.drug,
                                  treatment=row.treatment, experiment=e, plate=f"P{e}{curve}",
                                  replicate="1", well_type="sample", unit="uM",
                                  concentration=0.0 if np.isnan(x) else 10**x,
                                  log10_concentration=x, response=y, curve=curve,
                                  top_group=curve))
    files.write_csv(folder / "wells.csv", pd.DataFrame(wells))
    files.write_csv(folder / "curves.csv", curves)
    return Run("dose-response", folder)


def _fitted(folder: Path) -> dict[tuple[int, str], float]:
    wells = pd.read_csv(folder / "wells.csv")
    return {(c, e): fit_curve(g.log10_concentration.fillna(-np.inf), g.response)["log10_ic50"]
            for (c, e), g in wells.groupby(["curve", "experiment"])}


def test_one_ic50_shift_is_a_paired_t_test_by_experiment(tmp_path):
    # the experiment moves treated and control together (+0.4, 0, -0.4): paired by
    # experiment, the consistent shift (-0.2 +- 0.02) shows; unpaired (Welch) it drowned
    day = {"E1": 0.4, "E2": 0.0, "E3": -0.4}
    wobble = {"E1": 0.02, "E2": -0.01, "E3": 0.0}
    run = _dose_run(tmp_path / "dr", EXPERIMENTS, lambda e, t: day[e] + (
        -0.2 + wobble[e] if t == "miR" else 0.0))
    p, test, note = _classical_shift(run, "miR", "Huh7", "DOX")
    fitted = _fitted(tmp_path / "dr")  # curve 2: Huh7 miR DOX, curve 0: Huh7 NC DOX
    expected = stats.ttest_rel([fitted[2, e] for e in EXPERIMENTS],
                               [fitted[0, e] for e in EXPERIMENTS]).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p < 0.01  # Welch on the same 3 + 3 fits: p ~ 0.6
    assert test.startswith("paired t-test") and "3 experiment(s)" in note


def test_pooled_ic50_shift_tests_experiment_means_not_curve_rows(tmp_path):
    # every cell line x drug of one experiment shifts alike: 12 rows, but 3 experiments
    run = _dose_run(tmp_path / "dr", EXPERIMENTS,
                    lambda e, t: EFFECT[e] if t == "miR" else 0.0)
    p, test, note = _classical_shift(run, "miR", "all", "all")
    fitted = _fitted(tmp_path / "dr")
    pairs = [(2, 0), (3, 1), (6, 4), (7, 5)]  # (miR, NC) curve codes per cell line x drug
    means = [np.mean([fitted[t, e] - fitted[c, e] for t, c in pairs]) for e in EXPERIMENTS]
    expected = stats.ttest_1samp(means, 0.0).pvalue
    assert p == pytest.approx(expected, rel=1e-9)
    assert p > 0.01  # n = 3: the one-sample test of the 12 rows gave p ~ 6e-7
    assert test.startswith("one-sample t-test across experiments")
    assert "averaged over the 4 cell line x drug comparison(s)" in test
    assert "3 experiment(s), 12 paired shifts" in note


def test_one_experiment_gives_no_classical_p_and_says_why(tmp_path):
    run = _dose_run(tmp_path / "dr", ("E1",), lambda e, t: -0.3 if t == "miR" else 0.0)
    for cell_line, drug in (("Huh7", "DOX"), ("all", "all")):
        p, test, _ = _classical_shift(run, "miR", cell_line, drug)
        assert np.isnan(p)
        assert "not computed: fewer than 2 experiments with both curves fitted (1)" in test
