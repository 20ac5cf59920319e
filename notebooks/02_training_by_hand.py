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
# # 2. Training by hand: a character RNN with BPTT in NumPy
#
# **What this notebook teaches.** How an RNN learns: a character-level
# SimpleRNN written in NumPy (forward pass, backpropagation through time,
# Adagrad, sampling; `exercises/char_rnn.py`, in the spirit of Karpathy's
# min-char-rnn), its loss falling and its samples improving, a check of the
# hand-written gradients against finite differences, and then the same
# network in Keras in a few lines.

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "train.py").exists())
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("RNN_ZOO_QUICK") == "1"  # small sizes: the notebook's test in CI sets it
STEPS = 300 if QUICK else 5000  # training windows for the NumPy network
KERAS_EPOCHS = 1 if QUICK else 10

import zoo.cli  # noqa: F401  (quiets TensorFlow's start-up lines)
import matplotlib.pyplot as plt
import numpy as np

from exercises import char_rnn

# %% [markdown]
# ## A small text
#
# The first 20,000 characters of tiny Shakespeare where the prepared data is
# beside the checkout, else a verse of it written here.

# %%
source = Path(os.environ.get("TFDS_DATA_DIR", ROOT.parent / "shared" / "tensorflow_datasets"))
source = source / "downloads" / "manual" / "input.txt"
if source.exists():
    text = source.read_text(encoding="utf-8")[:20000]
else:
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n" * 100
chars = "".join(sorted(set(text)))
print(f"{len(text):,} characters, {len(chars)} distinct")

# %% [markdown]
# ## The backward pass, checked
#
# Before training on it, check the hand-written BPTT: for a few weights, the
# gradient must equal the central difference (L(w + e) - L(w - e)) / 2e.

# %%
model = char_rnn.CharRNN(chars, hidden=32, seed=0)
inputs, targets = model.encode(text[:20]), model.encode(text[1:21])
_, grads, _ = char_rnn.loss_and_gradients(model, inputs, targets, np.zeros((32, 1)))
for name in ("W_xh", "W_hh", "W_hy", "b_h"):
    index = np.unravel_index(np.argmax(np.abs(grads[name])), grads[name].shape)
    numeric = char_rnn.numerical_gradient(model, inputs, targets, name, index)
    print(f"{name}{index}: BPTT {grads[name][index]: .6e}, finite difference {numeric: .6e}")
    assert abs(grads[name][index] - numeric) <= 1e-6 * max(1.0, abs(numeric))

# %% [markdown]
# ## Training
#
# Windows of 25 characters, the hidden state carried from one window to the
# next (truncated BPTT), gradients clipped to [-5, 5], Adagrad.

# %%
model = char_rnn.CharRNN(chars, hidden=64 if not QUICK else 32, seed=0)
losses, samples = char_rnn.train(model, text, steps=STEPS, seq_len=25, every=max(STEPS // 3, 1))
plt.plot(losses)
plt.xlabel("training window")
plt.ylabel("smoothed loss (nats/char)")
plt.title("The NumPy character RNN learns")
plt.show()
for step, sample in samples:
    print(f"--- after {step} windows ---\n{sample}\n")
assert losses[-1] < losses[0]

# %% [markdown]
# The loss starts at ln(vocabulary), a uniform guess, and falls. The first
# samples are noise; later ones have the text's spaces, line breaks and
# frequent short words.
#
# ## The same network in Keras
#
# An `Embedding` stands in for the one-hot input (the same thing: a one-hot
# vector times W_xh picks a column), a `SimpleRNN` returning every step, a
# `Dense` over the characters. Keras does the BPTT.

# %%
import keras

ids = model.encode(text)
windows = np.stack([ids[i : i + 26] for i in range(0, len(ids) - 26, 25)])
keras.utils.set_random_seed(0)
net = keras.Sequential(
    [
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(len(chars), 32),
        keras.layers.SimpleRNN(64, return_sequences=True),
        keras.layers.Dense(len(chars)),
    ]
)
net.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = net.fit(windows[:, :-1], windows[:, 1:], batch_size=32, epochs=KERAS_EPOCHS, verbose=0)
print("Keras loss per epoch (nats/char):", [round(v, 3) for v in history.history["loss"]])

# %% [markdown]
# ## Exercises
#
# 1. Train the NumPy network with `hidden=8` and `hidden=128` for the same
#    number of windows. Which learns faster per window, which per second?
# 2. Set `seq_len=5` in `char_rnn.train`. What can the network no longer
#    learn, and why does carrying the state between windows only partly help?
# 3. Sample from the Keras network: feed a seed text, take the last step's
#    logits, draw a character, append it, repeat. (The zoo does this one
#    step at a time, without re-reading the prefix: `models/generation.py`.)
#
# Solutions: `notebooks/solutions.md`.
