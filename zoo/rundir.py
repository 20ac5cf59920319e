"""The run directory: its files, refusal to clobber, resuming, safe loading.

Every file of a run is written atomically (zoo/files.py).

This module imports Keras only where a model is saved or loaded, so that
train.py announces a resume before the data and the model load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from zoo import config as config_lib
from zoo.files import (  # noqa: F401  (the run's files are written through rundir)
    atomic_path,
    load_arrays,
    remove_leftovers,
    save_arrays,
    save_figure,
    save_model,
    save_weights,
    write_json,
    write_text,
)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
STATE_FILE = "task_state.json"
HISTORY_FILE = "history.csv"
BACKUP_DIR = "backup"  # the checkpoints of an unfinished run
CHECKPOINT_WEIGHTS = "latest.weights.h5"  # weights and optimizer state
CHECKPOINT_METADATA = "training_metadata.json"  # where training resumes
RUN_FILES = (
    MODEL_FILE,
    CONFIG_FILE,
    STATE_FILE,
    HISTORY_FILE,
    "curves.png",
    "metrics.json",
    "forecast.png",
    "forecast.csv",
    "confusion.png",
    "samples.txt",
    BACKUP_DIR,
    "logs",
)
# Settings that may differ when an unfinished run resumes: the optimizer's
# step size and clipping (the remedies for a NaN loss) and where things are.
# Anything else changes the model or the data, and a checkpoint would not fit.
RESUME_MAY_CHANGE = ("learning_rate", "clipnorm", "data_dir", "run_dir")
# The first bytes of an HDF5 file (a legacy Keras model, whatever its name).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class RunError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why."""


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"cannot read {path}: {err.__class__.__name__}: {err}") from None


def default_run_dir(config) -> str:
    return config.run_dir or os.path.join("runs", config.task, config.model)


@dataclasses.dataclass
class Resume:
    """Where an unfinished run resumes, read from its checkpoint.

    The resumed run goes on inside `epoch`, after the `batches_done`
    batches of it that the checkpoint's weights have seen
    (zoo/checkpoint.py).
    """

    epoch: int  # 0-based index of the epoch training restarts
    batches_done: int  # batches of that epoch already in the weights (0: an epoch boundary)
    epochs: int  # the run's --epochs
    changed: dict = dataclasses.field(default_factory=dict)  # setting -> (saved, now)

    def message(self, run_dir: str) -> str:
        where = f"Resuming the unfinished run in {run_dir} from its last checkpoint"
        if self.batches_done:
            where += (
                f" (epoch {self.epoch + 1} of {self.epochs}, after batch {self.batches_done};"
                f" it goes on from batch {self.batches_done + 1})"
            )
        else:
            where += f" (after epoch {self.epoch} of {self.epochs})"
        changes = [
            f"--{k.replace('_', '-')} {'off' if old is None else old} -> {'off' if new is None else new}"
            for k, (old, new) in self.changed.items()
        ]
        return where + (f"; now with {', '.join(changes)}" if changes else "") + "."


def checkpoint_metadata(run_dir) -> dict | None:
    """The metadata of a run's checkpoint, or None where it has none."""
    backup = Path(run_dir) / BACKUP_DIR
    if not (backup / CHECKPOINT_WEIGHTS).is_file() or not (backup / CHECKPOINT_METADATA).is_file():
        return None
    try:
        data = json.loads((backup / CHECKPOINT_METADATA).read_text(encoding="utf-8"))
        return data if isinstance(data.get("epoch"), int) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _resume(run_dir, saved: dict, changed: dict) -> Resume | None:
    meta = checkpoint_metadata(run_dir)
    if meta is None:
        return None
    return Resume(meta["epoch"], meta.get("batches_done", 0), saved["config"]["epochs"], changed)


def peek_resume(run_dir: str, flags: dict) -> str | None:
    """The resume line, when `run_dir` holds an unfinished run started with the same `flags`.

    Cheap (no TensorFlow), so that train.py prints it first. `prepare()`
    makes the real decision, also for commands that differ but resolve to the
    same settings.
    """
    try:
        data = json.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
        if (
            data.get("finished")
            or data.get("flags") != flags
            or data.get("version") != config_lib.CONFIG_VERSION
        ):
            return None
        resume = _resume(run_dir, data, {})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return resume.message(run_dir) if resume else None


def _describe(data: dict) -> str:
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    return f"{config.get('task', '?')}/{config.get('model', '?')}"


