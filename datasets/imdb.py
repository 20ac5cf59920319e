"""`imdb`: sentiment of IMDB reviews (TFDS `imdb_reviews`), one sigmoid unit."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from datasets.base import (
    TEXT_INPUTS,
    Task,
    TaskData,
    class_answer,
    export_archive,
    finish_by_length,
    read_texts,
    task_data,
)
from datasets.registry import register_task
from datasets.tfds_source import load_builder
from zoo import metrics
from zoo.spec import BINARY, POOLS, TOKENS, InputSpec, Setting, TaskSpec

URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE = "aclImdb_v1.tar.gz"
# 22,500 train / 2,500 validation reviews carved from TFDS's train split
# (TFDS shuffles at preparation, so both halves are balanced); test is the
# untouched 25,000-review test split.
SPLITS = {"train": "train[:90%]", "val": "train[90%:]", "test": "test"}


def standardize(text: tf.Tensor) -> tf.Tensor:
    """Lower-cases, drops the `<br />` tags the reviews contain and punctuation."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, "<br\\s*/?>", " ")
    return tf.strings.regex_replace(text, "[^a-z0-9' ]", " ")


def make_vectorizer(
    max_tokens: int, vocabulary=None, standardize=standardize
) -> keras.layers.TextVectorization:
    """Words -> ids (ragged), 0 = padding (masked by the model), 1 = out of vocabulary."""
    return keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize, output_mode="int", ragged=True, vocabulary=vocabulary
    )


def last_words(vectorizer, texts: tf.Tensor, seq_len: int) -> tf.RaggedTensor:
    """Texts -> ragged ids: the LAST `seq_len` words of each text.

    A review's verdict tends to come at its end, so a long review loses its
    beginning rather than its conclusion.
    """
    return vectorizer(texts)[:, -seq_len:]


def export_words(model, vectorizer, seq_len: int, class_names, fixed_shape: bool = False):
    """A word classifier's archive: `serving_default`, texts (batch,) -> `probabilities`, `class`.

    The graph standardizes (the vectorizer's own function), looks the words
    up in the run's vocabulary, keeps the last `seq_len` and pads to
    `seq_len`, as the tasks' `encode_texts` does; a sigmoid head's one
    output becomes the two classes' probabilities. A text with no words
    left (which `encode_texts` refuses) scores NaN, with the class "".

    Args:
        model: The trained model: ids (batch, seq_len) -> (batch, 1)
            sigmoid or (batch, classes) softmax.
        vectorizer: The run's `TextVectorization` layer.
        seq_len: The words kept from the end of each text.
        class_names: The class names in the model's order.
        fixed_shape: Batch 1 (the form LiteRT converts).

    Returns:
        A `keras.export.ExportArchive`.
    """
    vectorizer(tf.constant([""]))  # built: an archive tracks only built layers
    batch = 1 if fixed_shape else None
    signature = [tf.TensorSpec([batch], tf.string, name="texts")]

    def serve(texts):
        ids = last_words(vectorizer, texts, seq_len)  # ragged (batch, <= seq_len)
        padded = tf.ensure_shape(ids.to_tensor(shape=[None, seq_len]), [batch, seq_len])
        outputs = model(padded, training=False)
        if len(class_names) == 2:  # one sigmoid unit: the second class's probability
            outputs = tf.stack([1.0 - outputs[:, 0], outputs[:, 0]], axis=1)
        readable = ids.row_lengths() > 0
        probabilities = tf.where(readable[:, None], outputs, float("nan"))
        return class_answer(probabilities, class_names, unknown=~readable)

    return export_archive([model, vectorizer], {"serving_default": (serve, signature)})


# Also imdb-lm's: a classifier starts from a language model of the same vocabulary size.
MAX_TOKENS = Setting("max_tokens", int, 20000, "vocabulary size (the most frequent words)", positive=True)


