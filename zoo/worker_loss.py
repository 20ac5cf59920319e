"""A worker of a multi-worker run that stops: TensorFlow's error, as one line that says what to do.

When one worker dies, the others fail in their next collective step with a
TensorFlow error of several lines; `worker_losses` turns it into a
`WorkerLostError`, which train.py reports as one line (exit 1).
"""

from __future__ import annotations

import contextlib
import re

import tensorflow as tf

from zoo.cluster import Role


class WorkerLostError(ConnectionError):
    """Another worker of a multi-worker run stopped; every worker must restart.

    A `ConnectionError` (an `OSError`): train.py reports it as one line, exit 1.
    """


@contextlib.contextmanager
def worker_losses(role: Role):
    """Turns TensorFlow's error for a stopped peer into one line that says what to do."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError) as err:
        message = " ".join(str(err.message).split())
        lost = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", message)))
        who = f"worker task {', '.join(lost)} stopped" if lost else f"TensorFlow: {message[:200]}"
        raise WorkerLostError(
            f"worker {role.index} of {role.workers} lost the cluster ({who}); restart every worker "
            "with the same command: the run resumes from the chief's last checkpoint"
        ) from None