def prepare(run_dir: str, config, overwrite: bool) -> Resume | None:
    """Makes `run_dir` ready for training `config`.

    Returns:
        Where to resume, when an unfinished run with the same settings (but
        for `RESUME_MAY_CHANGE`) has a checkpoint there; else None.

    Raises:
        RunError: a finished run is there (and not `overwrite`), an
            unfinished one with other settings or from another version, or
            the directory cannot be created or written.
    """
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise RunError(f"--run-dir {run_dir} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create run directory {run_dir}: {err.strerror}") from None
    try:  # os.access() says yes to root even on a read-only file system
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise RunError(f"run directory {run_dir} is not writable ({err.strerror})") from None
    remove_leftovers(path)
    if (path / BACKUP_DIR).is_dir():
        remove_leftovers(path / BACKUP_DIR)

    saved = path / CONFIG_FILE
    if overwrite:
        for name in RUN_FILES:
            target = path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        return None
    if not saved.exists():
        if (path / MODEL_FILE).exists() or (path / HISTORY_FILE).exists():
            raise RunError(
                f"{run_dir} holds run files but no {CONFIG_FILE}; "
                "pass --overwrite to replace them, or choose another --run-dir"
            )
        shutil.rmtree(path / BACKUP_DIR, ignore_errors=True)  # nothing to resume: no stray checkpoint
        return None
    data = read_json(saved)
    if not isinstance(data, dict) or data.get("version") != config_lib.CONFIG_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise RunError(
            f"{run_dir} holds a run from another version of the zoo (config version {version!r}, "
            f"this one writes {config_lib.CONFIG_VERSION}); pass --overwrite to replace it, "
            "or choose another --run-dir"
        )
    if data.get("finished"):
        raise RunError(
            f"{run_dir} already holds a finished run ({_describe(data)}); pass --overwrite to replace it "
            f"(evaluate it with: python evaluate.py {run_dir})"
        )
    old = data.get("config") if isinstance(data.get("config"), dict) else {}
    new = config_lib.to_json(config)["config"]
    differ = [k for k in new if old.get(k, "(absent)") != new[k]]
    blocking = [k for k in differ if k not in RESUME_MAY_CHANGE]
    if blocking:
        shown = "; ".join(f"{k}: {old.get(k, '(absent)')!r} there, {new[k]!r} now" for k in blocking[:4])
        raise RunError(
            f"{run_dir} holds an unfinished {_describe(data)} run with other settings ({shown}); "
            "rerun its own command to resume it, pass --overwrite to start over, "
            "or choose another --run-dir"
        )
    changed = {k: (old[k], new[k]) for k in differ if k in ("learning_rate", "clipnorm")}
    resume = _resume(path, data, changed)
    if resume is None:  # killed before its first checkpoint: it starts over
        shutil.rmtree(path / BACKUP_DIR, ignore_errors=True)
    return resume


def load_config(run_dir: str, script: str = "evaluate.py"):
    """Reads a run's config.json; RunError if the directory holds no run.

    Args:
        script: The command that reads it, for the message about a file.
    """
    path = Path(run_dir)
    if path.is_file():
        raise RunError(f"{run_dir} is a file; {script} takes a run directory written by train.py")
    if not path.is_dir():
        raise RunError(f"run directory {run_dir} does not exist")
    if not (path / CONFIG_FILE).exists():
        raise RunError(f"{run_dir} holds no run (no {CONFIG_FILE})")
    data = read_json(path / CONFIG_FILE)
    if not isinstance(data, dict):
        raise RunError(f"{path / CONFIG_FILE} is not a run configuration")
    try:
        return config_lib.from_json(data, str(path / CONFIG_FILE)), data
    except (TypeError, ValueError) as err:
        raise RunError(str(err)) from None


def load_finished(run_dir: str, action: str, script: str | None = None):
    """`load_config` for a finished run; RunError for one still training or interrupted.

    Args:
        action: What is refused, for the message ("evaluate", "export").
        script: The command, for the message about a file; `ACTION.py` by default.
    """
    from zoo import runlock

    who = runlock.holder(run_dir)  # first: a run starting to train has no config.json yet
    if who:
        raise RunError(f"{run_dir} is still training ({who}); {action} it once it has finished")
    config, saved = load_config(run_dir, script or f"{action}.py")
    if not saved.get("finished"):
        raise RunError(
            f"{run_dir} holds an unfinished run (interrupted): rerun its train.py command to resume it"
        )
    return config, saved


def load_model(path):
    """Loads a `.keras` file in safe mode, with one clear line for bad files.

    Never loads with `safe_mode=False`: a model that needs it (a `Lambda`
    layer, arbitrary code) is refused. Legacy HDF5 models are refused,
    whatever their name: Keras does not enforce safe mode for them in older
    versions (CVE-2025-9905). A truncated or corrupt file, for which Keras
    itself reports a misleading "File not found", is named as such.
    """
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        raise RunError(f"{path} is a legacy HDF5 model; only .keras files are loaded (safe mode)")
    if not path.exists():
        legacy = sorted(p.name for pattern in ("*.h5", "*.hdf5") for p in path.parent.glob(pattern))
        if legacy:
            raise RunError(
                f"{path.parent} has no {path.name}, only a legacy HDF5 model ({legacy[0]}); "
                "HDF5 models are not loaded (no safe mode): retrain the run"
            )
        raise RunError(f"{path} does not exist: the run has no trained model (did training finish?)")
    if path.is_dir():
        raise RunError(f"{path} is a directory, not a .keras file")
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    if head == HDF5_SIGNATURE:
        raise RunError(
            f"{path} is a legacy HDF5 model under a .keras name; "
            "HDF5 models are not loaded (no safe mode): retrain the run"
        )
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise RunError(f"{path} is not a valid .keras file (truncated or corrupt); retrain the run")
    import keras

    import models  # noqa: F401  (registers the zoo's own layers, e.g. MaskedMaxOverTime, for loading)

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as err:  # noqa: BLE001  (Keras raises many kinds for a bad archive)
        if "safe_mode" in str(err):
            raise RunError(
                f"{path} holds code (e.g. a Lambda layer) that loads only with safe_mode=False; "
                "it is not loaded: arbitrary code could run"
            ) from None
        raise RunError(
            f"{path} could not be loaded ({err.__class__.__name__}): "
            "the file is corrupt or from an incompatible version; retrain the run"
        ) from None
