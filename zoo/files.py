"""Atomic files: written beside their place and moved into it, so a kill leaves the old file whole.

Every file is written to a temporary file in the same directory and moved
into place with `os.replace`, so a kill during a save leaves the previous
good file, never a truncated one. (Keras's own `model.save` writes in place:
a kill halfway leaves a truncated archive.) Imports nothing of the zoo's
own, and Keras or NumPy only where a model or arrays are saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

# mkstemp creates files readable by the owner only; run files get the usual
# mode that the umask allows, like any file the user writes.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def read_json_object(path, what: str, example: str) -> dict:
    """The JSON object in the file at `path`; ValueError naming `what` (the file's role) if it is none.

    Args:
        path: The file.
        what: How the messages name it, e.g. "settings file x.json".
        example: A JSON object of the expected form, quoted in the message
            for a file that holds something else.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read {what}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{what} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} must hold a JSON object such as {example}")
    return data


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yields a temporary path beside `path`; moves it over `path` on success.

    On an exception the temporary file is removed and `path` is untouched; on
    a kill it stays behind as a hidden `.NAME.*.tmp*` file, which `prepare()`
    removes.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp" + suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the data is on disk before the name points to it
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _fsync_dir(path: Path) -> None:
    """Makes a rename durable (a power cut after it keeps the new name)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, data) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_model(model, path) -> None:
    # Keras insists on the .keras suffix for the temporary file too.
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def save_weights(model, path) -> None:
    """Weights and optimizer state, as `model.save_weights` writes them."""
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)


def save_arrays(path, arrays) -> None:
    """A list of NumPy arrays (e.g. `model.get_weights()`) as an .npz file."""
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, *arrays)


def load_arrays(path) -> list:
    import numpy as np

    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def save_figure(fig, path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def remove_leftovers(directory) -> None:
    """Removes the temporary files that a kill during a save left behind.

    Only `.NAME.*.tmp*` files: the `.lock` of a training in progress
    (zoo/runlock.py) stays.
    """
    for leftover in Path(directory).glob(".*.tmp*"):
        if leftover.is_file():
            leftover.unlink()
