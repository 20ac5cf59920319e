"""One training at a time per run directory: the lock, in-process and between real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from zoo import runlock

LONG = [
    "--task", "timeseries", "--model", "simplernn", "--units", "4", "--epochs", "50",
    "--steps-per-epoch", "50",
]  # fmt: skip


def test_a_held_run_dir_is_refused_and_named_then_free_again(tmp_path):
    run_dir = tmp_path / "runs" / "a"
    with runlock.hold(run_dir):
        assert (run_dir / runlock.LOCK_FILE).is_file()
        who = runlock.holder(run_dir)
        assert who.startswith(f"process {os.getpid()} (") and "python" in who
        with pytest.raises(runlock.InUseError, match=f"{run_dir} is in use by process {os.getpid()} "):
            with runlock.hold(run_dir):
                pass
        (run_dir / "model.keras").write_text("trained")
    assert runlock.holder(run_dir) is None
    assert not (run_dir / runlock.LOCK_FILE).exists()  # removed on release
    assert (run_dir / "model.keras").exists()  # the run's files stay


def test_an_empty_run_dir_it_created_is_removed_on_release(tmp_path):
    # A command refused for a bad flag after taking the lock leaves nothing behind.
    with runlock.hold(tmp_path / "runs" / "typo"):
        pass
    assert not (tmp_path / "runs").exists()
    assert runlock.holder(tmp_path / "runs" / "typo") is None  # and asking creates nothing
    assert not (tmp_path / "runs").exists()


def test_a_run_dir_that_cannot_be_written_is_left_to_prepare(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with runlock.hold(afile / "run"):  # rundir.prepare() names the problem
        pass
    assert afile.read_text() == "x"


def test_the_rundir_cleanup_keeps_the_lock(tmp_path):
    from zoo import config, rundir

    run_dir = tmp_path / "run"
    with runlock.hold(run_dir):
        (run_dir / ".model.keras.abc.tmp.keras").write_text("a kill during a save")
        (run_dir / "history.csv").write_text("epoch\n1\n")
        cfg = config.resolve({"task": "timeseries", "model": "simplernn", "run_dir": str(run_dir)})
        rundir.prepare(str(run_dir), cfg, overwrite=True)
        assert sorted(p.name for p in run_dir.iterdir()) == [runlock.LOCK_FILE]
        assert runlock.holder(run_dir).startswith(f"process {os.getpid()} ")


def test_a_lock_is_free_once_its_holder_is_killed(tmp_path):
    run_dir = tmp_path / "run"
    hold = f"from zoo import runlock; import time\nwith runlock.hold({str(run_dir)!r}): print(1, flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", hold], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "1\n"
        assert runlock.holder(run_dir).startswith(f"process {proc.pid} (")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (run_dir / runlock.LOCK_FILE).exists()  # left behind, but no longer locked
    assert runlock.holder(run_dir) is None
    with runlock.hold(run_dir):
        assert runlock.holder(run_dir).startswith(f"process {os.getpid()} ")


def test_a_second_train_on_a_run_dir_in_use_is_refused_at_once(tmp_path):
    run_dir = str(tmp_path / "run")
    Path(run_dir).mkdir()
    Path(run_dir, "metrics.json").write_text("{}")  # --overwrite would delete it
    command = [sys.executable, "train.py", *LONG, "--run-dir", run_dir]
    # Its own data dir: a kill during data generation must not touch the session's.
    env = os.environ | {
        "CI": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RNN_ZOO_GENERATED_DIR": str(tmp_path / "gen"),
    }
    log = open(tmp_path / "first.log", "w")  # a file, not a pipe: a full pipe would block the child
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while runlock.holder(run_dir) is None:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "train.py took no lock within 30 s"
            time.sleep(0.05)
        for extra in ([], ["--overwrite"]):
            started = time.monotonic()
            second = subprocess.run(
                command + extra, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
            )
            assert second.returncode == 2, second.stderr
            # Refused before anything loads: the time of starting Python and importing the tasks.
            assert time.monotonic() - started < 30
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(
                f"error: {run_dir} is in use by process {first.pid} ("
            ), lines
            assert "train.py --task timeseries" in lines[0] and "choose another --run-dir" in lines[0]
            assert second.stdout == ""
        assert Path(run_dir, "metrics.json").exists()  # --overwrite deleted nothing under the running run
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        log.close()
    assert runlock.holder(run_dir) is None  # the kernel dropped the lock with the process
    with runlock.hold(run_dir):
        pass
