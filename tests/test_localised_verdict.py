"""A screen with one curve the sampler cannot settle: the verdict names that curve, its
rows are marked, and every other row stands on its own diagnostics.

The posterior is made in code (pymc.testing.mock_sample draws independent prior draws, so
every parameter mixes perfectly); one curve's parameters then sit in two well-separated
modes, one per chain, as a cliff with an outlier beside it did in a real screen. The whole
path is the user's: the command line, the fit's diagnostics, run.json, the tables, the
report, the exit code.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc.testing import mock_sample

from chemoshift.cli import main
from chemoshift.data.simulate_dose_response import ScreenDesign, simulate_screen

STUCK = "B | DOX | miR-379"  # the curve whose chains sit in two modes
DESIGN = ScreenDesign(cell_lines=("A", "B"), drug_log10_ic50={"DOX": -0.3, "PTX": -2.0},
                      drug_hill={"DOX": 1.4, "PTX": 0.9}, drug_bottom={"DOX": 0.05, "PTX": 0.2},
                      controls={"miR-379": "miR-NC"}, true_shift={"miR-379": -0.45})
STATS = {"diverging": lambda size: np.zeros(size, dtype=bool),
         "energy": lambda size: np.random.default_rng(0).normal(size=size)}


def two_modes(*args, **kwargs):
    """Prior draws as a posterior, with the STUCK curve's parameters of chain 2 moved to a
    second mode (5 prior sds away: no chain crosses between them)."""
    tree = mock_sample(*args, sample_stats=STATS, **kwargs)
    posterior = tree["posterior"].to_dataset()
    for name, values in posterior.data_vars.items():
        if "curve" in values.dims:
            labels = list(values.coords["curve"].values)
            moved = values.copy()
            finite = values.values[np.isfinite(values.values)]
            spread = float(finite.std()) if finite.size else 1.0
            moved.loc[{"chain": 1, "curve": labels[labels.index(STUCK)]}] += 5 * spread
            posterior[name] = moved
    tree["posterior"] = posterior
    return tree


@pytest.fixture(scope="module")
def stuck_run(tmp_path_factory):
    """`chemoshift fit dose-response` on an 8-curve screen whose STUCK curve has two modes."""
    folder = tmp_path_factory.mktemp("stuck")
    wells, _ = simulate_screen(DESIGN, seed=3)
    wells.to_csv(folder / "wells.csv", index=False)
    out = folder / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pm, "sample", functools.partial(two_modes))
        code = main(["fit", "dose-response", str(folder / "wells.csv"), "--out", str(out),
                     "--sampler", "pymc", "--draws", "1000", "--chains", "2", "--no-progress"])
    return code, out


def test_exit_code_is_3_and_the_verdict_names_the_curve(stuck_run, capsys):
    code, out = stuck_run
    assert code == 3
    diagnostics = json.loads((out / "run.json").read_text())["diagnostics"]
    assert diagnostics["population_passed"] and not diagnostics["passed"]
    assert list(diagnostics["unit_failures"]) == [STUCK]
    assert diagnostics["verdict"] == (f"NOT CONVERGED: 1 of 8 curves did not converge: {STUCK}; "
                                      "every other row converged on its own diagnostics")
    assert any("--chains 4" in step for step in diagnostics["advice"])


def test_only_the_stuck_curves_rows_are_marked(stuck_run):
    _, out = stuck_run
    summary = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False)
    label = summary.cell_line + " | " + summary.drug + " | " + summary.treatment
    assert set(summary.converged[label == STUCK]) == {"False"}
    assert set(summary.converged[label != STUCK]) == {"True"}
    assert (pd.to_numeric(summary.rhat[label == STUCK]) > 1.05).all()
    shifts = pd.read_csv(out / "shifts.csv", dtype=str, keep_default_na=False)
    mine = (shifts.cell_line == "B") & (shifts.drug == "DOX") & (shifts.treatment == "miR-379")
    assert set(shifts.converged[mine]) == {"False"}  # relative and absolute: rest on STUCK
    mean_over_drugs = (shifts.cell_line == "B") & (shifts.drug == "all")
    assert set(shifts.converged[mean_over_drugs]) == {"False"}
    elsewhere = ~mine & ~mean_over_drugs
    assert set(shifts.converged[elsewhere]) == {"True"}


def test_the_report_says_which_curve_first_and_marks_it(stuck_run):
    _, out = stuck_run
    page = (out / "report.html").read_text()
    box = page.index('class="verdict fail"')
    assert page.index(STUCK, box) < page.index("<h2>Headline")
    assert "Only the curves named above did not converge" in page
    assert "Curves that did not converge" in page


def test_a_claim_is_unreliable_only_when_it_rests_on_the_stuck_curve(stuck_run):
    from chemoshift.reports.study.claims import evaluate_claims

    _, out = stuck_run
    claims = [{"claim": f"miR-379 sensitises {line} to DOX", "kind": "ic50_shift",
               "treatment": "miR-379", "cell_line": line, "drug": "DOX"} for line in "AB"]
    table = evaluate_claims(claims, {"dose-response": out})
    on_a, on_b = table.verdict
    assert not on_a.startswith("UNRELIABLE")
    assert on_b.startswith("UNRELIABLE (the curves it rests on did not converge in the "
                           "dose-response fit)")
    assert list(table.converged) == ["True", "False"]


def test_a_weak_population_scale_gets_a_prior_the_command_line_accepts():
    import dataclasses

    from chemoshift.cli import _parser
    from chemoshift.dose_response import prior_advice, resolve_priors
    from chemoshift.inference.diagnostics import Diagnostics
    from chemoshift.models import DoseResponsePriors

    failed = Diagnostics(max_rhat=1.02, min_ess_bulk=383, min_ess_tail=500, divergences=0,
                         min_bfmi=0.9, worst_rhat_variable="drug_mean",
                         worst_ess_variable="experiment_curve_sd", checked_variables=[],
                         failures=["R-hat 1.020 > 1.01 (drug_mean)",
                                   "bulk ESS 383 < 400 (experiment_curve_sd)"])
    steps = prior_advice(failed, DoseResponsePriors())
    options = [step.split("--prior ")[1].split()[0] for step in steps]
    assert options == ["drug_mean_sd=0.75", "experiment_sd=0.075"]
    args = _parser().parse_args(["fit", "dose-response", "x.csv", "--out", "o",
                                 *(f"--prior={o}" for o in options)])
    overrides = dict(o.split("=") for o in args.prior)
    priors = resolve_priors(overrides)  # the names are the model's: nothing refused
    assert dataclasses.asdict(priors)["experiment_sd"] == 0.075


@pytest.mark.slow
def test_the_suggested_run_longer_step_converges_when_run(reference, tmp_path, capsys):
    # too few draws on purpose: the fit says how many it needs, and that many suffice
    ryegrass = str(reference / "doseresponse" / "ryegrass.csv")
    common = ["--columns", "concentration=conc,response=rootl", "--unit", "mM",
              "--no-progress", "--seed", "3"]
    code = main(["fit", "dose-response", ryegrass, "--out", str(tmp_path / "short"),
                 "--draws", "60", *common])
    assert code == 3
    advice = json.loads((tmp_path / "short" / "run.json").read_text())["diagnostics"]["advice"]
    step = next(s for s in advice if "--draws" in s)
    draws = step.split("--draws ")[1].split()[0]
    assert f"next: {step}" in capsys.readouterr().err  # the banner says it too
    code = main(["fit", "dose-response", ryegrass, "--out", str(tmp_path / "longer"),
                 "--draws", draws, *common])
    assert code == 0, (draws, json.loads((tmp_path / "longer" / "run.json").read_text())[
        "diagnostics"]["verdict"])
