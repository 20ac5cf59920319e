"""Training with `model.fit` and callbacks, into a run directory."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil

import keras

import datasets
import models
from models.compile import compile_model, loss_and_metrics
from zoo import config as config_lib
from zoo import plots, rundir


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last checkpoint is kept."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises at the first NaN/inf batch loss, naming epoch and batch.

    Keras's own `TerminateOnNaN()` ends training "gracefully", which makes
    `BackupAndRestore` delete its checkpoints; raising keeps them.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1}; "
                "try a lower --learning-rate or --clipnorm 1.0 (the last good checkpoint is kept)"
            )


class HistoryFile(keras.callbacks.Callback):
    """Writes history.csv atomically after every epoch, continuing a resumed run."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.rows: list[dict[str, str]] = []

    def on_train_begin(self, logs=None):
        # After a resume, BackupAndRestore has set the epoch to start from.
        start = getattr(self.model, "_initial_epoch", 0) or 0
        if os.path.exists(self.path):
            with open(self.path, newline="", encoding="utf-8") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= start]

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if int(r["epoch"]) != epoch + 1]
        self.rows.append({"epoch": str(epoch + 1)} | {k: f"{float(v):.6g}" for k, v in (logs or {}).items()})
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


def train(config: config_lib.TrainConfig, overwrite: bool = False) -> str:
    """Trains `config` into its run directory and returns the directory.

    Resumes an unfinished run in the same directory from its last checkpoint
    (weights, optimizer state, epoch).
    """
    run_dir = rundir.default_run_dir(config)
    config.run_dir = run_dir
    resume = rundir.prepare(run_dir, config, overwrite)
    if resume:
        print(f"Resuming the unfinished run in {run_dir} from its last checkpoint.", flush=True)
    # Same seed, same weights and batches: bit-identical runs on CPU. (TF's
    # enable_op_determinism() would also switch XLA off; the CPU kernels we
    # use are deterministic without it, and a test checks that.)
    keras.utils.set_random_seed(config.seed)

    task = datasets.get_task(config.task)
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE)) if resume else None
    data = task.load(config, state)
    rundir.write_json(os.path.join(run_dir, rundir.STATE_FILE), data.state)
    rundir.write_json(
        os.path.join(run_dir, rundir.CONFIG_FILE), config_lib.to_json(config) | {"finished": False}
    )

    model = build_model(config, data.spec)
    _, _, monitor = loss_and_metrics(data.spec, config.one_hot_labels)
    history_path = os.path.join(run_dir, rundir.HISTORY_FILE)
    callbacks = [
        keras.callbacks.BackupAndRestore(
            os.path.join(run_dir, rundir.BACKUP_DIR),
            save_freq=config.checkpoint_every or "epoch",
            double_checkpoint=True,  # a kill during a checkpoint leaves the previous one
            delete_checkpoint=False,  # deleted below, only once model.keras is saved
        ),
        StopOnNonFiniteLoss(),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience, restore_best_weights=True),
        HistoryFile(history_path),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")),
    ]
    train_ds = data.train.repeat() if config.steps_per_epoch else data.train
    model.fit(
        train_ds,
        validation_data=data.val,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=callbacks,
        verbose=2 if os.environ.get("CI") else "auto",  # progress bars for people, lines for logs
    )
    # EarlyStopping has restored the weights of the best validation epoch.
    rundir.save_model(model, os.path.join(run_dir, rundir.MODEL_FILE))
    plots.save_curves(history_path, os.path.join(run_dir, "curves.png"))
    rundir.write_json(
        os.path.join(run_dir, rundir.CONFIG_FILE), config_lib.to_json(config) | {"finished": True}
    )
    shutil.rmtree(os.path.join(run_dir, rundir.BACKUP_DIR), ignore_errors=True)
    return run_dir
