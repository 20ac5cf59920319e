"""`shakespeare`: next-character prediction on TFDS `tiny_shakespeare`."""

from __future__ import annotations

import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from datasets.base import Task, TaskData, export_archive, finish, task_data
from datasets.registry import register_task
from datasets.tfds_source import load_builder
from zoo import files, metrics
from zoo.spec import NEXT_TOKEN, TOKENS, InputSpec, Setting, TaskSpec

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
ARCHIVE = "input.txt"
SPLITS = {"train": "train", "val": "validation", "test": "test"}


def split_text(builder, split: str) -> str:
    """The whole text of one split (TFDS stores each split as one example)."""
    return "".join(ex["text"].decode("utf-8") for ex in tfds.as_numpy(builder.as_dataset(split=split)))


def encode(state, text: str) -> np.ndarray:
    """Characters -> ids; 0 stands for a character not seen in training."""
    index = {c: i + 1 for i, c in enumerate(state["chars"])}
    return np.array([index.get(c, 0) for c in text], dtype=np.int32)


def decode(state, ids) -> str:
    """Ids -> characters (id 0, unknown, prints as '?')."""
    chars = "?" + state["chars"]
    return "".join(chars[int(i)] for i in ids)


def split_ids(builder, state, split: str) -> np.ndarray:
    """The whole text of one of our splits ("train", "val", "test") as character ids."""
    return encode(state, split_text(builder, SPLITS[split]))


def cut_windows(ids, length: int, offset):
    """The text from `offset` on, cut into whole windows of `length` ids: (n, length)."""
    ids = ids[offset:]
    n = tf.shape(ids)[0] // length
    return tf.reshape(ids[: n * length], [n, length])


def shifting_windows(ids: np.ndarray, length: int, seed: int) -> tf.data.Dataset:
    """Training windows that start at a new random offset in [0, length) every epoch.

    Fixed windows show the model the same 100-character contexts each epoch;
    shifting the cut makes every epoch's windows new (and seeded).
    """
    # The same number of windows from every offset, so every epoch has the
    # same known number of steps (progress bars, mid-epoch checkpoints).
    count = (len(ids) - (length - 1)) // length
    ids = tf.constant(ids)
    offsets = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    ds = offsets.flat_map(
        lambda r: tf.data.Dataset.from_tensor_slices(cut_windows(ids, length, tf.cast(r % length, tf.int32)))
    )
    return ds.take(count).apply(tf.data.experimental.assert_cardinality(count))


# evaluate.py flags of the character models.
SAMPLING = (
    Setting("seed_text", str, "ROMEO:", "start of the generated sample"),
    Setting("length", int, 300, "characters to generate", positive=True),
    Setting("temperature", float, 0.8, "sampling temperature (lower: more conservative)", positive=True),
)


@register_task
class Shakespeare(Task):
    name = "shakespeare"
    description = "tiny Shakespeare (TFDS tiny_shakespeare), next character, nats/char"
    heads = (NEXT_TOKEN,)
    input_kinds = (TOKENS,)
    generative = True
    settings = (
        Setting("seq_len", int, 100, "characters per training window (the BPTT length)", positive=True),
    )
    eval_settings = SAMPLING
    # How each default was chosen: docs/tuning.md#shakespeare.
    defaults = dict(
        epochs=9,
        batch_size=32,
        learning_rate=4e-3,
        lr_schedule="cosine",
        units=384,
        embedding_dim=32,  # 65 characters need no large embedding
        patience=3,
        jit_compile=False,  # a 384-unit GRU trains faster without XLA
    )
    recipes = {
        # Two 224-unit layers cost what one 384-unit layer does, and do better.
        "stacked-gru": dict(units=224),
    }

    def text_ids(self, config, state, split: str) -> np.ndarray:
        """The whole text of a split ("train", "val" or "test") as character ids."""
        return split_ids(load_builder("tiny_shakespeare", config.data_dir, URL, ARCHIVE), state, split)

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        seq_len = config.task_settings["seq_len"]
        builder = load_builder("tiny_shakespeare", config.data_dir, URL, ARCHIVE)
        if state is None:
            state = {"chars": "".join(sorted(set(split_text(builder, "train"))))}

        def pipeline(split):
            ids = split_ids(builder, state, split)
            return char_windows(ids, seq_len, config.batch_size, config.seed, training=split == "train")

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        return char_spec(state)

    def example_state(self, config) -> dict:
        return {"chars": "abcdefghijk"}

    def read_inputs(self, options) -> list[str]:
        if not options.get("seed_text"):
            raise ValueError("--seed-text is empty")
        return [options["seed_text"]]

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        return [
            {"seed_text": text, "sample": text + generate(model, state, text, options, config.seed)[0]}
            for text in inputs
        ]

    def export_model(self, model, config, state, fixed_shape=False):
        return export_characters(model, state)  # its inputs are of fixed shapes

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        seed_text = self.read_inputs(options)[0]
        return evaluate_characters(
            model,
            config,
            data,
            options,
            run_dir,
            seed_text,
            lambda split: self.text_ids(config, data.state, split),
        )


