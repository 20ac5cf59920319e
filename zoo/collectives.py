"""Agreement across the workers of a distributed run, through the strategy's all-reduce.

Every function here that takes the strategy is a collective step: every
worker must call it, in the same order, with arrays of the same shapes, or
the run hangs. They carry numbers only (float64: exact for float32 values,
counters and CRC-32s, which `checksum` and `fingerprint` make of settings
and weights); zoo/run_transfer.py sends files over them.

Example, on two workers where `x` is 1.0 on the chief and 2.0 on the other:

    from_chief(strategy, [np.array([x])])  # [array([1.])] on both
    all_agree(strategy, [x])  # False on both
"""

from __future__ import annotations

import functools
import hashlib
import json
import zlib

import numpy as np
import tensorflow as tf

from zoo.cluster import Role


def _all_sum(strategy, arrays: list[np.ndarray], first_only: bool = False) -> list[np.ndarray]:
    """Sums `arrays` over every replica of every worker (in float64: exact for float32 and counters).

    With `first_only`, only replica 0 (on the chief) contributes: the chief's
    arrays reach every worker.
    """
    arrays = [np.asarray(a) for a in arrays]
    flat = np.concatenate([a.astype(np.float64).ravel() for a in arrays])  # one collective step
    summed = strategy.experimental_local_results(_summing(strategy)(tf.constant(flat), first_only))[0]
    ends = np.cumsum([a.size for a in arrays])
    parts = np.split(np.asarray(summed), ends[:-1])
    return [p.astype(a.dtype).reshape(a.shape) for p, a in zip(parts, arrays)]


@functools.cache
def _summing(strategy):
    """A compiled all-reduce for `_all_sum`, traced once per strategy."""

    def replica_fn(values, first_only):
        context = tf.distribute.get_replica_context()
        keep = tf.logical_or(tf.logical_not(first_only), tf.equal(context.replica_id_in_sync_group, 0))
        # tf.where, not a product: the chief's values pass whatever they are (inf, NaN).
        return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.where(keep, values, tf.zeros_like(values)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float64), tf.TensorSpec([], tf.bool)])
    def run(values, first_only):
        return strategy.run(replica_fn, args=(values, first_only))

    return run


def from_chief(strategy, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The chief's `arrays` on every worker; each worker passes arrays of the same shapes."""
    arrays = [np.asarray(a) for a in arrays]
    return _all_sum(strategy, arrays, first_only=True)


def all_agree(strategy, values: list[float]) -> bool:
    """Whether every worker holds the chief's `values` (two collective steps)."""
    mine = np.asarray(values, dtype=np.float64)
    chief = from_chief(strategy, [mine])[0]
    differs = np.array([0.0 if np.array_equal(mine, chief, equal_nan=True) else 1.0])
    return float(_all_sum(strategy, [differs])[0][0]) == 0.0


def checksum(obj) -> float:
    """A CRC-32 of a JSON-serialisable object, as a float (exact in float64)."""
    return float(zlib.crc32(json.dumps(obj, sort_keys=True).encode()))


def fingerprint(arrays) -> str:
    """A short hash of a list of arrays (e.g. `model.get_weights()`), to compare runs."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def check_same(strategy, role: Role, what: str, obj) -> None:
    """Refuses to go on unless every worker holds the chief's `obj` (e.g. the settings).

    Workers started with other flags would build other variables, and the
    collective steps would hang or mix unrelated numbers.

    Raises:
        ValueError: on every worker, where any worker differs.
    """
    if not all_agree(strategy, [checksum(obj)]):
        raise ValueError(
            f"the workers have different {what} (this is worker {role.index} of {role.workers}); "
            "start every worker with the same command and the same data"
        )


def check_in_sync(strategy, model, when: str, *also) -> str:
    """The fingerprint of the weights, the same on every worker (else RuntimeError).

    `also`: more numbers that must agree (e.g. the epoch training resumes at).
    """
    weights = fingerprint(model.get_weights())
    if not all_agree(strategy, [float(zlib.crc32(weights.encode())), *also]):
        raise RuntimeError(
            f"the workers {when} with different weights; this is a bug in the multi-worker code"
        )
    return weights
