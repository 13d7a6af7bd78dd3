"""Sharded dose-response fits (chemoshift.screen): shard plans, per-shard reading, the
second stage's pooling, and a run on a LocalCluster equal to the shards fitted one by one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chemoshift.data.errors import InputError
from chemoshift.screen.combine import cavities, kalman_update, shard_information, widen
from chemoshift.screen.pool import pool_shifts, shard_likelihood
from chemoshift.screen.shards import plan_shards, read_shard, shard_name, shard_seed


def wells_file(tmp_path, drugs=("5-FU", "PTX", "DOX")):
    rows = []
    for drug in drugs:
        for arm in ("miR-NC", "miR-379"):
            for dose in (0.01, 0.1, 1, 10, 100):
                rows.append(dict(drug=drug, treatment=arm, concentration=dose,
                                 response=1 / (1 + dose)))
    for arm in ("miR-NC", "miR-379"):  # shared vehicle wells: in every shard
        rows.append(dict(drug="DMSO", treatment=arm, concentration=0, response=1.0))
    path = tmp_path / "wells.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_shards_are_the_drugs_with_seeds_of_their_own(tmp_path):
    path = wells_file(tmp_path)
    shards = plan_shards(path, "drug", seed=7)
    assert [s.key for s in shards] == ["5-FU", "DOX", "PTX"]  # DMSO is a shared vehicle
    assert len({s.seed for s in shards}) == 3 and shards[0].seed == shard_seed(7, "5-FU")
    assert shard_seed(8, "5-FU") != shard_seed(7, "5-FU")
    assert shard_name("a/b") != shard_name("a:b") and "/" not in shard_name("a/b")


def test_a_shard_holds_its_drug_and_the_shared_vehicles(tmp_path):
    data = read_shard(wells_file(tmp_path), "drug", "PTX",
                      controls={"miR-379": "miR-NC"})
    assert set(data.curves.drug) == {"PTX"} and (data.wells.curve == -1).sum() == 2


def test_a_bad_cell_is_named_by_its_line_in_the_users_file(tmp_path):
    path = wells_file(tmp_path)
    frame = pd.read_csv(path, dtype=str)
    frame.loc[17, "response"] = "n/a"  # a PTX well (rows 10-19): file line 19
    frame.to_csv(path, index=False)
    assert frame.drug[17] == "PTX"
    with pytest.raises(InputError, match=r"wells.csv:19:response"):
        read_shard(path, "drug", "PTX", controls={"miR-379": "miR-NC"})
    read_shard(path, "drug", "DOX", controls={"miR-379": "miR-NC"})  # the other shards read


def test_shard_column_must_exist(tmp_path):
    with pytest.raises(InputError, match="no such column"):
        plan_shards(wells_file(tmp_path), "compound", seed=1)


def test_dividing_out_the_shard_prior_gives_back_its_likelihood():
    """Normal likelihood N(y | theta, v) under prior N(0, s): the posterior divided by the
    prior is the likelihood again."""
    y, v, s = 0.3, 0.04, 0.5
    post_var = 1 / (1 / v + 1 / s**2)
    draws = np.random.default_rng(1).normal(post_var * y / v, np.sqrt(post_var), 200_000)
    mean, var = shard_likelihood(draws, s)
    assert mean == pytest.approx(y, abs=0.01) and var == pytest.approx(v, rel=0.02)
    assert shard_likelihood(np.random.default_rng(2).normal(0, s, 5000), s) is None


def test_pooled_shift_covers_its_truth_at_the_nominal_rate():
    """The second stage is exact for its model: with truths drawn from its prior (two
    treatments sharing one drug-to-drug scale, as in the joint model), 90% intervals of
    the pooled shifts and of each shard's shift cover at about 90%."""
    rng = np.random.default_rng(379)
    mean_sd, drug_sd, hits, theta_hits, n = 0.5, 0.2, 0, [], 150
    for i in range(n):
        tau = rng.gamma(2, drug_sd / 2)
        truths, groups = {}, {}
        for treatment in ("miR-379", "si-IGF1R"):
            mu = rng.normal(0, mean_sd)
            theta = rng.normal(mu, tau, 6)
            v = rng.uniform(0.005, 0.05, 6)
            truths[treatment] = mu, theta
            groups[treatment] = rng.normal(theta, np.sqrt(v)), v
        drawn = pool_shifts(groups, shift_mean_sd=mean_sd, shift_drug_sd=drug_sd, seed=i,
                            n_draws=2000)
        for treatment, (mu, theta) in truths.items():
            mu_draws, theta_draws = drawn[treatment]
            low, high = np.quantile(mu_draws, [0.05, 0.95])
            hits += low <= mu <= high
            low, high = np.quantile(theta_draws, [0.05, 0.95], axis=0)
            theta_hits.append(np.mean((low <= theta) & (theta <= high)))
    n *= 2
    assert 0.85 <= hits / n <= 0.95 and 0.85 <= np.mean(theta_hits) <= 0.95
    assert stats.binomtest(int(hits), n, 0.9).pvalue > 0.001


