"""What every task provides: `Task`, its data as `tf.data` pipelines, and its `TaskSpec`.

The spec (zoo/spec.py) is the contract with the models: the inputs and the
head. See `models/rnn.py` for the other half of that contract.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.spec import Setting, TaskSpec


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
    """Base class of the registered tasks: everything the rest of the zoo calls on a task.

    A task is one file: a subclass that sets the class attributes below and
    implements `load`, `spec`, `example_state`, `evaluate`, `predict` and
    `export_model`, registered with `@register_task`. Nothing outside the file names it.

    Class attributes:
        name: The `--task` name.
        description: One line for `train.py --list`.
        heads: The head kinds its spec can have (one, unless the data
            decides, as the number of classes does).
        input_kinds: The kinds of its inputs (`"tokens"`, `"features"`).
        input_names: The names of its inputs, in order.
        generative: Whether it samples left to right (so a bidirectional
            RNN, which reads the future, cannot serve it).
        settings: Its own `Setting`s, which become `train.py` flags
            (refused on other tasks); their values are in
            `config.task_settings`.
        eval_settings: Its own `evaluate.py` flags (`Setting`s); values in
            the `options` dict that `evaluate` and `predict` get.
        defaults: General training settings that suit it (rate, epochs...).
        recipes: Per-model settings over the defaults, e.g.
            `{"stacked-gru": dict(units=224)}`; flags still win.
        search_space: Its own settings that tune.py searches, in the form
            of `tune.py --space` (zoo/tuning.py), e.g.
            `{"seq_len": {"values": [200, 400]}}`: only those whose
            validation loss stays comparable across their values.
    """

    name: str = ""
    description: str = ""
    heads: tuple[str, ...] = ()
    input_kinds: tuple[str, ...] = ()
    input_names: tuple[str, ...] = ("inputs",)
    generative: bool = False
    settings: tuple[Setting, ...] = ()
    eval_settings: tuple[Setting, ...] = ()
    defaults: dict[str, Any] = {}
    recipes: dict[str, dict[str, Any]] = {}
    search_space: dict[str, Any] = {}

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

    def spec(self, config: Any, state: dict[str, Any]) -> TaskSpec:
        """The task's `TaskSpec` for these settings and this state (vocabulary...)."""
        raise NotImplementedError

    def example_state(self, config: Any) -> dict[str, Any]:
        """A small state of the task's form (a tiny vocabulary, say), with no data read.

        With `spec`, it gives a spec of the task's shape without its data:
        for building a model to inspect, and for the registry-wide test.
        """
        raise NotImplementedError

    def evaluate(self, model, config: Any, data: TaskData, options: dict[str, Any], run_dir: str) -> dict:
        """Scores `model` on `data.test`; writes its plots and samples into `run_dir`.

        Args:
            model: The trained model.
            config: The run's config.
            data: The task's data with the test split (and the run's state).
            options: evaluate.py's options: `limit` (score the first N test
                examples only) and the task's `eval_settings`.
            run_dir: Where plots and samples go.

        Returns:
            The metrics, JSON-serialisable.
        """
        raise NotImplementedError

    def predict(
        self, model, config: Any, state: dict[str, Any], inputs: list, options: dict[str, Any]
    ) -> list[dict]:
        """The model's answer for new raw inputs (texts, series, seed texts), one dict each."""
        raise NotImplementedError

    def export_model(
        self, model, config: Any, state: dict[str, Any], fixed_shape: bool = False
    ) -> keras.export.ExportArchive:
        """The whole pipeline, raw inputs to the task's answer, as a SavedModel archive (export.py).

        Everything the zoo does around `model` for `predict` (the vocabulary
        and standardization, the window cut, the sampling loop) goes inside
        the graph, so that the export needs no zoo code to run.

        Args:
            model: The trained model.
            config: The run's config.
            state: The run's task state (vocabulary...).
            fixed_shape: Every input of one fixed shape, batch 1 (the
                form LiteRT converts); `False` (the default): any batch
                size, and any length where the task reads a window.

        Returns:
            A `keras.export.ExportArchive` with a `serving_default` endpoint
            (and any others the task serves), ready for `write_out`.

        Example:
            >>> task.export_model(model, config, state).write_out("export/imdb")
        """
        raise NotImplementedError

    def adopt_state(self, config: Any, source_config: Any, source_state: dict[str, Any]) -> dict[str, Any]:
        """The state a run takes from the finished run it starts from (`train.py --init-from`).

        The copied weights fit only inputs of the same meaning (an embedding's
        row `i` is word `i` of RUN's vocabulary), so the run reads its data
        with RUN's state rather than computing its own.

        Args:
            config: This run's resolved config.
            source_config: RUN's config (its `task` says whose state it is).
            source_state: RUN's task state.

        Returns:
            This task's state. By default, a run of the same task's state as it is.

        Raises:
            ValueError: a state this task cannot read (another task's).
        """
        if source_config.task != self.name:
            raise ValueError(
                f"--init-from: task {self.name!r} cannot start from a run of task {source_config.task!r}"
            )
        return source_state

    def read_inputs(self, options: dict[str, Any]) -> list:
        """The raw inputs that evaluate.py's options name (none by default); ValueError for bad ones."""
        return []


