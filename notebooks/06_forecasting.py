# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Forecasting a series: windows, baselines, and why the split is by time
#
# **What this notebook teaches.** How a series becomes training examples
# (windows of past values, the next values as targets), the baselines any
# forecaster must beat (the last value held; a linear fit from the window),
# why training, validation and test are split by time and not shuffled, and
# a zoo LSTM trained and scored against the baselines. It uses the zoo's
# synthetic `timeseries` task (trend, two seasonalities and noise; no
# download).

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "train.py").exists())
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("RNN_ZOO_QUICK") == "1"  # small sizes: the notebook's test in CI sets it
RUNS = Path(os.environ.get("RNN_ZOO_NOTEBOOK_RUNS", ROOT / "runs" / "notebooks"))

import zoo.cli  # noqa: F401  (quiets TensorFlow's start-up lines)
import matplotlib.pyplot as plt
import numpy as np
import tensorflow_datasets as tfds

import datasets
from datasets import synthetic
from datasets.timeseries import make_windows
from zoo import config, metrics, rundir, training

# %% [markdown]
# ## The series

# %%
builder = synthetic.load_builder("timeseries", None)
series = {
    split: tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))["series"]
    for split in ("train", "validation", "test")
}
print({split: s.shape for split, s in series.items()})
for s in series["train"][:3]:
    plt.plot(s)
plt.xlabel("step")
plt.title("three training series")
plt.show()

# %% [markdown]
# ## Windows
#
# `make_windows` cuts every series into (past `window` values -> next
# `horizon` values), every 5 steps.

# %%
x_train, y_train = make_windows(series["train"], window=50, horizon=1)
x_test, y_test = make_windows(series["test"], window=50, horizon=1)
print("training windows", x_train.shape, "targets", y_train.shape)

# %% [markdown]
# ## Baselines
#
# A forecaster is worth something only if it beats the naive forecast (the
# last value, held) and a linear fit from the window to the target (least
# squares on the training windows).

# %%
naive = x_test[:, -1, :]
linear = metrics.linear_baseline(x_train, y_train, x_test)
baselines = metrics.errors("naive", naive, y_test) | metrics.errors("linear", linear, y_test)
print({k: round(v, 5) for k, v in baselines.items() if k.endswith("mse")})

# %% [markdown]
# ## Why the split is by time
#
# Windows cut from one series overlap: a window and the next share 49 of
# their 50 values. Shuffle the windows of one long series into training and
# test, and every test window has near-copies in training: the error looks
# better than it will be on the future. A forecaster that memorises shows it
# most: here the nearest training window's target (1-nearest neighbour), on
# one series of 3,000 steps, its last 20% as test, or 20% drawn at random.

# %%
rng = np.random.default_rng(0)
long = synthetic.draw_series(rng, 3000)[None]  # one long series
xs, ys = make_windows(long, window=50, horizon=1, stride=1)


def nearest_neighbour(x_fit, y_fit, x):
    distances = ((x[:, None, :, 0] - x_fit[None, :, :, 0]) ** 2).sum(axis=-1)
    return y_fit[distances.argmin(axis=1)]


cut = int(0.8 * len(xs))
by_time = np.mean((nearest_neighbour(xs[:cut], ys[:cut], xs[cut:]) - ys[cut:]) ** 2)
shuffled = rng.permutation(len(xs))
fit, held = shuffled[:cut], shuffled[cut:]
leaky = np.mean((nearest_neighbour(xs[fit], ys[fit], xs[held]) - ys[held]) ** 2)
print(f"nearest neighbour, test MSE: {by_time:.5f} split by time, {leaky:.5f} with shuffled windows")
assert leaky < by_time

# %% [markdown]
# The zoo's `timeseries` task keeps whole series apart (training,
# validation and test series are different draws), and its own-data
# `series` task splits each series by time, the last part for test.
#
# ## A zoo LSTM against the baselines

# %%
flags = {"model": "lstm", "task": "timeseries", "run_dir": str(RUNS / "timeseries-lstm")}
flags |= {"epochs": 2, "steps_per_epoch": 30, "units": 16} if QUICK else {"epochs": 15}
cfg = config.resolve(flags)
run_dir = training.train(cfg, overwrite=True)
task = datasets.get_task("timeseries")
model = rundir.load_model(Path(run_dir) / rundir.MODEL_FILE)
data = task.load(cfg, {}, splits=("test",))
result = task.evaluate(model, cfg, data, {}, run_dir)
for name in ("model", "naive", "linear"):
    print(f"{name:7} MSE {result[f'{name}_mse']:.5f}  MAE {result[f'{name}_mae']:.4f}")
print(f"the model's MSE is {result['mse_vs_linear']:.2f}x the linear baseline's")

# %% [markdown]
# `forecast.png` in the run directory shows three test windows with the
# model's and the naive forecasts.
#
# ## Your own CSV: the `series` task
#
# The same, on a file of your own: `series` reads a CSV, splits each series
# by time (the last 10% for test, the 10% before it for validation), scales
# with the training part's statistics and scores in the target's own units,
# MASE and a seasonal-naive baseline included. Here the long series from
# above, written as a CSV.

# %%
csv_path = RUNS / "one_series.csv"
csv_path.parent.mkdir(parents=True, exist_ok=True)
csv_path.write_text("step,value\n" + "".join(f"{t},{v:.5f}\n" for t, v in enumerate(long[0])))
flags = {"model": "lstm", "task": "series", "data": str(csv_path), "target": "value", "time": "step"}
flags |= {"run_dir": str(RUNS / "series-lstm")}
flags |= {"epochs": 2, "steps_per_epoch": 30, "units": 16} if QUICK else {"epochs": 15}
series_cfg = config.resolve(flags)
series_dir = training.train(series_cfg, overwrite=True)
series_task = datasets.get_task("series")
series_model = rundir.load_model(Path(series_dir) / rundir.MODEL_FILE)
series_state = rundir.read_json(Path(series_dir) / rundir.STATE_FILE)
series_data = series_task.load(series_cfg, series_state, splits=("test",))
options = {s.name: s.default for s in series_task.eval_settings} | {"season": 12}
scores = series_task.evaluate(series_model, series_cfg, series_data, options, series_dir)
print({k: round(v, 4) for k, v in scores.items() if k.endswith(("_mae", "_mase"))})
#
# ## Exercises
#
# 1. Train with `--horizon 5` (`flags["horizon"] = 5`). How do the model's
#    and the baselines' errors grow with the horizon?
# 2. Give the linear baseline only the last 5 values of each window. Is it
#    better or worse than with 50, and why?
# 3. Add a seasonal-naive baseline (the value one period ago). Which period
#    would you choose for these series, and can a single one work?
#
# Solutions: `notebooks/solutions.md`.
