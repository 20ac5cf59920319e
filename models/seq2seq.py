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

`Translator` decodes a trained model: the encoder runs once, then the
decoder cell carries its state one token at a time (no re-running of the
prefix), greedily or by beam search, batched.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

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
            `dropout`, `model` (the name) and `model_settings["attention"]`.
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
    y = CELLS[config.cell](decoder_units, return_sequences=True, name="decoder")(y, initial_state=states)
    if attention != "none":
        context = ATTENTION[attention](name="attention")([y, encoder_outputs])  # (batch, T, decoder_units)
        y = keras.layers.Concatenate(name="attention_concat")([y, context])
        y = keras.layers.Dense(decoder_units, activation="tanh", name="attention_dense")(y)
    if config.dropout:
        y = keras.layers.Dropout(config.dropout, name="decoder_dropout")(y)
    logits = keras.layers.Dense(spec.output_units, name="head")(y)  # (batch, T, target vocabulary)
    return keras.Model({source_spec.name: source, target_spec.name: target_in}, logits, name=config.model)


class Translator:
    """Decodes a trained encoder-decoder from `build`, batched, greedily or by beam search.

    The encoder runs once over the padded sources; the decoder's cell then
    takes one token per step with the state it carries, so each output
    token costs one decoder step whatever the prefix's length.

    Args:
        model: A model built by `build` (trained, or loaded from a run).

    Example:
        >>> ids, scores = Translator(model).greedy(source_ids, max_length=5)
        >>> ids.shape  # (batch, 5): target ids, END then PAD after the answer
    """

    def __init__(self, model: keras.Model):
        names = {layer.name for layer in model.layers}
        self.source_embedding = model.get_layer("source_embedding")
        self.encoder = [
            layer for layer in model.layers if layer.name.startswith("encoder_") and layer.name[8:].isdigit()
        ]
        self.bidirectional = isinstance(self.encoder[0], keras.layers.Bidirectional)
        self.target_embedding = model.get_layer("target_embedding")
        self.cell = model.get_layer("decoder").cell
        self.attention = model.get_layer("attention") if "attention" in names else None
        self.attention_dense = model.get_layer("attention_dense") if self.attention else None
        self.head = model.get_layer("head")
        self.vocab_size = self.head.units
        self._greedy = tf.function(self._greedy_loop, reduce_retracing=True)
        self._beam = tf.function(self._beam_loop, reduce_retracing=True)

    @property
    def has_attention(self) -> bool:
        return self.attention is not None

    def encode(self, source):
        """Encoder outputs (batch, S, units), the decoder's initial states, and the source mask."""
        mask = tf.not_equal(source, PAD)
        x = self.source_embedding(source)
        states = []
        for rnn in self.encoder:
            x, *states = rnn(x, mask=mask, training=False)
        if self.bidirectional:
            half = len(states) // 2
            states = [tf.concat([fw, bw], axis=-1) for fw, bw in zip(states[:half], states[half:])]
        return x, states, mask

    def step(self, token, states, encoder_outputs, mask):
        """One decoder step: token ids (batch,) -> logits (batch, vocab), new states, attention (batch, S)."""
        # The embedding's table, read directly: an Embedding call would attach a mask the cell refuses.
        x = tf.gather(self.target_embedding.embeddings, token)
        x, states = self.cell(x, states, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        scores = tf.zeros((tf.shape(token)[0], tf.shape(encoder_outputs)[1]))
        if self.attention is not None:
            query = x[:, None, :]  # (batch, 1, units)
            context, scores = self.attention(
                [query, encoder_outputs], mask=[None, mask], return_attention_scores=True
            )
            x = self.attention_dense(tf.concat([x, context[:, 0]], axis=-1))
            scores = scores[:, 0]
        # PAD and START are never an answer.
        never = tf.one_hot([PAD, START], self.vocab_size, on_value=-1e9, off_value=0.0)
        return self.head(x) + tf.reduce_sum(never, axis=0), states, scores

    def _greedy_loop(self, source, max_length: int):
        encoder_outputs, states, mask = self.encode(source)
        token = tf.fill([tf.shape(source)[0]], START)
        done = tf.zeros_like(token, dtype=tf.bool)
        tokens, all_scores = [], []
        for _ in range(max_length):  # a short, fixed loop: unrolled
            logits, states, scores = self.step(token, states, encoder_outputs, mask)
            token = tf.where(done, PAD, tf.argmax(logits, axis=-1, output_type=tf.int32))
            done = done | tf.equal(token, END)
            tokens.append(token)
            all_scores.append(scores)
        return tf.stack(tokens, axis=1), tf.stack(all_scores, axis=1)

    def greedy(self, source_ids, max_length: int):
        """The most likely token at every step.

        Args:
            source_ids: Zero-padded source ids, shape (batch, S).
            max_length: The most output steps (the END id included).

        Returns:
            `(ids, attention)`: ids (batch, max_length), PAD after each END;
            attention weights (batch, max_length, S) (zeros without attention).
        """
        ids, scores = self._greedy(tf.constant(source_ids, tf.int32), int(max_length))
        return ids.numpy(), scores.numpy()

    def _beam_loop(self, source, beam: int, max_length: int):
        batch = tf.shape(source)[0]
        encoder_outputs, states, mask = self.encode(source)
        # Every sequence becomes `beam` rows: (batch * beam, ...), rows b*beam .. b*beam + beam-1.
        encoder_outputs = tf.repeat(encoder_outputs, beam, axis=0)
        mask = tf.repeat(mask, beam, axis=0)
        states = [tf.repeat(s, beam, axis=0) for s in states]
        token = tf.fill([batch * beam], START)
        done = tf.zeros_like(token, dtype=tf.bool)
        # At the start only the first beam of each sequence lives, or all would find the same tokens.
        first = tf.one_hot(tf.zeros([batch], tf.int32), beam, on_value=0.0, off_value=-1e9)
        total = tf.reshape(first, [-1])  # (batch * beam,) log-probability of each hypothesis
        # A finished hypothesis continues with PAD only, at no cost.
        after_end = tf.one_hot(PAD, self.vocab_size, on_value=0.0, off_value=-1e9)
        offsets = tf.range(batch)[:, None] * beam  # (batch, 1)
        tokens, parents = [], []
        for _ in range(max_length):
            logits, states, _ = self.step(token, states, encoder_outputs, mask)
            log_probs = tf.nn.log_softmax(logits)
            log_probs = tf.where(done[:, None], after_end[None, :], log_probs)
            candidates = tf.reshape(total[:, None] + log_probs, [batch, beam * self.vocab_size])
            best, index = tf.math.top_k(candidates, k=beam)  # (batch, beam), best first
            parent = index // self.vocab_size
            token = tf.reshape(index % self.vocab_size, [-1])
            rows = tf.reshape(parent + offsets, [-1])  # the row each new hypothesis extends
            states = [tf.gather(s, rows) for s in states]
            done = tf.gather(done, rows) | tf.equal(token, END)
            total = tf.reshape(best, [-1])
            tokens.append(tf.reshape(token, [batch, beam]))
            parents.append(parent)
        return tf.stack(tokens, axis=1), tf.stack(parents, axis=1)  # (batch, steps, beam) each

    def beam_search(self, source_ids, beam: int, max_length: int) -> np.ndarray:
        """The most likely output of `beam` hypotheses kept at every step (sum of log-probabilities).

        With `beam=1` it is the greedy output.

        Args:
            source_ids: Zero-padded source ids, shape (batch, S).
            beam: Hypotheses kept per sequence (at most the target vocabulary).
            max_length: The most output steps (the END id included).

        Returns:
            Ids (batch, max_length), PAD after each END.
        """
        if not 1 <= beam <= self.vocab_size:
            raise ValueError(f"--beam must be between 1 and the {self.vocab_size} target ids, got {beam}")
        tokens, parents = self._beam(tf.constant(source_ids, tf.int32), int(beam), int(max_length))
        tokens, parents = tokens.numpy(), parents.numpy()
        # Back from the best final hypothesis (top_k sorts: beam 0) through its parents.
        out = np.zeros(tokens.shape[:2], dtype=np.int32)
        which = np.zeros(len(tokens), dtype=np.int64)
        rows = np.arange(len(tokens))
        for t in range(tokens.shape[1] - 1, -1, -1):
            out[:, t] = tokens[rows, t, which]
            which = parents[rows, t, which]
        return out


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
