"""`shakespeare`: next-character prediction on TFDS `tiny_shakespeare`."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from datasets.base import Task, TaskData, finish, task_data
from datasets.registry import register_task
from datasets.tfds_source import load_builder
from zoo.spec import NEXT_TOKEN, TaskSpec

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


@register_task
class Shakespeare(Task):
    name = "shakespeare"
    description = "tiny Shakespeare (TFDS tiny_shakespeare), next character, nats/char"
    generative = True
    settings = ("embedding_dim", "embedding_dropout", "seq_len")
    defaults = dict(
        # Measured (seed 1): batch 128 x 14 epochs, 1.493 nats/char validation
        # in 846 s; batch 64 x 11, 1.478 in 793 s; batch 32 x 8 (twice the
        # updates again, ~10% fewer chars/s), 1.472 in 646 s, and with a
        # learning rate of 4e-3 instead of 3e-3, 1.454 in 586 s; batch 16:
        # 129 s an epoch, too slow. 9 epochs at batch 32 stay clear of 900 s.
        epochs=9,
        batch_size=32,
        learning_rate=4e-3,
        lr_schedule="cosine",
        units=384,
        embedding_dim=32,  # 65 characters need no large embedding
        seq_len=100,  # BPTT length: 100 characters per training window
        patience=3,
        # Measured here: a 384-unit GRU trains faster without XLA (batch 64:
        # 13,800 vs 10,000 characters/s; batch 128 likewise).
        jit_compile=False,
    )

    def text_ids(self, config, state, split: str) -> np.ndarray:
        """The whole text of a split ("train", "val" or "test") as character ids."""
        return split_ids(load_builder("tiny_shakespeare", config.data_dir, URL, ARCHIVE), state, split)

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        builder = load_builder("tiny_shakespeare", config.data_dir, URL, ARCHIVE)
        if state is None:
            state = {"chars": "".join(sorted(set(split_text(builder, "train"))))}

        def pipeline(split):
            ids = split_ids(builder, state, split)
            if split == "train":
                ds = shifting_windows(ids, config.seq_len + 1, config.seed)
            else:
                ds = tf.data.Dataset.from_tensor_slices(cut_windows(ids, config.seq_len + 1, 0)).cache()
            # Windows of seq_len + 1 characters: input = [:-1], target = [1:].
            ds = ds.map(lambda w: (w[:-1], w[1:]))
            return finish(ds, config.batch_size, 20000 if split == "train" else 0, config.seed)

        spec = TaskSpec(
            input_kind="tokens",
            timesteps=None,  # any length: generation feeds one character at a time
            vocab_size=len(state["chars"]) + 1,
            head=NEXT_TOKEN,
            output_units=len(state["chars"]) + 1,
            per_step=True,
        )
        return task_data(pipeline, splits, spec, state)
