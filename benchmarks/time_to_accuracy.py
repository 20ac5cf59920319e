"""Time to accuracy: seconds of training until each entry reaches a quality, the zoo against the tutorials.

For imdb, the seconds until test accuracy first reaches 0.85, 0.87 and
0.89; for shakespeare, until validation nats/char first reaches 1.60 and
1.50; and the best score within the budget. The entries, one process, one
machine, one seed:

- imdb `keras-io`: the keras-io example "Bidirectional LSTM on IMDB" as
  configured there (20k words, `pad_sequences(maxlen=200)`, which keeps
  each review's LAST 200 ids and pads at the front, embedding 128, two
  Bidirectional LSTM(64), sigmoid, Adam, batch 32, 2 epochs). It reads
  `keras.datasets.imdb`, which needs a download; its inputs are built the
  same way from TFDS `imdb_reviews` (see `keras_io_inputs`).
- imdb `tf-tutorial`: TensorFlow's text_classification_rnn tutorial
  (TextVectorization of 1,000 tokens inside the model, whole reviews,
  Embedding 64 with mask_zero, Bidirectional LSTM(64), Dense 64 relu,
  Dense 1 logit, Adam 1e-4, batch 64, shuffle 10,000, 10 epochs).
- imdb `pytorch`: the zoo's best imdb model (`bidirectional-gru`, its
  defaults) written in PyTorch, on the zoo's own input pipeline; skipped,
  with a note, where torch is not installed.
- imdb `zoo`: `bidirectional-gru` with the task's defaults, trained by the
  zoo's own path (`zoo.training.train`, as `train.py` does).
- imdb `zoo-gru`: `gru` with the task's defaults, the same path: the
  zoo's quicker model. The comparison takes the zoo's sooner entry at each
  threshold.
- imdb `bigram`: NBSVM-style logistic regression over binary word unigrams
  and bigrams (scikit-learn), fitted on the train split; its "training s"
  is the fit, vectorizing included.
- shakespeare `tf-tutorial`: TensorFlow's text_generation tutorial (GRU
  1024, embedding 256, logits, Adam, batch 64, 101-character windows cut
  end to end, shuffle 10,000, 20 epochs).
- shakespeare `hands-on-ml`: Hands-On ML 3's char-RNN (GRU 128, embedding
  16, softmax, Nadam, batch 32, windows of 101 characters starting at every
  character, shuffle 100,000, 10 epochs). The book lower-cases the text
  (39 characters); here it reads the cased text, as the others do, so
  that every entry is scored on the same characters.
- shakespeare `zoo`: `stacked-gru` with the task's defaults, by the zoo's path.

The clock runs while `fit` (or the PyTorch loop) runs and pauses while an
entry is scored at each epoch's end: the test split for imdb (all 25,000
reviews), the validation text read as one stream for shakespeare (the
zoo's `stream_loss`: every character predicted from all before it). The
tutorials' own validation passes are left out (the scoring replaces them);
the zoo's path keeps its own (2,500 validation reviews, checkpoints,
history) inside the clock. An entry stops at its own epoch count or when
the clock passes the budget (mid-epoch: it is scored where it stopped).
`--score-every SECONDS` also scores within epochs, for entries whose
epochs are long.

    python -m benchmarks.time_to_accuracy                        # everything (about an hour on 2 cores)
    python -m benchmarks.time_to_accuracy --tasks imdb --entries zoo,keras-io --budget 300
    python -m benchmarks.time_to_accuracy --render-only          # the tables from the JSON, nothing run
    python -m benchmarks.time_to_accuracy --quick --docs /tmp/b.md --results /tmp/t.json   # tests
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log)

# isort: split
import keras
import numpy as np

from benchmarks.environment import describe, header

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- time-to-accuracy:begin -->", "<!-- time-to-accuracy:end -->"
BUDGET = 600  # seconds of training per entry
WANG_MANNING = 0.9122  # NBSVM-bi test accuracy on IMDB (Wang and Manning 2012), quoted as context
# What each task is scored by, at each epoch's end.
TASKS = {
    "imdb": dict(metric="test accuracy", thresholds=(0.85, 0.87, 0.89), higher=True, digits=4),
    "shakespeare": dict(
        metric="validation nats/char (one stream)", thresholds=(1.60, 1.50), higher=False, digits=3
    ),
}
# Quick: tiny models, a few batches, a small slice of the data (tests only).
# 20,000 characters: two batches of the TF tutorial's 64 windows of 101.
QUICK = dict(units=4, embedding=4, epochs=2, steps=2, train=256, test=64, chars=20000, val_chars=500)


class Clock:
    """Wall-clock seconds of training, paused while scoring; `over` once past the budget."""

    def __init__(self, budget: float):
        self.budget, self.seconds, self.since = budget, 0.0, None

    def start(self):
        if self.since is None:
            self.since = time.perf_counter()

    def pause(self):
        if self.since is not None:
            self.seconds += time.perf_counter() - self.since
            self.since = None

    def elapsed(self) -> float:
        return self.seconds + (time.perf_counter() - self.since if self.since is not None else 0.0)

    def over(self) -> bool:
        return self.elapsed() >= self.budget


class Progress:
    """An entry's clock and its scores (each taken with the clock paused).

    Scored at each epoch's end, and, where `every` > 0, also within an
    epoch once `every` seconds of training have passed since the last score
    (`mid`). `score(model)` returns the task's number, or a dict of it
    (`value`) and others kept beside it. `first_batch` is the clock when the
    first batch ended (tracing, warming up), so that the steady seconds a
    batch are known (the clock's: the zoo's own validation included).
    """

    def __init__(self, budget: float, score, every: float = 0.0):
        self.clock, self.score, self.scores, self.batches = Clock(budget), score, [], 0
        self.first_batch, self.every, self.next = None, every, every

    def batch_end(self) -> None:
        self.batches += 1
        if self.batches == 1:
            self.first_batch = self.clock.elapsed()

    def due(self) -> bool:
        """Whether a score within the epoch is due (`every` seconds since the last)."""
        return bool(self.every) and self.clock.elapsed() >= self.next and not self.clock.over()

    def epoch_end(self, epoch: int, model, cut: bool, mid: bool = False) -> None:
        self.clock.pause()
        scored = self.score(model)
        scored = {k: float(v) for k, v in (scored if isinstance(scored, dict) else {"value": scored}).items()}
        seconds = round(self.clock.seconds, 1)
        point = dict(epoch=epoch + 1, seconds=seconds, cut=cut, batches=self.batches)
        self.scores.append(point | ({"mid": True} if mid else {}) | scored)
        self.next = self.clock.seconds + self.every
        steady = (self.clock.seconds - self.first_batch) / max(self.batches - 1, 1) if self.first_batch else 0
        print(
            f"  {'in ' if mid else ''}epoch {epoch + 1}: {scored['value']:.4f} after {seconds} s, "
            f"{self.batches} batches of training (the first {self.first_batch or 0:.1f} s, "
            f"then {steady:.3f} s a batch)",
            flush=True,
        )

    def speed(self) -> dict:
        """The first batch's seconds and the steady seconds a batch after it, for estimates."""
        if not self.scores or self.first_batch is None:
            return {}
        steady = (self.scores[-1]["seconds"] - self.first_batch) / max(self.batches - 1, 1)
        return dict(first_batch_s=round(self.first_batch, 2), seconds_per_batch=round(steady, 4))


