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
    with pytest.raises(InputError, match="no such column"):
        plan_shards(parquet_twin(wells_file(tmp_path), tmp_path / "wells.parquet"),
                    "compound", seed=1)


def parquet_twin(csv_path, out, *, files=1, row_group_size=7, frame=None):
    """The CSV's wells as Parquet (typed columns, as pandas reads them): one file, or a
    folder of ``files`` files (a dataset) split in the CSV's order; small row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(csv_path) if frame is None else frame
    if files == 1:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out,
                       row_group_size=row_group_size)
        return out
    out.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[part], preserve_index=False),
                       out / f"part-{i}.parquet", row_group_size=row_group_size)
    return out


def test_a_parquet_dataset_plans_and_reads_the_shards_of_its_csv_twin(tmp_path):
    from chemoshift.screen.shards import input_hash

    path = wells_file(tmp_path)
    dataset = parquet_twin(path, tmp_path / "wells", files=3)
    controls = {"miR-379": "miR-NC"}
    shards = plan_shards(dataset, "drug", seed=7)
    assert shards == plan_shards(path, "drug", seed=7)
    for shard in shards:
        ours, theirs = read_shard(dataset, "drug", shard.key, controls=controls), read_shard(
            path, "drug", shard.key, controls=controls)
        # the same wells, in the same order; only where a well came from is said otherwise
        pd.testing.assert_frame_equal(ours.wells.drop(columns="source_row"),
                                      theirs.wells.drop(columns="source_row"))
        pd.testing.assert_frame_equal(ours.curves, theirs.curves)
        pd.testing.assert_frame_equal(ours.top_groups, theirs.top_groups)
        assert (ours.controls, ours.notes, ours.unit) == (theirs.controls, theirs.notes,
                                                          theirs.unit)
    # a shard's rows sit in the first two files, the shared vehicles in the last
    assert len(input_hash(dataset)) == 64 and input_hash(dataset) != input_hash(path)


def test_a_bad_parquet_cell_is_named_by_its_file_row_and_column(tmp_path):
    path = wells_file(tmp_path)
    frame = pd.read_csv(path).rename(columns={"response": "OD450"})
    frame.loc[17, "OD450"] = np.inf  # a PTX well: the file's 18th row (rows count from 1)
    frame.loc[3, "OD450"] = np.nan  # a 5-FU well, null in Parquet: an empty cell
    one = parquet_twin(path, tmp_path / "wells.parquet", frame=frame)
    columns = {"response": "OD450"}
    with pytest.raises(InputError, match=r"wells.parquet:row 18:OD450 \(response\): 'inf'"):
        read_shard(one, "drug", "PTX", columns=columns, controls={"miR-379": "miR-NC"})
    dataset = parquet_twin(path, tmp_path / "wells", files=3, frame=frame)  # 11 rows a file
    with pytest.raises(InputError) as error:
        read_shard(dataset, "drug", "5-FU", columns=columns, controls={"miR-379": "miR-NC"})
    [problem] = error.value.problems
    assert (problem.file, problem.row, problem.row_kind, problem.column) == (
        str(dataset / "part-0.parquet"), 4, "row", "OD450 (response)")
    assert "part-0.parquet:row 4:OD450 (response): ''; expected a finite number" in str(
        error.value)
    read_shard(dataset, "drug", "DOX", columns=columns,
               controls={"miR-379": "miR-NC"})  # the other shards read


def test_a_duplicated_well_across_parquet_files_says_where_it_was_first(tmp_path):
    path = wells_file(tmp_path)
    frame = pd.read_csv(path)
    frame["well"] = [f"W{i}" for i in range(len(frame))]
    frame.loc[30, "well"] = frame.loc[10, "well"]  # a shared vehicle takes a PTX well's place
    dataset = parquet_twin(path, tmp_path / "wells", files=2, frame=frame)  # 16 rows a file
    with pytest.raises(InputError, match=r"part-1.parquet:row 15:well: duplicated well .*"
                                         r"first seen on row 11 of .*part-0.parquet"):
        read_shard(dataset, "drug", "PTX", controls={"miR-379": "miR-NC"})


def test_planning_parquet_shards_reads_the_shard_column_alone(tmp_path):
    """Every other column's bytes are overwritten: planning still reads the shard column;
    the shard's own read (on a worker) finds the damage and names the file."""
    import pyarrow.parquet as pq

    path = parquet_twin(wells_file(tmp_path), tmp_path / "wells.parquet")
    metadata = pq.ParquetFile(path).metadata
    raw = bytearray(path.read_bytes())
    drug = metadata.schema.names.index("drug")
    for group in range(metadata.num_row_groups):
        for column in set(range(metadata.num_columns)) - {drug}:
            chunk = metadata.row_group(group).column(column)
            start = min(o for o in (chunk.dictionary_page_offset, chunk.data_page_offset)
                        if o is not None)
            raw[start:start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(raw))
    assert [s.key for s in plan_shards(path, "drug", seed=7)] == ["5-FU", "DOX", "PTX"]
    with pytest.raises(InputError, match=r"wells.parquet: unreadable"):
        read_shard(path, "drug", "PTX", controls={"miR-379": "miR-NC"})


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


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    """A small screen (2 cell lines x 3 drugs, 6 concentrations), written as CSV and as a
    Parquet dataset, the dataset fitted shard by shard (each worker reading its shard) by
    two workers (one thread each) on a LocalCluster in the test process, few draws; once
    a shard's task is executing on one worker, that worker's process is killed (SIGKILL,
    as the kernel's out-of-memory killer would). Returns the wells CSV, the settings, the
    result, the killed shard's task key and the scheduler's story of that task
    (with the CSV's and the dataset's paths).

    Deterministic: the kill waits until a worker reports a shard task executing and its
    shard.json not yet written (a shard takes seconds; the check, milliseconds)."""
    import os
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    from chemoshift.data.simulate_dose_response import screen_design, simulate_screen
    from chemoshift.inference.fit import SamplerSettings
    from chemoshift.screen.run import fit_screen

    folder = tmp_path_factory.mktemp("screen")
    wells, _ = simulate_screen(screen_design(2, 3, n_concentrations=6), seed=3)
    path = folder / "screen.csv"
    wells.to_csv(path, index=False)
    settings = SamplerSettings(draws=150, tune=150, chains=2, seed=11, extend=False,
                               progress=False)
    dataset = parquet_twin(path, folder / "screen", files=2, row_group_size=50)
    out = folder / "run"

    def executing(dask_worker):
        return sorted(str(key) for key, task in dask_worker.state.tasks.items()
                      if task.state == "executing")

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        done = {}
        thread = threading.Thread(target=lambda: done.update(result=fit_screen(
            dataset, out, scheduler=cluster.scheduler_address, settings=settings)))
        thread.start()
        victim, deadline = None, time.monotonic() + 600
        while victim is None and thread.is_alive() and time.monotonic() < deadline:
            for address, keys in client.run(executing).items():
                unfinished = [k for k in keys if not (
                    out / "shards" / k.removeprefix("shard-") / "shard.json").exists()]
                if unfinished:
                    victim = address, unfinished[0]
                    break
            else:
                time.sleep(0.05)
        assert victim is not None, "no shard task seen executing"
        pid = client.run(os.getpid, workers=[victim[0]])[victim[0]]
        os.kill(pid, signal.SIGKILL)
        thread.join(900)
        assert not thread.is_alive() and "result" in done
        story = client.run_on_scheduler(lambda dask_scheduler: [
            list(t[:3]) for t in dask_scheduler.story(victim[1])])
    return path, dataset, settings, done["result"], victim[1], story


