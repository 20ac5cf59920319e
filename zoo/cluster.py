"""Who this process is in a distributed run: the strategy names and the `TF_CONFIG` roles.

This module imports no TensorFlow: `TF_CONFIG` (who is the chief, the one
worker that writes the run directory) is read before any TensorFlow device
exists, and zoo/config.py takes its `--distribute` choices from here.

Example:

>>> worker_role("multiworker", {"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:1"]}, '
...                                          '"task": {"type": "worker", "index": 1}}'})
Role(index=1, workers=2)
"""

from __future__ import annotations

import dataclasses
import json
import os

# The values of --distribute; zoo/distribute.py creates the strategies.
STRATEGIES = ("none", "mirrored", "multiworker")


@dataclasses.dataclass(frozen=True)
class Role:
    """This process's place in the cluster that `TF_CONFIG` describes."""

    index: int = 0  # 0 is the chief, the one worker that writes the run directory
    workers: int = 1

    @property
    def chief(self) -> bool:
        return self.index == 0


def worker_role(strategy_name: str, environ=None) -> Role:
    """Who this process is, read from `TF_CONFIG` without starting TensorFlow.

    Only `--distribute multiworker` reads `TF_CONFIG`; without it (or with
    another strategy) the process is a single, chief, worker. The chief is
    the task of type "chief" or, where the cluster has none, worker 0
    (TensorFlow's own rule).

    Args:
        strategy_name: The `--distribute` value, one of `STRATEGIES`.
        environ: The environment to read (default: `os.environ`).

    Returns:
        The `Role`: `Role(0, 1)` for a single worker.

    Raises:
        ValueError: `TF_CONFIG` is not JSON, or names a task that does not train.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG", "")
    if strategy_name != "multiworker" or not raw.strip():
        return Role()
    try:
        spec = json.loads(raw)
        cluster, task = spec.get("cluster", {}), spec.get("task", {})
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError) as err:
        raise ValueError(f"TF_CONFIG is not a cluster description ({err}); see docs/distributed.md") from None
    if kind not in ("chief", "worker"):
        raise ValueError(f"TF_CONFIG task type {kind!r}: only 'chief' and 'worker' tasks train")
    where = index if kind == "chief" else len(chiefs) + index
    if not 0 <= where < len(chiefs) + len(workers):
        raise ValueError(f"TF_CONFIG task {kind} {index} is not in its cluster")
    return Role(where, len(chiefs) + len(workers))