class KerasProgress(keras.callbacks.Callback):
    """`Progress` for `model.fit`: starts and pauses the clock, scores, stops training at the budget."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress, self.cut, self.epoch = progress, False, 0

    def on_train_begin(self, logs=None):
        self.progress.clock.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.cut, self.epoch = False, epoch

    def on_train_batch_end(self, batch, logs=None):
        self.progress.batch_end()
        if self.progress.clock.over():
            self.model.stop_training, self.cut = True, True  # Keras ends the epoch after this batch
        elif self.progress.due():
            self.progress.epoch_end(self.epoch, self.model, cut=False, mid=True)
            self.progress.clock.start()

    def on_epoch_end(self, epoch, logs=None):
        self.progress.epoch_end(epoch, self.model, self.cut)
        if self.progress.clock.over():
            self.model.stop_training = True
        self.progress.clock.start()

    def on_train_end(self, logs=None):
        self.progress.clock.pause()


# ---------------------------------------------------------------- data


def tfds_texts(name: str, split: str, limit: int | None):
    """(texts as bytes, labels) of an `imdb_reviews` split, or the text of a `tiny_shakespeare` one."""
    import tensorflow_datasets as tfds

    from datasets import imdb, shakespeare
    from datasets.tfds_source import load_builder

    if name == "tiny_shakespeare":
        builder = load_builder(name, None, shakespeare.URL, shakespeare.ARCHIVE)
        return shakespeare.split_text(builder, split)
    builder = load_builder(name, None, imdb.URL, imdb.ARCHIVE)
    ds = builder.as_dataset(split=split if limit is None else f"{split}[:{limit}]", as_supervised=True)
    pairs = list(tfds.as_numpy(ds.batch(4096)))
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]).astype("float32")


def accuracy(outputs: np.ndarray, labels: np.ndarray, logits: bool) -> float:
    """Share of reviews on the right side of 0.5 (a probability) or 0 (a logit)."""
    predicted = np.asarray(outputs).reshape(-1) > (0.0 if logits else 0.5)
    return float(np.mean(predicted == (np.asarray(labels).reshape(-1) > 0.5)))


def predict_in_batches(model, x, batch_size: int = 256) -> np.ndarray:
    return np.concatenate(
        [np.asarray(model.predict_on_batch(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    )


def nats(ids: np.ndarray, outputs: np.ndarray, from_logits: bool) -> float:
    losses = keras.losses.sparse_categorical_crossentropy(ids, outputs, from_logits=from_logits)
    return float(np.mean(losses))


def char_scores(model, ids: np.ndarray, from_logits: bool) -> dict:
    """Nats/char over `ids`: read as one stream (`value`) and in 100-character windows (`windows`).

    The stream, as `zoo.metrics.stream_loss`: every character predicted
    from all before it. The windows, as the zoo's validation split: cut end
    to end from the start, each from a zero state (Keras's `val_loss`).
    """
    stream = nats(ids[1:], np.asarray(model.predict_on_batch(ids[None, :-1]))[0], from_logits)
    n = len(ids) // 101
    windows = ids[: n * 101].reshape(n, 101)
    outputs = predict_in_batches(model, windows[:, :-1], 64)
    return dict(value=stream, windows=nats(windows[:, 1:], outputs, from_logits))


class Context:
    """What every entry shares: sizes, budget, seed, where runs go, and the data read once."""

    def __init__(self, quick: bool, budget: float, seed: int, out: Path, score_every: float = 0.0):
        self.quick, self.budget, self.seed, self.out = quick, budget, seed, out
        self.score_every = score_every
        self.cache, self.run_dirs = {}, []  # the zoo's run directories, removed at the end

    def imdb(self, split: str):
        """Raw reviews and labels: all 25,000 of the split (a slice with --quick)."""
        if split not in self.cache:
            limit = (QUICK["train"] if split == "train" else QUICK["test"]) if self.quick else None
            self.cache[split] = tfds_texts("imdb_reviews", split, limit)
        return self.cache[split]

    def characters(self):
        """The training text's characters, and the train and validation texts as ids (0: unknown)."""
        if "chars" not in self.cache:
            from datasets.shakespeare import encode

            train = tfds_texts("tiny_shakespeare", "train", None)
            state = {"chars": "".join(sorted(set(train)))}
            val = tfds_texts("tiny_shakespeare", "validation", None)
            if self.quick:
                train, val = train[: QUICK["chars"]], val[: QUICK["val_chars"]]
            self.cache["chars"] = (state, encode(state, train), encode(state, val))
        return self.cache["chars"]

    def progress(self, score) -> Progress:
        return Progress(self.budget, score, self.score_every)

    def size(self, full, quick_key="units"):
        return QUICK[quick_key] if self.quick else full

    def epochs(self, full: int) -> int:
        return QUICK["epochs"] if self.quick else full

    def take(self, ds):
        """A training `tf.data.Dataset`, cut to a few batches with --quick."""
        return ds.take(QUICK["steps"]) if self.quick else ds


# ---------------------------------------------------------------- imdb entries


def keras_io_words(texts):
    """Lower-cased, punctuation but apostrophes gone; `<br />` leaves "br", as in `keras.datasets.imdb`."""
    import tensorflow as tf

    return tf.strings.regex_replace(tf.strings.lower(texts), "[^a-z0-9' ]", " ")


def keras_io_inputs(texts, vectorizer) -> np.ndarray:
    """Reviews -> ids as `keras.datasets.imdb` gives them, then `pad_sequences(maxlen=200)`.

    `imdb.load_data(num_words=20000)`: 1 starts each review, 2 stands for a
    word outside the 20k, words are 3 and up by frequency. The vectorizer
    (19,997 words, 1 for out of vocabulary, fitted on the train split) is
    shifted by one to match. `pad_sequences` defaults to `padding="pre"`
    and `truncating="pre"`: the last 200 ids are kept, zeros go in front.
    """
    ids = vectorizer(texts).to_list()
    return keras.utils.pad_sequences([[1] + [i + 1 for i in row] for row in ids], maxlen=200)


def keras_io(ctx: Context) -> Progress:
    import tensorflow as tf

    texts, labels = ctx.imdb("train")
    test_texts, test_labels = ctx.imdb("test")
    vectorizer = keras.layers.TextVectorization(
        max_tokens=19999, standardize=keras_io_words, ragged=True
    )  # ids 0..19998
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(1024))
    x_train, x_test = keras_io_inputs(texts, vectorizer), keras_io_inputs(test_texts, vectorizer)
    if ctx.quick:
        x_train, labels = x_train[: 2 * 32], labels[: 2 * 32]
    units = ctx.size(64)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20000, ctx.size(128, "embedding"))(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units))(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    progress = ctx.progress(lambda m: accuracy(predict_in_batches(m, x_test), test_labels, False))
    model.fit(
        x_train,
        labels,
        batch_size=32,
        epochs=ctx.epochs(2),
        callbacks=[KerasProgress(progress)],
        verbose=cli.keras_verbose(),
    )
    return progress


def tf_tutorial_imdb(ctx: Context) -> Progress:
    import tensorflow as tf

    texts, labels = ctx.imdb("train")
    test_texts, test_labels = ctx.imdb("test")
    train = tf.data.Dataset.from_tensor_slices((texts, labels))
    train = ctx.take(train.shuffle(10000, seed=ctx.seed).batch(64).prefetch(tf.data.AUTOTUNE))
    encoder = keras.layers.TextVectorization(max_tokens=1000)  # default standardize: lower, no punctuation
    encoder.adapt(train.map(lambda text, label: text))
    model = keras.Sequential(
        [
            keras.Input(shape=(), dtype="string"),
            encoder,
            keras.layers.Embedding(len(encoder.get_vocabulary()), ctx.size(64, "embedding"), mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(ctx.size(64))),
            keras.layers.Dense(ctx.size(64), activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(1e-4),
        metrics=["accuracy"],
    )
    progress = Progress(
        ctx.budget, lambda m: accuracy(predict_in_batches(m, test_texts, 64), test_labels, True)
    )
    model.fit(train, epochs=ctx.epochs(10), callbacks=[KerasProgress(progress)], verbose=cli.keras_verbose())
    return progress


def zoo_flags(ctx: Context, task: str, model: str) -> dict:
    flags = dict(task=task, model=model, seed=ctx.seed, run_dir=str(ctx.out / f"{task}-{model}"))
    ctx.run_dirs.append(flags["run_dir"])
    if ctx.quick:
        flags |= dict(epochs=QUICK["epochs"], steps_per_epoch=QUICK["steps"], units=QUICK["units"])
        flags |= dict(embedding_dim=QUICK["embedding"], batch_size=16)
    return flags


def zoo_imdb_test(ctx: Context, config, state):
    """The zoo's test batches for `state`'s vocabulary (the first few with --quick)."""
    import datasets

    test = datasets.get_task("imdb").load(config, state, splits=("test",)).test
    return test.unbatch().take(QUICK["test"]).batch(16) if ctx.quick else test


def zoo_imdb(ctx: Context, model: str = "bidirectional-gru") -> Progress:
    from zoo import config as config_lib
    from zoo import rundir, training

    config = config_lib.resolve(zoo_flags(ctx, "imdb", model))
    test = []  # built at the first scoring, from the vocabulary the run has just written

    def score(model):
        if not test:
            state = rundir.read_json(os.path.join(config.run_dir, rundir.STATE_FILE))
            test.append(zoo_imdb_test(ctx, config, state))
        outputs, labels = zip(*((model.predict_on_batch(x), y.numpy()) for x, y in test[0]))
        return accuracy(np.concatenate(outputs), np.concatenate(labels), False)

    progress = ctx.progress(score)
    training.train(config, overwrite=True, extra_callbacks=(KerasProgress(progress),))
    return progress


def pytorch_imdb(ctx: Context) -> Progress:
    """`bidirectional-gru` with the imdb defaults, in PyTorch, on the zoo's batches."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    import datasets
    from zoo import config as config_lib

    config = config_lib.resolve(zoo_flags(ctx, "imdb", "bidirectional-gru"))
    torch.manual_seed(config.seed)
    data = datasets.get_task("imdb").load(config)
    test = zoo_imdb_test(ctx, config, data.state)

    class BidirectionalGRU(nn.Module):
        """Embedding, channel dropout, bidirectional GRU, dropout, masked max over time, one logit."""

        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(data.spec.input.vocab_size, config.embedding_dim, padding_idx=0)
            self.embedding_dropout = nn.Dropout1d(config.embedding_dropout)  # as SpatialDropout1D
            self.gru = nn.GRU(config.embedding_dim, config.units, batch_first=True, bidirectional=True)
            self.dropout = nn.Dropout(config.dropout)
            self.head = nn.Linear(2 * config.units, 1)

        def forward(self, ids):  # (batch, steps) post-padded with 0
            keep = ids != 0
            x = self.embedding_dropout(self.embedding(ids).transpose(1, 2)).transpose(1, 2)
            lengths = keep.sum(1).clamp(min=1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=ids.shape[1])
            out = self.dropout(out).masked_fill(~keep[:, :, None], float("-inf"))
            return self.head(out.max(dim=1).values.nan_to_num(0.0, neginf=0.0))[:, 0]

    model = BidirectionalGRU()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()

    def score(_):
        model.eval()
        with torch.no_grad():
            pairs = [(model(torch.as_tensor(x.numpy())).numpy(), y.numpy()) for x, y in test]
        model.train()
        return accuracy(np.concatenate([p for p, _ in pairs]), np.concatenate([y for _, y in pairs]), True)

    progress = ctx.progress(score)
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:  # the zoo's cosine schedule, set at each epoch's start
            group["lr"] = config.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
        cut = False
        progress.clock.start()
        for step, (x, y) in enumerate(data.train):
            if config.steps_per_epoch and step >= config.steps_per_epoch:
                break
            optimizer.zero_grad()
            loss = loss_fn(model(torch.as_tensor(x.numpy())), torch.as_tensor(y.numpy(), dtype=torch.float32))
            loss.backward()
            optimizer.step()
            progress.batch_end()
            if progress.clock.over():
                cut = True
                break
            if progress.due():
                progress.epoch_end(epoch, model, cut=False, mid=True)
                progress.clock.start()
        progress.epoch_end(epoch, model, cut)
        if progress.clock.over():
            break
    return progress


def bigram(ctx: Context) -> dict:
    """Binary word unigrams and bigrams, NB log-count ratios, logistic regression (Wang and Manning's NBSVM, LR)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    def clean(text: str) -> str:  # CountVectorizer decodes the bytes
        return text.lower().replace("<br />", " ")

    texts, labels = ctx.imdb("train")
    test_texts, test_labels = ctx.imdb("test")
    start = time.perf_counter()
    vectorizer = CountVectorizer(
        preprocessor=clean, token_pattern=r"[a-z0-9]+(?:'[a-z]+)?|[!?]", ngram_range=(1, 2), binary=True
    )
    x = vectorizer.fit_transform(texts)
    positive = labels > 0.5
    p, q = 1 + np.asarray(x[positive].sum(0)).ravel(), 1 + np.asarray(x[~positive].sum(0)).ravel()
    ratio = np.log((p / p.sum()) / (q / q.sum()))  # Wang and Manning's r, alpha = 1
    classifier = LogisticRegression(C=4.0, solver="liblinear", dual=True, max_iter=1000)
    classifier.fit(x.multiply(ratio).tocsr(), labels)
    seconds = time.perf_counter() - start
    test = vectorizer.transform(test_texts).multiply(ratio).tocsr()
    value = float(np.mean(classifier.predict(test) == test_labels))
    print(f"  bigram: {value:.4f} test accuracy, fitted in {seconds:.1f} s", flush=True)
    return dict(
        scores=[dict(epoch=1, seconds=round(seconds, 1), value=value, cut=False, batches=0)],
        features=int(x.shape[1]),
    )


# ---------------------------------------------------------------- shakespeare entries


def tf_tutorial_shakespeare(ctx: Context) -> Progress:
    import tensorflow as tf

    state, train_ids, val_ids = ctx.characters()
    vocabulary = len(state["chars"]) + 1  # the tutorial's StringLookup: [UNK], then the characters
    sequences = tf.data.Dataset.from_tensor_slices(train_ids).batch(101, drop_remainder=True)
    train = sequences.map(lambda chunk: (chunk[:-1], chunk[1:]))
    train = ctx.take(
        train.shuffle(10000, seed=ctx.seed).batch(64, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    )
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocabulary, ctx.size(256, "embedding")),
            keras.layers.GRU(ctx.size(1024), return_sequences=True),
            keras.layers.Dense(vocabulary),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    progress = ctx.progress(lambda m: char_scores(m, val_ids, from_logits=True))
    model.fit(train, epochs=ctx.epochs(20), callbacks=[KerasProgress(progress)], verbose=cli.keras_verbose())
    return progress


def hands_on_ml(ctx: Context) -> Progress:
    import tensorflow as tf

    state, train_ids, val_ids = ctx.characters()
    tokens = len(state["chars"]) + 1
    ds = tf.data.Dataset.from_tensor_slices(train_ids).window(101, shift=1, drop_remainder=True)
    ds = ds.flat_map(lambda window: window.batch(101))
    ds = ds.shuffle(100_000, seed=ctx.seed).batch(32)
    # Windows say nothing of their number; Keras needs it for the epoch's end (and its progress bar).
    ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil((len(train_ids) - 100) / 32)))
    train = ctx.take(ds.map(lambda window: (window[:, :-1], window[:, 1:])).prefetch(1))
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(tokens, ctx.size(16, "embedding")),
            keras.layers.GRU(ctx.size(128), return_sequences=True),
            keras.layers.Dense(tokens, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    progress = ctx.progress(lambda m: char_scores(m, val_ids, from_logits=False))
    model.fit(train, epochs=ctx.epochs(10), callbacks=[KerasProgress(progress)], verbose=cli.keras_verbose())
    return progress


def zoo_shakespeare(ctx: Context) -> Progress:
    from zoo import config as config_lib
    from zoo import rundir, training

    state, _, val_ids = ctx.characters()
    config = config_lib.resolve(zoo_flags(ctx, "shakespeare", "stacked-gru"))

    def score(model):
        saved = rundir.read_json(os.path.join(config.run_dir, rundir.STATE_FILE))
        if saved["chars"] != state["chars"]:
            raise RuntimeError("the zoo's characters differ from the benchmark's: the ids would not match")
        return char_scores(
            model, val_ids, from_logits=True
        )  # what metrics.stream_loss gives, and the windows

    progress = ctx.progress(score)
    training.train(config, overwrite=True, extra_callbacks=(KerasProgress(progress),))
    return progress


# name -> (run, what it is, where it comes from); in table order.
ENTRIES = {
    "imdb": {
        "keras-io": (
            keras_io,
            "2 x Bidirectional LSTM(64), embedding 128, last 200 words of 20k, Adam, batch 32, 2 epochs",
            "keras-io bidirectional_lstm_imdb",
        ),
        "tf-tutorial": (
            tf_tutorial_imdb,
            "Bidirectional LSTM(64), 1,000-token TextVectorization, whole reviews, Adam 1e-4, batch 64, 10 epochs",
            "TensorFlow text_classification_rnn",
        ),
        "pytorch": (
            pytorch_imdb,
            "the zoo's bidirectional-gru and its imdb defaults, in PyTorch, on the zoo's batches",
            "this benchmark",
        ),
        "zoo": (
            zoo_imdb,
            "`bidirectional-gru`, the task's defaults, the zoo's training path",
            "`python train.py --task imdb --model bidirectional-gru`",
        ),
        "zoo-gru": (
            lambda ctx: zoo_imdb(ctx, "gru"),
            "`gru`, the task's defaults, the zoo's training path",
            "`python train.py --task imdb --model gru`",
        ),
        "bigram": (
            bigram,
            "NBSVM-style logistic regression over binary word unigrams + bigrams (scikit-learn)",
            "Wang and Manning 2012 (NBSVM-bi: 0.9122)",
        ),
    },
    "shakespeare": {
        "tf-tutorial": (
            tf_tutorial_shakespeare,
            "GRU 1024, embedding 256, Adam, batch 64, 100-character windows end to end, 20 epochs",
            "TensorFlow text_generation",
        ),
        "hands-on-ml": (
            hands_on_ml,
            "GRU 128, embedding 16, Nadam, batch 32, a window at every character, 10 epochs; cased text",
            "Hands-On ML 3, chapter 16",
        ),
        "zoo": (
            zoo_shakespeare,
            "`stacked-gru`, the task's defaults, the zoo's training path",
            "`python train.py --task shakespeare --model stacked-gru`",
        ),
    },
}
BASELINES = ("bigram",)  # rows shown for context, not among the entries the zoo is compared with


def missing(name: str) -> str | None:
    """Why an entry cannot run here (an optional dependency), or None."""
    if name == "pytorch" and importlib.util.find_spec("torch") is None:
        return "torch not installed"
    return None


def run_entry(task: str, name: str, ctx: Context) -> dict:
    """Runs one entry; its scores, what it reached and its best, JSON-ready."""
    run, configuration, source = ENTRIES[task][name]
    record = dict(configuration=configuration, source=source, date=time.strftime("%Y-%m-%d"))
    record |= dict(budget_s=ctx.budget, seed=ctx.seed, score_every_s=ctx.score_every)
    why = missing(name)
    if why:
        print(f"{task} {name}: skipped ({why})", flush=True)
        return record | dict(skipped=why)
    print(f"{task} {name}: training", flush=True)
    keras.backend.clear_session()  # the entries before it hold nothing in memory
    keras.utils.set_random_seed(ctx.seed)
    result = run(ctx)
    if isinstance(result, Progress):
        result = dict(scores=result.scores) | result.speed()
    return record | result | summarize(task, result["scores"])


def summarize(task: str, scores: list[dict]) -> dict:
    """The first scoring at which each threshold is reached (None: not reached), and the best."""
    spec = TASKS[task]

    def meets(value, threshold):
        return value >= threshold if spec["higher"] else value <= threshold

    reached = {}
    for threshold in spec["thresholds"]:
        hit = next((s for s in scores if meets(s["value"], threshold)), None)
        reached[f"{threshold:.2f}"] = (
            None if hit is None else {k: hit[k] for k in ("seconds", "epoch", "cut", "mid") if k in hit}
        )
    pick = max if spec["higher"] else min
    best = pick(scores, key=lambda s: s["value"]) if scores else None
    return dict(
        reached=reached,
        best=best,
        epochs=scores[-1]["epoch"] if scores else 0,
        train_seconds=scores[-1]["seconds"] if scores else 0.0,
        stopped_by_budget=bool(scores and scores[-1]["cut"]),
    )


# ---------------------------------------------------------------- tables


def render(results: dict) -> str:
    """Both tables, with date, machine, versions, budget and command, from `results`."""
    env = results["environment"]
    lines = []
    for task, spec in TASKS.items():
        entries = results["tasks"].get(task, {})
        if not entries:
            continue
        dates = sorted({e["date"] for e in entries.values()})
        budgets = sorted({e["budget_s"] for e in entries.values()})
        commands = list(dict.fromkeys(e["command"] for e in entries.values() if "command" in e))
        quick = " (**--quick: smoke-test sizes, not results**)" if env.get("quick") else ""
        when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        lines += [
            f"**{task}**: seconds of training until the {spec['metric']} first reaches each threshold "
            f"(scored at each epoch's end{scored_within(entries)}, the clock paused), and the best within "
            "the budget. "
            f"Measured {header(env | {'date': when})}, by "
            + "; ".join(f"`python -m benchmarks.time_to_accuracy{c}`" for c in commands)
            + f"; budget {' / '.join(f'{b:g}' for b in budgets)} s of training per entry, seed "
            f"{'/'.join(str(s) for s in sorted({e['seed'] for e in entries.values()}))}{quick}.",
            "",
            "| entry | configuration | "
            + " | ".join(f"{'>=' if spec['higher'] else '<='} {t:.2f}" for t in spec["thresholds"])
            + f" | best {spec['metric']} | epochs | training s |",
            "| --- | --- | " + " | ".join("---:" for _ in spec["thresholds"]) + " | --- | ---: | ---: |",
        ]
        for name in ENTRIES[task]:
            if name in entries:
                lines.append(row(task, name, entries[name]))
        lines += ["", comparison(task, entries), ""]
    return "\n".join(lines).rstrip()


def scored_within(entries: dict) -> str:
    """ ", and every 60 s of training within an epoch" where the entries were scored so."""
    every = sorted({e.get("score_every_s", 0) for e in entries.values() if e.get("score_every_s")})
    return f", and every {' / '.join(f'{s:g}' for s in every)} s of training within an epoch" if every else ""


def row(task: str, name: str, e: dict) -> str:
    spec = TASKS[task]
    if "skipped" in e:
        cells = ["skipped"] * len(spec["thresholds"]) + [f"skipped: {e['skipped']}", "", ""]
        return f"| `{name}` | {e['configuration']} | " + " | ".join(cells) + " |"

    def when(point):  # where in training a score was taken
        if name in BASELINES:
            return "fit"
        where = f"in epoch {point['epoch']}" if point.get("mid") else f"epoch {point['epoch']}"
        return where + (", cut by the budget" if point.get("cut") else "")

    cells = []
    for threshold in spec["thresholds"]:
        hit = e["reached"][f"{threshold:.2f}"]
        cells.append("not reached" if hit is None else f"{hit['seconds']:.0f} ({when(hit)})")
    best = e["best"]
    windows = f"; in windows {best['windows']:.{spec['digits']}f}" if "windows" in best else ""
    cells.append(f"{best['value']:.{spec['digits']}f} ({when(best)}){windows}")
    if name in BASELINES:
        epochs = f"one fit, {e['features']:,} features (NBSVM-bi in the paper: {WANG_MANNING})"
    else:
        epochs = f"{e['epochs']}" + (", the last cut by the budget" if e["stopped_by_budget"] else "")
    cells += [epochs, f"{e['train_seconds']:.0f}"]
    return f"| `{name}` | {e['configuration']} | " + " | ".join(cells) + " |"


def is_zoo(name: str) -> bool:
    return name == "zoo" or name.startswith("zoo-")


def comparison(task: str, entries: dict) -> str:
    """For each threshold: the zoo's seconds against the fastest other entry's (the target: 3x sooner).

    Where the zoo has more than one entry, each threshold takes the zoo's
    sooner one, and the sentence names it.
    """
    spec = TASKS[task]
    ran = {n: e for n, e in entries.items() if "skipped" not in e and n not in BASELINES}
    zoo = {n: e for n, e in ran.items() if is_zoo(n)}
    if not zoo:
        return "The zoo's entry has not run."
    others = {n: e for n, e in ran.items() if not is_zoo(n)}
    parts = []
    for threshold in spec["thresholds"]:
        key = f"{threshold:.2f}"
        mine = {n: e["reached"][key]["seconds"] for n, e in zoo.items() if e["reached"][key]}
        times = {n: e["reached"][key]["seconds"] for n, e in others.items() if e["reached"][key]}
        if not mine:
            parts.append(f"{key}: not reached by the zoo")
            continue
        ours = min(mine, key=mine.get)
        named = f"`{ours}`, " if len(zoo) > 1 else ""
        if not times:
            parts.append(f"{key}: the zoo only ({named}{mine[ours]:.0f} s)")
        else:
            fastest = min(times, key=times.get)
            ratio = times[fastest] / max(mine[ours], 0.1)
            parts.append(
                f"{key}: {ratio:.1f}x sooner than `{fastest}` ({named}{mine[ours]:.0f} s vs {times[fastest]:.0f} s)"
            )
    return (
        "The zoo against the fastest other entry that reaches each threshold (target: 3x sooner): "
        + "; ".join(parts)
        + "."
    )


def write_docs(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} markers")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{BEGIN}\n{table}\n{END}{after}", encoding="utf-8")


def names(value: str, known, what: str, parser) -> list[str]:
    chosen = [n for n in value.split(",") if n]
    unknown = [n for n in chosen if n not in known]
    if unknown or not chosen:
        parser.error(f"--{what} must name some of {', '.join(known)}, got {value!r}")
    return chosen


def selected(task: str, name: str, chosen: list[str]) -> bool:
    """Whether `--entries` names this entry: by its name (every task's) or as `task/name`."""
    return name in chosen or f"{task}/{name}" in chosen


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated: {', '.join(TASKS)}")
    every = list(dict.fromkeys(n for entries in ENTRIES.values() for n in entries))
    qualified = [f"{t}/{n}" for t, entries in ENTRIES.items() for n in entries]
    parser.add_argument(
        "--entries",
        default=",".join(every),
        help=f"comma-separated: {', '.join(every)} (every task's), or task/name: {', '.join(qualified)}",
    )
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds of training per entry at most")
    parser.add_argument("--seed", type=int, default=1, help="the seed of every entry")
    parser.add_argument(
        "--score-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also score within an epoch, every SECONDS of training (default 0: at each epoch's end only)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests); marks the tables as such")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the tables from --results, run nothing"
    )
    parser.add_argument("--out", default="runs/benchmarks/time_to_accuracy", help="where the zoo's runs go")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "time_to_accuracy.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error(f"--budget must be positive, got {args.budget:g}")
    if args.score_every < 0:
        parser.error(f"--score-every must be 0 or more, got {args.score_every:g}")
    path = Path(args.results)
    if args.render_only:
        if args.quick:
            parser.error("--render-only runs nothing: it takes no --quick")
        if not path.exists():
            parser.error(f"--render-only: {path} does not exist; run the benchmark first")
        results = json.loads(path.read_text())
    else:
        tasks = names(args.tasks, TASKS, "tasks", parser)
        chosen = names(args.entries, every + qualified, "entries", parser)
        results = json.loads(path.read_text()) if path.exists() else {"tasks": {}}
        if results.get("environment", {}).get("quick") != args.quick:
            results = {"tasks": {}}  # never mix smoke-test numbers with real ones
        results["environment"] = describe() | {"quick": args.quick}
        command = "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        out = Path(args.out)
        ctx = Context(args.quick, args.budget, args.seed, out, args.score_every)
        plan = [(task, name) for task in tasks for name in ENTRIES[task] if selected(task, name, chosen)]
        if not plan:
            parser.error(f"--entries {args.entries} names no entry of --tasks {args.tasks}")
        for task, name in plan:
            entry = run_entry(task, name, ctx) | {"command": command}
            results["tasks"].setdefault(task, {})[name] = entry
            path.write_text(json.dumps(results, indent=1) + "\n")  # keep what is done
        for run_dir in ctx.run_dirs:  # the zoo's runs: only their scores are kept
            shutil.rmtree(run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            out.rmdir()  # where it is empty now
    table = render(results)
    write_docs(Path(args.docs), table)
    print(table)
    return results


if __name__ == "__main__":
    main()
