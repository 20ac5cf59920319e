"""train.py --settings, and tune.py: a KerasTuner search whose trials are zoo runs, resumed after a kill."""

from __future__ import annotations

import json
import math

import pytest

from tests.cli_helpers import one_line_error, run_train

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
