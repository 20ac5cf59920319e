"""Training with `model.fit` and callbacks, into a run directory that survives a kill.

On one device, or data-parallel with tf.distribute (zoo/distribute.py).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np

import datasets
import models
from models.compile import compile_model, loss_and_metrics
from zoo import cluster, collectives, distribute, multiworker, plots, run_transfer, rundir, worker_loss
from zoo import config as config_lib


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


def non_finite_advice(run_dir: str, learning_rate: float) -> str:
    """What to do after a NaN: the same command, gentler, resumes the last good checkpoint."""
    remedy = f"rerun with a lower --learning-rate (this run: {learning_rate:g}) or with --clipnorm 1.0"
    if rundir.checkpoint_metadata(run_dir) is not None:
        return f"{remedy} to resume from the last good checkpoint, kept in {run_dir}/{rundir.BACKUP_DIR}"
    return f"{remedy} (there is no checkpoint yet: it starts over)"


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises at the first NaN/inf loss, naming epoch and batch.

    Keras's own `TerminateOnNaN()` ends training "gracefully", which makes
    `BackupAndRestore` delete its checkpoints; raising keeps them. It comes
    before the checkpoint callback, so the bad batch is never checkpointed.
    """

    def __init__(self, run_dir: str, learning_rate: float):
        super().__init__()
        self.run_dir = run_dir
        self.learning_rate = learning_rate
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Keras logs the epoch's running mean: it turns NaN at the first NaN batch.
        self._check(
            (logs or {}).get("loss"), f"loss became {{}} at epoch {self.epoch + 1}, batch {batch + 1}"
        )

    def on_epoch_end(self, epoch, logs=None):
        self._check((logs or {}).get("val_loss"), f"validation loss became {{}} at epoch {epoch + 1}")

    def _check(self, value, what: str):
        if value is not None and not math.isfinite(float(value)):
            advice = non_finite_advice(self.run_dir, self.learning_rate)
            raise NonFiniteLossError(f"{what.format(float(value))}; {advice}")


class CosineLearningRate(keras.callbacks.Callback):
    """Sets the rate at each epoch's start: `base * (1 + cos(pi * epoch / epochs)) / 2`.

    A function of the epoch alone, so a resumed run gets the same rates as an
    uninterrupted one. Epoch 0 trains at `base`; the last epoch at a small
    fraction of it.
    """

    def __init__(self, base: float, epochs: int):
        super().__init__()
        self.base, self.epochs = base, epochs

    def rate(self, epoch: int) -> float:
        return self.base * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.rate(epoch)  # into history.csv


