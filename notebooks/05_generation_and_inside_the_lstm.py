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
# # 5. Text generation, and inside the LSTM
#
# **What this notebook teaches.** A character LSTM trained on tiny
# Shakespeare with the zoo; sampling with a temperature; the difference
# between the loss over fixed windows and the loss over the text read as one
# stream; and what the LSTM's cells do over a passage, as heatmaps of their
# cell state and gates. Karpathy, Johnson and Fei-Fei (2015, "Visualizing
# and Understanding Recurrent Networks") found cells that track quotes and
# the position in a line: we look for a line-position cell.

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "train.py").exists())
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("RNN_ZOO_QUICK") == "1"  # small sizes: the notebook's test in CI sets it
RUNS = Path(os.environ.get("RNN_ZOO_NOTEBOOK_RUNS", ROOT / "runs" / "notebooks"))
shared = ROOT.parent / "shared" / "tensorflow_datasets"
if "TFDS_DATA_DIR" not in os.environ and shared.is_dir():
    os.environ["TFDS_DATA_DIR"] = str(shared)

import zoo.cli  # noqa: F401  (quiets TensorFlow's start-up lines)
import matplotlib.pyplot as plt
import numpy as np

import datasets
from datasets import shakespeare
from models.generation import Sampler
from zoo import config, metrics, rundir, training

# %% [markdown]
# ## Train a character LSTM

# %%
flags = {"model": "lstm", "task": "shakespeare", "run_dir": str(RUNS / "shakespeare-lstm")}
flags |= {"epochs": 1, "steps_per_epoch": 20, "units": 32} if QUICK else {"epochs": 3, "units": 256}
cfg = config.resolve(flags)
run_dir = training.train(cfg, overwrite=True)
task = datasets.get_task("shakespeare")
state = rundir.read_json(Path(run_dir) / rundir.STATE_FILE)
model = rundir.load_model(Path(run_dir) / rundir.MODEL_FILE)

# %% [markdown]
# ## Sampling with a temperature
#
# The model gives logits for the next character; dividing them by a
# temperature before the softmax sharpens (< 1) or flattens (> 1) the
# distribution. `Sampler` steps the trained cells one character at a time,
# carrying their state: each new character costs one step, not a re-read of
# the prefix.

# %%
sampler = Sampler(model)
prime = shakespeare.encode(state, "ROMEO:")
for temperature in (0.5, 1.0, 1.5):
    ids = sampler.sample(prime, 150, temperature, seed=1)
    print(f"--- temperature {temperature} ---\nROMEO:{shakespeare.decode(state, ids)}\n")

# %% [markdown]
# ## The windowed loss and the stream loss
#
# Training cuts the text into windows of `seq_len` characters and starts
# every window from a zero state, so the first characters of each window are
# guessed with little context. Read as one stream, every character is
# predicted from everything before it, as the sampler reads.

# %%
val_ids = task.text_ids(cfg, state, "val")[: 2000 if QUICK else 20000]
seq_len = cfg.task_settings["seq_len"]
windows = shakespeare.cut_windows(val_ids, seq_len + 1, 0)
windowed = float(model.evaluate(windows[:, :-1], windows[:, 1:], verbose=0))
stream = metrics.stream_loss(model, val_ids)
print(f"validation: {windowed:.3f} nats/char in windows of {seq_len}, {stream:.3f} read as one stream")

# %% [markdown]
# ## Inside the LSTM: cell states and gates over a passage
#
# Step the trained LSTM cell over a passage and keep, at every character,
# the cell state c_t and the three gates (Keras's order in the kernels is
# input, forget, cell candidate, output).

# %%
embed, lstm = model.get_layer("embedding"), model.get_layer("lstm_0")
kernel, recurrent, bias = (np.asarray(w) for w in lstm.cell.weights)
passage = task.text_ids(cfg, state, "test")[:400]
x = np.asarray(embed(passage[None]))[0]  # (steps, embedding)
units = lstm.cell.units
h, c = np.zeros(units), np.zeros(units)
cells, gates = [], {"input": [], "forget": [], "output": []}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


for x_t in x:
    z = x_t @ kernel + h @ recurrent + bias
    i, f, g, o = (z[k * units : (k + 1) * units] for k in range(4))
    i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)
    c = f * c + i * g
    h = o * np.tanh(c)
    cells.append(c)
    for name, value in (("input", i), ("forget", f), ("output", o)):
        gates[name].append(value)
cells = np.array(cells)  # (steps, units)
keras_h = np.asarray(lstm(x[None]))[0, -1]
assert np.allclose(h, keras_h, atol=1e-4), "the step-by-step cell reproduces the Keras layer"

# %%
text = shakespeare.decode(state, passage)
shown = np.argsort(-cells.std(axis=0))[:16]  # the 16 most active cells
fig, axes = plt.subplots(2, 1, figsize=(14, 6))
axes[0].imshow(np.tanh(cells[:120, shown]).T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
axes[0].set(title="tanh(c_t) of the 16 most active cells, first 120 characters", ylabel="cell")
axes[0].set_xticks(range(120), [ch if ch != "\n" else "⏎" for ch in text[:120]], fontsize=6)
axes[1].imshow(np.array(gates["forget"])[:120, shown].T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
axes[1].set(title="forget gate of the same cells", ylabel="cell")
axes[1].set_xticks(range(120), [ch if ch != "\n" else "⏎" for ch in text[:120]], fontsize=6)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## A cell that tracks the position in the line
#
# For every character, count the characters since the last line break; the
# cell whose state correlates most with that count is the best
# "line-position" cell of this network. (A bigger, longer-trained network
# finds sharper ones: try the full run.)

# %%
position, since = [], 0
for ch in text:
    since = 0 if ch == "\n" else since + 1
    position.append(since)
position = np.array(position, dtype=float)
correlation = np.array([np.corrcoef(position, cells[:, k])[0, 1] for k in range(units)])
best = int(np.nanargmax(np.abs(correlation)))
print(f"cell {best}: correlation {correlation[best]:+.2f} with the position in the line")
plt.figure(figsize=(14, 3))
plt.plot(position / position.max(), label="position in the line (scaled)")
plt.plot(np.tanh(cells[:, best]), label=f"tanh(c) of cell {best}")
plt.legend()
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Look for a quote or bracket cell: tiny Shakespeare has few quotes, so
#    build an indicator "inside a speech" (after a line ending in ':' until
#    the next blank line) and find the cell that correlates best with it.
# 2. Sample at temperature 0.1 and 3.0. What goes wrong at each end?
# 3. Why is the stream loss lower than the windowed loss? Predict how the
#    gap changes with `--seq-len 25` and `--seq-len 200`, then train and check.
#
# Solutions: `notebooks/solutions.md`.
