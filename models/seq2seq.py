"""Encoder-decoder RNNs (LSTM, GRU), with or without attention, and their decoding.

The encoder reads the source ids; its final state starts the decoder, which
is trained with teacher forcing: it reads the target shifted right (a start
id first) and predicts the target (an end id last) at every step. Both
inputs are zero-padded and masked, so the padding counts in neither the
loss nor the metrics.

With `--attention luong` (Keras `Attention`, dot-product scores) or
`bahdanau` (Keras `AdditiveAttention`), every decoder output queries the
encoder's outputs; the context and the decoder output, concatenated, pass
a tanh layer before the head (Luong et al.'s attentional hidden state).

`models/decoding.py` decodes a trained model (TensorFlow, so this module
stays backend-free).
"""

from __future__ import annotations

import keras

from models.registry import register_model
from zoo.spec import NEXT_TOKEN, TOKENS, Setting, TaskSpec

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
ATTENTION = {"luong": keras.layers.Attention, "bahdanau": keras.layers.AdditiveAttention}
SETTINGS = (
    Setting(
        "attention",
        str,
        "none",
        "attention over the encoder outputs: none, luong (dot-product) or bahdanau (additive); "
        "a task's recipe may choose one (see --list)",
        choices=("none", *ATTENTION),
    ),
)
# Decoder ids the tasks reserve: 0 pads, then the start and the end of a target.
PAD, START, END = 0, 1, 2


def build(config, spec: TaskSpec, api: str = "functional") -> keras.Model:
    """Builds the encoder-decoder for a two-input task (source ids, decoder-input ids).

    Args:
        config: Settings with `cell` ("lstm" or "gru"), `units`, `layers`
            and `bidirectional` (of the encoder), `embedding_dim`,
            `dropout`, `embedding_dropout`, `model` (the name) and
            `model_settings["attention"]`.
        spec: A `TaskSpec` with two token inputs (the source, then the
            decoder's input) and a per-step NEXT_TOKEN head.
        api: Only `"functional"`: a Sequential model cannot take two inputs.

    Returns:
        An uncompiled `keras.Model`: `{source: (batch, S), decoder input:
        (batch, T)}` -> logits `(batch, T, spec.output_units)`.

    Example:
        >>> build(config, spec).output_shape   # addition: (None, None, 13)
    """
    if api != "functional":
        raise ValueError(f"{config.model!r} is built with the functional API only, got {api!r}")
    if config.cell not in CELLS:
        raise ValueError(f"unknown encoder-decoder cell {config.cell!r}; choose one of: {', '.join(CELLS)}")
    if len(spec.inputs) != 2 or any(i.kind != TOKENS for i in spec.inputs):
        raise ValueError("an encoder-decoder reads two token inputs: the source and the decoder's input")
    if spec.head != NEXT_TOKEN or not spec.per_step:
        raise ValueError("an encoder-decoder predicts the next target token at every decoder step")
    attention = config.model_settings.get("attention", "none")
    source_spec, target_spec = spec.inputs
    source = keras.Input(shape=(None,), dtype="int32", name=source_spec.name)
    target_in = keras.Input(shape=(None,), dtype="int32", name=target_spec.name)
    decoder_units = config.units * (2 if config.bidirectional else 1)  # the encoder's state, both ways

    x = keras.layers.Embedding(
        source_spec.vocab_size, config.embedding_dim, mask_zero=True, name="source_embedding"
    )(source)
    if config.embedding_dropout:
        x = keras.layers.SpatialDropout1D(config.embedding_dropout, name="source_embedding_dropout")(x)
    states = []
    for i in range(config.layers):
        name = f"encoder_{i}"
        rnn = CELLS[config.cell](
            config.units,
            return_sequences=True,
            return_state=True,
            name=f"{config.cell}_{name}" if config.bidirectional else name,
        )
        if config.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=name)
        x, *states = rnn(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"encoder_dropout_{i}")(x)
    encoder_outputs = x  # (batch, S, decoder_units)
    if config.bidirectional:  # [h_fw, (c_fw,) h_bw, (c_bw)] -> [h, (c)], each both ways concatenated
        half = len(states) // 2
        states = [
            keras.layers.Concatenate(name=f"encoder_state_{j}")([fw, bw])
            for j, (fw, bw) in enumerate(zip(states[:half], states[half:]))
        ]

    y = keras.layers.Embedding(
        target_spec.vocab_size, config.embedding_dim, mask_zero=True, name="target_embedding"
    )(target_in)
    if config.embedding_dropout:
        y = keras.layers.SpatialDropout1D(config.embedding_dropout, name="target_embedding_dropout")(y)
    y = CELLS[config.cell](decoder_units, return_sequences=True, name="decoder")(y, initial_state=states)
    if attention != "none":
        context = ATTENTION[attention](name="attention")([y, encoder_outputs])  # (batch, T, decoder_units)
        y = keras.layers.Concatenate(name="attention_concat")([y, context])
        y = keras.layers.Dense(decoder_units, activation="tanh", name="attention_dense")(y)
    if config.dropout:
        y = keras.layers.Dropout(config.dropout, name="decoder_dropout")(y)
    logits = keras.layers.Dense(spec.output_units, name="head")(y)  # (batch, T, target vocabulary)
    return keras.Model({source_spec.name: source, target_spec.name: target_in}, logits, name=config.model)


for _cell in CELLS:
    register_model(
        f"seq2seq-{_cell}",
        f"encoder-decoder: {_cell.upper()} encoder, its final state starts the {_cell.upper()} decoder",
        build,
        preset=dict(cell=_cell, layers=1, bidirectional=False),
        heads=(NEXT_TOKEN,),
        input_kinds=(TOKENS,),
        inputs=2,
        apis=("functional",),
        settings=SETTINGS,
    )
