"""Checkpoints inside an epoch, and a resume that trains only the batches not yet seen.

Public Keras API only: the callbacks below are plain `keras.callbacks.Callback`s
that own their state, the weights and optimizer state go through
`model.save_weights` / `model.load_weights`, and a resumed run re-enters
`model.fit` with `initial_epoch`.

A resumed run rebuilds the interrupted epoch's batch order and skips the
batches already trained on, so a kill costs at most `--checkpoint-every`
batches of work. The task pipelines are seeded: a shuffle (or a random
window offset) with `reshuffle_each_iteration` draws the next seed of its
sequence each time an iterator is created over it, so the order of an
epoch is fixed by how many iterators came before it. `model.fit` creates
two per epoch over data of known length (one at the epoch's start, one at
its end for the next epoch, which then makes its own: keras 3.15,
`EpochIterator`); the multi-worker loop creates one. `resume_segments`
creates as many before the resumed epoch, then skips the trained batches
(`tf.data.Dataset.skip`). With `steps_per_epoch` the training data is one
repeated stream instead, and the resume replays it up to its position
(every earlier batch passes through the input pipeline again, untrained). A test
checks that a run killed mid-epoch and resumed ends with the weights of the
run never killed, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable

import keras
import numpy as np

from zoo import rundir


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


def non_finite_advice(run_dir: str, learning_rate: float) -> str:
    """What to do after a NaN: the same command, gentler, resumes the last good checkpoint."""
    remedy = f"rerun with a lower --learning-rate (this run: {learning_rate:g}) or with --clipnorm 1.0"
    if rundir.checkpoint_metadata(run_dir) is not None:
        return f"{remedy} to resume from the last good checkpoint, kept in {run_dir}/{rundir.BACKUP_DIR}"
    return f"{remedy} (there is no checkpoint yet: it starts over)"


class EarlyStopping(keras.callbacks.Callback):
    """Stops after `patience` epochs without a lower `monitor`; keeps the best epoch's weights.

    The rule of `keras.callbacks.EarlyStopping(restore_best_weights=True)`,
    with a state of its own (`state()` / `set_state()`) that a checkpoint
    saves, so a resumed run stops where the uninterrupted one would.
    Training code calls `restore_best()` once the last epoch has run (a
    resumed run calls `fit` twice, and the first call's end is not the end).

    Args:
        monitor: The logged quantity, lower is better (e.g. `"val_loss"`).
        patience: Epochs without improvement before stopping.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3):
        super().__init__()
        self.monitor, self.patience = monitor, patience
        self.best, self.best_epoch, self.wait = math.inf, 0, 0
        self.stopped_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.best_weights is None:  # the first epoch is the best so far
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if current < self.best:
            self.best, self.best_epoch, self.wait = float(current), epoch, 0
            self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def restore_best(self, model: keras.Model) -> None:
        """Sets `model` to the best epoch's weights (where an epoch has ended)."""
        if self.best_weights is not None:
            model.set_weights(self.best_weights)

    def state(self) -> dict:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
        }

    def set_state(self, state: dict, best_weights: list[np.ndarray] | None) -> None:
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.wait, self.stopped_epoch = int(state["wait"]), state.get("stopped_epoch")
        self.best_weights = best_weights


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Where a checkpoint says training goes on."""

    epoch: int  # 0-based epoch training goes on in
    batches_done: int  # batches of that epoch in the weights (0: an epoch boundary)
    stopped: bool  # early stopping had ended the run (killed before model.keras was saved)


class RunCheckpoint(keras.callbacks.Callback):
    """Checkpoints atomically at every epoch's end and every `every` batches; restores a resume.

    The checkpoint (in `<run_dir>/backup/`) holds the weights and optimizer
    state (`model.save_weights`), and a metadata file: the epoch and the
    batches of it done, and the early-stopping state with the best epoch's
    weights. Non-finite weights are never checkpointed
    (`NonFiniteLossError`). Where a checkpoint exists at construction,
    `point` says where it resumes, and the first `on_train_begin` restores
    it (`model.load_weights`, once the optimizer is built).

    Args:
        run_dir: The run directory.
        every: Also checkpoint every N training batches (0: at epoch ends only).
        early_stopping: The run's `EarlyStopping`, whose state is saved.
        learning_rate: Set after the restore, where a resumed run changed it.
    """

    def __init__(self, run_dir: str, every: int = 0, early_stopping=None, learning_rate=None):
        super().__init__()
        self.run_dir, self.every = run_dir, every
        self.backup_dir = os.path.join(run_dir, rundir.BACKUP_DIR)
        self.early_stopping, self.learning_rate = early_stopping, learning_rate
        metadata = rundir.checkpoint_metadata(run_dir)
        self.metadata = metadata
        self.point = None
        if metadata is not None:
            stopped = (metadata.get("early_stopping") or {}).get("stopped_epoch") is not None
            self.point = ResumePoint(metadata["epoch"], metadata.get("batches_done", 0), stopped)
        self.epoch, self.batches_done, self.since_save = 0, 0, 0

    def on_train_begin(self, logs=None):
        if self.metadata is None:
            return
        metadata, self.metadata = self.metadata, None  # restored once, by the first fit of a resume
        try:
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:  # its variables must exist to be loaded
                optimizer.build(self.model.trainable_variables)
            self.model.load_weights(os.path.join(self.backup_dir, rundir.CHECKPOINT_WEIGHTS))
            state = metadata.get("early_stopping")
            if self.early_stopping is not None and state:
                best = state.get("best_weights")
                best = rundir.load_arrays(os.path.join(self.backup_dir, best)) if best else None
                self.early_stopping.set_state(state, best)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise rundir.RunError(
                f"the checkpoint in {self.backup_dir} cannot be restored ({err.__class__.__name__}: "
                f"{str(err)[:200]}); pass --overwrite to start the run over"
            ) from None
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate = self.learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        # The first epoch of a resume starts after the batches already done.
        point = self.point
        self.batches_done = point.batches_done if point and epoch == point.epoch else 0
        self.point = None if point and epoch >= point.epoch else point

    def on_train_batch_end(self, batch, logs=None):
        self.batches_done += 1
        self.since_save += 1
        # Not after the epoch's last batch: the epoch-end checkpoint follows
        # validation, and a resume "after the last batch" would train no batch.
        last = batch + 1 == self.params.get("steps")
        if self.every and self.since_save >= self.every and not last:
            self.save(self.epoch, self.batches_done)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)  # after early stopping's verdict on this epoch

    def save(self, epoch: int, batches_done: int) -> None:
        """Writes the checkpoint: weights first, then the metadata that points at them."""
        self.since_save = 0
        weights = self.model.get_weights()
        if not all(np.isfinite(w).all() for w in weights if np.issubdtype(w.dtype, np.floating)):
            where = f"epoch {self.epoch + 1}, batch {self.batches_done}"
            rate = float(np.asarray(self.model.optimizer.learning_rate))
            raise NonFiniteLossError(
                f"the weights became NaN or infinite at {where}; {non_finite_advice(self.run_dir, rate)}"
            )
        os.makedirs(self.backup_dir, exist_ok=True)
        metadata = {"epoch": epoch, "batches_done": batches_done}
        es = self.early_stopping
        if es is not None and es.best_weights is not None:
            best_file = f"best-epoch{es.best_epoch + 1}.npz"
            if not os.path.exists(os.path.join(self.backup_dir, best_file)):
                rundir.save_arrays(os.path.join(self.backup_dir, best_file), es.best_weights)
            metadata["early_stopping"] = es.state() | {"best_weights": best_file}
        # Weights first: a kill between the two leaves newer weights with the
        # older metadata, which trains a few batches twice, never skips one.
        rundir.save_weights(self.model, os.path.join(self.backup_dir, rundir.CHECKPOINT_WEIGHTS))
        rundir.write_json(os.path.join(self.backup_dir, rundir.CHECKPOINT_METADATA), metadata)
        keep = metadata.get("early_stopping", {}).get("best_weights")
        for name in os.listdir(self.backup_dir):  # best weights of earlier epochs
            if name.startswith("best-epoch") and name != keep:
                os.remove(os.path.join(self.backup_dir, name))


@dataclasses.dataclass
class Segment:
    """One `fit` call of a run: its training data and epochs."""

    train: object  # tf.data.Dataset
    initial_epoch: int
    epochs: int
    steps_per_epoch: int | None


def advance(dataset, iterators: int) -> None:
    """Draws the next `iterators` shuffling seeds of `dataset` (creating an iterator draws one)."""
    for _ in range(iterators):
        iterator = iter(dataset)
        del iterator


def resume_segments(
    load_train: Callable[[], object],
    point: ResumePoint | None,
    epochs: int,
    steps_per_epoch: int | None,
    iterators_per_epoch: int = 2,
) -> list[Segment]:
    """The `fit` calls that train a run from `point` (None: from the start) to `epochs`.

    Args:
        load_train: Returns a freshly built training dataset (its seeds
            unused), e.g. by loading the task again.
        point: Where the checkpoint resumes.
        epochs: The run's epochs.
        steps_per_epoch: The run's cap on batches per epoch: the training
            data is then one repeated stream.
        iterators_per_epoch: Iterators the training loop creates over the
            data per epoch: 2 for `model.fit`, 1 for the multi-worker loop.

    Returns:
        One segment, or two where the resume starts inside an epoch (that
        epoch's remaining batches, then the epochs after it). A run with
        nothing left to train gets one segment of no epochs, whose
        `on_train_begin` still restores the checkpoint.
    """
    epoch, done = (point.epoch, point.batches_done) if point else (0, 0)
    if (point is not None and point.stopped) or epoch >= epochs:
        # Nothing left to train: a fit of no epochs restores the checkpoint.
        return [Segment(load_train(), epochs, epochs, steps_per_epoch)]

    def segment(epoch: int, skip: int, last: int) -> Segment:
        train = load_train()
        if steps_per_epoch:
            stream = train.repeat()
            position = epoch * steps_per_epoch + skip
            return Segment(stream.skip(position) if position else stream, epoch, last, steps_per_epoch - skip)
        advance(train, iterators_per_epoch * epoch)
        return Segment(train.skip(skip) if skip else train, epoch, last, None)

    if not done:
        return [segment(epoch, 0, epochs)]
    first = segment(epoch, done, epoch + 1)
    return [first] + ([segment(epoch + 1, 0, epochs)] if epoch + 1 < epochs else [])
