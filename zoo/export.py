"""Export of a finished run: a standalone artifact that takes raw inputs (export.py).

The task builds the pipeline (`Task.export_model`: its preprocessing, the
model and its answer in one graph); this module checks the request, writes
the format and moves the result into place whole: into a temporary path
beside `--out`, then renamed, so that a failure or a kill never leaves a
half-written export under that name.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from zoo import rundir

FORMATS = {
    "saved_model": "a TensorFlow SavedModel directory (TensorFlow Serving's format)",
    "litert": "a LiteRT (TFLite) file: batch 1, fixed shapes, LiteRT's built-in ops only",
}


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why."""


def check_request(fmt: str, out: str, overwrite: bool) -> None:
    """Refuses an unknown format and an existing `out` (without `overwrite`), before anything loads."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    path = Path(out)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ExportError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    if not path.parent.resolve().is_dir():
        raise ExportError(f"the directory of --out {out} does not exist")


def export(run_dir: str, fmt: str, out: str, overwrite: bool = False) -> str:
    """Exports the finished run in `run_dir` as `fmt` into `out`.

    Args:
        run_dir: A run directory written by train.py.
        fmt: One of `FORMATS`.
        out: The path to create: a directory for "saved_model", a file for "litert".
        overwrite: Replace an existing `out`.

    Returns:
        `out`.

    Raises:
        ExportError: an unknown format, `out` exists, the task cannot export,
            or the model does not convert to the format.
        RunError: the directory holds no finished run, or its model does not load.
    """
    check_request(fmt, out, overwrite)
    config, _ = rundir.load_finished(run_dir, "export")
    import datasets
    import models  # noqa: F401  (registers the zoo's layers, which model.keras names)

    task = datasets.get_task(config.task)
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    model = rundir.load_model(os.path.join(run_dir, rundir.MODEL_FILE))
    try:
        archive = task.export_model(model, config, state, fixed_shape=fmt == "litert")
    except NotImplementedError:
        raise ExportError(f"the {task.name!r} task has no export") from None
    out_path = Path(out)
    tmp = Path(tempfile.mkdtemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp"))
    try:
        archive.write_out(str(tmp / "saved_model"), verbose=False)
        if fmt == "litert":
            what = f"the {config.model} model on {task.name}"
            (tmp / "export").write_bytes(to_litert(str(tmp / "saved_model"), what))
        else:
            os.replace(tmp / "saved_model", tmp / "export")
        _replace(tmp / "export", out_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def to_litert(saved_model: str, what: str) -> bytes:
    """A SavedModel of fixed-shape signatures as a LiteRT flat buffer of built-in ops.

    Built-in ops only: the Python interpreters (`tf.lite.Interpreter`,
    `ai-edge-litert`) have no Flex delegate, so a file with Select TF ops
    would not run there. Keras RNNs become LiteRT WHILE loops of built-ins.

    Raises:
        ExportError: the graph needs ops that LiteRT has no built-in for
            (string ops, say), named in the message; or the file does not load.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        flat = converter.convert()
    except Exception as err:  # noqa: BLE001  (the converter raises its own kinds, with the ops in the text)
        ops = sorted(set(re.findall(r"\btf\.([A-Z]\w*)", str(err))))
        needs = f"TensorFlow ops that LiteRT has no built-in for: {', '.join(ops)}" if ops else str(err)
        needs = needs.splitlines()[0] if needs else err.__class__.__name__
        raise ExportError(f"{what} does not convert to LiteRT ({needs})") from None
    try:
        with warnings.catch_warnings():  # its deprecation notice: it only checks that the file loads
            warnings.simplefilter("ignore")
            tf.lite.Interpreter(model_content=flat).allocate_tensors()
    except Exception as err:  # noqa: BLE001
        first = (str(err).splitlines() or [err.__class__.__name__])[0]
        raise ExportError(f"{what} converts to LiteRT, but the file does not load: {first}") from None
    return flat


def _replace(new: Path, out: Path) -> None:
    """Moves `new` to `out`; an existing `out` is moved aside first and removed once `new` is in place."""
    old = None
    if out.exists() or out.is_symlink():
        old = new.parent / "replaced"
        os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        if old is not None:
            os.replace(old, out)  # the old export back in its place
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    try:
        fd = os.open(out.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)  # the rename is durable
    except OSError:
        pass
    finally:
        os.close(fd)
