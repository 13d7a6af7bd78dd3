"""A run killed at any moment (SIGKILL while reading, compiling, sampling or writing)
leaves its run directory complete or absent, never half-written; the next run cleans up
after it and succeeds; and the same seed and input give the same bytes.

How the kills stay within CI's budget. Importing PyMC costs ~5-10 s a process and writes
nothing, so a driver process (this file run as a script) imports the command line once
and runs one whole fit in-process (the reference run: it warms the compile cache and every
lazy import, and is what the last run must equal byte for byte). Each trial is then a
child forked from the driver that runs ``chemoshift.cli.main`` exactly as ``chemoshift
fit ...`` would, into the same folder (``--overwrite``): the first runs whole (a new run
directory appears; its duration is the lifetime the kills spread over, ~6-15 s on the
shared 2-core machine), then each is SIGKILLed after a seeded random delay: kill, rerun,
kill again. Twenty kills spread over a 10 s lifetime cost ~100 s, beyond the budget, so
the kills are as many of the 20 as fit ``KILL_BUDGET`` (at least ``MIN_KILLS``), and their
delays are stratified: one in each twentieth of the lifetime, the twentieths taken in van
der Corput order (0, 16, 8, 4, 12, 2, ... of 20), so the kills made before the budget runs
out still spread over the whole lifetime: reading, compiling, sampling and writing. A
final uninterrupted rerun must succeed and leave nothing else behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardening import record

KILLS = 20
SEED = 24
KILL_BUDGET = 30.0  # seconds of kill trials; the rest of the test is four whole runs
MIN_KILLS = 4  # made whatever the budget says (each phase of a lifetime, roughly, once)
ROOT = Path(__file__).resolve().parents[1]


def run_state(run_dir: Path, expected: set[str]) -> str:
    """"absent", "complete", or what is wrong with ``run_dir``: complete means the files
    of the reference run, run.json readable, every CSV parsed, the posterior opened."""
    import pandas as pd

    from chemoshift.data import run_dir as files

    if not run_dir.exists():
        return "absent"
    names = {p.name for p in run_dir.iterdir()}
    if names != expected:
        return f"files {sorted(names ^ expected)} differ from a complete run's"
    try:
        record = files.read_record(run_dir)
        for table in sorted(run_dir.glob("*.csv")):
            pd.read_csv(table)
        files.read_datatree(run_dir)
    except Exception as error:
        return f"unreadable: {type(error).__name__}: {error}"
    if record.get("assay") != "dose-response":
        return f"run.json names {record.get('assay')!r}"
    return "complete"


def strangers(folder: Path, run: str) -> list[str]:
    """Entries of ``folder`` that are neither the run directory nor the hidden traces a
    killed run may leave (its staging folder, retired run, lock file)."""
    allowed = (f".{run}.lock",)
    return sorted(p.name for p in folder.iterdir() if p.name != run and p.name not in allowed
                  and not (p.name.startswith(f".{run}.")
                           and p.name.endswith((".partial", ".old"))))


def van_der_corput(count: int) -> list[int]:
    """0..count-1 in an order whose every prefix spreads over the range (bit reversal)."""
    bits = max(1, (count - 1).bit_length())
    order = sorted(range(2 ** bits), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [i for i in order if i < count]


def drive(work: Path, data: Path) -> dict:
    """The driver (a process of its own): the reference run, the kill trials, the final
    run. Returns what happened, for the test to judge."""
    import signal
    import time
    import warnings

    import numpy as np

    warnings.simplefilter("ignore", DeprecationWarning)  # fork(): our children are ours
    from chemoshift import cli

    argv = ["fit", "dose-response", str(data), "--columns", "concentration=conc,response=rootl",
            "--unit", "mM", "--draws", "20", "--tune", "20", "--chains", "2", "--seed", "7",
            "--no-progress"]
    reference, run = work / "reference", work / "trials" / "run"
    run.parent.mkdir()
    start = time.perf_counter()
    code = quietly(lambda: cli.main([*argv, "--out", str(reference)]), work / "reference.log")
    expected = {p.name for p in reference.iterdir()}
    result = dict(reference_code=code, reference_seconds=time.perf_counter() - start,
                  trials=[])

    def child(log: Path) -> int:
        pid = os.fork()
        if pid == 0:
            code = quietly(lambda: cli.main([*argv, "--out", str(run), "--overwrite"]), log)
            os._exit(code)
        return pid

    start = time.perf_counter()  # a whole child: the lifetime the kills spread over
    result["whole_code"] = os.waitstatus_to_exitcode(os.waitpid(child(work / "whole.log"), 0)[1])
    lifetime = time.perf_counter() - start
    result["whole_state"] = run_state(run, expected)
    rng = np.random.default_rng(SEED)
    offsets = rng.random(KILLS)
    began = time.perf_counter()
    for number, stratum in enumerate(van_der_corput(KILLS)):
        if number >= MIN_KILLS and time.perf_counter() - began > KILL_BUDGET:
            break
        delay = (stratum + offsets[number]) / KILLS * lifetime
        started = time.perf_counter()
        pid = child(work / f"trial{number}.log")
        status = None
        while status is None and time.perf_counter() - started < delay:
            done, raw = os.waitpid(pid, os.WNOHANG)
            status = os.waitstatus_to_exitcode(raw) if done else None
            time.sleep(0.01)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        else:  # it finished first: now we know how long a lifetime is
            lifetime = time.perf_counter() - started
        result["trials"].append(dict(
            delay=round(delay, 2), status=status, state=run_state(run, expected),
            strangers=strangers(run.parent, run.name),
            hidden=sorted(p.name for p in run.parent.iterdir() if p.name.startswith("."))))
    pid = child(work / "final.log")
    result["final_code"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    result["final_state"] = run_state(run, expected)
    result["final_entries"] = sorted(p.name for p in run.parent.iterdir())
    result["lifetime"] = lifetime
    return result


def quietly(call, log: Path) -> int:
    """``call()`` with this process's stdout and stderr going to ``log``."""
    with open(log, "wb") as handle:
        saved = os.dup(1), os.dup(2)
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            return call()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)


