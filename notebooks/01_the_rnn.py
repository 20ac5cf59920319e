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
# # 1. The chapter's RNN
#
# **What this notebook teaches.** The two Keras models the chapter prints,
# what `SimpleRNN` computes at every step,
#
#     h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h),
#
# written in NumPy and checked against the Keras layer, and the same for the
# LSTM's four gates and the GRU's two. The NumPy code is the project's
# `exercises/` package: the notebook calls it rather than copying it.
#
# Run it from a clone of the repository (locally, or in Colab after
# `!git clone ... && %cd keras-rnn-zoo && !pip install -r requirements.txt`).

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "train.py").exists())
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("RNN_ZOO_QUICK") == "1"  # small sizes: the notebook's test in CI sets it

import zoo.cli  # noqa: F401  (quiets TensorFlow's start-up lines)
import keras

from exercises import gru_forward, lstm_forward, simplernn_forward
from exercises.common import build_rnn
from models import snippets

# %% [markdown]
# ## The chapter's two snippets
#
# The chapter prints them in the Keras 2 style (`input_shape=` on the first
# layer). Here they are as printed, then built in the Keras 3 form the zoo
# registers as `snippet-forecaster` and `snippet-classifier`.

# %%
print(snippets.FORECASTER_TEXT)
print(snippets.CLASSIFIER_TEXT)

# %%
from zoo.config import resolve
from zoo.spec import FEATURES, MULTICLASS, REGRESSION, InputSpec, TaskSpec

forecaster = snippets.build_forecaster(
    resolve({"model": "snippet-forecaster", "task": "timeseries"}),
    TaskSpec((InputSpec(FEATURES, timesteps=10, features=1),), REGRESSION, 1),
)
forecaster.summary()
classifier = snippets.build_classifier(
    resolve({"model": "snippet-classifier", "task": "waveforms"}),
    TaskSpec((InputSpec(FEATURES, timesteps=100, features=1),), MULTICLASS, 4),
)
classifier.summary()

# %% [markdown]
# `SimpleRNN(50)` on 10 steps of 1 feature has 50 x 1 input weights, 50 x 50
# recurrent weights and 50 biases: 2,600 parameters, whatever the number of
# steps. The same weights serve every step.
#
# ## SimpleRNN, step by step, in NumPy
#
# `simplernn_forward.compare_with_keras` builds a `SimpleRNN` + `Dense`
# model with seeded random weights, reads them out in the chapter's
# notation (`W_xh`, `W_hh`, `b_h`: Keras stores the kernels transposed) and
# runs the loop above in NumPy. The printed differences are float32 against
# float64 rounding.

# %%
differences = simplernn_forward.compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0)
assert max(differences.values()) < 1e-5, differences

# %%
model = build_rnn("simplernn", units=4, features=3, output_size=2, seed=0)
weights = simplernn_forward.chapter_weights(model)
for name, value in weights.items():
    print(f"{name:5} {value.shape}")

# %% [markdown]
# ## The LSTM and the GRU
#
# An LSTM adds a cell state c_t and three gates (input, forget, output) that
# decide what enters, stays and leaves it; a GRU has two gates and no
# separate cell. The exercises find Keras's gate order from the weights
# (`i, f, c, o` for the LSTM; `z, r, h` for the GRU) and check the equations
# step by step, for both GRU variants (`reset_after`).

# %%
lstm = lstm_forward.compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0)
assert max(lstm["h"], lstm["y"]) < 1e-5 and lstm["orders"] == [tuple("ifco")]
gru = gru_forward.compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0)
assert all(max(r["h"], r["y"]) < 1e-5 for r in gru.values())

# %% [markdown]
# The number of weights tells the gates apart: per unit, a SimpleRNN has one
# set of input, recurrent and bias weights, an LSTM four, a GRU three (plus
# a second recurrent bias with `reset_after=True`, Keras's default).

# %%
for layer in (keras.layers.SimpleRNN(8), keras.layers.LSTM(8), keras.layers.GRU(8)):
    built = keras.Sequential([keras.Input((None, 3)), layer])
    print(f"{type(layer).__name__:10} {built.count_params():5d} parameters for 8 units over 3 features")

# %% [markdown]
# ## Exercises
#
# 1. The forecaster has 2,600 parameters in its `SimpleRNN(50)`. Derive the
#    count for `LSTM(50)` and `GRU(50)` on the same input, then check with
#    `summary()`.
# 2. In `simplernn_forward.simplernn_forward`, swap the order of `W_hh h` and
#    `W_xh x`. Does the result change? Then drop the transposes when reading
#    the Keras kernels (`chapter_weights`): what fails, and why?
# 3. Run `gru_forward.compare_with_keras` with a model built with
#    `reset_after=False`: which equation changes?
#
# Solutions: `notebooks/solutions.md`.