@pytest.mark.slow
def test_a_shard_whose_worker_was_killed_is_sent_to_a_live_worker(sharded_run):
    """The scheduler hands the killed worker's shard to a live worker (the nanny restarts
    the dead one): its story shows it sent to a worker again after the kill, and the run
    completes every shard."""
    _, dataset, _, result, victim, story = sharded_run
    sent = [t for t in story if t[0] == victim and t[2] == "processing"]
    assert len(sent) >= 2, story  # to the killed worker, then to a live one
    assert [o.status for o in result.shards] == ["fitted"] * 3
    assert result.exit_code in (0, 3)
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["inputs"][0]["path"] == str(dataset)


@pytest.mark.slow
def test_a_sharded_run_equals_its_shards_fitted_one_by_one_and_resumes(sharded_run):
    """Each shard's posterior is the one a fit of its wells alone (read from the CSV twin)
    gives with the shard's seed: checked on the shard whose worker was killed mid-fit, so
    neither the kill nor reading Parquet on the workers changed a number; the same
    command again refits nothing."""
    import dataclasses

    import xarray as xr

    from chemoshift.data import run_dir as files
    from chemoshift.dose_response import fit_data, resolve_priors
    from chemoshift.screen.run import fit_screen

    path, dataset, settings, result, victim, _ = sharded_run
    assert (result.run_dir / "shards.csv").is_file()
    pooled = result.pooled[result.pooled.drug == "all"]
    assert len(pooled) == 2 and (pooled["q2.5"] < pooled["q97.5"]).all()  # two treated arms
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["second_stage"]["cell_line_effects"]["combined"]
    # per-curve rows: the shard's draws updated by the other shards' cell-line effects
    top = pd.read_csv(result.run_dir / "shifts.csv", keep_default_na=False)
    own = pd.read_csv(result.run_dir / "shards" / result.shards[0].name / "shifts.csv",
                      keep_default_na=False)
    keys = ["cell_line", "drug", "treatment", "quantity"]
    both = top[top.shard == result.shards[0].key].merge(own, on=keys, suffixes=("", "_own"))
    assert len(both) >= 4 and not np.allclose(both["median"], both["median_own"])

    shard = next(s for s in plan_shards(path, "drug", seed=11)
                 if f"shard-{s.name}" == victim)
    data = read_shard(path, "drug", shard.key)
    alone = fit_data(data, priors=resolve_priors(None),
                     settings=dataclasses.replace(settings, seed=shard.seed), margin=1.5,
                     title="alone", read_options={}, started=files.now())
    sharded = files.read_datatree(result.run_dir / "shards" / shard.name)
    for name in ("log10_ic50", "log10_shift_pooled"):
        xr.testing.assert_equal(sharded["posterior"][name], alone.datatree["posterior"][name])

    with pytest.raises(InputError, match="--overwrite"):  # a complete run is not resumed
        fit_screen(dataset, result.run_dir, workers=1, settings=settings)
    (result.run_dir / "run.json").unlink()  # killed before its last step: resumed
    again = fit_screen(dataset, result.run_dir, workers=1, settings=settings)
    assert [o.status for o in again.shards] == ["reused"] * 3
    pd.testing.assert_frame_equal(again.pooled, result.pooled)
    replaced = fit_screen(dataset, result.run_dir, workers=1, settings=settings,
                          overwrite=True)
    assert [o.status for o in replaced.shards] == ["reused"] * 3  # unchanged shards kept


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