# evaluate.py flags of the tasks that score texts.
TEXT_INPUTS = (
    Setting("text", str, None, "a text to score (repeatable)", many=True),
    Setting("text_file", str, None, "a UTF-8 file with one text to score per line"),
)


def read_utf8(path: str, flag: str) -> str:
    """The whole UTF-8 text of the file that `flag` names (newlines as "\\n"); ValueError naming it otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise ValueError(f"{flag} {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{flag} {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{flag} {path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as err:
        raise ValueError(f"{flag} {path} cannot be read: {err.strerror}") from None


def read_texts(options: dict[str, Any]) -> list[str]:
    """The `--text` values and the non-empty lines of `--text-file`; refuses empty ones."""
    texts = list(options.get("text") or [])
    if any(not t.strip() for t in texts):
        raise ValueError("--text is empty")
    path = options.get("text_file")
    if path:
        lines = [line.strip() for line in read_utf8(path, "--text-file").split("\n") if line.strip()]
        if not lines:
            raise ValueError(f"--text-file {path} holds no text")
        texts += lines
    return texts


def finish(ds: tf.data.Dataset, batch_size: int, shuffle: int = 0, seed: int = 0):
    """Shuffles (when `shuffle` > 0), batches and prefetches a split."""
    if shuffle:
        ds = ds.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# Width, in steps, of the length buckets that `finish_by_length` draws
# training batches from: faster epochs at the accuracy of unbucketed ones (docs/tuning.md).
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


def export_archive(tracked, endpoints: dict) -> keras.export.ExportArchive:
    """An archive that holds `tracked` and serves `endpoints`.

    Args:
        tracked: The models and layers whose variables and lookup tables
            the endpoints use (each one built).
        endpoints: `{name: (fn, input_signature)}`; `fn` takes and returns
            tensors, `input_signature` is a list of named `tf.TensorSpec`s.

    Returns:
        A `keras.export.ExportArchive`.
    """
    archive = keras.export.ExportArchive()
    for item in tracked:
        archive.track(item)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name, fn, input_signature=signature)
    return archive


def class_answer(probabilities: tf.Tensor, class_names, unknown: tf.Tensor | None = None) -> dict:
    """A classifier's outputs: `probabilities` (batch, classes) and the likeliest `class` name (batch,).

    Args:
        unknown: Optional bool (batch,): rows with nothing to read, whose
            class is "" (their probabilities are NaN).
    """
    names = tf.gather(tf.constant(list(class_names)), tf.argmax(probabilities, axis=1))
    if unknown is not None:
        names = tf.where(unknown, "", names)
    return {"probabilities": probabilities, "class": names}
