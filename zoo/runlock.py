"""One training at a time per run directory, with an OS file lock.

`hold(run_dir)` takes an exclusive `fcntl.flock` lock on `RUN_DIR/.lock` and
writes the holder's pid and command line into it, so that a second command
is refused at once with a line that names the first. The kernel drops the
lock when its process ends, however it ends: a `kill -9` never leaves a
stale lock. The lock file is removed on release.

This module imports nothing of the zoo and no TensorFlow; train.py takes
the lock right after parsing its flags, before anything is resolved,
loaded or written.
The lock is advisory: it stops other zoo commands, not other programs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import sys
import time
from pathlib import Path

LOCK_FILE = ".lock"  # hidden; rundir.prepare() removes only `.NAME.*.tmp*` leftovers
# holder() takes a shared lock for a moment to test the lock: hold() retries
# for this long before it takes a busy lock for another training.
RETRY_SECONDS = 0.5


class InUseError(RuntimeError):
    """The run directory is held by another process; the message names it."""


def _command() -> str:
    return shlex.join([os.path.basename(sys.executable), *sys.argv])


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _try_lock(fd: int, kind: int, seconds: float) -> bool:
    """Tries `flock(kind)` without blocking, again for up to `seconds`; whether it got the lock."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(0.02)


def _read_holder(fd: int) -> str:
    """'process PID (COMMAND)' from a held lock file, waiting a moment for a new holder to write it."""
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        pid, _, command = os.pread(fd, 4096, 0).decode("utf-8", "replace").partition("\n")
        if pid.isdigit() and command.endswith("\n"):
            command = command.strip()
            return f"process {pid} ({command[:200]}{'...' if len(command) > 200 else ''})"
        if time.monotonic() >= deadline:
            return "another process"
        time.sleep(0.02)


def _open_locked(path: Path, run_dir) -> int:
    """Creates and locks the lock file `path` (and its directory); returns its descriptor."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a holder that created the directory has just removed it
            continue
        try:
            if not _try_lock(fd, fcntl.LOCK_EX, RETRY_SECONDS):
                raise InUseError(
                    f"{run_dir} is in use by {_read_holder(fd)}; wait for it or choose another --run-dir"
                )
            # The holder before us removes the file it held on release: if we
            # locked that one, the next command would lock a new file beside us.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


@contextlib.contextmanager
def hold(run_dir):
    """Holds the run directory for this process, creating it if needed.

    Directories it created are removed again on release if they are still
    empty (a command refused for a bad flag leaves nothing behind). Where
    the directory cannot be created or written (it is a file, a read-only
    disk), it yields without a lock: nothing can be written there, and
    `rundir.prepare()` says why.

    Args:
        run_dir: The run directory, as the user gave it (named in the error).

    Raises:
        InUseError: another process holds it; the message names its pid and
            command line.

    Example:

    >>> with hold("runs/timeseries/lstm"):
    ...     pass  # train; a second `hold` on the directory now raises InUseError
    """
    path = Path(run_dir)
    missing = _missing_dirs(path)
    try:
        fd = _open_locked(path / LOCK_FILE, run_dir)
    except OSError:  # a file, a read-only disk, no permission: prepare() names it
        fd = None
    if fd is None:
        yield
        return
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{_command()[:1000]}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.remove(path / LOCK_FILE)  # while locked: the next holder creates a new file
        os.close(fd)
        for directory in missing:
            try:
                directory.rmdir()
            except OSError:  # not empty: the run wrote files there
                break


def holder(run_dir) -> str | None:
    """Who holds `run_dir`: 'process PID (COMMAND)', or None when no process does.

    For evaluate.py, to say that a run is still training. Tests the lock
    with a shared lock held for a moment; never creates a file.

    Example:

    >>> holder("runs/timeseries/lstm")  # while train.py trains there
    'process 12345 (python train.py --task timeseries --model lstm)'
    """
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file: no run, or no training since the last one ended
        return None
    try:
        if _try_lock(fd, fcntl.LOCK_SH, 0):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return _read_holder(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