def test_a_partial_sharded_run_resumes_and_a_complete_one_needs_overwrite(tmp_path):
    from chemoshift.screen.run import screen_folder_refusal

    out = tmp_path / "run"
    (out / "shards" / "drug-a").mkdir(parents=True)  # killed before its run.json
    assert screen_folder_refusal(out) is None
    (out / "run.json").write_text("{}")
    assert "--overwrite" in screen_folder_refusal(out)
    assert screen_folder_refusal(out, overwrite=True) is None


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


def test_pooled_scales_multiply_the_shards_likelihoods_with_one_prior():
    """Shards whose log-scale posteriors are normal: the pooled log scale is the product of
    their likelihoods (each posterior over the model's prior) and the prior, once."""
    import xarray as xr

    from chemoshift.models.dose_response import DoseResponsePriors
    from chemoshift.screen.scales import log_scale_prior, pooled_scales, refit_priors

    priors = DoseResponsePriors()
    m0, v0 = log_scale_prior(priors.hill_curve_sd)
    rng = np.random.default_rng(4)
    likelihoods = [(np.log(0.2) + d, 0.3**2) for d in (-0.1, 0.05, 0.2)]
    posteriors = []
    for mean, var in likelihoods:
        post_var = 1 / (1 / var + 1 / v0)
        post_mean = post_var * (mean / var + m0 / v0)
        draws = np.exp(rng.normal(post_mean, np.sqrt(post_var), (2, 100_000)))
        posteriors.append(xr.Dataset({"hill_curve_sd": (("chain", "draw"), draws)}))
    pooled = pooled_scales(posteriors, priors)
    precision = 1 / v0 + sum(1 / v for _, v in likelihoods)
    expected = (m0 / v0 + sum(m / v for m, v in likelihoods)) / precision
    assert set(pooled) == {"hill_curve"} and pooled["hill_curve"]["shards"] == 3
    assert np.log(pooled["hill_curve"]["value"]) == pytest.approx(expected, abs=0.01)
    assert pooled["hill_curve"]["log_sd"] == pytest.approx(precision**-0.5, rel=0.02)

    overrides = refit_priors({"curve_sd": 0.2}, pooled, ["hill_curve", "bottom_curve"])
    assert overrides == {"curve_sd": 0.2, "hill_curve_sd": pooled["hill_curve"]["value"],
                         "fixed_scales": ("hill_curve",)}


