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
# # 3. Vanishing and exploding gradients
#
# **What this notebook teaches.** Why a plain RNN forgets: the gradient of
# the last hidden state with respect to an input d steps back is a product
# of d Jacobians, W_hh^T diag(1 - h_t^2), which shrinks (or, with large
# recurrent weights, grows) geometrically. You measure it for SimpleRNN, LSTM
# and GRU, see the exploding case and what clipping by the global norm does
# to it, and why gates help. The measurements are `exercises/vanishing_gradient.py`.

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "train.py").exists())
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("RNN_ZOO_QUICK") == "1"  # small sizes: the notebook's test in CI sets it
STEPS, TRIALS = (40, 1) if QUICK else (200, 3)

import zoo.cli  # noqa: F401  (quiets TensorFlow's start-up lines)
import matplotlib.pyplot as plt
import numpy as np

from exercises import vanishing_gradient as vg

# %% [markdown]
# ## The gradient over distance
#
# For each cell, `gradient_norms` runs seeded random sequences of `STEPS`
# steps through a freshly initialised layer and measures ||d h_T / d x_t||
# for every distance d = T - t + 1 (geometric mean over sequences and
# initialisations).

# %%
norms = vg.measure_all(steps=STEPS, trials=TRIALS, sequences=2 if QUICK else 4)
for label, values in norms.items():
    print(f"{label:28} d=1: {values[0]:.2e}   d={STEPS}: {values[-1]:.2e}")
for label, values in norms.items():
    plt.semilogy(np.arange(1, STEPS + 1), values, label=label)
plt.xlabel("distance d (steps back)")
plt.ylabel("||d h_T / d x_t||")
plt.legend()
plt.show()

# %% [markdown]
# The tanh SimpleRNN's curve falls by a roughly constant factor per step: a
# product of Jacobians whose norms are below 1. The LSTM and the GRU fall
# far more slowly: their cell (or hidden) state is updated additively,
# c_t = f_t * c_{t-1} + i_t * c~_t, so along the cell the Jacobian is
# diag(f_t), which stays close to 1 where the forget gate is open. The ReLU
# SimpleRNN with recurrent gain 2 explodes instead.

# %%
tanh, lstm = norms["SimpleRNN (tanh)"], norms["LSTM"]
decay = np.exp(np.mean(np.diff(np.log(tanh[: STEPS // 2]))))
print(f"SimpleRNN: the gradient shrinks by a factor {decay:.3f} per step")
assert lstm[-1] > tanh[-1]

# %% [markdown]
# ## Clipping an exploding gradient
#
# Clipping by the global norm rescales the whole gradient when its norm
# passes a threshold: the step's size is bounded, its direction kept
# (cosine 1 with the unclipped gradient). It cures explosion, not vanishing.

# %%
lengths = (5, 10, 20) if QUICK else (5, 10, 20, 50, 100)
for row in vg.clipping_demo(lengths):
    print(
        f"T={row['length']:4d}  norm {row['norm']:.2e} -> {row['clipped']:.2f}   cosine {row['cosine']:.4f}"
    )

# %% [markdown]
# In the zoo, `--clipnorm 1.0` clips each gradient the same way: the
# SimpleRNN's recipe on the 100-step waveforms task uses it
# (`docs/tuning.md#waveforms`).
#
# ## Exercises
#
# 1. Initialise the LSTM's forget-gate bias at 0 instead of Keras's 1
#    (`unit_forget_bias=False`, passed through `gradient_norms`). How does its
#    curve change, and why?
# 2. For the tanh SimpleRNN, scale the recurrent weights by 2, 4 and 8
#    (pass a `recurrent_initializer`). When does the gradient stop vanishing,
#    and what happens to the hidden states?
# 3. The clipped norm is exactly the threshold for every T above. Why is the
#    cosine 1, and why does that not help with vanishing gradients?
#
# Solutions: `notebooks/solutions.md`.
