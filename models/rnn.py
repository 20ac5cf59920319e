"""Recurrent stacks (SimpleRNN, LSTM, GRU; stacked, bidirectional), two APIs.

The body knows nothing of the task: `TaskSpec` supplies the input (token ids
to embed, or float features) and the head. `build_sequential` and
`build_functional` make the same layer stack from the same list of layers.
"""

from __future__ import annotations

import keras
from keras import ops

from models.registry import register_model
from zoo.spec import BINARY, MULTICLASS, NEXT_TOKEN, REGRESSION, TOKENS, TaskSpec

CELLS = {"simplernn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
APIS = ("sequential", "functional")


def head_layer(spec: TaskSpec) -> keras.layers.Layer:
    """The task's output layer: sigmoid, logits, linear or softmax units."""
    activation = {BINARY: "sigmoid", NEXT_TOKEN: None, REGRESSION: None, MULTICLASS: "softmax"}
    if spec.output_steps:  # linear here; the activation comes after the reshape, per step
        return keras.layers.Dense(spec.output_units * spec.output_steps, name="head")
    return keras.layers.Dense(spec.output_units, activation=activation[spec.head], name="head")


@keras.saving.register_keras_serializable(package="rnn_zoo")
class MaskedMaxOverTime(keras.layers.Layer):
    """Each feature's maximum over the steps the mask keeps: (batch, steps, f) -> (batch, f).

    Keras's `GlobalMaxPooling1D` ignores the mask, so a padded step could
    win the maximum where a masked layer outputs zeros there (a
    bidirectional RNN does). A row with no kept step gives zeros.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        highest = ops.max(ops.where(keep, inputs, float("-inf")), axis=1)
        return ops.where(ops.any(keep, axis=1), highest, ops.zeros_like(highest))

    def compute_mask(self, inputs, mask=None):
        return None  # the steps are gone

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


POOLING = {
    "mean": lambda: keras.layers.GlobalAveragePooling1D(name="mean_over_time"),
    "max": lambda: MaskedMaxOverTime(name="max_over_time"),
}


def stack_layers(config, spec: TaskSpec) -> list[keras.layers.Layer]:
    """The layers of the model in order: [embedding], RNN x layers, [pooling], head.

    Dropout, where `config.dropout` > 0, sits between layers rather than
    inside the cells: in-cell dropout rules out the fused cuDNN kernels.
    """
    if config.cell not in CELLS:
        raise ValueError(f"unknown cell {config.cell!r}; choose one of: {', '.join(CELLS)}")
    layers: list[keras.layers.Layer] = []
    source = spec.input  # one input (ValueError for an encoder-decoder's two)
    if source.kind == TOKENS:
        layers.append(
            keras.layers.Embedding(
                source.vocab_size, config.embedding_dim, mask_zero=source.mask_zero, name="embedding"
            )
        )
        if config.embedding_dropout:
            layers.append(keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout"))
    for i in range(config.layers):
        last = i == config.layers - 1
        # Every layer but the last hands the whole sequence on; the last one
        # returns only its final state unless the head predicts every step.
        rnn = CELLS[config.cell](
            config.units,
            return_sequences=not last or spec.per_step or spec.pool in POOLING,
            name=f"{config.cell}_{i}",
        )
        if config.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"bidirectional_{i}")
        layers.append(rnn)
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}"))
    if spec.pool in POOLING and not spec.per_step:
        # Masked: padded steps count neither in the mean nor in the maximum.
        layers.append(POOLING[spec.pool]())
    layers.append(head_layer(spec))
    if spec.output_steps:  # several steps at once: (batch, steps * units) -> (batch, steps, units)
        layers.append(keras.layers.Reshape((spec.output_steps, spec.output_units), name="steps"))
        if spec.head in (BINARY, MULTICLASS):
            activation = "sigmoid" if spec.head == BINARY else "softmax"
            layers.append(keras.layers.Activation(activation, name="step_activation"))
    return layers


def model_input(spec: TaskSpec) -> keras.KerasTensor:
    """`keras.Input` for one example of the task: (timesteps,) ids or (timesteps, features)."""
    source = spec.input
    return keras.Input(shape=source.shape, dtype=source.dtype, name=source.name)


def build_sequential(config, spec: TaskSpec) -> keras.Model:
    """The stack as `keras.Sequential`.

    Example:
        >>> build_sequential(config, spec).output_shape   # imdb: (None, 1)
    """
    return keras.Sequential([model_input(spec), *stack_layers(config, spec)], name=config.model)


def build_functional(config, spec: TaskSpec) -> keras.Model:
    """The same stack through the functional API (masks propagate the same way)."""
    inputs = model_input(spec)
    x = inputs
    for layer in stack_layers(config, spec):
        x = layer(x)
    return keras.Model(inputs, x, name=config.model)


def build(config, spec: TaskSpec, api: str = "functional") -> keras.Model:
    """Builds the recurrent model with the chosen API.

    Args:
        config: Settings with `cell`, `units`, `layers`, `bidirectional`,
            `embedding_dim`, `dropout`, `embedding_dropout` and `model` (the name).
        spec: The task's `TaskSpec`.
        api: `"sequential"` or `"functional"`.

    Returns:
        An uncompiled `keras.Model`.
    """
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}; choose one of: {', '.join(APIS)}")
    return (build_sequential if api == "sequential" else build_functional)(config, spec)


# Named presets: plain settings, nothing hidden in the names. `--units`,
# `--layers` and `--bidirectional` override any of them.
PRESETS = {
    "simplernn": (
        "one SimpleRNN layer (Elman RNN)",
        dict(cell="simplernn", layers=1),
    ),
    "lstm": ("one LSTM layer", dict(cell="lstm", layers=1)),
    "gru": ("one GRU layer (Keras default reset_after=True)", dict(cell="gru", layers=1)),
    "stacked-lstm": ("two LSTM layers, the first returning sequences", dict(cell="lstm", layers=2)),
    "stacked-gru": (
        "two GRU layers, the first returning sequences",
        dict(cell="gru", layers=2),
    ),
    "bidirectional-lstm": ("one bidirectional LSTM layer", dict(cell="lstm", layers=1, bidirectional=True)),
    "bidirectional-gru": ("one bidirectional GRU layer", dict(cell="gru", layers=1, bidirectional=True)),
}
for _name, (_description, _preset) in PRESETS.items():
    register_model(
        _name,
        _description,
        build,
        preset=dict(bidirectional=False) | _preset,
    )
