"""`series`: the user's CSV read, split by time, scaled, windowed; train.py / evaluate.py; bad inputs."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

import datasets
from datasets import series, synthetic
from datasets.timeseries import make_windows
from tests.cli_helpers import one_line_error, run_evaluate, run_train
from zoo import metrics
from zoo.config import resolve

TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--units", "4", "--batch-size", "8"]


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def config(**settings):
    base = resolve({"task": "series"})
    return dataclasses.replace(base, batch_size=4, task_settings=base.task_settings | settings)


def store_rows(n=100, stores=("a", "b")):
    """Daily rows of two stores, written out of time order, with a price column."""
    rows = []
    for k, store in enumerate(stores):
        for t in range(n):
            day = f"2024-{1 + t // 28:02d}-{1 + t % 28:02d}"
            rows.append([day, store, 100 * k + t, 1.0 + 0.01 * t])
    return rows[::-1]  # reversed: the task sorts by --time


def test_series_are_grouped_sorted_and_split_by_time(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["date", "store", "units", "price"], store_rows())
    cfg = config(
        data=path,
        target="units",
        id="store",
        time="date",
        features="price",
        window=5,
        horizon=2,
        anchor="mean",
    )
    table = series.Series().table(cfg)
    assert table.ids == ["b", "a"]  # in order of first appearance
    b = table.values[table.bounds[0] : table.bounds[1], 0]
    np.testing.assert_array_equal(b, 100 + np.arange(100))  # sorted by date
    data = datasets.get_task("series").load(cfg)
    # Scaling statistics from the training part only: the first 80 of each 100 rows.
    train_units = np.concatenate([np.arange(80), 100 + np.arange(80)])
    assert data.state["mean"][0] == pytest.approx(train_units.mean())
    assert data.state["columns"] == ["units", "price"] and data.spec.input.features == 2
    for split, (low, high) in {"train": (0, 79), "val": (80, 89), "test": (90, 99)}.items():
        for x, y in data.__getattribute__(split):
            assert x.shape[1:] == (5, 2) and y.shape[1:] == (2,)
            units = np.concatenate([x[..., 0].numpy().ravel(), y.numpy().ravel()])
            units = units * data.state["std"][0] + data.state["mean"][0]
            t = np.round(units) % 100  # the row's position in its series
            assert t.min() >= low and t.max() <= high, split  # no window crosses a boundary
    starts, _ = series.window_starts(table, "train", cfg.task_settings)
    assert len(starts) == 2 * (80 - 7 + 1)


def test_a_single_series_forecast_continues_its_rows(tmp_path):
    import keras

    path = write_csv(tmp_path / "s.csv", ["y"], [[i] for i in range(30)])
    cfg = config(data=path, target="y", window=4, horizon=2)
    task = datasets.get_task("series")
    state = task.load(cfg, splits=("train",)).state
    model = keras.Sequential([keras.Input((4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    rows = task.forecast(model, cfg, state, task.table(cfg))
    assert [r["time"] for r in rows] == ["30", "31"] and set(rows[0]) == {"time", "forecast"}
    assert series.forecast_csv(rows, cfg.task_settings).splitlines()[:2] == [
        "step,y",
        f"30,{rows[0]['forecast']}",
    ]


def test_anchored_windows_are_changes_from_the_last_value(tmp_path):
    import keras
    import tensorflow as tf

    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)  # (batch, window, columns: target, 2 features)
    y = np.array([[12.0, 13.0], [24.0, 30.0]], np.float32)
    ax, ay, last = series.anchored(x, y)
    np.testing.assert_array_equal(last, [[9.0], [21.0]])
    np.testing.assert_array_equal(ax[..., 0], x[..., 0] - last)  # the target column, from its last value
    np.testing.assert_array_equal(ax[..., 1:], x[..., 1:])  # the features as they were
    np.testing.assert_array_equal(ay, [[3.0, 4.0], [3.0, 9.0]])
    halves = series.anchored(x, y, scale=2.0)[1]  # in units of one step's change
    np.testing.assert_array_equal(halves, ay / 2)
    for got, want in zip(series.anchored(tf.constant(x), tf.constant(y)), (ax, ay, last)):
        np.testing.assert_array_equal(got.numpy(), want)  # the pipeline's tensors: the same
    # A model that predicts no change forecasts the last value: the naive forecast.
    path = write_csv(tmp_path / "s.csv", ["y"], [[i * i] for i in range(100)])
    cfg = config(data=path, target="y", window=4, horizon=2)
    task = datasets.get_task("series")
    data = task.load(cfg, splits=("test",))
    train = np.arange(80.0) ** 2  # the training part: the first 80 rows
    assert data.state["change_std"] == pytest.approx(np.diff(train).std() / train.std())
    zero = keras.Sequential(
        [keras.Input((4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, kernel_initializer="zeros")]
    )
    result = task.evaluate(zero, cfg, data, {}, str(tmp_path))
    assert result["model_mae"] == pytest.approx(result["naive_mae"], rel=1e-5) and result["naive_mae"] > 1


def test_linear_anchor_measures_targets_from_the_training_fit(tmp_path):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=120)) + 5 * np.sin(np.arange(120) / 3)
    path = write_csv(tmp_path / "s.csv", ["y"], [[v] for v in values])
    cfg = config(data=path, target="y", window=6, horizon=2, anchor="linear")
    task = datasets.get_task("series")
    data = task.load(cfg, splits=("train", "test"))
    coef = np.asarray(data.state["linear"])
    assert coef.shape == (7, 2)  # window * columns + the bias, per future step
    table = task.table(cfg)
    np.testing.assert_allclose(
        coef, series.linear_fit(series.scaled(table, data.state), table, cfg.task_settings)
    )
    x, y = next(iter(data.train))
    raw = x.numpy()[..., 0] * data.state["change_std"]  # back to scaled values, less the window's last
    np.testing.assert_allclose(raw[:, -1], 0, atol=1e-6)  # the inputs are --anchor last's
    anchor = series.anchoring(cfg.task_settings, data.state)
    windows = rng.normal(size=(4, 6, 1)).astype(np.float32)
    tensors, arrays = series.anchored(tf.constant(windows), **anchor), series.anchored(windows, **anchor)
    for i in (0, 2):  # the inputs and the base forecast: the pipeline's tensors as the arrays
        np.testing.assert_allclose(tensors[i].numpy(), arrays[i], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        series.anchored(windows, **anchor)[2], windows[..., 0] @ coef[:-1] + coef[-1], 1e-5
    )
    # A model that predicts nothing on top forecasts the linear fit: the linear baseline.
    zero = keras.Sequential(
        [keras.Input((6, 1)), keras.layers.Flatten(), keras.layers.Dense(2, kernel_initializer="zeros")]
    )
    result = task.evaluate(zero, cfg, data, {}, str(tmp_path))
    assert result["model_mae"] == pytest.approx(result["linear_mae"], rel=1e-4)
    assert result["linear_mae"] < 0.9 * result["naive_mae"]  # the fit is not the naive forecast here


def test_training_windows_are_reshuffled_each_epoch_and_seeded(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["y"], [[i] for i in range(100)])
    cfg = config(data=path, target="y", window=3, anchor="mean")
    train = datasets.get_task("series").load(cfg, splits=("train",)).train
    first, second = (np.concatenate([x[:, 0, 0].numpy() for x, _ in train]) for _ in range(2))
    assert not np.array_equal(first, second) and np.array_equal(np.sort(first), np.sort(second))
    again = datasets.get_task("series").load(cfg, splits=("train",)).train
    np.testing.assert_array_equal(np.concatenate([x[:, 0, 0].numpy() for x, _ in again]), first)


@pytest.mark.parametrize(
    "fill,a,b",
    [("ffill", [1, 1, 1, 4, 4], 7), ("interpolate", [1, 1, 2.5, 4, 4], 7), ("zero", [0, 1, 0, 4, 0], 0)],
)
def test_missing_values_are_filled_per_series(fill, a, b, tmp_path):
    rows = [["a", v] for v in ["", "1", "nan", "4", ""]] + [["b", v] for v in ["7", ""]]
    path = write_csv(tmp_path / "m.csv", ["id", "y"], rows)
    values = series.Series().table(config(data=path, target="y", id="id", fill=fill)).values[:, 0]
    np.testing.assert_array_equal(values, [*a, 7, b])  # b's gap is filled from b alone


@pytest.mark.parametrize(
    "times,expected",
    [
        (["2024-01-31", "2024-02-29", "2024-03-31"], ["2024-04-30", "2024-05-31"]),
        (["2024-01-31", "2024-03-31", "2024-04-30"], ["2024-05-31", "2024-06-30"]),
        (["2023-11-15", "2023-12-15", "2024-01-15"], ["2024-02-15", "2024-03-15"]),
        (["2024-01-01", "2024-01-08", "2024-01-15"], ["2024-01-22", "2024-01-29"]),
        (["2024-01-01T00:00", "2024-01-01T06:00"], ["2024-01-01T12:00:00", "2024-01-01T18:00:00"]),
        (["10", "20", "30"], ["40", "50"]),
        (["0.5", "1.0"], ["1.5", "2"]),
    ],
)
def test_time_stamps_are_continued(times, expected):
    kind, stamps = None, []
    for text in times:
        k, stamp = series.parse_time(text)
        kind = "datetime" if "datetime" in (kind, k) else k
        stamps.append(stamp)
    assert series.continue_times(np.array(stamps), kind, 2) == expected


def test_monthly_dates_are_regular_and_gaps_are_reported(tmp_path, capsys):
    months = ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]
    rows = [[m, i] for i, m in enumerate(months)]
    cfg = config(data=write_csv(tmp_path / "m.csv", ["month", "y"], rows), target="y", time="month")
    series.report_time(series.Series().table(cfg), "month")
    assert capsys.readouterr().out == ""
    rows = [[m, i] for i, m in enumerate(months[:2] + months[3:] + months[-1:])]  # March missing, June twice
    cfg = config(data=write_csv(tmp_path / "g.csv", ["month", "y"], rows), target="y", time="month")
    series.report_time(series.Series().table(cfg), "month")
    assert capsys.readouterr().out.splitlines() == [
        "note: --time column 'month' has 1 duplicate time stamps within a series",
        "note: --time column 'month' has 1 irregular gaps (steps unlike the usual one)",
    ]


def test_baselines_match_the_timeseries_task_on_a_csv_written_from_it(tmp_path):
    """The synthetic timeseries test series, written as a CSV: the same naive and seasonal errors."""
    builder = synthetic.load_builder("timeseries", None)
    import tensorflow_datasets as tfds

    blocks = {
        split: tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))["series"][:20]
        for split in ("train", "validation", "test")
    }
    rows = [
        [k, t, f"{v:.9g}"]
        for k in range(20)
        for t, v in enumerate(np.concatenate([blocks[s][k] for s in ("train", "validation", "test")]))
    ]
    path = write_csv(tmp_path / "synthetic.csv", ["series", "t", "value"], rows)
    settings = dict(data=path, target="value", id="series", time="t", window=50, horizon=3)
    cfg = config(**settings, val_fraction=1 / 3, test_fraction=1 / 3)
    task = datasets.get_task("series")
    table = task.table(cfg)
    starts, _ = series.window_starts(table, "test", cfg.task_settings)
    x, y = make_windows(blocks["test"], 50, 3, stride=1)  # the timeseries task's windows, every start
    target = table.values[:, 0]
    np.testing.assert_allclose(target[starts[:, None] + np.arange(50)], x[..., 0], atol=1e-6)
    naive = np.repeat(x[:, -1, :], 3, axis=1)
    ours = np.repeat(target[starts + 49][:, None], 3, axis=1)
    expected = metrics.errors("naive", naive, y)
    for key, value in metrics.errors("naive", ours, y).items():
        assert value == pytest.approx(expected[key], rel=1e-5)


def test_train_evaluate_and_forecast(tmp_path, capsys):
    path = write_csv(tmp_path / "s.csv", ["date", "store", "units", "price"], store_rows())
    run_dir = str(tmp_path / "run")
    args = ["--data", path, "--target", "units", "--id", "store", "--time", "date", "--features", "price"]
    code = run_train(
        "--task",
        "series",
        "--model",
        "gru",
        *args,
        "--window",
        "7",
        "--horizon",
        "2",
        *TINY,
        "--run-dir",
        run_dir,
    )
    assert code == 0, capsys.readouterr().err
    saved = json.load(open(f"{run_dir}/task_state.json"))
    assert saved["columns"] == ["units", "price"] and len(saved["mean"]) == 2
    assert run_evaluate(run_dir, "--season", "7", "--forecast") == 0
    out = capsys.readouterr().out
    result = json.load(open(f"{run_dir}/metrics.json"))
    for name in ("model", "naive", "seasonal_naive", "linear"):
        for metric in ("mae", "rmse", "mase"):
            assert np.isfinite(result[f"{name}_{metric}"]), (name, metric)
    # A linear target: the linear baseline is exact, the naive one is one step per step ahead.
    assert result["linear_mae"] < 1e-3 and result["naive_mae"] == pytest.approx(1.5)
    rows = list(csv.reader(open(f"{run_dir}/forecast.csv")))
    assert rows[0] == ["store", "date", "units"]
    # Row 100 at 28 rows a month is 2024-04-16; the next two days follow it.
    assert [r[:2] for r in rows[1:]] == [
        ["b", "2024-04-17"],
        ["b", "2024-04-18"],
        ["a", "2024-04-17"],
        ["a", "2024-04-18"],
    ]
    assert "time: 2024-04-17" in out
    assert (tmp_path / "run" / "forecast.png").exists()
    one_line_error(
        capsys, run_evaluate(run_dir, "--season", "8"), 2, "--season 8 is longer than the run's --window 7"
    )


def bad_csv(tmp_path, name, header, rows):
    return write_csv(tmp_path / name, header, rows)


@pytest.mark.parametrize(
    "make,args,fragments",
    [
        (None, [], ["task 'series' needs --data FILE.csv"]),
        (lambda p: write_csv(p / "a.csv", ["y"], [[1]]), ["--target", ""], ["needs --target COLUMN"]),
        (None, ["--data", "nowhere.csv", "--target", "y"], ["--data nowhere.csv does not exist"]),
        (
            lambda p: write_csv(p / "a.csv", ["y", "z"], [[1, 2]]),
            ["--target", "x"],
            ["--target 'x' is not a column", "y, z"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["y", "city"], [[1, "Oslo"]] * 80),
            ["--target", "y", "--features", "city"],
            ["--features column 'city'", "not numeric", "line 2 holds 'Oslo'"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["y"], [[1]] * 5 + [[""]] + [[2]] * 70 + [["NaN"]]),
            ["--target", "y"],
            ["2 missing values", "first at line 7 in column 'y'", "--fill"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["t", "y"], [[1, 1], ["soon", 2]]),
            ["--target", "y", "--time", "t"],
            ["--time column 't'", "'soon'", "line 3"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["y"], [[1]] * 30),
            ["--target", "y"],
            ["no train window fits", "--window 50"],
        ),
        (lambda p: write_csv(p / "a.csv", ["y"], []), ["--target", "y"], ["has a header but no data rows"]),
        (
            lambda p: write_csv(p / "a.csv", ["y"], [[1]] * 80),
            ["--target", "y", "--test-fraction", "0.95"],
            ["leave no training part"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["y"], [[1]] * 80),
            ["--target", "y", "--fill", "mean"],
            ["--fill must be one of"],
        ),
        (
            lambda p: (p / "a.csv").write_bytes(b"y\n1\n\xff\n") and str(p / "a.csv"),
            ["--target", "y"],
            ["is not UTF-8"],
        ),
        (
            lambda p: write_csv(p / "a.csv", ["s", "y"], [["", 1]]),
            ["--target", "y", "--id", "s"],
            ["line 2 has no --id"],
        ),
    ],
)
def test_bad_series_input(make, args, fragments, tmp_path, capsys):
    data = ["--data", make(tmp_path)] if make else []
    code = run_train(
        "--task", "series", "--model", "lstm", *data, *args, *TINY, "--run-dir", str(tmp_path / "r")
    )
    one_line_error(capsys, code, 2, *fragments)
    assert not (tmp_path / "r").exists()  # no half-made run directory
