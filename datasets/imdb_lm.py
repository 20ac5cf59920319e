"""`imdb-lm`: next word over IMDB's unlabelled and training reviews, a start for `imdb` (`--init-from`).

    python train.py --task imdb-lm --model gru --run-dir runs/imdb-lm/gru
    python train.py --task imdb --model gru --init-from runs/imdb-lm/gru

The reviews are `imdb`'s words (its `standardize`, its vocabulary form:
"" and "[UNK]", then the words by frequency), so that a classifier built
on this run's vocabulary reuses its embedding and recurrent layers. The
test reviews are never read. Training reads the 49,500 unlabelled reviews
of `unsupervised[:99%]` and the 22,500 of `imdb`'s training split, in one
seeded order, as one stream of words cut into windows; validation reads
`unsupervised[99%:]` (500 reviews); test reads `imdb`'s validation split
(2,500 reviews, which this task never trains on).

The head predicts only the `--predicted-words` most frequent words; every
rarer word is one class, `[UNK]` (id 1). The head's softmax, not the
recurrent layer, is most of a step's cost, and grows with its width; the
thousand most frequent words are most of the text (docs/tuning.md#pretraining).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from datasets import imdb
from datasets.base import TEXT_INPUTS, Task, TaskData, finish, read_texts, task_data
from datasets.registry import register_task
from datasets.shakespeare import cut_windows, shifting_windows
from datasets.tfds_source import load_builder
from zoo.spec import NEXT_TOKEN, TOKENS, InputSpec, Setting, TaskSpec

SPLITS = {
    "train": ("unsupervised[:99%]", imdb.SPLITS["train"]),
    "val": ("unsupervised[99%:]",),
    "test": (imdb.SPLITS["val"],),  # the classifier's validation reviews: never trained on here
}
UNKNOWN = 1  # the id of "[UNK]", the class of every word the head does not predict


def review_texts(builder, split: str) -> tf.data.Dataset:
    """The review texts of one of our splits ("train", "val", "test"), its TFDS splits one after another."""
    parts = [builder.as_dataset(split=s).map(lambda ex: ex["text"]) for s in SPLITS[split]]
    texts = parts[0]
    for part in parts[1:]:
        texts = texts.concatenate(part)
    return texts


def word_stream(vectorizer, texts: tf.data.Dataset, seed: int | None) -> np.ndarray:
    """All the words of `texts` as one id stream, the reviews in a seeded random order (`seed` None: as read).

    Shuffled by review, so that a fraction of an epoch (`--steps-per-epoch`)
    reads unlabelled and labelled reviews alike.
    """
    reviews = []
    for batch in texts.batch(1024).map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE):
        flat, splits = batch.flat_values.numpy(), batch.row_splits.numpy()
        reviews += np.split(flat.astype(np.int32), splits[1:-1])
    if seed is not None:
        reviews = [reviews[i] for i in np.random.default_rng(seed).permutation(len(reviews))]
    return np.concatenate([np.zeros(0, np.int32), *reviews])


def targets(ids: tf.Tensor, predicted_words: int) -> tf.Tensor:
    """Word ids -> the head's classes: the `predicted_words` most frequent keep their ids, the rest are `UNKNOWN`."""
    return tf.where(ids < predicted_words, ids, UNKNOWN)