@pytest.fixture(scope="module")
def killed(reference, tmp_path_factory) -> tuple[dict, Path]:
    work = tmp_path_factory.mktemp("kill")
    data = reference / "doseresponse" / "ryegrass.csv"  # 24 wells, one curve: cheap
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, __file__, str(work), str(data)], env=env, cwd=work,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), work


@pytest.mark.slow
def test_a_killed_run_leaves_its_run_directory_complete_or_absent(killed, request):
    result, work = killed
    trials = result["trials"]
    record(request, "crashes", "SIGKILL mid-run", sum(t["status"] == -9 for t in trials))
    assert result["reference_code"] in (0, 3), (work / "reference.log").read_text()[-2000:]
    assert result["whole_code"] in (0, 3) and result["whole_state"] == "complete", result
    assert len(trials) >= MIN_KILLS and sum(t["status"] == -9 for t in trials) >= 3, trials
    for trial in trials:
        assert trial["state"] in ("absent", "complete"), trial
        assert trial["strangers"] == [], trial  # nothing that could pass for a result
        assert trial["status"] in (-9, 0, 3), trial  # killed, or done: never refused (2)
    assert result["final_code"] in (0, 3), (work / "final.log").read_text()[-2000:]
    assert result["final_state"] == "complete"
    assert result["final_entries"] == ["run"]  # staging, retired runs and lock: all gone


@pytest.mark.slow
def test_the_same_seed_gives_the_same_bytes(killed):
    """The reference run (in the driver) and the final run (another process, after the
    kills and whatever they left behind): every CSV byte-identical, run.json equal but for
    when it ran, where it wrote and how long each step took."""
    _, work = killed
    first, last = work / "reference", work / "trials" / "run"
    tables = sorted(p.name for p in first.glob("*.csv"))
    assert tables and tables == sorted(p.name for p in last.glob("*.csv"))
    for name in tables:
        assert (first / name).read_bytes() == (last / name).read_bytes(), name
    records = [json.loads((folder / "run.json").read_text()) for folder in (first, last)]
    for saved in records:
        for key in ("started", "finished", "timings", "command"):
            saved.pop(key)
    assert records[0] == records[1]


if __name__ == "__main__":
    print(json.dumps(drive(Path(sys.argv[1]), Path(sys.argv[2]))))
