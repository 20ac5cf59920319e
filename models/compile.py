"""Loss, metrics and optimizer for a task's head."""

from __future__ import annotations

import keras

from zoo.spec import BINARY, MULTICLASS, NEXT_TOKEN, REGRESSION, TaskSpec

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}


def loss_and_metrics(spec: TaskSpec, one_hot_labels: bool = False):
    """The loss and metrics that fit the task's head.

    Returns:
        `(loss, metrics, monitor)`: `monitor` is the validation quantity that
        early stopping watches (always a loss: lower is better).
    """
    if spec.head == BINARY:
        return keras.losses.BinaryCrossentropy(), ["accuracy"], "val_loss"
    if spec.head == NEXT_TOKEN:
        # Logits head: from_logits is exact and cheaper than a softmax layer.
        # An encoder-decoder (two inputs) also reports the per-token accuracy
        # (teacher-forced, padding masked), the number its anchors report.
        metrics = ["accuracy"] if len(spec.inputs) > 1 else []
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics, "val_loss"
    if spec.head == REGRESSION:
        return keras.losses.MeanSquaredError(), ["mae"], "val_loss"
    if spec.head == MULTICLASS:
        loss = (
            keras.losses.CategoricalCrossentropy()
            if one_hot_labels
            else keras.losses.SparseCategoricalCrossentropy()
        )
        return loss, ["accuracy"], "val_loss"
    raise ValueError(f"unknown head {spec.head!r}")


def make_optimizer(config) -> keras.optimizers.Optimizer:
    """The optimizer named by `config.optimizer`, with learning rate and clipnorm."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def compile_model(model: keras.Model, config, spec: TaskSpec) -> keras.Model:
    """Compiles `model` for the task; `jit_compile` follows `config.jit_compile`."""
    loss, metrics, _ = loss_and_metrics(spec, config.one_hot_labels)
    model.compile(
        optimizer=make_optimizer(config), loss=loss, metrics=metrics, jit_compile=config.jit_compile
    )
    return model