def test_a_scale_named_in_fixed_scales_is_fixed_at_its_prior_value():
    import dataclasses

    from chemoshift.data.dose_response import validate_wells
    from chemoshift.data.simulate_dose_response import screen_design, simulate_screen
    from chemoshift.models.dose_response import DoseResponsePriors
    from chemoshift.models.dose_response_design import TERM_PRIOR, Design

    wells, _ = simulate_screen(screen_design(4, 3, n_concentrations=6), seed=3)
    design = Design.from_data(validate_wells(wells))
    learnt = [t for t, (is_learnt, _) in design.terms(DoseResponsePriors()).items() if is_learnt]
    assert learnt
    fixed = dataclasses.replace(DoseResponsePriors(), fixed_scales=(learnt[0],),
                                **{TERM_PRIOR[learnt[0]]: 0.123})
    assert design.terms(fixed)[learnt[0]] == (False, 0.123)
    assert all(design.terms(fixed)[t][0] for t in learnt[1:])


def test_a_shard_that_did_not_converge_is_refitted_at_the_pooled_scales(tmp_path, monkeypatch):
    """The refit pass: the converged shards' scale posteriors are pooled; each unconverged
    shard is fitted again with the scales it learnt fixed at the pooled values, and its
    refit's outcome replaces its first (a refit that fails keeps the first)."""
    import xarray as xr

    from chemoshift.data import run_dir as files
    from chemoshift.inference.fit import SamplerSettings
    from chemoshift.models.dose_response import DoseResponsePriors
    from chemoshift.screen import run as screen_run
    from chemoshift.screen.engine import ShardJob, ShardOutcome
    from chemoshift.screen.shards import Shard

    rng = np.random.default_rng(0)
    shards = [Shard(key, f"{key}-0", i) for i, key in enumerate(("A", "B", "C", "D"))]
    for shard, sd in zip(shards, (0.2, 0.25, 0.3, 0.3), strict=True):
        draws = {"hill_curve_sd": (("chain", "draw"), np.exp(rng.normal(np.log(sd), 0.1,
                                                                        (2, 200))))}
        if shard.key != "D":
            draws["bottom_curve_sd"] = (("chain", "draw"), rng.gamma(50, 0.01, (2, 200)))
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset(draws)})
        files.write_datatree(tmp_path / "shards" / shard.name / files.POSTERIOR, tree)
    jobs = [ShardJob("wells.csv", "drug", s, {}, {"curve_sd": 0.2}, SamplerSettings(), 1.5,
                     str(tmp_path)) for s in shards]
    outcomes = [ShardOutcome(s.name, s.key, "fitted", passed=s.key in ("A", "B"))
                for s in shards]
    sent = []

    def fake_run_shards(refits, **engine):
        sent.extend(refits)
        return [ShardOutcome(j.shard.name, j.shard.key, "fitted" if j.shard.key == "C"
                             else "failed", passed=j.shard.key == "C", pooled_scales="x")
                for j in refits]

    monkeypatch.setattr(screen_run, "run_shards", fake_run_shards)
    result, record = screen_run._refit_at_pooled_scales(
        tmp_path, jobs, outcomes, DoseResponsePriors(), {})
    assert [j.shard.key for j in sent] == ["C", "D"]
    c, d = (j.refit_priors for j in sent)
    assert c["fixed_scales"] == ("bottom_curve", "hill_curve") and c["curve_sd"] == 0.2
    assert d["fixed_scales"] == ("hill_curve",)  # D learnt no bottom scale
    pooled = record["pooled"]["hill_curve"]
    assert pooled["shards"] == 2 and 0.2 < pooled["value"] < 0.25
    assert c["hill_curve_sd"] == pooled["value"]
    assert [o.passed for o in result] == [True, True, True, False]
    assert result[3] is outcomes[3]  # the failed refit keeps the first fit's outcome