class RunCheckpoint(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that checkpoints atomically, every epoch and every N batches.

    What it changes in Keras's callback (3.15):

    * With an integer `save_freq`, Keras checkpoints only every N batches,
      never at the end of an epoch; this one does both.
    * Keras writes the weights file and the metadata in place (a kill during
      the write corrupts them); this one writes both atomically, weights first.
    * It refuses to checkpoint non-finite weights (raising
      `NonFiniteLossError`), so the checkpoint is always a good one.
    * It keeps the early-stopping state (best loss, its epoch and weights,
      patience used) in the checkpoint, so that a resumed run stops, and
      restores the best weights, as the uninterrupted run would.

    Like Keras's, it restores the weights and optimizer state of the last
    checkpoint and restarts that epoch from its first batch.
    """

    def __init__(self, run_dir: str, save_freq, early_stopping=None, learning_rate=None):
        super().__init__(
            os.path.join(run_dir, rundir.BACKUP_DIR),
            save_freq=save_freq,
            double_checkpoint=False,  # atomic writes: the latest checkpoint is always whole
            delete_checkpoint=False,  # deleted by train(), only once model.keras is saved
        )
        self.run_dir = run_dir
        self.early_stopping = early_stopping
        self.learning_rate = learning_rate  # set after a restore, when the resume changed it
        self._epoch_batches = 0

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)  # restores weights, optimizer state and the epoch
        except (OSError, ValueError, KeyError) as err:
            raise rundir.RunError(
                f"the checkpoint in {self.backup_dir} cannot be restored ({err.__class__.__name__}: "
                f"{str(err)[:200]}); pass --overwrite to start the run over"
            ) from None
        metadata = rundir.checkpoint_metadata(self.run_dir)
        if metadata is None:
            return
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate = self.learning_rate
        state = metadata.get("early_stopping")
        if self.early_stopping is not None and state:
            es = self.early_stopping  # on_train_begin has reset it; it comes earlier in the list
            es.best, es.best_epoch, es.wait = state["best"], state["best_epoch"], state["wait"]
            if state.get("best_weights"):
                es.best_weights = rundir.load_arrays(os.path.join(self.backup_dir, state["best_weights"]))
            if state.get("stopped_epoch"):  # killed after early stopping, before model.keras
                es.stopped_epoch = state["stopped_epoch"]
                self.model._initial_epoch = self.params["epochs"]

    def on_epoch_begin(self, epoch, logs=None):
        # Keras counts epochs from 0 again after a restore, until the first
        # epoch ends: a checkpoint in a resumed epoch would name epoch 1.
        self._current_epoch = epoch
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_batches = batch + 1
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_batches = 0
        super().on_epoch_end(epoch, logs)  # moves to the next epoch; saves when save_freq == "epoch"
        if self.save_freq != "epoch":
            self._save_model()
            self._batches_seen_since_last_saving = 0  # the next one N batches into the next epoch

    def _save_model(self):
        weights = self.model.get_weights()
        if not all(np.isfinite(w).all() for w in weights if np.issubdtype(w.dtype, np.floating)):
            raise NonFiniteLossError(
                f"the weights became NaN or infinite at epoch {self._current_epoch + 1}, "
                f"batch {self._epoch_batches}; "
                + non_finite_advice(self.run_dir, float(np.asarray(self.model.optimizer.learning_rate)))
            )
        os.makedirs(self.backup_dir, exist_ok=True)
        metadata = {
            "epoch": self._current_epoch,  # the epoch to restart (Keras's key)
            "batches_done": self._epoch_batches,  # of it, in the weights (0: a boundary)
        }
        es = self.early_stopping
        if es is not None and es.best is not None:
            best_file = None
            if es.best_weights is not None:
                best_file = f"best-epoch{es.best_epoch + 1}.npz"
                if not os.path.exists(os.path.join(self.backup_dir, best_file)):
                    rundir.save_arrays(os.path.join(self.backup_dir, best_file), es.best_weights)
            metadata["early_stopping"] = {
                "best": float(es.best),
                "best_epoch": es.best_epoch,
                "wait": es.wait,
                "stopped_epoch": es.stopped_epoch,
                "best_weights": best_file,
            }
        # Weights first: a kill between the two leaves newer weights with the
        # older metadata, which replays a little more, never less.
        rundir.save_weights(self.model, self._weights_path)
        rundir.write_json(self._training_metadata_path, metadata)
        keep = metadata.get("early_stopping", {}).get("best_weights")
        for name in os.listdir(self.backup_dir):  # best weights of earlier epochs
            if name.startswith("best-epoch") and name != keep:
                os.remove(os.path.join(self.backup_dir, name))


class HistoryFile(keras.callbacks.Callback):
    """Writes history.csv atomically after every epoch, continuing a resumed run."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.rows: list[dict[str, str]] = []
        self.loaded = False

    def on_epoch_begin(self, epoch, logs=None):
        # Read at the first epoch, when the checkpoint has set where training
        # resumes: rows of epochs to be replayed are dropped.
        if not self.loaded and os.path.exists(self.path):
            with open(self.path, newline="", encoding="utf-8") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= epoch]
        self.loaded = True
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if int(r["epoch"]) != epoch + 1]
        seconds = time.perf_counter() - self.epoch_start  # training and validation, wall clock
        row = {"epoch": str(epoch + 1)} | {k: f"{float(v):.6g}" for k, v in (logs or {}).items()}
        self.rows.append(row | {"seconds": f"{seconds:.2f}"})
        rundir.write_text(self.path, rows_to_csv(self.rows))


def rows_to_csv(rows: list[dict[str, str]]) -> str:
    fields = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def build_model(config, spec) -> keras.Model:
    """Builds the registered model for the task and compiles it unless it compiles itself."""
    entry = models.get_model(config.model)
    model = entry.build(config, spec, config.api)
    return model if entry.compiles else compile_model(model, config, spec)


def train(
    config: config_lib.TrainConfig,
    overwrite: bool = False,
    flags: dict | None = None,
    announced: bool = False,
    extra_callbacks: tuple = (),
) -> str:
    """Trains `config` into its run directory and returns the directory.

    Resumes an unfinished run in the same directory from its last checkpoint
    (weights, optimizer state, early-stopping state; the interrupted epoch
    restarts from its first batch).

    With `config.distribute` set, trains data-parallel (zoo/distribute.py):
    the same model, task, callbacks and run directory. Of the workers of a
    multi-worker run only the chief writes the run directory; the others
    write the same files to a temporary directory, removed at the end (saving
    takes collective steps that every worker must join).

    Args:
        config: The resolved settings.
        overwrite: Replace a finished run in the directory.
        flags: The command-line flags as given, kept in config.json so that
            the same command is recognised before TensorFlow starts.
        announced: The caller has already printed the resume line.
        extra_callbacks: More Keras callbacks, after the run's own (benchmarks).
    """
    # The strategy first: the CPU split and MultiWorkerMirroredStrategy are
    # possible only before TensorFlow initialises its devices.
    strategy = distribute.make_strategy(config.distribute)
    role = cluster.worker_role(config.distribute)
    run_dir = rundir.default_run_dir(config)
    config.run_dir = run_dir
    out_dir = run_dir if role.chief else tempfile.mkdtemp(prefix=f"rnn-zoo-worker{role.index}-")
    try:
        with worker_loss.worker_losses(role) if role.workers > 1 else contextlib.nullcontext():
            _train(config, strategy, role, out_dir, overwrite, flags, announced, extra_callbacks)
    finally:
        if not role.chief:
            shutil.rmtree(out_dir, ignore_errors=True)
    return run_dir


