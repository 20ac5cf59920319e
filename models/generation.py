"""Character sampling that carries the RNN state forward one step at a time.

A tutorial sampler re-runs the whole window for every new character
(O(window) work per character). Here the trained layers are called cell by
cell: each new character costs one step of each layer, inside one
`tf.function` loop.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class Sampler:
    """Samples from a trained next-token model (embedding, RNN layers, head).

    Args:
        model: A trained model from `models.rnn.build` on a `per_step` task.
            Dropout layers are skipped (inference).

    Example:
        >>> ids = Sampler(model).sample(prime_ids, length=200, temperature=0.8)
        >>> ids.shape  # (200,)
    """

    def __init__(self, model: keras.Model):
        skip = (keras.layers.Dropout, keras.layers.InputLayer)
        layers = [layer for layer in model.layers if not isinstance(layer, skip)]
        if any(isinstance(layer, keras.layers.Bidirectional) for layer in layers):
            raise ValueError("a bidirectional model cannot generate left to right")
        self.embedding = layers[0]
        self.cells = [layer.cell for layer in layers[1:-1]]
        self.head = layers[-1]

    def state_sizes(self) -> list[list[int]]:
        """The sizes of each layer's states: `[[units]]` for a GRU, `[[units, units]]` for an LSTM."""
        return [
            list(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            for cell in self.cells
        ]

    def zero_states(self):
        """The states before the first token: zeros of shape (1, size), per layer."""
        return [[tf.zeros((1, size)) for size in sizes] for sizes in self.state_sizes()]

    def step(self, token, states):
        """One token in (ids of shape (1,)), logits (1, vocab) and the new states out."""
        x = self.embedding(token)
        new_states = []
        for cell, state in zip(self.cells, states):
            x, state = cell(x, state, training=False)
            new_states.append(list(state) if isinstance(state, (list, tuple)) else [state])
        return self.head(x), new_states

    @tf.function
    def _warm_up(self, prime):
        """Runs the prime through the stack; returns the logits after it and the states."""
        states = self.zero_states()
        logits = tf.zeros((1, self.head.units))

        def body(i, logits, states):
            logits, states = self.step(prime[i][None], states)
            return i + 1, logits, states

        _, logits, states = tf.while_loop(
            lambda i, *_: i < tf.shape(prime)[0], body, (tf.constant(0), logits, states)
        )
        return logits, states

    def next_probabilities(self, prime_ids) -> tf.Tensor:
        """Probabilities of the next token after `prime_ids`, shape (vocab,)."""
        logits, _ = self._warm_up(tf.constant(prime_ids, dtype=tf.int32))
        return tf.nn.softmax(logits[0])

    @tf.function
    def sample_ids(self, prime, length, temperature, seed):
        """`sample` on tensors, inside a graph (a SavedModel's signature calls it).

        Args:
            prime: int32 ids of shape (n,), n >= 1.
            length, temperature, seed: int32, float32 and int32 scalars.

        Returns:
            int32 ids of shape (length,).
        """
        logits, states = self._warm_up(prime)
        out = tf.TensorArray(tf.int32, size=length)

        def body(i, logits, states, out):
            token = tf.random.stateless_categorical(
                logits / temperature, 1, seed=tf.stack([seed, i]), dtype=tf.int32
            )[0]
            out = out.write(i, token[0])
            logits, states = self.step(token, states)
            return i + 1, logits, states, out

        _, _, _, out = tf.while_loop(lambda i, *_: i < length, body, (tf.constant(0), logits, states, out))
        return out.stack()

    def sample(self, prime_ids, length: int, temperature: float = 1.0, seed: int = 0):
        """Samples `length` token ids after the prime (which must not be empty).

        Args:
            prime_ids: Ids of the seed text.
            length: Number of ids to sample.
            temperature: Softmax temperature; lower is more conservative.
            seed: Seed of the stateless sampler (same seed, same text).

        Returns:
            A NumPy int array of shape (length,).
        """
        if len(prime_ids) == 0:
            raise ValueError("the seed text is empty")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        return self.sample_ids(
            tf.constant(prime_ids, dtype=tf.int32),
            tf.constant(length),
            tf.constant(temperature, tf.float32),
            tf.constant(seed),
        ).numpy()
