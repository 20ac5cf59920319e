"""The run directory: atomic writes, refusal to clobber, safe loading.

Every file is written to a temporary file in the same directory and moved
into place with `os.replace`, so a kill during a save leaves the previous
good file, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import keras

from zoo import config as config_lib

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
STATE_FILE = "task_state.json"
HISTORY_FILE = "history.csv"
BACKUP_DIR = "backup"  # BackupAndRestore's checkpoints of an unfinished run
RUN_FILES = (
    MODEL_FILE,
    CONFIG_FILE,
    STATE_FILE,
    HISTORY_FILE,
    "curves.png",
    "metrics.json",
    "forecast.png",
    "samples.txt",
    BACKUP_DIR,
    "logs",
)


class RunError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why."""


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yields a temporary path beside `path`; moves it over `path` on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, data) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_model(model: keras.Model, path) -> None:
    # Keras insists on the .keras suffix for the temporary file too.
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def save_figure(fig, path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"cannot read {path}: {err.__class__.__name__}: {err}") from None


def default_run_dir(config) -> str:
    return config.run_dir or os.path.join("runs", config.task, config.model)


def prepare(run_dir: str, config, overwrite: bool) -> bool:
    """Makes `run_dir` ready for training `config`.

    Returns:
        True when an unfinished run with the same settings is there to resume.

    Raises:
        RunError: a finished run is there (and not `overwrite`), an
            unfinished one with other settings, or the directory is not writable.
    """
    path = Path(run_dir)
    saved = path / CONFIG_FILE
    if saved.exists() and not overwrite:
        data = read_json(saved)
        if data.get("finished"):
            raise RunError(f"{run_dir} already holds a finished run; pass --overwrite to replace it")
        if data.get("config") != config_lib.to_json(config)["config"]:
            raise RunError(
                f"{run_dir} holds an unfinished run with other settings; "
                "rerun with the same flags to resume, or pass --overwrite"
            )
        resume = (path / BACKUP_DIR).exists()
    else:
        resume = False
        if overwrite:
            for name in RUN_FILES:
                target = path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create run directory {run_dir}: {err.strerror}") from None
    if not os.access(path, os.W_OK):
        raise RunError(f"run directory {run_dir} is not writable")
    return resume


def load_config(run_dir: str):
    """Reads a run's config.json; RunError if the directory holds no run."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run directory {run_dir} does not exist")
    if not (path / CONFIG_FILE).exists():
        raise RunError(f"{run_dir} holds no run (no {CONFIG_FILE})")
    data = read_json(path / CONFIG_FILE)
    try:
        return config_lib.from_json(data, str(path / CONFIG_FILE)), data
    except (TypeError, ValueError) as err:
        raise RunError(str(err)) from None


def load_model(path) -> keras.Model:
    """Loads a `.keras` file in safe mode, with one clear line for bad files.

    Legacy HDF5 (.h5) models are refused: Keras does not enforce safe mode
    for them in older versions (CVE-2025-9905). A truncated or corrupt file,
    for which Keras itself reports a misleading "File not found", is named
    as such.
    """
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        raise RunError(f"{path} is a legacy HDF5 model; only .keras files are loaded (safe mode)")
    if not path.exists():
        raise RunError(f"{path} does not exist: the run has no trained model (did training finish?)")
    if not zipfile.is_zipfile(path):
        raise RunError(f"{path} is not a valid .keras file (truncated or corrupt); retrain the run")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as err:  # noqa: BLE001  (Keras raises many kinds for a bad archive)
        raise RunError(
            f"{path} could not be loaded ({err.__class__.__name__}): "
            "the file is corrupt or from an incompatible version"
        ) from None
