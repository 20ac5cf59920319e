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
# # 7. Sequence to sequence with attention
#
# **What this notebook teaches.** How an encoder-decoder maps one sequence
# to another: the encoder reads "535+61", its final state starts the
# decoder, and the decoder writes "596" one character at a time; how it is
# trained (teacher forcing: the decoder reads the true previous character)
# and how it decodes (greedy, and beam search); and what attention adds: at
# every output step the decoder looks back over all the encoder's outputs,
# and the attention weights show where it looked. The task is the zoo's
# `dates` ("September 20, 7075" -> "7075-09-20"; no download), the model
# `seq2seq-gru`.

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

import datasets
from datasets import translation
from models.decoding import Translator
from zoo import config, rundir, training

# %% [markdown]
# ## The data
#
# Each example is a date written out and the same date in ISO form,
# generated from a seed by the zoo's TFDS builder.

# %%
task = datasets.get_task("dates")
flags = {"model": "seq2seq-gru", "task": "dates", "run_dir": str(RUNS / "dates-seq2seq-gru")}
flags |= {"epochs": 1, "steps_per_epoch": 20, "units": 32} if QUICK else {}
cfg = config.resolve(flags)
print("attention:", cfg.model_settings["attention"])
sources, targets = task.pairs(cfg, "train")
for s, t in list(zip(sources, targets))[:5]:
    print(f"{s!r:28} -> {t!r}")

# %% [markdown]
# ## Training with teacher forcing
#
# The model has two inputs: the source characters, and the target shifted by
# one (a start token, then the target's characters). At every step the
# decoder predicts the next target character from the true previous one;
# the loss is the cross-entropy over the target's characters, the padding
# masked out.

# %%
run_dir = training.train(cfg, overwrite=True)
model = rundir.load_model(Path(run_dir) / rundir.MODEL_FILE)
state = rundir.read_json(Path(run_dir) / rundir.STATE_FILE)
print([layer.name for layer in model.layers])

# %% [markdown]
# ## Decoding
#
# At inference there is no true previous character: the decoder reads its
# own. `Translator` runs the encoder once, then steps the decoder's cell one
# token at a time, carrying its state (no re-running of the prefix). Greedy
# decoding takes the most likely character at each step; beam search keeps
# the `beam` most likely prefixes.

# %%
examples = ["September 20, 7075", "May 1, 1999", "December 31, 2000"]
ids = translation.encode_source(state, examples)
translator = Translator(model)
greedy, attention = translator.greedy(ids, state["max_target"] + 1)
beam = translator.beam_search(ids, 3, state["max_target"] + 1)
for text, g, b in zip(examples, greedy, beam):
    print(
        f"{text!r:22} greedy {translation.decode_target(state, g)!r:14} beam 3 {translation.decode_target(state, b)!r}"
    )

# %% [markdown]
# ## Where the decoder looked
#
# Each row is an output character, each column a source character; the
# brightness is the attention weight. A trained model writes the year while
# looking at the year, the month's digits while looking at the month's name.

# %%
fig, axes = plt.subplots(1, len(examples), figsize=(5 * len(examples), 3.5))
for ax, text, row, weights in zip(axes, examples, greedy, attention):
    output = translation.decode_target(state, row)
    ax.imshow(weights[: len(output) + 1, : len(text)], cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(text)), list(text))
    ax.set_yticks(range(len(output) + 1), [*output, "END"])
    ax.set_title(f"{text} -> {output}", fontsize="small")
fig.tight_layout()
plt.show()
assert attention.shape[0] == len(examples) and np.all(attention >= 0)

# %% [markdown]
# ## Scored on the test split
#
# Exact match (the whole output right) is stricter than per-character
# accuracy, which is what keras-io and the textbooks usually report.

# %%
data = task.load(cfg, state, splits=("test",))
result = task.evaluate(model, cfg, data, {"limit": 200 if QUICK else None}, run_dir)
print({k: round(v, 4) for k, v in result.items() if isinstance(v, float)})

# %% [markdown]
# ## Exercises
#
# 1. Train with `flags["attention"] = "none"` and compare the exact match
#    after the same number of epochs. On `addition --digits 6` the gap grows:
#    why do longer inputs need attention more?
# 2. Decode with beam 1, 3 and 10. When does a wider beam change the
#    answer, and can it ever lower the sequence's log-probability?
# 3. Write your own date ("the 4th of July, 1776"). What does the model do
#    with a format it never saw?
#
# Solutions: `notebooks/solutions.md`.