def _train(config, strategy, role, out_dir, overwrite, flags, announced, extra_callbacks) -> None:
    """train() into `out_dir`: the run directory, or a temporary one on a worker that is not the chief."""
    run_dir = config.run_dir
    if strategy is not None:
        distribute.check_batch(strategy, config.batch_size)
    if role.workers > 1:
        # Every machine may keep its data and the run elsewhere; the rest must agree.
        settings = {
            k: v for k, v in config_lib.to_json(config)["config"].items() if k not in ("data_dir", "run_dir")
        }
        collectives.check_same(strategy, role, "settings", settings)
        resume = run_transfer.prepare_everywhere(
            strategy, role, run_dir, out_dir, lambda where: rundir.prepare(where, config, overwrite)
        )
    else:
        resume = rundir.prepare(out_dir, config, overwrite)
    if resume and not announced and role.chief:
        print(resume.message(run_dir), flush=True)
    if strategy is not None and role.chief:
        print(distribute.describe(strategy, role, config.batch_size), flush=True)
    # Same seed, same weights and batches: bit-identical runs on CPU. (TF's
    # enable_op_determinism() would also switch XLA off; the CPU kernels we
    # use are deterministic without it, and a test checks that.) Every worker
    # of a multi-worker run shuffles alike, and keeps its own part of each batch.
    keras.utils.set_random_seed(config.seed)

    task = datasets.get_task(config.task)
    state_path = os.path.join(out_dir, rundir.STATE_FILE)
    state = rundir.read_json(state_path) if resume and os.path.exists(state_path) else None
    data = task.load(config, state)
    if role.workers > 1:
        collectives.check_same(strategy, role, "task data (vocabulary, characters)", data.state)
    rundir.write_json(state_path, data.state)
    saved = config_lib.to_json(config) | {"flags": flags}
    rundir.write_json(os.path.join(out_dir, rundir.CONFIG_FILE), saved | {"finished": False})

    # Seeded again: a first run that generates or prepares the data draws
    # random numbers while loading, and the initial weights must not depend on that.
    keras.utils.set_random_seed(config.seed)
    with distribute.scope(strategy):  # variables become mirrored across replicas (and workers)
        # XLA cannot compile the cross-device steps of tf.distribute (Keras's
        # own "auto" turns it off there too); the saved config keeps the setting.
        model = build_model(dataclasses.replace(config, jit_compile=False) if strategy else config, data.spec)
    _, _, monitor = loss_and_metrics(data.spec, config.one_hot_labels)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=config.patience, restore_best_weights=True
    )
    cosine = config.lr_schedule == "cosine"
    schedule = [CosineLearningRate(config.learning_rate, config.epochs)] if cosine else []
    # Order matters: the NaN check before anything is saved; early stopping
    # and the history before the checkpoint that records them.
    callbacks = [
        StopOnNonFiniteLoss(run_dir, config.learning_rate),
        *schedule,
        early_stopping,
        HistoryFile(os.path.join(out_dir, rundir.HISTORY_FILE)),
        RunCheckpoint(
            out_dir,
            save_freq=config.checkpoint_every or "epoch",
            early_stopping=early_stopping,
            learning_rate=config.learning_rate if resume and "learning_rate" in resume.changed else None,
        ),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")),
        *extra_callbacks,
    ]
    train_ds = data.train.repeat() if config.steps_per_epoch else data.train
    # Progress bars for people, lines for logs; the chief alone reports.
    verbose = (2 if os.environ.get("CI") else "auto") if role.chief else 0
    if config.distribute == "multiworker":  # model.fit fails there (keras-team/keras#20585)
        multiworker.fit(
            model,
            strategy,
            train_ds,
            data.val,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            initial_epoch=resume.epoch if resume else 0,
        )
    else:
        model.fit(
            train_ds,
            validation_data=data.val,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the task's pipeline shuffles, seeded; Keras cannot shuffle a tf.data.Dataset
        )
    if role.workers > 1:
        weights = collectives.check_in_sync(strategy, model, "ended")
        print(
            f"Worker {role.index} of {role.workers}: weights {weights}, the same on every worker.", flush=True
        )
    # EarlyStopping has restored the weights of the best validation epoch.
    rundir.save_model(model, os.path.join(out_dir, rundir.MODEL_FILE))
    plots.save_curves(os.path.join(out_dir, rundir.HISTORY_FILE), os.path.join(out_dir, "curves.png"))
    rundir.write_json(os.path.join(out_dir, rundir.CONFIG_FILE), saved | {"finished": True})
    shutil.rmtree(os.path.join(out_dir, rundir.BACKUP_DIR), ignore_errors=True)
