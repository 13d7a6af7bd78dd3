"""Run-directory files are written whole or not at all, and read back as written."""

from __future__ import annotations

import os

import numpy as np
import pytest
from arviz_base import from_dict

from chemoshift.data import run_dir as files


def test_a_write_that_fails_midway_leaves_nothing(tmp_path):
    target = tmp_path / "summary.csv"
    with pytest.raises(RuntimeError), files.atomic_path(target) as temporary:
        temporary.write_text("half a table")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_survives_a_failed_rewrite(tmp_path):
    target = tmp_path / "run.json"
    files.write_json(target, {"seed": 1})
    with pytest.raises(RuntimeError), files.atomic_path(target) as temporary:
        temporary.write_text("{")
        raise RuntimeError("killed")
    assert files.read_record(tmp_path) == {"seed": 1}


def test_datatree_round_trip_drops_only_text_per_draw(tmp_path):
    tree = from_dict({
        "posterior": {"log10_ic50": np.arange(12.0).reshape(1, 4, 3)},
        "sample_stats": {"diverging": np.zeros((1, 4), bool),
                         "divergence_message": np.full((1, 4), None, dtype=object)},
    }, dims={"log10_ic50": ["curve"]}, coords={"curve": ["a", "b", "c"]})
    files.write_datatree(tmp_path / files.POSTERIOR, tree)
    back = files.read_datatree(tmp_path)
    np.testing.assert_array_equal(back["posterior"]["log10_ic50"], tree["posterior"]["log10_ic50"])
    assert list(back["posterior"]["curve"].values) == ["a", "b", "c"]
    assert "divergence_message" not in back["sample_stats"]


def test_versions_name_the_stack():
    found = files.versions()
    assert {"python", "pymc", "nutpie", "arviz", "numpy"} <= set(found)


HOLD = """
import sys
from chemoshift.data.run_dir import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/run (until it ends)."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_second_run_is_refused_naming_the_process_that_writes(tmp_path, holder, capsys):
    from chemoshift.cli import main

    with pytest.raises(files.RunLocked, match=f"another run \\(process {holder.pid}"):
        with files.run_lock(tmp_path / "run"):
            pass
    data = tmp_path / "wells.csv"
    data.write_text("concentration,response\n0,1\n1,0.5\n")
    assert main(["fit", "dose-response", str(data), "--out", str(tmp_path / "run")]) == 2
    said = capsys.readouterr().err
    assert f"process {holder.pid}" in said and "another --out" in said
    assert not (tmp_path / "run").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    holder.kill()  # SIGKILL: no cleanup ran, the lock file is still there
    holder.wait()
    assert files.lock_path(tmp_path / "run").exists()
    with files.run_lock(tmp_path / "run"), files.run_lock(tmp_path / "run"):  # re-entrant
        assert str(os.getpid()) in files.lock_path(tmp_path / "run").read_text()
    assert not files.lock_path(tmp_path / "run").exists()  # removed on release


def test_leftovers_of_killed_runs_are_removed_and_never_pass_for_runs(tmp_path):
    run = tmp_path / "run"
    staged = tmp_path / ".run.x1y2.partial"  # killed while writing: run.json and all
    staged.mkdir()
    files.write_json(staged / files.RECORD, {"assay": "dose-response"})
    (tmp_path / ".run.x1y2.old").mkdir()  # killed between the two renames
    (tmp_path / ".other.z9.partial").mkdir()  # another run directory's: not ours to clean
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    with files.staged_run_dir(run) as staging:
        files.write_json(staging / files.RECORD, {"assay": "dose-response"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.z9.partial", "run"]


def test_an_overwrite_swaps_the_runs_whole(tmp_path):
    run = tmp_path / "run"
    with files.staged_run_dir(run) as staging:
        files.write_json(staging / files.RECORD, {"seed": 1})
        (staging / "only_in_first.csv").write_text("x\n")
    assert files.check_run_dir(run) is not None  # refused without overwrite
    assert "--overwrite" in files.check_run_dir(run)[1]
    assert files.check_run_dir(run, overwrite=True) is None
    with pytest.raises(RuntimeError), files.staged_run_dir(run) as staging:
        files.write_json(staging / files.RECORD, {"seed": 2})
        raise RuntimeError("killed")
    assert files.read_record(run) == {"seed": 1}  # a failed overwrite keeps the first
    with files.staged_run_dir(run) as staging:
        files.write_json(staging / files.RECORD, {"seed": 2})
    assert files.read_record(run) == {"seed": 2} and not (run / "only_in_first.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
