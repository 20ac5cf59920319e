"""train.py --settings, and tune.py: a KerasTuner search whose trials are zoo runs, resumed after a kill."""

from __future__ import annotations

import csv
import json
import math

import keras
import pytest

from tests.cli_helpers import one_line_error, run_evaluate, run_train

# Tiny, fast trials (the series task reads a small CSV: no dataset to generate).
QUICK = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16", "--no-jit-compile"]


def series_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("y\n" + "".join(f"{math.sin(i / 7):.4f}\n" for i in range(300)))
    return str(path)


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def test_settings_file_is_under_the_flags(tmp_path):
    from zoo import config

    data = series_csv(tmp_path)
    settings = write(
        tmp_path / "set.json",
        {"task": "series", "data": data, "target": "y", "window": 20, "units": 8, "learning_rate": 3},
    )
    values = config.read_settings(settings, *registries())
    # An integer for a float setting is taken as a float; nothing else is converted.
    assert values["learning_rate"] == 3.0 and isinstance(values["learning_rate"], float)
    flags = {"units": 12, "learning_rate": None, "epochs": None}  # None: not given
    cfg = config.resolve(flags, values, settings)
    assert (cfg.task, cfg.units, cfg.learning_rate) == ("series", 12, 3.0)
    assert cfg.task_settings["window"] == 20 and cfg.task_settings["data"] == data
    # Layering: the file is over the task's defaults (timeseries: epochs 40, rate 2e-3), under the flags.
    cfg = config.resolve({"units": 5}, {"task": "timeseries", "epochs": 2, "units": 9}, "f")
    assert (cfg.epochs, cfg.units, cfg.learning_rate) == (2, 5, 2e-3)
    assert config.read_settings(None, *registries()) == {}


def registries():
    import datasets
    import models

    return datasets.TASKS, models.MODELS


@pytest.mark.parametrize(
    "content,flags,fragments",
    [
        ({"unitz": 8}, [], ["s.json: unknown setting 'unitz'", "did you mean 'units'?"]),
        ({"units": "8"}, [], ["s.json: 'units' must be an integer, got \"8\""]),
        ({"jit_compile": 1}, [], ["'jit_compile' must be true or false, got 1"]),
        ({"units": -8}, [], ["s.json: --units must be positive, got -8"]),
        ({"task": "series", "seq_len": 30}, [], ["s.json: --seq-len does not apply to task 'series'"]),
        ({"task": "nope"}, [], ["s.json:", "nope"]),
        ([1, 2], [], ["must hold a JSON object"]),
        # A bad flag is the flag's error, not the file's.
        ({"units": 8}, ["--units", "-1"], ["error: --units must be positive, got -1"]),
    ],
)
def test_bad_settings_files_are_refused_in_one_line(content, flags, fragments, tmp_path, capsys):
    path = write(tmp_path / "s.json", content)
    last = one_line_error(
        capsys, run_train("--settings", path, "--run-dir", str(tmp_path / "r"), *flags), 2, *fragments
    )
    if flags:
        assert "s.json" not in last
    assert not (tmp_path / "r" / "config.json").exists()


def test_unreadable_settings_file(tmp_path, capsys):
    one_line_error(
        capsys, run_train("--settings", str(tmp_path / "none.json")), 2, "cannot read settings file"
    )
    (tmp_path / "t.json").write_text("{units: 8}")
    one_line_error(capsys, run_train("--settings", str(tmp_path / "t.json")), 2, "is not valid JSON")


def run_tune(*args):
    import tune
    from zoo import cli

    return cli.run(tune.main, list(args))


def test_default_space_fits_the_task_and_model():
    from zoo import config, tuning

    imdb = tuning.default_space(config.resolve({"task": "imdb", "model": "gru"}))
    # Around imdb's own defaults (rate 5e-3, batch 128, embedding 128), and imdb's own settings.
    assert imdb["learning_rate"] == {"min": 0.001667, "max": 0.015, "log": True}
    assert imdb["batch_size"] == {"min": 64, "max": 256, "step": 2, "log": True}
    assert imdb["epochs"] == {"min": 1, "max": 2}
    assert {"embedding_dim", "embedding_dropout", "seq_len", "max_tokens", "pool"} <= set(imdb)
    series = tuning.default_space(config.resolve({"task": "timeseries", "model": "lstm"}))
    assert "units" in series and not {"embedding_dim", "embedding_dropout", "window", "horizon"} & set(series)
    own = tuning.default_space(config.resolve({"task": "series", "model": "gru"}))
    assert own["anchor"] == {"values": ["last", "linear"]}  # not mean: its loss is in other units
    # The chapter's model as printed compiles itself: nothing of its architecture or optimizer is searched.
    snippet = tuning.default_space(config.resolve({"task": "timeseries", "model": "snippet-forecaster"}))
    assert set(snippet) == {"batch_size", "epochs"}