def char_windows(
    ids: np.ndarray, seq_len: int, batch_size: int, seed: int, training: bool
) -> tf.data.Dataset:
    """Batches of (window, the window shifted by one): shifting windows for training, fixed ones else."""
    if training:
        ds = shifting_windows(ids, seq_len + 1, seed)
    else:
        ds = tf.data.Dataset.from_tensor_slices(cut_windows(ids, seq_len + 1, 0)).cache()
    # Windows of seq_len + 1 characters: input = [:-1], target = [1:].
    ds = ds.map(lambda w: (w[:-1], w[1:]))
    return finish(ds, batch_size, 20000 if training else 0, seed)


def char_spec(state) -> TaskSpec:
    """Character ids in (any length: generation feeds one at a time), logits for the next one out."""
    size = len(state["chars"]) + 1  # id 0: a character not seen in training
    return TaskSpec(
        inputs=(InputSpec(TOKENS, vocab_size=size),), head=NEXT_TOKEN, output_units=size, per_step=True
    )


def generate(model, state, seed_text: str, options, seed: int):
    """`length` characters sampled after `seed_text`, and the characters per second."""
    from models.generation import Sampler  # the trained layers, stepped one character at a time

    prime = encode(state, seed_text)
    sampler = Sampler(model)
    sampler.sample(prime, 2, options["temperature"])  # trace the tf.function once before timing
    start = time.perf_counter()
    ids = sampler.sample(prime, options["length"], options["temperature"], seed=seed)
    return decode(state, ids), options["length"] / (time.perf_counter() - start)


def evaluate_characters(model, config, data, options, run_dir, seed_text, text_ids) -> dict:
    """Nats/char in windows and read as one stream (validation and test), and a sample.

    Args:
        text_ids: `text_ids(split)` gives the whole text of "val" or "test" as ids.
    """
    limit = options.get("limit")
    test = data.test.take(math.ceil(limit / config.batch_size)) if limit else data.test
    nats = float(model.evaluate(test, verbose=0, return_dict=True)["loss"])
    streams = {}
    for split in ("val", "test"):
        ids = text_ids(split)
        streams[split] = metrics.stream_loss(
            model, ids[: limit * config.task_settings["seq_len"]] if limit else ids
        )
    generated, speed = generate(model, data.state, seed_text, options, config.seed)
    sample = seed_text + generated
    files.write_text(os.path.join(run_dir, "samples.txt"), sample + "\n")
    return {
        "loss_nats_per_char": nats,
        "bits_per_char": nats / math.log(2),
        "perplexity": math.exp(nats),
        # The same model, each split read as one stream (see metrics.stream_loss).
        "val_stream_nats_per_char": streams["val"],
        "test_stream_nats_per_char": streams["test"],
        "generation_chars_per_second": speed,
        "sample": sample,
    }


def export_characters(model, state):
    """A character model's archive: `generate` (seed text -> text) and `step` (one character, the state carried).

    `generate(seed_text, length, temperature, seed)`: string, int32, float32
    and int32 scalars -> `text`, the seed text and `length` sampled
    characters (the same as `predict` for the same seed). `step(character,
    state)`: one character and the state of shape (1, S), zeros to start,
    -> `probabilities` of each of `characters` next (the first, "?", stands
    for a character not seen in training) and the new `state`. A seed text
    outside the characters of training reads as that unknown character,
    as `encode` reads it.
    """
    from models.generation import Sampler  # the trained layers, stepped one character at a time

    sampler = Sampler(model)
    # Id 0 is the unknown character, as in `encode`; the training characters are 1..n.
    lookup = keras.layers.StringLookup(vocabulary=list(state["chars"]), num_oov_indices=1, mask_token=None)
    lookup(tf.constant(["a"]))  # built: an archive tracks only built layers
    characters = tf.constant(list("?" + state["chars"]))
    sizes = [size for layer in sampler.state_sizes() for size in layer]

    def encode_graph(text):
        return tf.cast(lookup(tf.strings.unicode_split(text, "UTF-8")), tf.int32)

    def generate(seed_text, length, temperature, seed):
        prime = encode_graph(seed_text)
        tf.debugging.assert_positive(tf.size(prime), message="seed_text is empty")
        tf.debugging.assert_positive(temperature, message="temperature must be positive")
        ids = sampler.sample_ids(prime, length, temperature, seed)
        return {"text": tf.strings.join([seed_text, tf.strings.reduce_join(tf.gather(characters, ids))])}

    def step(character, state):
        flat = tf.split(state, sizes, axis=1)
        states, i = [], 0
        for layer in sampler.state_sizes():
            states.append(flat[i : i + len(layer)])
            i += len(layer)
        tf.debugging.assert_equal(
            tf.strings.length(character, unit="UTF8_CHAR"), 1, message="character is not one character"
        )
        logits, states = sampler.step(encode_graph(character), states)
        return {
            "probabilities": tf.nn.softmax(logits[0]),
            "state": tf.concat([s for layer in states for s in layer], axis=1),
            "characters": characters,
        }

    scalar = tf.TensorSpec
    return export_archive(
        [model, lookup],
        {
            "generate": (
                generate,
                [
                    scalar([], tf.string, name="seed_text"),
                    scalar([], tf.int32, name="length"),
                    scalar([], tf.float32, name="temperature"),
                    scalar([], tf.int32, name="seed"),
                ],
            ),
            "step": (
                step,
                [scalar([], tf.string, name="character"), scalar([1, sum(sizes)], tf.float32, name="state")],
            ),
        },
    )