@pytest.mark.slow
def test_a_sharded_run_equals_its_shards_fitted_one_by_one_and_resumes(tmp_path):
    """On a LocalCluster in the test process: each shard's posterior is the one a fit of
    its wells alone gives with the shard's seed; the same command again refits nothing."""
    import dataclasses

    import xarray as xr

    from chemoshift.data import run_dir as files
    from chemoshift.data.simulate_dose_response import screen_design, simulate_screen
    from chemoshift.dose_response import fit_data, resolve_priors
    from chemoshift.inference.fit import SamplerSettings
    from chemoshift.screen.run import fit_screen

    wells, _ = simulate_screen(screen_design(2, 3, n_concentrations=6), seed=3)
    path = tmp_path / "screen.csv"
    wells.to_csv(path, index=False)
    settings = SamplerSettings(draws=150, tune=150, chains=2, seed=11, extend=False,
                               progress=False)
    result = fit_screen(path, tmp_path / "run", workers=1, settings=settings)  # one compile
    assert [o.status for o in result.shards] == ["fitted"] * 3
    assert (tmp_path / "run" / "shards.csv").is_file()
    pooled = result.pooled[result.pooled.drug == "all"]
    assert len(pooled) == 2 and (pooled["q2.5"] < pooled["q97.5"]).all()  # two treated arms
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["second_stage"]["cell_line_effects"]["combined"]
    # per-curve rows: the shard's draws updated by the other shards' cell-line effects
    top = pd.read_csv(tmp_path / "run" / "shifts.csv", keep_default_na=False)
    own = pd.read_csv(tmp_path / "run" / "shards" / result.shards[0].name / "shifts.csv",
                      keep_default_na=False)
    keys = ["cell_line", "drug", "treatment", "quantity"]
    both = top[top.shard == result.shards[0].key].merge(own, on=keys, suffixes=("", "_own"))
    assert len(both) >= 4 and not np.allclose(both["median"], both["median_own"])

    shard = plan_shards(path, "drug", seed=11)[1]
    data = read_shard(path, "drug", shard.key)
    alone = fit_data(data, priors=resolve_priors(None),
                     settings=dataclasses.replace(settings, seed=shard.seed), margin=1.5,
                     title="alone", read_options={}, started=files.now())
    sharded = files.read_datatree(tmp_path / "run" / "shards" / shard.name)
    for name in ("log10_ic50", "log10_shift_pooled"):
        xr.testing.assert_equal(sharded["posterior"][name], alone.datatree["posterior"][name])

    again = fit_screen(path, tmp_path / "run", workers=1, settings=settings)
    assert [o.status for o in again.shards] == ["reused"] * 3
    pd.testing.assert_frame_equal(again.pooled, result.pooled)


