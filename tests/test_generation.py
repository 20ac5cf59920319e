"""The one-step sampler carries the state: it must agree with the full model."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from models.generation import Sampler
from models.rnn import build_functional
from tests.test_models import TINY_SPECS
from zoo.config import TrainConfig


@pytest.mark.parametrize("cell,layers", [("simplernn", 1), ("lstm", 2), ("gru", 2)])
def test_step_by_step_matches_whole_sequence(cell, layers):
    keras.utils.set_random_seed(3)
    spec = TINY_SPECS["shakespeare"]
    config = dataclasses.replace(
        TrainConfig(), cell=cell, layers=layers, units=6, embedding_dim=4, dropout=0.1, jit_compile=False
    )
    model = build_functional(config, spec)
    prime = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype="int32")
    logits = model.predict_on_batch(prime[None])[0, -1]
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    np.testing.assert_allclose(Sampler(model).next_probabilities(prime).numpy(), expected, atol=1e-5)


def test_sampling_is_seeded_and_in_vocabulary():
    spec = TINY_SPECS["shakespeare"]
    model = build_functional(dataclasses.replace(TrainConfig(), cell="gru", units=5, embedding_dim=3), spec)
    sampler = Sampler(model)
    a = sampler.sample([1, 2, 3], length=50, temperature=1.0, seed=7)
    b = sampler.sample([1, 2, 3], length=50, temperature=1.0, seed=7)
    c = sampler.sample([1, 2, 3], length=50, temperature=1.0, seed=8)
    assert a.shape == (50,) and (a >= 0).all() and (a < spec.input.vocab_size).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="empty"):
        sampler.sample([], length=5)


def test_bidirectional_model_cannot_generate():
    spec = TINY_SPECS["shakespeare"]
    config = dataclasses.replace(TrainConfig(), cell="lstm", units=3, bidirectional=True)
    with pytest.raises(ValueError, match="left to right"):
        Sampler(build_functional(config, spec))


def test_stream_loss_carries_the_state_like_the_sampler():
    """stream_loss == mean of -log p(next | everything before), p from the one-step sampler."""
    from zoo.metrics import stream_loss

    keras.utils.set_random_seed(5)
    spec = TINY_SPECS["shakespeare"]
    model = build_functional(dataclasses.replace(TrainConfig(), cell="gru", units=6, embedding_dim=4), spec)
    ids = np.random.default_rng(0).integers(1, spec.input.vocab_size, size=9).astype("int32")
    sampler = Sampler(model)
    by_step = [-np.log(sampler.next_probabilities(ids[:k]).numpy()[ids[k]]) for k in range(1, len(ids))]
    assert stream_loss(model, ids) == pytest.approx(float(np.mean(by_step)), rel=1e-5)
    # One window read as a stream: the loss Keras computes for that window.
    window_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        ids[None, 1:], model.predict_on_batch(ids[None, :-1])
    )
    assert stream_loss(model, ids) == pytest.approx(float(window_loss), rel=1e-5)