@register_task
class IMDB(Task):
    name = "imdb"
    description = "IMDB review sentiment (TFDS imdb_reviews), binary, accuracy"
    heads = (BINARY,)
    input_kinds = (TOKENS,)
    settings = (
        Setting("seq_len", int, 400, "words kept from the end of each review", positive=True),
        MAX_TOKENS,
        Setting(
            "pool",
            str,
            "max",
            "what the head reads: max or mean (masked, over every step's output), or last (the final state)",
            choices=POOLS,
        ),
    )
    eval_settings = TEXT_INPUTS
    # How each default was chosen: docs/tuning.md#imdb.
    defaults = dict(
        epochs=2,  # the RNNs overfit IMDB within two epochs
        batch_size=128,
        learning_rate=5e-3,
        lr_schedule="cosine",
        units=64,
        embedding_dim=128,
        embedding_dropout=0.5,
        dropout=0.5,
        patience=1,
        jit_compile=False,  # XLA is 4-6x slower here on masked, variable-length batches
    )
    recipes = {
        # The SimpleRNN does better with the mean head and its own rate (docs/tuning.md#imdb).
        "simplernn": dict(pool="mean", embedding_dim=64, learning_rate=2e-3, epochs=3),
    }
    # What tune.py searches of its own settings: every value is scored on the same reviews.
    search_space = {
        "seq_len": {"values": [200, 300, 400, 600]},
        "max_tokens": {"values": [10000, 20000, 40000]},
        "pool": {"values": ["mean", "max"]},
    }

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        seq_len = config.task_settings["seq_len"]
        builder = load_builder("imdb_reviews", config.data_dir, URL, ARCHIVE)
        raw = {s: builder.as_dataset(split=SPLITS[s], as_supervised=True) for s in SPLITS}
        if state is None:
            vectorizer = make_vectorizer(config.task_settings["max_tokens"])
            vectorizer.adapt(raw["train"].map(lambda x, y: x).batch(1024))
            state = {"vocabulary": vectorizer.get_vocabulary()}
        vectorizer = self.vectorizer(config, state)

        def pipeline(split):
            ds = (
                raw[split]
                .batch(1024)
                .map(
                    lambda x, y: (last_words(vectorizer, x, seq_len), y),
                    num_parallel_calls=tf.data.AUTOTUNE,
                )
            )
            # Vectorize once, then serve ids from memory. Unbatched ragged rows
            # arrive typed as (rank-0) ragged; identity makes them plain tensors.
            ds = ds.unbatch().map(lambda x, y: (tf.identity(x), y)).cache()
            # unbatch() forgets how many reviews there are; TFDS knows.
            ds = ds.apply(tf.data.experimental.assert_cardinality(raw[split].cardinality()))
            training = split == "train"
            return finish_by_length(
                ds,
                config.batch_size,
                seq_len,
                shuffle=25000 if training else 0,
                seed=config.seed,
                few_shapes=config.jit_compile,  # XLA compiles once per batch length
            )

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        return TaskSpec(
            inputs=(
                InputSpec(
                    TOKENS,
                    timesteps=None,  # each batch is as long as its longest review
                    vocab_size=len(state["vocabulary"]),
                    mask_zero=True,  # post-padded: without the mask a SimpleRNN stays at chance
                ),
            ),
            # The head reads all steps' outputs by default, not the final state (docs/tuning.md#imdb).
            pool=config.task_settings["pool"],
            head=BINARY,
            output_units=1,
            class_names=("negative", "positive"),
        )

    def example_state(self, config) -> dict:
        return {"vocabulary": ["", "[UNK]", *(f"word{i}" for i in range(28))]}

    def adopt_state(self, config, source_config, source_state) -> dict:
        """The vocabulary of an `imdb` or `imdb-lm` run (the same words, `standardize` and form)."""
        if source_config.task not in ("imdb", "imdb-lm"):
            raise ValueError(
                f"--init-from: task 'imdb' starts from an imdb or imdb-lm run, not a {source_config.task!r} one"
            )
        vocabulary = source_state["vocabulary"]
        if len(vocabulary) > config.task_settings["max_tokens"]:
            raise ValueError(
                f"--init-from: its vocabulary holds {len(vocabulary)} words, more than --max-tokens "
                f"{config.task_settings['max_tokens']}; pass --max-tokens {len(vocabulary)}"
            )
        return {"vocabulary": vocabulary}

    def vectorizer(self, config, state) -> keras.layers.TextVectorization:
        """The run's saved vocabulary as a `TextVectorization` layer."""
        # The saved vocabulary starts with "" and "[UNK]", which the layer adds itself.
        return make_vectorizer(config.task_settings["max_tokens"], state["vocabulary"][2:])

    def encode_texts(self, config, state, texts: list[str]) -> np.ndarray:
        """Raw review texts -> padded id matrix of shape (len(texts), seq_len).

        Refuses a text with no words left after `standardize` (say "!!!"):
        its row would be all padding, and the mean over zero unmasked steps
        is 0/0, so the model would score it NaN.
        """
        seq_len = config.task_settings["seq_len"]
        ids = last_words(self.vectorizer(config, state), tf.constant(texts), seq_len)
        empty = [t for t, n in zip(texts, ids.row_lengths().numpy()) if n == 0]
        if empty:
            raise ValueError(
                f"text {empty[0]!r} has no words the model reads (it keeps only A-Z, "
                "a-z, 0-9 and apostrophes): there is nothing to score"
            )
        return ids.to_tensor(shape=[None, seq_len]).numpy()

    def read_inputs(self, options) -> list[str]:
        return read_texts(options)

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        scores = np.asarray(model.predict_on_batch(self.encode_texts(config, state, inputs)))[:, 0]
        return [{"text": t, "positive_probability": float(p)} for t, p in zip(inputs, scores)]

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: review texts (batch,) -> `probabilities` (batch, 2: negative, positive), `class`.

        See `export_words`: the graph reads the texts as `encode_texts` does.
        """
        vectorizer, names = self.vectorizer(config, state), self.spec(config, state).class_names
        return export_words(model, vectorizer, config.task_settings["seq_len"], names, fixed_shape)

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        # Texts first: one that cannot be scored is refused before the test split runs.
        texts = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, texts, options) if texts else []
        probs, labels = metrics.collect(model, data.test, options.get("limit"), config.batch_size)
        result = metrics.binary(probs[:, 0], labels, data.spec.class_names)
        return result | ({"texts": predictions} if predictions else {})