def test_sharded_command_refuses_an_occupied_folder_and_stray_options(tmp_path, capsys):
    from chemoshift.cli import main

    path = wells_file(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code = main(["fit", "dose-response", str(path), "--out", str(tmp_path / "taken"),
                 "--shard-by", "drug", "--control", "miR-379=miR-NC"])
    assert code == 2 and "not an earlier sharded run" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    code = main(["fit", "dose-response", str(path), "--out", str(tmp_path / "run"),
                 "--scheduler", "tcp://127.0.0.1:1", "--control", "miR-379=miR-NC"])
    assert code == 2 and "only with --shard-by" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def gaussian_shards(n_shards=6, m=3, seed=0):
    """Shards sharing ``b`` (m,): shard k's curves ``q_k = b + e_k`` (e_k ~ N(0, 0.3^2 I)),
    observed once each with noise 0.2; prior b ~ N(0, 0.5^2 I). Returns each shard's
    exact posterior draws of (b, q_k) and the joint posterior's means and sds of every q."""
    rng = np.random.default_rng(seed)
    prior_var, e_var, noise_var = 0.25, 0.09, 0.04
    b_true = rng.normal(0, 0.5, m)
    ys = [b_true + rng.normal(0, 0.3, m) + rng.normal(0, 0.2, m) for _ in range(n_shards)]
    # each y_k ~ N(b, (e_var + noise_var) I) given b; q_k | b, y_k is normal
    def posterior_q(b_mean, b_var, y):
        gain = e_var / (e_var + noise_var)
        mean = b_mean + gain * (y - b_mean)
        var = (1 - gain) ** 2 * b_var + gain * noise_var  # q = (1-g) b + g y + resid
        return mean, var
    def b_posterior(y_list):
        precision = 1 / prior_var + len(y_list) / (e_var + noise_var)
        return sum(y_list) / (e_var + noise_var) / precision, 1 / precision
    shard_draws, joint = [], []
    for y in ys:
        b_mean, b_var = b_posterior([y])
        b = rng.normal(b_mean, np.sqrt(b_var), (40_000, m))
        gain = e_var / (e_var + noise_var)
        q = (1 - gain) * b + gain * y + rng.normal(0, np.sqrt(gain * noise_var), b.shape)
        shard_draws.append((b, q))
        jb_mean, jb_var = b_posterior(ys)
        joint.append(posterior_q(jb_mean, jb_var, y))
    return shard_draws, joint, np.full(m, prior_var)


def test_the_cross_shard_update_gives_back_the_joint_posterior_of_gaussian_shards():
    shard_draws, joint, prior_var = gaussian_shards()
    informations = [shard_information(b, prior_var) for b, _ in shard_draws]
    rng = np.random.default_rng(1)
    for (b, q), (precision, information), (mean, var) in zip(
            shard_draws, cavities(informations), joint, strict=True):
        alone_gap = np.abs(q.mean(axis=0) - mean) / np.sqrt(var)
        _, updated = kalman_update(b, q, precision, information, rng)
        np.testing.assert_allclose(updated.mean(axis=0), mean, atol=0.05 * np.sqrt(var).max())
        np.testing.assert_allclose(updated.std(axis=0), np.sqrt(var), rtol=0.03)
        assert alone_gap.max() > 0.2 or q.std(axis=0).min() > 1.1 * np.sqrt(var).max()


def test_widening_a_likelihood_adds_the_variance_to_what_it_observes():
    rng = np.random.default_rng(3)
    root = rng.normal(size=(3, 3))
    precision, information = root @ root.T + np.eye(3), rng.normal(size=3)
    variance = np.array([0.2, 0.0, 0.5])
    wide_precision, wide_information = widen(precision, information, variance)
    expected = np.linalg.inv(np.linalg.inv(precision) + np.diag(variance))
    np.testing.assert_allclose(wide_precision, expected, rtol=1e-10)
    mean = np.linalg.solve(precision, information)  # the observed mean does not move
    np.testing.assert_allclose(np.linalg.solve(wide_precision, wide_information), mean)
