"""Data-parallel training on TensorFlow's own engine, `tf.distribute`.

`--distribute` picks the strategy; the model, the task, the callbacks and the
run directory stay those of the single-device path:

* `none` (the default): one device, `model.fit`.
* `mirrored`: `tf.distribute.MirroredStrategy` over this machine's GPUs,
  `model.fit`. `RNN_ZOO_CPU_DEVICES=N` splits the CPU into N logical devices
  and mirrors over those instead (for tests on machines without GPUs).
* `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured by
  the `TF_CONFIG` environment variable of each worker. `model.fit` fails
  under it in Keras 3.15 (keras-team/keras#20585: the trainer reduces the
  per-replica logs with `strategy.reduce(..., axis=0)`), so `fit()` below
  runs Keras's own `model.train_step` and `model.test_step` under
  `strategy.run`, in Keras's epoch loop, with the same `CallbackList`.

In both strategies `--batch-size` is the global batch: each of the R replicas
gets batch/R examples of every batch, and the gradients are summed across
replicas (Keras scales each replica's loss by 1/R), so one step is the step
of one device on the whole batch.

Who is the chief (`TF_CONFIG`) and the strategy names live in zoo/cluster.py,
which imports no TensorFlow: train.py reads them before TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import zlib

import numpy as np

from zoo.cluster import STRATEGIES, Role

# Splits the CPU into N logical devices for `--distribute mirrored`, so that
# two replicas run without GPUs (tests, CI). Read once, when the strategy is
# created, which must come before TensorFlow initialises its devices.
CPU_DEVICES_ENV = "RNN_ZOO_CPU_DEVICES"


class WorkerLostError(ConnectionError):
    """Another worker of a multi-worker run stopped; every worker must restart.

    A `ConnectionError` (an `OSError`): train.py reports it as one line, exit 1.
    """


def make_strategy(name: str):
    """The `tf.distribute.Strategy` named by `--distribute`, or None for `none`.

    Must run before TensorFlow initialises its devices or runs an op: the
    CPU split and `MultiWorkerMirroredStrategy` are only possible then.
    """
    if name == "none":
        return None
    import tensorflow as tf

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
    import tensorflow as tf

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
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


# --- Agreeing across workers ------------------------------------------------------------


def _all_sum(strategy, arrays: list[np.ndarray], first_only: bool = False) -> list[np.ndarray]:
    """Sums `arrays` over every replica of every worker (in float64: exact for float32 and counters).

    With `first_only`, only replica 0 (on the chief) contributes: the chief's
    arrays reach every worker.
    """
    import tensorflow as tf

    arrays = [np.asarray(a) for a in arrays]
    flat = np.concatenate([a.astype(np.float64).ravel() for a in arrays])  # one collective step
    summed = strategy.experimental_local_results(_summing(strategy)(tf.constant(flat), first_only))[0]
    ends = np.cumsum([a.size for a in arrays])
    parts = np.split(np.asarray(summed), ends[:-1])
    return [p.astype(a.dtype).reshape(a.shape) for p, a in zip(parts, arrays)]


@functools.cache
def _summing(strategy):
    """A compiled all-reduce for `_all_sum`, traced once per strategy."""
    import tensorflow as tf

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
        raise RuntimeError(f"the workers {when} with different weights; this is a bug in zoo/distribute.py")
    return weights


# --- The chief's unfinished run, on every worker -------------------------------------------


def prepare_everywhere(strategy, role: Role, run_dir: str, out_dir: str, prepare):
    """`prepare(directory)` on every worker, from the chief's run directory.

    The chief prepares the run directory (refusing a finished run, finding a
    checkpoint to resume). When it resumes, the files it resumes from
    (config, task state, history, the checkpoint) are copied to every other
    worker's directory through the cluster, so every worker restores the same
    checkpoint: restoring assigns variables, which takes collective steps
    that all workers must join. The run directory need not be shared.

    Returns:
        What `prepare` returns on this worker (the chief's `Resume`, or None).
    """
    from zoo import rundir

    payload, failed, resume = b"", None, None
    if role.chief:
        try:
            resume = prepare(run_dir)
            payload = _pack(run_dir) if resume else b""
        except Exception as err:  # noqa: BLE001  (re-raised below, once the others know)
            failed = err
    size = int(from_chief(strategy, [np.array([-1.0 if failed else len(payload)])])[0][0])
    if failed is not None:
        raise failed
    if size < 0:
        raise rundir.RunError(
            f"the chief (worker 0) could not start the run in {run_dir}; its own output says why"
        )
    if size:
        words = np.frombuffer(payload.ljust(-(-size // 4) * 4, b"\0"), dtype="<u4")
        words = from_chief(strategy, [words if role.chief else np.zeros(-(-size // 4), "<u4")])[0]
        if not role.chief:
            _unpack(words.astype("<u4").tobytes()[:size], out_dir)
    return resume if role.chief else prepare(out_dir)


def _pack(run_dir: str) -> bytes:
    """The files an unfinished run resumes from, as one byte string (a JSON index, then the bytes)."""
    from zoo import rundir

    names = [rundir.CONFIG_FILE, rundir.STATE_FILE, rundir.HISTORY_FILE]
    backup = os.path.join(run_dir, rundir.BACKUP_DIR)
    if os.path.isdir(backup):
        names += sorted(f"{rundir.BACKUP_DIR}/{n}" for n in os.listdir(backup) if not n.startswith("."))
    files = {}
    for name in names:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    index = json.dumps({name: len(data) for name, data in files.items()}).encode()
    return len(index).to_bytes(8, "little") + index + b"".join(files.values())


def _unpack(payload: bytes, out_dir: str) -> None:
    from zoo import rundir

    length = int.from_bytes(payload[:8], "little")
    index, offset = json.loads(payload[8 : 8 + length]), 8 + length
    for name, size in index.items():
        parts = name.split("/")
        top = name in (rundir.CONFIG_FILE, rundir.STATE_FILE, rundir.HISTORY_FILE)
        checkpoint = len(parts) == 2 and parts[0] == rundir.BACKUP_DIR and parts[1] not in ("", ".", "..")
        if not (top or checkpoint):
            raise ValueError(f"unexpected file {name!r} from the chief")
        os.makedirs(os.path.join(out_dir, *parts[:-1]), exist_ok=True)
        with open(os.path.join(out_dir, *parts), "wb") as f:
            f.write(payload[offset : offset + size])
        offset += size


@contextlib.contextmanager
def worker_losses(role: Role):
    """Turns TensorFlow's error for a stopped peer into one line that says what to do."""
    import tensorflow as tf

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


# --- The training loop for MultiWorkerMirroredStrategy -------------------------------------


def _reduced_step(strategy, step_fn):
    """One distributed step: Keras's `step_fn` on every replica, logs averaged over replicas.

    Takes the iterator, as Keras's own train function does: the next batch
    is read inside the compiled function, not handed over from Python.
    Each replica's logs are its running means over equal shares of the
    global batch, so their mean is the running mean of the whole batch (what
    `model.fit` logs under `MirroredStrategy`).
    """
    import tensorflow as tf

    @tf.function
    def step(iterator):
        logs = strategy.run(step_fn, args=(next(iterator),))
        return {
            name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
            for name, value in logs.items()
        }

    return step


def _floats(logs: dict) -> dict:
    return {name: float(value) for name, value in logs.items()}


def fit(model, strategy, train, validation, *, epochs, steps_per_epoch, callbacks, verbose):
    """`model.fit` for `MultiWorkerMirroredStrategy`: Keras's steps, epoch loop and callbacks.

    The same loop as Keras 3.15's `fit` (TensorFlow trainer): reset the
    metrics, run `model.train_step` on each batch, log
    `model.get_metrics_result()`, run `model.test_step` on the validation
    data, call the callbacks at the same points. Only the reduction of the
    per-replica logs differs: `strategy.reduce(MEAN, value, axis=None)`,
    which works across workers (Keras's `axis=0` fails on scalars,
    keras-team/keras#20585).

    Args:
        model: Built and compiled under `strategy.scope()`.
        strategy: A `tf.distribute.MultiWorkerMirroredStrategy`.
        train, validation: `tf.data` pipelines batched by the global batch;
            `train` repeats when `steps_per_epoch` is given.
        epochs, steps_per_epoch: As for `model.fit`.
        callbacks: Keras callbacks, the same list `model.fit` gets.
        verbose: As for `model.fit` (0 on the workers that are not the chief).

    Returns:
        The `keras.callbacks.History`.
    """
    import keras

    train_data = distribute_dataset(strategy, train)
    val_data = distribute_dataset(strategy, validation) if validation is not None else None
    train_step = _reduced_step(strategy, model.train_step)
    test_step = _reduced_step(strategy, model.test_step)
    # Each loop runs exactly as many steps as there are batches, and never
    # asks for the batch after the last: under MultiWorkerMirroredStrategy
    # the call whose `next(iterator)` finds the data exhausted still runs the
    # step on an empty stand-in batch before it raises OutOfRangeError (TF
    # 2.21, measured: 12 optimizer steps for an epoch of 11 batches), and an
    # Adam step on zero gradients still moves the weights.
    if steps_per_epoch:
        length = int(train.cardinality())
        if 0 <= length < steps_per_epoch:
            raise ValueError(
                f"steps_per_epoch={steps_per_epoch} needs training data that repeats; it has {length} batches"
            )
        steps = steps_per_epoch
    else:
        steps = batch_count(train, "training data", count=False)
    val_steps = batch_count(validation, "validation data") if validation is not None else 0
    callbacks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=1 if verbose == "auto" else verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    with strategy.scope():
        # Like Keras's fit, build the optimizer before the callbacks start:
        # creating a variable is a collective step, so every worker creates
        # them here, in the same order, not in a callback or the first step.
        model.optimizer.build(model.trainable_variables)
        # Each worker counted its own data; a worker that would run one step
        # more than the others would wait for them forever.
        if not all_agree(strategy, [steps, val_steps]):
            raise ValueError(
                f"the workers count different batches per epoch (this one: {steps} training, "
                f"{val_steps} validation); start every worker with the same command and the same data"
            )
        model.stop_training = False
        callbacks.on_train_begin()  # restores the checkpoint, the same one on every worker
        check_in_sync(strategy, model, "would start", model._initial_epoch or 0)
        # Like Keras: with steps_per_epoch, each epoch continues the stream.
        stream = iter(train_data) if steps_per_epoch else None
        epoch_logs: dict = {}
        for epoch in range(model._initial_epoch or 0, epochs):
            model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            iterator = stream if stream is not None else iter(train_data)
            for step in range(steps):
                callbacks.on_train_batch_begin(step)
                logs = train_step(iterator)
                callbacks.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            epoch_logs = _floats(model.get_metrics_result())  # exact: summed over every replica
            if val_data is not None:
                val_logs = _evaluate(model, val_data, val_steps, test_step, callbacks)
                epoch_logs |= {f"val_{name}": value for name, value in val_logs.items()}
            callbacks.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
        if epochs > 0:
            model.optimizer.finalize_variable_values(model.trainable_weights)
        callbacks.on_train_end(logs=epoch_logs)
    return model.history


def _evaluate(model, data, steps, test_step, callbacks) -> dict:
    """`model.evaluate` on a distributed dataset of `steps` batches, inside `fit` (as Keras's)."""
    model.reset_metrics()
    callbacks.on_test_begin()
    iterator = iter(data)
    for step in range(steps):
        callbacks.on_test_batch_begin(step)
        logs = test_step(iterator)
        callbacks.on_test_batch_end(step, logs)
    logs = _floats(model.get_metrics_result())
    callbacks.on_test_end(logs)
    return logs


def batch_count(dataset, what: str, count: bool = True) -> int:
    """The batches of one pass over `dataset` (global batches, before any sharding).

    Where TensorFlow does not know the length, `count` makes one pass over the
    data to count it. Not for shuffled training data: the pass would use up
    one of its reshuffles, and the epochs would no longer match one device's.

    Raises:
        ValueError: for data that never ends, or of unknown length where
            `count` is False.
    """
    import tensorflow as tf

    length = int(dataset.cardinality())
    if length == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"the {what} never ends (it repeats); give steps_per_epoch")
    if length == tf.data.UNKNOWN_CARDINALITY:
        if not count:
            raise ValueError(
                f"the {what} has no known length; its loader should give it one "
                "(tf.data.experimental.assert_cardinality, as datasets/base.py does)"
            )
        length = int(dataset.reduce(0, lambda n, _: n + 1))
    return length
