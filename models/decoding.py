"""Decoding a trained encoder-decoder (models/seq2seq.py), batched: greedy and beam search.

The encoder runs once over the padded sources; the decoder cell then
carries its state one token at a time (no re-running of the prefix),
inside one `tf.function`. TensorFlow, as models/generation.py: the
builders themselves stay free of it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from models.seq2seq import END, PAD, START


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

    def greedy_ids(self, source, max_length: int) -> tf.Tensor:
        """`greedy` on tensors, inside a graph (a SavedModel's signature calls it).

        Args:
            source: int32 zero-padded source ids (batch, S).
            max_length: The most output steps (a Python int: the loop is unrolled).

        Returns:
            int32 ids (batch, max_length), PAD after each END.
        """
        return self._greedy_loop(source, max_length)[0]

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
