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
# # 4. Sentiment: train on IMDB, score your own sentences, see which words counted
#
# **What this notebook teaches.** Training a zoo model on IMDB reviews in
# about a minute (the same code as `python train.py --model simplernn --task
# imdb`), scoring sentences of your own, and gradient x input: how much each
# word's embedding moved the prediction, shown as coloured text.
#
# It reads IMDB from a prepared TFDS directory (`$TFDS_DATA_DIR`, or
# `../shared/tensorflow_datasets` beside the checkout) or downloads it (80 MB)
# where there is network.

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
import numpy as np
import tensorflow as tf
from IPython.display import HTML, display

import datasets
from zoo import config, rundir, training

# %% [markdown]
# ## Train
#
# `config.resolve` applies the task's defaults and the SimpleRNN's imdb
# recipe (mean head, embedding 64, 3 epochs); `training.train` runs
# `model.fit` with checkpoints into a run directory, as `train.py` does.

# %%
flags = {"model": "simplernn", "task": "imdb", "run_dir": str(RUNS / "imdb-simplernn")}
if QUICK:
    flags |= {"epochs": 1, "steps_per_epoch": 8, "units": 8, "max_tokens": 2000}
cfg = config.resolve(flags)
run_dir = training.train(cfg, overwrite=True)
task = datasets.get_task("imdb")
state = rundir.read_json(Path(run_dir) / rundir.STATE_FILE)
model = rundir.load_model(Path(run_dir) / rundir.MODEL_FILE)
print(open(Path(run_dir) / rundir.HISTORY_FILE).read())

# %% [markdown]
# ## Your own sentences
#
# `task.predict` standardizes the text as training did (lower case, no
# `<br />`, letters, digits and apostrophes), keeps the last `seq_len` words
# and returns the probability that the review is positive.

# %%
sentences = [
    "A wonderful, moving film with a brilliant cast.",
    "Dull, predictable and far too long. I walked out.",
    "Not bad at all, though the ending was weak.",
]
for row in task.predict(model, cfg, state, sentences, {}):
    print(f"{row['positive_probability']:.3f}  {row['text']}")

# %% [markdown]
# ## Which words moved the prediction: gradient x input
#
# For each word, the gradient of the output with respect to its embedding
# vector, dotted with that vector: a first-order estimate of how much the
# word pushed the prediction up (green) or down (red). The gradient is taken
# with respect to the embedding matrix, whose row for a word is the word's
# input to the RNN (a word that occurs twice gets the sum of both).

# %%
embedding = model.get_layer("embedding").embeddings
vocabulary = state["vocabulary"]


def attributions(text: str):
    ids = task.encode_texts(cfg, state, [text])
    with tf.GradientTape() as tape:
        probability = model(ids, training=False)[0, 0]
    grad = tf.convert_to_tensor(tape.gradient(probability, embedding))
    words = [int(i) for i in ids[0] if i]
    scores = [float(tf.reduce_sum(grad[i] * embedding[i])) for i in words]
    return [vocabulary[i] for i in words], np.array(scores), float(probability)


def coloured(words, scores) -> str:
    top = max(np.abs(scores).max(), 1e-12)
    spans = []
    for word, score in zip(words, scores):
        alpha = abs(score) / top
        colour = f"rgba(0, 160, 0, {alpha:.2f})" if score > 0 else f"rgba(220, 0, 0, {alpha:.2f})"
        spans.append(f'<span style="background:{colour}; padding:1px">{word}</span>')
    return " ".join(spans)


for sentence in sentences:
    words, scores, p = attributions(sentence)
    display(HTML(f"<p>{p:.3f}: {coloured(words, scores)}</p>"))
    strongest = words[int(np.argmax(np.abs(scores)))]
    print(f"{p:.3f}  strongest word: {strongest!r}")
assert len(words) == len(scores) > 0

# %% [markdown]
# Gradient x input is a local, linear estimate. Integrated gradients
# average the gradient along the straight path from a baseline (all-zero
# embeddings) to the input, and their scores add up to the difference in
# output between the input and the baseline.
#
# ## Exercises
#
# 1. Implement integrated gradients: scale the embeddings of the sentence by
#    alpha in (0, 1] over 20 steps (call the layers after the embedding on the
#    scaled vectors) and average the gradients. Do the scores add up to
#    p(text) - p(baseline)?
# 2. Negate a sentence ("good" -> "not good"). Does the model read the
#    negation? Which word carries the change?
# 3. Train `gru` instead (`flags["model"] = "gru"`: the max head). Do the
#    attributions concentrate on fewer words?
#
# Solutions: `notebooks/solutions.md`.
