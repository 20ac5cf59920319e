"""train.py and evaluate.py end to end, and every bad input with its one-line error."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.cli_helpers import one_line_error, run_evaluate, run_train
from tests.conftest import ROOT

QUICK = ["--epochs", "1", "--steps-per-epoch", "2", "--units", "8", "--batch-size", "16"]


@pytest.mark.parametrize(
    "task,model,eval_args,expected_metrics",
    [
        (
            "imdb",
            "simplernn",
            ["--limit", "64", "--text", "A wonderful film."],
            {"accuracy", "precision", "recall"},
        ),
        (
            "shakespeare",
            "gru",
            ["--limit", "64", "--length", "40", "--seed-text", "KING:"],
            {"loss_nats_per_char", "bits_per_char", "perplexity", "sample", "val_stream_nats_per_char"},
        ),
        ("timeseries", "lstm", [], {"model_mse", "naive_mse", "linear_mse", "model_rmse", "model_mae"}),
        ("waveforms", "stacked-gru", [], {"accuracy", "confusion_matrix"}),
    ],
)
def test_train_then_evaluate(task, model, eval_args, expected_metrics, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    assert run_train("--model", model, "--task", task, "--run-dir", run_dir, *QUICK) == 0
    for name in ("model.keras", "config.json", "task_state.json", "history.csv", "curves.png", "logs"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # finished runs keep no checkpoint
    saved = json.load(open(os.path.join(run_dir, "config.json")))
    assert saved["finished"] and saved["config"]["task"] == task and saved["config"]["units"] == 8
    rows = list(csv.DictReader(open(os.path.join(run_dir, "history.csv"))))
    assert len(rows) == 1 and "val_loss" in rows[0]
    capsys.readouterr()

    assert run_evaluate(run_dir, *eval_args) == 0
    printed = capsys.readouterr().out
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert expected_metrics <= set(metrics)
    assert metrics["task"] == task
    if task == "imdb":
        assert 0 <= metrics["accuracy"] <= 1 and metrics["test_examples"] == 64
        assert 0 <= metrics["texts"][0]["positive_probability"] <= 1
        assert "A wonderful film." in printed
        # A text with nothing to read is refused (its masked mean would be 0/0), metrics untouched.
        os.remove(os.path.join(run_dir, "metrics.json"))
        one_line_error(
            capsys, run_evaluate(run_dir, "--text", "Fine.", "--text", "!!!"), 2, "'!!!' has no words"
        )
        assert not os.path.exists(os.path.join(run_dir, "metrics.json"))
    if task == "shakespeare":
        assert metrics["sample"].startswith("KING:") and len(metrics["sample"]) == 45
        assert abs(metrics["bits_per_char"] * 0.693147 - metrics["loss_nats_per_char"]) < 1e-4
        # An untrained model over ~66 characters: near log(66) = 4.19 nats, windows or streams.
        for key in ("loss_nats_per_char", "val_stream_nats_per_char", "test_stream_nats_per_char"):
            assert 3.5 < metrics[key] < 5, key
        assert os.path.exists(os.path.join(run_dir, "samples.txt"))
    if task == "timeseries":
        assert os.path.exists(os.path.join(run_dir, "forecast.png"))
    if task == "waveforms":
        assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == metrics["test_examples"]


def test_finished_run_is_not_overwritten(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    args = ["--model", "simplernn", "--task", "waveforms", "--run-dir", run_dir, *QUICK]
    assert run_train(*args) == 0
    before = os.path.getmtime(os.path.join(run_dir, "model.keras"))
    one_line_error(capsys, run_train(*args), 2, "already holds a finished run", "--overwrite")
    assert os.path.getmtime(os.path.join(run_dir, "model.keras")) == before
    assert run_train(*args, "--overwrite") == 0


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--model", "transformer"], ["unknown model 'transformer'", "simplernn", "bidirectional-gru"]),
        (["--task", "mnist"], ["unknown task 'mnist'", "imdb", "shakespeare", "timeseries", "waveforms"]),
        (["--model", "bidirectional-lstm", "--task", "shakespeare"], ["bidirectional", "shakespeare"]),
        (["--model", "lstm", "--task", "shakespeare", "--bidirectional"], ["bidirectional", "left to right"]),
        (["--epochs", "0"], ["--epochs must be positive, got 0"]),
        (["--batch-size", "-4"], ["--batch-size must be positive, got -4"]),
        (["--units", "0"], ["--units must be positive"]),
        (["--layers", "-1"], ["--layers must be positive"]),
        (["--learning-rate", "0"], ["--learning-rate must be positive"]),
        (["--steps-per-epoch", "0"], ["--steps-per-epoch must be positive"]),
        (["--dropout", "1.5"], ["--dropout must be in [0, 1), got 1.5"]),
        (["--api", "subclass"], ["--api must be one of sequential, functional, got 'subclass'"]),
    ],
)
def test_bad_train_input(args, fragments, tmp_path, capsys):
    one_line_error(capsys, run_train(*args, "--run-dir", str(tmp_path / "r")), 2, *fragments)
    assert not (tmp_path / "r").exists()


def test_missing_data_dir_dataset(tmp_path, capsys):
    code = run_train("--task", "imdb", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "r"))
    one_line_error(capsys, code, 2, "imdb_reviews", "is not prepared", "aclImdb_v1.tar.gz")


def test_bad_evaluate_input(tmp_path, capsys):
    one_line_error(capsys, run_evaluate(str(tmp_path / "nope")), 2, "does not exist")
    one_line_error(capsys, run_evaluate(str(tmp_path)), 2, "holds no run")


def test_list_names_every_model_and_task(capsys):
    assert run_train("--list") == 0
    out = capsys.readouterr().out
    for name in (
        "simplernn",
        "lstm",
        "gru",
        "stacked-lstm",
        "stacked-gru",
        "bidirectional-lstm",
        "bidirectional-gru",
        "imdb",
        "shakespeare",
        "timeseries",
        "waveforms",
    ):
        assert f"  {name} " in out
    # Each task's defaults, as the flags that override them.
    assert "defaults: epochs 9, batch-size 32, learning-rate 0.004, lr-schedule cosine" in out


def test_processes_exit_with_one_line_and_no_traceback(tmp_path):
    """As a user sees it: real processes, non-zero exit, one line on stderr."""
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    bad = subprocess.run(
        [sys.executable, "train.py", "--model", "nope"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith("error: unknown model 'nope'")
    helped = subprocess.run(
        [sys.executable, "train.py", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0
    for flag in (
        "--model",
        "--task",
        "--epochs",
        "--batch-size",
        "--steps-per-epoch",
        "--units",
        "--layers",
        "--bidirectional",
        "--api",
        "--learning-rate",
        "--seed",
        "--data-dir",
        "--run-dir",
    ):
        assert flag in helped.stdout
    missing = subprocess.run(
        [sys.executable, "evaluate.py", str(tmp_path / "none")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


# TensorFlow's C++ start-up lines on a CPU-only machine, written before any
# TF_CPP_MIN_LOG_LEVEL takes effect.
START_UP = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "This TensorFlow binary is optimized",
    "failed call to cuInit",
)


def test_tensorflow_starts_quietly_unless_debugging():
    """A real process: no start-up lines, while what comes after the import still reaches stderr."""
    code = "import os, zoo.cli, tensorflow as tf; tf.constant(1.0) + 1; os.write(2, b'after the import\\n')"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNN_ZOO_DEBUG")}
    quiet = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "after the import\n"
    debug = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"RNN_ZOO_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert debug.returncode == 0 and "after the import" in debug.stderr
    if not any(line in debug.stderr for line in START_UP):
        pytest.skip("TensorFlow writes no start-up lines on this machine")


def test_the_start_up_filter_keeps_errors_and_python_warnings():
    code = """if True:
        import os, warnings
        from zoo import cli
        with cli.quiet_tensorflow_import():
            os.write(2, b"I0000 00:00:1796114309.872869   10396 port.cc:153] oneDNN custom operations are on\\n")
            os.write(2, b"I0000 00:00:1796114309.944638   10396 cpu_feature_guard.cc:227] This TensorFlow binary\\n")
            os.write(2, b"To enable the following instructions: AVX2 FMA, in other operations, rebuild\\n")
            warnings.warn("a Python warning")
            os.write(2, b"E0000 00:00:1796114313.576072   10396 other.cc:52] a real error\\n")
        os.write(2, b"W1201 08:41:02.123456   10396 x.cc:1] a warning after the block\\n")
    """
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].endswith(": UserWarning: a Python warning"), lines
    assert lines[1:] == [
        "E0000 00:00:1796114313.576072   10396 other.cc:52] a real error",
        "W1201 08:41:02.123456   10396 x.cc:1] a warning after the block",
    ]


@pytest.mark.parametrize(
    "terminal,ci,expected", [(True, None, "auto"), (False, None, 2), (True, "1", 2), (False, "1", 2)]
)
def test_keras_prints_one_line_per_epoch_into_a_log(terminal, ci, expected, monkeypatch):
    class Stdout:
        def isatty(self):
            return terminal

    monkeypatch.setattr(sys, "stdout", Stdout())
    monkeypatch.delenv("CI", raising=False)
    if ci:
        monkeypatch.setenv("CI", ci)
    from zoo import cli

    assert cli.keras_verbose() == expected
