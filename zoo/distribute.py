"""The `tf.distribute` strategies of `--distribute`, and what the run asks of them.

`--distribute` picks the strategy; the model, the task, the callbacks and the
run directory stay those of the single-device path:

* `none` (the default): one device, `model.fit`.
* `mirrored`: `tf.distribute.MirroredStrategy` over this machine's GPUs,
  `model.fit`. `RNN_ZOO_CPU_DEVICES=N` splits the CPU into N logical devices
  and mirrors over those instead (for tests on machines without GPUs).
* `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured by
  the `TF_CONFIG` environment variable of each worker; trained by
  zoo/multiworker.py's `fit`, since `model.fit` fails under it in Keras 3.15
  (keras-team/keras#20585).

In both strategies `--batch-size` is the global batch: each of the R replicas
gets batch/R examples of every batch, and the gradients are summed across
replicas (Keras scales each replica's loss by 1/R), so one step is the step
of one device on the whole batch.

The rest of the distributed code, one concern a module:

* zoo/cluster.py: the strategy names and who is the chief (`TF_CONFIG`),
  without TensorFlow;
* zoo/collectives.py: agreement across workers (the chief's numbers
  everywhere, the same settings and weights on every worker);
* zoo/run_transfer.py: the chief's unfinished run sent to every worker;
* zoo/worker_loss.py: a stopped worker, as one line that says what to do;
* zoo/multiworker.py: Keras's epoch loop for `MultiWorkerMirroredStrategy`.
"""

from __future__ import annotations

import contextlib
import os

import tensorflow as tf

from zoo.cluster import STRATEGIES, Role

# Splits the CPU into N logical devices for `--distribute mirrored`, so that
# two replicas run without GPUs (tests, CI). Read once, when the strategy is
# created, which must come before TensorFlow initialises its devices.
CPU_DEVICES_ENV = "RNN_ZOO_CPU_DEVICES"


def make_strategy(name: str):
    """The `tf.distribute.Strategy` named by `--distribute`, or None for `none`.

    Must run before TensorFlow initialises its devices or runs an op: the
    CPU split and `MultiWorkerMirroredStrategy` are only possible then.
    """
    if name == "none":
        return None
    if name == "mirrored":
        cpus = _cpu_devices()
        if cpus > 1:
            physical = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(
                    physical, [tf.config.LogicalDeviceConfiguration()] * cpus
                )
            except RuntimeError as err:  # TensorFlow already initialised its devices
                raise RuntimeError(
                    f"{CPU_DEVICES_ENV}={cpus}: the CPU can only be split before TensorFlow starts ({err})"
                ) from None
            return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpus)])
        return tf.distribute.MirroredStrategy()  # every local GPU, else the CPU
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # the cluster comes from TF_CONFIG
    raise ValueError(f"--distribute must be one of {', '.join(STRATEGIES)}, got {name!r}")


def _cpu_devices() -> int:
    raw = os.environ.get(CPU_DEVICES_ENV, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CPU_DEVICES_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def scope(strategy):
    """`strategy.scope()`, or nothing for the single-device path."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def describe(strategy, role: Role, batch_size: int) -> str:
    """One line: the strategy, its replicas, and how the global batch splits.

    E.g. "Data-parallel training with MirroredStrategy: 2 replicas (CPU:0,
    CPU:1); global batch 64, 32 per replica."
    """
    replicas = strategy.num_replicas_in_sync
    devices = ", ".join(
        d.rsplit("/", 1)[-1].removeprefix("device:") for d in strategy.extended.worker_devices
    )
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"
        where = f"worker {role.index} of {role.workers} (chief), " if role.workers > 1 else "1 worker, "
        devices += " here"
    else:
        name, where = "MirroredStrategy", ""
    return (
        f"Data-parallel training with {name}: {where}{replicas} replica{'s' if replicas != 1 else ''} "
        f"({devices}); global batch {batch_size}, {batch_size // replicas} per replica."
    )


def check_batch(strategy, batch_size: int) -> None:
    """Refuses a global batch that does not split evenly over the replicas.

    TensorFlow would split it unevenly, and the step would no longer be the
    one-device step on the whole batch (each replica averages its own part).
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"--batch-size {batch_size} does not split evenly over {replicas} replicas; "
            f"use a multiple of {replicas} (it is the global batch)"
        )


def distribute_dataset(strategy, dataset):
    """`dataset` (batched by the global batch) split across replicas and workers.

    Sharded by data: every worker reads the same pipeline, with the same
    shuffling seed, and keeps its own part of each global batch.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))