@pytest.mark.parametrize(
    "space,fragments",
    [
        ({"unitz": {"values": [8]}}, ["'unitz' is not a setting tune.py can search"]),
        ({"epochs": {"values": [1, 2]}}, ["searches 'epochs', but --epochs (or --settings) fixes it"]),
        ({"units": {"min": 8.5, "max": 16}}, ["'units': 'units' must be an integer, got 8.5"]),
        ({"units": {"min": 16, "max": 8}}, ['"min" must be below "max"']),
        ({"pool": {"min": 1, "max": 2}}, ["a str setting takes"]),
        ({"dropout": {"min": 0.0, "max": 1.0}}, ["'dropout' = 1.0 is refused: --dropout must be in [0, 1)"]),
        ({"seq_len": {"values": [10, 20]}}, ["--seq-len does not apply to task 'series'"]),
        ({"learning_rate": {"min": 0.0, "max": 1.0, "log": True}}, ['a log range needs "min" > 0']),
    ],
)
def test_bad_spaces_are_refused_before_any_trial(space, fragments, tmp_path, capsys):
    data = series_csv(tmp_path)
    path = write(tmp_path / "space.json", space)
    out = tmp_path / "search"
    code = run_tune(
        "--task",
        "series",
        "--data",
        data,
        "--target",
        "y",
        "--epochs",
        "1",
        "--space",
        path,
        "--out",
        str(out),
    )
    one_line_error(capsys, code, 2, "space.json", *fragments)
    assert not list(out.glob("trial_*"))


def test_search_writes_runs_a_table_and_settings_train_py_takes(tmp_path, capsys):
    data = series_csv(tmp_path)
    out = tmp_path / "search"
    space = write(tmp_path / "space.json", {"units": {"values": [4, 8]}, "batch_size": None, "dropout": None})
    args = ["--task", "series", "--data", data, "--target", "y", "--window", "20", *QUICK]
    assert run_tune(*args, "--trials", "2", "--space", space, "--out", str(out)) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert [r["trial"] for r in rows] == ["0", "1"] and {r["status"] for r in rows} == {"COMPLETED"}
    # The series task's own entry: its two anchors, whose validation losses are in the same units.
    assert set(rows[0]) == {"trial", "status", "learning_rate", "units", "anchor", "val_loss"}
    best = min(rows, key=lambda r: float(r["val_loss"]))
    # Every trial is a finished run; its score is its best epoch's validation loss.
    for row in rows:
        run = out / f"trial_{int(row['trial']):03d}"
        saved = json.loads((run / "config.json").read_text())
        assert saved["finished"] and saved["config"]["units"] == int(row["units"])
        assert saved["config"]["learning_rate"] == float(row["learning_rate"])
        assert saved["config"]["task_settings"]["window"] == 20 and saved["config"]["batch_size"] == 16
        history = list(csv.DictReader(open(run / "history.csv")))
        assert float(row["val_loss"]) == pytest.approx(min(float(h["val_loss"]) for h in history), rel=1e-5)
    assert f"python train.py --settings {out / 'best.json'}" in printed and "val_loss" in printed

    settings = json.loads((out / "best.json").read_text())
    assert (
        settings["units"] == int(best["units"]) and settings["task"] == "series" and settings["data"] == data
    )
    # train.py --settings best.json retrains the best trial: the same settings and, same seed, the same losses.
    trial = out / f"trial_{int(best['trial']):03d}"
    again = tmp_path / "again"
    assert run_train("--settings", str(out / "best.json"), "--run-dir", str(again)) == 0
    ours = json.loads((again / "config.json").read_text())["config"]
    theirs = json.loads((trial / "config.json").read_text())["config"]
    assert {**ours, "run_dir": None} == {**theirs, "run_dir": None}
    first = list(csv.DictReader(open(trial / "history.csv")))[0]
    assert list(csv.DictReader(open(again / "history.csv")))[0]["val_loss"] == first["val_loss"]
    # A trial is a run like any other: evaluate.py scores it.
    assert run_evaluate(str(trial)) == 0
    assert "model_mse" in json.loads((trial / "metrics.json").read_text())


