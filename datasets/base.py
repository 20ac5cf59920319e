"""What every task provides: its data as `tf.data` pipelines and its head.

A *task* knows its data and its output head (size, activation, loss,
metrics); a *model* knows only its recurrent body and asks the task for the
head. See `models/rnn.py` for the other half of that contract.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

# Head kinds: how a task turns the last recurrent output into a prediction.
BINARY = "binary"  # one sigmoid unit, e.g. sentiment
NEXT_TOKEN = "next_token"  # logits over the vocabulary at every step
REGRESSION = "regression"  # `units` real values, e.g. the next value(s)
MULTICLASS = "multiclass"  # softmax over `units` classes


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """The shape of a task's inputs and outputs, all a model builder needs.

    Args:
        input_kind: `"tokens"` (integer ids, embedded by the model) or
            `"features"` (float vectors fed to the RNN directly).
        timesteps: Fixed sequence length, or `None` for variable length.
        features: Feature size for `"features"` inputs.
        vocab_size: Number of token ids for `"tokens"` inputs.
        mask_zero: Whether token id 0 is padding that the RNN must skip.
        head: One of `BINARY`, `NEXT_TOKEN`, `REGRESSION`, `MULTICLASS`.
        output_units: Size of the head's output.
        per_step: Whether the head predicts at every step (the last
            recurrent layer then returns sequences).
        pool: How a sequence-level head reads the last recurrent layer:
            `"last"` (its final state) or `"mean"` (the masked mean of its
            outputs over all steps, so that gradients reach every step).
        class_names: Names of the classes, where the head classifies.
    """

    input_kind: str
    head: str
    output_units: int
    timesteps: int | None = None
    features: int = 1
    vocab_size: int = 0
    mask_zero: bool = False
    per_step: bool = False
    pool: str = "last"
    class_names: tuple[str, ...] = ()

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """Per-example input shape, without the batch axis."""
        if self.input_kind == "tokens":
            return (self.timesteps,)
        return (self.timesteps, self.features)

    @property
    def input_dtype(self) -> str:
        return "int32" if self.input_kind == "tokens" else "float32"


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
