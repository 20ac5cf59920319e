"""What train.py, evaluate.py and the benchmarks share: quiet logs, one-line errors, exit codes.

Importing this module, before TensorFlow, quiets TensorFlow's C++ start-up
lines (see `quiet_tensorflow_import`); `RNN_ZOO_DEBUG=1` shows them all.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.util
import os
import subprocess
import sys

# Set RNN_ZOO_DEBUG=1 to see the full traceback behind a one-line error, and
# every line TensorFlow logs.
DEBUG_ENV = "RNN_ZOO_DEBUG"
DEBUG = os.environ.get(DEBUG_ENV) == "1"
if not DEBUG:
    # INFO and WARNING lines from C++ once TensorFlow runs; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# What TensorFlow's C++ code writes to stderr while it loads, before it reads
# TF_CPP_MIN_LOG_LEVEL (absl's INFO/WARNING records and its pre-init banner),
# and the failed cuInit of a machine without CUDA drivers. Errors, fatal
# records and every other line (Python warnings) pass. Run in a separate
# process, so that a fatal record before an abort still reaches stderr.
_STARTUP_FILTER = r"""
import re, sys
RECORD = re.compile(rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")  # before absl init: 00:00:<seconds since 1970>
PYTHON_WARNING = re.compile(rb"\S.*:\d+: \w*Warning: ")
no_driver = dropping = False
for line in sys.stdin.buffer:
    if line.startswith(b"WARNING: All log messages before absl::InitializeLog() is called"):
        continue
    if RECORD.match(line):
        no_driver = no_driver or b"Could not find cuda drivers" in line
        failed_cuinit = b"failed call to cuInit" in line and (no_driver or b"CUDA_ERROR_NO_DEVICE" in line)
        dropping = line[:1] in b"IW" or (line[:1] == b"E" and failed_cuinit)
    elif dropping and not PYTHON_WARNING.match(line):
        continue  # the next lines of a multi-line record
    else:
        dropping = False
    if not dropping:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
"""


@contextlib.contextmanager
def quiet_tensorflow_import():
    """Filters what C++ code writes to stderr (file descriptor 2) inside the block.

    Where the filter process cannot start, the block runs unfiltered.
    """
    sys.stderr.flush()
    real = filtered = None
    with contextlib.suppress(OSError):  # no stderr, or no process to spare
        real = os.dup(2)
        filtered = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _STARTUP_FILTER], stdin=subprocess.PIPE, stdout=real
        )
    if filtered is None:
        if real is not None:
            os.close(real)
        yield
        return
    os.dup2(filtered.stdin.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        os.close(real)
        filtered.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):  # all lines out before the next ones
            filtered.wait(timeout=5)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first `import tensorflow`, whoever imports it, inside `quiet_tensorflow_import`.

    It also lists the GPUs there: on a machine without CUDA drivers that is
    when TensorFlow logs its failed cuInit (listing them does not fix the
    devices, so the CPU split of zoo/distribute.py still works after it).
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; the finders after this one find the package
        spec = importlib.util.find_spec(name)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def quiet_exec_module(module):
            del loader.exec_module  # the loader's own again
            with quiet_tensorflow_import():
                exec_module(module)
                with contextlib.suppress(Exception):  # it fails again, and shows, when the devices are used
                    module.config.list_physical_devices("GPU")

        loader.exec_module = quiet_exec_module
        return spec


if not DEBUG and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowImport())


def keras_verbose() -> int | str:
    """The `verbose` of `model.fit` for this process's stdout.

    Returns:
        "auto" (progress bars) on a terminal; 2 (one line per epoch) when
        stdout is a file or a pipe, or under CI, so that a log holds no
        progress-bar redraws.
    """
    try:
        terminal = sys.stdout is not None and sys.stdout.isatty()
    except ValueError:  # closed
        terminal = False
    return "auto" if terminal and not os.environ.get("CI") else 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one `error: ...` line (exit 2), like every other error."""

    def error(self, message):
        raise ValueError(f"{message} (see --help)")


# Expected failures: (module, class, exit code). Looked up only in modules
# already imported (an error cannot come from a class never loaded), so that
# this module imports nothing heavy before main() runs.
EXPECTED = (
    ("zoo.rundir", "RunError", 2),  # the run directory cannot be used as asked
    ("zoo.runlock", "InUseError", 2),  # another process trains in the run directory
    ("datasets.tfds_source", "DataNotFoundError", 2),  # the dataset is not there
    ("zoo.checkpoint", "NonFiniteLossError", 1),  # NaN/inf loss: a failure during the run
)


def exit_code(err: BaseException) -> int | None:
    """The exit code of an expected failure; None for a bug (shown with its traceback)."""
    for module, name, code in EXPECTED:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(err, cls):
            return code
    if isinstance(err, ValueError):  # bad input: names, numbers, flags
        return 2
    if isinstance(err, OSError):  # a full disk, a directory gone during the run
        return 1
    return None


def run(main, argv=None) -> int:
    """Runs `main(argv)`; expected failures print one line and exit non-zero.

    Returns:
        0 on success, 2 for bad input (flags, names, run directory, data),
        1 for a failure during the run (NaN loss, a disk error), 130 after
        Ctrl-C.
    """
    try:
        main(argv)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    except Exception as err:
        code = exit_code(err)
        if code is None or os.environ.get(DEBUG_ENV) == "1":
            raise
        message = str(err) if not isinstance(err, OSError) else f"{err} (the files already written are whole)"
        print(f"error: {message}", file=sys.stderr)
        return code