class Interrupt(keras.callbacks.Callback):
    """Ctrl-C in the second trial's second epoch, after its first batch (checkpointed), once."""

    def __init__(self):
        super().__init__()
        self.trainings = 0

    def on_train_begin(self, logs=None):
        self.trainings += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.trainings == 2 and self.epoch == 1:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def test_a_killed_search_continues_and_its_trial_resumes(tmp_path, capsys):
    from zoo import tuning

    data = series_csv(tmp_path)
    out = str(tmp_path / "search")
    fixed = dict(task="series", model="gru", data=data, target="y", window=20, epochs=3, steps_per_epoch=3)
    fixed |= dict(batch_size=16, units=8, jit_compile=False, checkpoint_every=1)
    with pytest.raises(KeyboardInterrupt):
        tuning.search(fixed, 2, out, oracle="random", callbacks=[Interrupt()])
    first = (tmp_path / "search" / "trial_000" / "history.csv").read_text()
    killed = json.loads((tmp_path / "search" / "trial_001" / "config.json").read_text())
    assert not killed["finished"]
    capsys.readouterr()

    result = tuning.search(fixed, 2, out, oracle="random")
    printed = capsys.readouterr().out
    # The interrupted trial ran again with its own settings, resuming its run inside epoch 2.
    assert "Resuming the unfinished run in" in printed and "(epoch 2 of 3, after batch 1" in printed
    assert [r["status"] for r in result["rows"]] == ["COMPLETED", "COMPLETED"]
    resumed = json.loads((tmp_path / "search" / "trial_001" / "config.json").read_text())
    assert resumed["finished"] and resumed["config"] == killed["config"]
    assert len(list(csv.DictReader(open(tmp_path / "search" / "trial_001" / "history.csv")))) == 3
    # The finished trial was not trained again.
    assert (tmp_path / "search" / "trial_000" / "history.csv").read_text() == first

    # Once done, the same command only reports; another one is refused.
    assert tuning.search(fixed, 2, out, oracle="random")["rows"] == result["rows"]
    with pytest.raises(ValueError, match=r"holds a search with other settings \(window: 20 there, 30 now\)"):
        tuning.search(fixed | {"window": 30}, 2, out, oracle="random")
    with pytest.raises(ValueError, match="the oracle"):
        tuning.search(fixed, 2, out, oracle="bayesian")


class NaNLoss(keras.callbacks.Callback):
    """Ends the first `times` trainings as a NaN loss would."""

    def __init__(self, times):
        super().__init__()
        self.times = times

    def on_train_batch_end(self, batch, logs=None):
        from zoo.checkpoint import NonFiniteLossError

        if self.times > 0:
            self.times -= 1
            raise NonFiniteLossError("loss became nan at epoch 1, batch 1")


def test_a_trial_with_a_nan_loss_fails_and_the_search_goes_on(tmp_path):
    from zoo import checkpoint, tuning

    fixed = dict(task="series", data=series_csv(tmp_path), target="y", window=20, epochs=1, steps_per_epoch=2)
    fixed |= dict(units=4, batch_size=16, jit_compile=False)
    result = tuning.search(fixed, 2, str(tmp_path / "a"), oracle="random", callbacks=[NaNLoss(1)])
    assert [r["status"] for r in result["rows"]] == ["FAILED", "COMPLETED"]
    assert result["best"]["trial"] == 1 and result["rows"][0]["val_loss"] == ""
    # Three in a row stop the search, in one line.
    with pytest.raises(
        checkpoint.NonFiniteLossError, match="3 trials in a row failed, the last with: loss became nan"
    ):
        tuning.search(fixed, 4, str(tmp_path / "b"), oracle="random", callbacks=[NaNLoss(3)])
