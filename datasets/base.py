"""What every task provides: its data as `tf.data` pipelines, and its `TaskSpec`.

The spec (zoo/spec.py) is the contract with the models: the input and the
head. See `models/rnn.py` for the other half of that contract.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.spec import TaskSpec


@dataclasses.dataclass
class TaskData:
    """A task's batched splits, its spec and its state.

    `state` is JSON-serialisable (a vocabulary, normalisation constants):
    the run directory keeps it so that evaluation rebuilds the same inputs.
    """

    train: tf.data.Dataset | None
    val: tf.data.Dataset | None
    test: tf.data.Dataset | None
    spec: TaskSpec
    state: dict[str, Any]


class Task:
    """Base class of the registered tasks.

    Subclasses set `name`, `description`, `defaults` (training settings that
    suit the task, overridable from the command line) and implement `load`.
    """

    name: str = ""
    description: str = ""
    # A generative task samples left to right, so a bidirectional RNN
    # (which reads the future) cannot serve it.
    generative: bool = False
    defaults: dict[str, Any] = {}
    # The task-specific settings this task reads (TrainConfig fields); a flag
    # that other tasks list here but this one does not is refused, not ignored.
    settings: tuple[str, ...] = ()

    def load(
        self,
        config: Any,
        state: dict[str, Any] | None = None,
        splits: tuple[str, ...] = ("train", "val", "test"),
    ) -> TaskData:
        """Builds the batched splits.

        Args:
            config: The resolved `zoo.config.TrainConfig`.
            state: A saved state (vocabulary...) to reuse; `None` computes
                it from the training split.
            splits: Which of `"train"`, `"val"`, `"test"` to build; the
                others are `None`.

        Returns:
            A `TaskData`.
        """
        raise NotImplementedError


def finish(ds: tf.data.Dataset, batch_size: int, shuffle: int = 0, seed: int = 0):
    """Shuffles (when `shuffle` > 0), batches and prefetches a split."""
    if shuffle:
        ds = ds.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# Width, in steps, of the length buckets that `finish_by_length` draws
# training batches from. Measured on imdb (seed 1, one run each, before
# patience 1): SimpleRNN test accuracy 0.865 with 100-word buckets, 0.854
# with 25-word ones, 0.868 unbucketed; a GRU's epoch went from 83-143 s to 78-82 s.
BUCKET_WIDTH = 100


def finish_by_length(
    ds: tf.data.Dataset,
    batch_size: int,
    max_len: int,
    shuffle: int = 0,
    seed: int = 0,
    few_shapes: bool = False,
):
    """Batches variable-length id sequences, each batch zero-padded at the end to its longest.

    A recurrent layer runs as many steps as its batch is long, masked or
    not, so a batch padded to `max_len` pays for every padded step. Training
    batches (`shuffle` > 0) are drawn from buckets of sequences within
    `BUCKET_WIDTH` steps of each other's length, so short sequences batch
    with short ones; other splits keep their order and are only padded to
    each batch's longest.

    Args:
        ds: Unbatched `(ids, label)` pairs, `ids` of shape `(length,)`,
            cached (training reads it once for the lengths); where its
            length is unknown, other splits are read once to count it.
        batch_size: Sequences per batch.
        max_len: The longest a sequence can be (bucket boundaries stop there).
        shuffle: Shuffle buffer for training (0: no shuffling, no buckets).
        seed: Shuffle seed.
        few_shapes: Pad training batches to their bucket's upper end
            (`BUCKET_WIDTH`, 2x, ... up to `max_len`) and the other splits to
            `max_len`, for XLA, which compiles one program per input shape.

    Returns:
        Batches `(ids of shape (batch, longest), labels)`.
    """
    if not shuffle:
        if ds.cardinality() < 0:
            # Keras must know how many batches validation has, or it warns
            # after the first validation that the input "ran out of data;
            # interrupting training". A known length carries over batching.
            ds = ds.apply(tf.data.experimental.assert_cardinality(len(_lengths(ds))))
        padded_shapes = ([max_len], []) if few_shapes else None
        return ds.padded_batch(batch_size, padded_shapes=padded_shapes).prefetch(tf.data.AUTOTUNE)
    boundaries = list(range(BUCKET_WIDTH, max_len, BUCKET_WIDTH))
    if few_shapes:
        # A bucket holds lengths below its boundary and pads to boundary - 1.
        boundaries = [b + 1 for b in boundaries] + [max_len + 1]
    # One pass over the lengths (it also fills a cache upstream) gives the
    # number of batches, so that the first epoch's progress bar has a total.
    per_bucket = np.bincount(np.searchsorted(boundaries, _lengths(ds), side="right"))
    batches = int(np.sum(-(-per_bucket // batch_size)))
    ds = ds.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    ds = ds.bucket_by_sequence_length(
        lambda ids, label: tf.shape(ids)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        pad_to_bucket_boundary=few_shapes,
    )
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def _lengths(ds: tf.data.Dataset) -> np.ndarray:
    """The length of every `(ids, label)` pair of `ds`, in one pass."""
    chunks = ds.map(lambda ids, label: tf.shape(ids)[0]).batch(4096).as_numpy_iterator()
    return np.concatenate([np.zeros(0, np.int64), *chunks])


def task_data(pipeline, splits, spec: TaskSpec, state: dict[str, Any]) -> TaskData:
    """Builds `pipeline(split)` for each requested split into a `TaskData`."""
    built = {s: pipeline(s) if s in splits else None for s in ("train", "val", "test")}
    return TaskData(spec=spec, state=state, **built)
