"""Export of a finished run: a standalone artifact that takes raw inputs (export.py).

The task builds the pipeline (`Task.export_model`: its preprocessing, the
model and its answer in one graph); this module checks the request, writes
the format and moves the result into place whole: into a temporary path
beside `--out`, then renamed, so that a failure or a kill never leaves a
half-written export under that name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zoo import rundir

FORMATS = {
    "saved_model": "a TensorFlow SavedModel directory (TensorFlow Serving's format)",
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
        out: The path to create (a directory for "saved_model").
        overwrite: Replace an existing `out`.

    Returns:
        `out`.

    Raises:
        ExportError: an unknown format, `out` exists, or the task cannot export.
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
        archive = task.export_model(model, config, state)
    except NotImplementedError:
        raise ExportError(f"the {task.name!r} task has no export") from None
    out_path = Path(out)
    tmp = Path(tempfile.mkdtemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp"))
    try:
        archive.write_out(str(tmp / "export"), verbose=False)
        _replace(tmp / "export", out_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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