@register_task
class IMDBLanguageModel(Task):
    name = "imdb-lm"
    description = "next word over IMDB's unlabelled + training reviews (pretraining for imdb), nats/word"
    heads = (NEXT_TOKEN,)
    input_kinds = (TOKENS,)
    generative = True  # a bidirectional model would read the word it predicts
    settings = (
        Setting("seq_len", int, 50, "words per training window (the BPTT length)", positive=True),
        imdb.MAX_TOKENS,
        Setting(
            "predicted_words",
            int,
            1000,  # 79% of the words; one epoch fits a few minutes (docs/tuning.md#pretraining)
            "the head predicts the N most frequent words; every rarer one is one class",
            positive=True,
        ),
    )
    eval_settings = TEXT_INPUTS
    # imdb's embedding and units, so that its layers take these weights (docs/tuning.md#pretraining).
    defaults = dict(
        epochs=1,
        batch_size=128,
        learning_rate=5e-3,
        units=64,
        embedding_dim=128,
        patience=1,
        jit_compile=True,  # fixed-shape windows: XLA's steps are 1.2-1.4x faster here
    )

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        seq_len = config.task_settings["seq_len"]
        builder = load_builder("imdb_reviews", config.data_dir, imdb.URL, imdb.ARCHIVE)
        if state is None:
            vectorizer = imdb.make_vectorizer(config.task_settings["max_tokens"])
            vectorizer.adapt(review_texts(builder, "train").batch(1024))
            state = {"vocabulary": vectorizer.get_vocabulary()}
        vectorizer = self.vectorizer(config, state)
        predicted = self.spec(config, state).output_units

        def pipeline(split):
            training = split == "train"
            ids = word_stream(vectorizer, review_texts(builder, split), config.seed if training else None)
            if training:
                ds = shifting_windows(ids, seq_len + 1, config.seed)
            else:
                ds = tf.data.Dataset.from_tensor_slices(cut_windows(ids, seq_len + 1, 0)).cache()
            # Windows of seq_len + 1 words: input = [:-1], target = [1:], rare words as one class.
            ds = ds.map(lambda w: (w[:-1], targets(w[1:], predicted)))
            return finish(ds, config.batch_size, 20000 if training else 0, config.seed)

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        vocab_size = len(state["vocabulary"])
        return TaskSpec(
            # No padding: windows of a stream are whole (imdb's mask changes no weight).
            inputs=(InputSpec(TOKENS, vocab_size=vocab_size),),
            head=NEXT_TOKEN,
            output_units=min(config.task_settings["predicted_words"], vocab_size),
            per_step=True,
        )

    def example_state(self, config) -> dict:
        return imdb.IMDB.example_state(self, config)

    def vectorizer(self, config, state):
        """The run's saved vocabulary as imdb's `TextVectorization` layer."""
        return imdb.IMDB.vectorizer(self, config, state)

    def read_inputs(self, options) -> list[str]:
        return read_texts(options)

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        """The five likeliest next words after each text (`[UNK]`: a word outside the predicted ones)."""
        answers = []
        for text in inputs:
            ids = self.vectorizer(config, state)(tf.constant([text]))[:, -config.task_settings["seq_len"] :]
            if ids.row_lengths()[0] == 0:
                raise ValueError(f"text {text!r} has no words the model reads: there is nothing to continue")
            logits = np.asarray(model.predict_on_batch(ids.to_tensor()))[0, -1]
            best = np.argsort(logits)[::-1][:5]
            answers.append({"text": text, "next_words": [state["vocabulary"][i] for i in best]})
        return answers

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        texts = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, texts, options) if texts else []
        limit = options.get("limit")
        test = data.test.take(math.ceil(limit / config.batch_size)) if limit else data.test
        nats = float(model.evaluate(test, verbose=0, return_dict=True)["loss"])
        # What a model that knows only the test split's own word frequencies scores.
        labels = np.concatenate([y.numpy().ravel() for _, y in test])
        freq = np.bincount(labels) / labels.size
        unigram = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
        result = {
            "loss_nats_per_word": nats,
            "perplexity": math.exp(nats),
            "test_unigram_nats_per_word": unigram,
            "unknown_fraction": float(np.mean(labels == UNKNOWN)),
        }
        return result | ({"predictions": predictions} if predictions else {})

    def export_model(self, model, config, state, fixed_shape=False):
        raise ValueError(
            "imdb-lm is a start for imdb, not a model to serve: train imdb with --init-from this run, "
            "then export that run"
        )
