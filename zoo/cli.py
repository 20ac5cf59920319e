"""What train.py and evaluate.py share: quiet logs and one-line errors."""

from __future__ import annotations

import os
import sys

# Quiet TensorFlow's C++ start-up chatter before it is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Set RNN_ZOO_DEBUG=1 to see the full traceback behind a one-line error.
DEBUG_ENV = "RNN_ZOO_DEBUG"


def run(main, argv=None) -> int:
    """Runs `main(argv)`; expected failures print one line and exit non-zero.

    Returns:
        0 on success, 1 for a failure during the run, 2 for bad input,
        130 after Ctrl-C.
    """
    from datasets.tfds_source import DataNotFoundError
    from zoo.rundir import RunError
    from zoo.training import NonFiniteLossError

    try:
        main(argv)
        return 0
    except (ValueError, RunError, DataNotFoundError) as err:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
