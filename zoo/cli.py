"""What train.py and evaluate.py share: quiet logs, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import os
import sys

# Quiet TensorFlow's C++ start-up chatter before it is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Set RNN_ZOO_DEBUG=1 to see the full traceback behind a one-line error.
DEBUG_ENV = "RNN_ZOO_DEBUG"


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
    ("zoo.training", "NonFiniteLossError", 1),  # NaN/inf loss: a failure during the run
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
