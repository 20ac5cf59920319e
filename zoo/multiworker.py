"""Training under `MultiWorkerMirroredStrategy`: Keras's epoch loop, steps and callbacks.

`model.fit` fails under `MultiWorkerMirroredStrategy` in Keras 3.15
(keras-team/keras#20585: the trainer reduces the per-replica logs with
`strategy.reduce(..., axis=0)`, which fails on scalars), so `fit` here runs
Keras's own `model.train_step` and `model.test_step` under `strategy.run`,
in Keras's epoch loop, with the same `CallbackList`. The one difference is
the reduction of the logs: `strategy.reduce(MEAN, value, axis=None)`.

`batch_count` gives the steps of an epoch: every worker must run exactly as
many as the others.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.collectives import all_agree, check_in_sync
from zoo.distribute import distribute_dataset


def _reduced_step(strategy, step_fn):
    """One distributed step: Keras's `step_fn` on every replica, logs averaged over replicas.

    Takes the iterator, as Keras's own train function does: the next batch
    is read inside the compiled function, not handed over from Python.
    Each replica's logs are its running means over equal shares of the
    global batch, so their mean is the running mean of the whole batch (what
    `model.fit` logs under `MirroredStrategy`).
    """

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


def fit(model, strategy, train, validation, *, epochs, steps_per_epoch, callbacks, verbose, initial_epoch=0):
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
        initial_epoch: The epoch to start at (0-based), as for `model.fit`;
            a resumed run passes the epoch of its checkpoint. The same on
            every worker.

    Returns:
        The `keras.callbacks.History`.
    """
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
        check_in_sync(strategy, model, "would start", initial_epoch)
        # Like Keras: with steps_per_epoch, each epoch continues the stream.
        stream = iter(train_data) if steps_per_epoch else None
        epoch_logs: dict = {}
        for epoch in range(initial_epoch, epochs):
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
