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

import datasets
import models
from models.compile import compile_model, loss_and_metrics
from zoo import (
    cli,
    cluster,
    collectives,
    distribute,
    init_from,
    multiworker,
    plots,
    run_transfer,
    rundir,
    worker_loss,
)
from zoo import config as config_lib
from zoo.checkpoint import (
    EarlyStopping,
    NonFiniteLossError,
    RunCheckpoint,
    non_finite_advice,
    resume_segments,
)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises at the first NaN/inf loss, naming epoch and batch.

    Keras's own `TerminateOnNaN()` ends training "gracefully", as if it had
    finished; raising keeps the last checkpoint for a resume. It comes
    before the checkpoint callback, so the bad batch is never checkpointed.
    `batch_offset`: batches of the epoch trained before this `fit` (a resume).
    """

    def __init__(self, run_dir: str, learning_rate: float):
        super().__init__()
        self.run_dir = run_dir
        self.learning_rate = learning_rate
        self.epoch = 0
        self.batch_offset = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.batch_offset = 0
        self._check((logs or {}).get("val_loss"), f"validation loss became {{}} at epoch {epoch + 1}")

    def on_train_batch_end(self, batch, logs=None):
        # Keras logs the epoch's running mean: it turns NaN at the first NaN batch.
        where = f"epoch {self.epoch + 1}, batch {self.batch_offset + batch + 1}"
        self._check((logs or {}).get("loss"), f"loss became {{}} at {where}")

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
    (weights, optimizer state, early-stopping state), inside the interrupted
    epoch: only the batches it had not trained on (zoo/checkpoint.py).

    With `config.distribute` set, trains data-parallel (zoo/distribute.py):
    the same model, task, callbacks and run directory. Of the workers of a
    multi-worker run only the chief writes the run directory; the others
    write the same files to a temporary directory, removed at the end (saving
    takes collective steps that every worker must join).

    Args:
        config: The resolved settings.
        overwrite: Replace a finished run in the directory.
        flags: The command-line flags as given, kept in config.json so that
            the same command is recognised before anything loads.
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
    if config.init_from:
        init_from.check_not_itself(config.init_from, run_dir)  # before --overwrite could remove it
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
    # A resumed run has RUN's state in its own state file and RUN's weights in its checkpoint.
    source = init_from.open_source(config.init_from) if config.init_from and not resume else None
    if source:
        state = task.adopt_state(config, source.config, source.state)
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
        if source:
            report = init_from.initialise(model, source)
            if role.chief:
                print(report, flush=True)
    _, _, monitor = loss_and_metrics(data.spec, config.one_hot_labels)
    early_stopping = EarlyStopping(monitor=monitor, patience=config.patience)
    checkpoint = RunCheckpoint(
        out_dir,
        every=config.checkpoint_every,
        early_stopping=early_stopping,
        learning_rate=config.learning_rate if resume and "learning_rate" in resume.changed else None,
    )
    nan_check = StopOnNonFiniteLoss(run_dir, config.learning_rate)
    cosine = config.lr_schedule == "cosine"
    schedule = [CosineLearningRate(config.learning_rate, config.epochs)] if cosine else []
    # Order matters: the NaN check before anything is saved; early stopping
    # and the history before the checkpoint that records them.
    callbacks = [
        nan_check,
        *schedule,
        early_stopping,
        HistoryFile(os.path.join(out_dir, rundir.HISTORY_FILE)),
        checkpoint,
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")),
        *extra_callbacks,
    ]
    fresh = [data.train]  # the loaded training data, then a new copy for each later fit

    def load_train():
        return fresh.pop() if fresh else task.load(config, data.state, splits=("train",)).train

    own_loop = config.distribute == "multiworker"  # model.fit fails there (keras-team/keras#20585)
    segments = resume_segments(
        load_train,
        checkpoint.point,
        config.epochs,
        config.steps_per_epoch,
        iterators_per_epoch=1 if own_loop else 2,
    )
    # Progress bars for people, lines for logs; the chief alone reports.
    verbose = cli.keras_verbose() if role.chief else 0
    for segment in segments:
        nan_check.batch_offset = checkpoint.point.batches_done if checkpoint.point else 0
        if own_loop:
            multiworker.fit(
                model,
                strategy,
                segment.train,
                data.val,
                initial_epoch=segment.initial_epoch,
                epochs=segment.epochs,
                steps_per_epoch=segment.steps_per_epoch,
                callbacks=callbacks,
                verbose=verbose,
            )
        else:
            model.fit(
                segment.train,
                validation_data=data.val,
                initial_epoch=segment.initial_epoch,
                epochs=segment.epochs,
                steps_per_epoch=segment.steps_per_epoch,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the task's pipeline shuffles, seeded; Keras cannot shuffle a tf.data.Dataset
            )
        if model.stop_training:  # early stopping
            break
    early_stopping.restore_best(model)  # the weights of the best validation epoch
    if role.workers > 1:
        weights = collectives.check_in_sync(strategy, model, "ended")
        print(
            f"Worker {role.index} of {role.workers}: weights {weights}, the same on every worker.", flush=True
        )
    rundir.save_model(model, os.path.join(out_dir, rundir.MODEL_FILE))
    plots.save_curves(os.path.join(out_dir, rundir.HISTORY_FILE), os.path.join(out_dir, "curves.png"))
    rundir.write_json(os.path.join(out_dir, rundir.CONFIG_FILE), saved | {"finished": True})
    shutil.rmtree(os.path.join(out_dir, rundir.BACKUP_DIR), ignore_errors=True)
