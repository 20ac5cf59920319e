"""Fast checks that the chapter's maths in `exercises/` matches Keras.

Every size here is tiny: the whole file runs in well under a minute on two
CPU cores. Each from-scratch result must match Keras to 1e-5 (float64 BPTT
to 1e-10), and the gradient measurements must point the right way.
"""

import pathlib
import re

import numpy as np
import pytest

from exercises import bptt, char_rnn, common, gru_forward, lstm_forward, next_word, simplernn_forward
from exercises import vanishing_gradient as vg

TOL = common.TOLERANCE
SMALL = {"units": 3, "features": 2, "steps": 4, "batch": 2, "seed": 1}


def test_simplernn_matches_keras():
    diffs = simplernn_forward.compare_with_keras(**SMALL)
    assert diffs["h"] < TOL and diffs["y"] < TOL


def test_simplernn_needs_the_transposes():
    # Sensitivity check: W_hh used untransposed must visibly break the match.
    model = common.build_rnn("simplernn", units=3, features=2, seed=1)
    x = common.random_inputs(2, 4, 2, seed=1)
    weights = simplernn_forward.chapter_weights(model)
    weights["W_hh"] = weights["W_hh"].T
    h, _ = simplernn_forward.simplernn_forward(x, weights)
    h_keras, _ = common.keras_hidden_and_output(model, x)
    assert common.max_abs_diff(h, h_keras) > 1e-3


def test_lstm_matches_keras_and_gate_order_is_ifco():
    diffs = lstm_forward.compare_with_keras(**SMALL)
    assert diffs["h"] < TOL and diffs["y"] < TOL
    # Of the 24 possible block orders only Keras's i, f, c, o reproduces it.
    assert diffs["orders"] == [("i", "f", "c", "o")]


def test_lstm_forget_gate_is_assembled_from_block_two():
    # Known values: np.arange weights make every slice recognisable.
    model = common.build_rnn("lstm", units=2, features=3, weight_scale=None)
    layer = model.get_layer("rnn")
    kernel = np.arange(3 * 8, dtype="float32").reshape(3, 8)
    recurrent = 100 + np.arange(2 * 8, dtype="float32").reshape(2, 8)
    bias = np.arange(8, dtype="float32")
    layer.set_weights([kernel, recurrent, bias])
    w = lstm_forward.chapter_weights(model)
    np.testing.assert_array_equal(w["W_f"], [[102, 110, 2, 10, 18], [103, 111, 3, 11, 19]])
    np.testing.assert_array_equal(w["b_f"], [2, 3])


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_keras_both_variants(reset_after):
    results = gru_forward.compare_with_keras(**SMALL)
    result = results[reset_after]
    assert result["h"] < TOL and result["y"] < TOL
    assert result["orders"] == [("z", "r", "h")]
    units = SMALL["units"]
    assert result["bias_shape"] == ((2, 3 * units) if reset_after else (3 * units,))


def test_gru_default_is_reset_after():
    import keras

    assert keras.layers.GRU(4).reset_after is True


def test_gru_variants_differ():
    # Guard against a forward pass that ignores reset_after.
    model = common.build_rnn("gru", units=3, features=2, seed=1, reset_after=True)
    x = common.random_inputs(2, 4, 2, seed=1)
    weights = gru_forward.chapter_weights(model)
    h_after, _ = gru_forward.gru_forward(x, weights)
    h_before, _ = gru_forward.gru_forward(x, {**weights, "reset_after": False})
    assert common.max_abs_diff(h_after, h_before) > 1e-3


def test_bptt_matches_gradient_tape_float64():
    diffs = bptt.compare_with_tape(**SMALL, dtype="float64")
    assert set(diffs) == {"loss", "dW_xh", "dW_hh", "db_h", "dW_y", "db_y", "dx"}
    # Both sides in float64: anything above rounding means wrong maths.
    assert max(diffs.values()) < 1e-10, diffs


def test_bptt_matches_gradient_tape_float32():
    diffs = bptt.compare_with_tape(**SMALL, dtype="float32")
    assert max(diffs.values()) < TOL, diffs


def test_simplernn_gradient_vanishes():
    norms = vg.gradient_norms("simplernn", steps=60, trials=2, sequences=2)
    assert norms.shape == (60,)
    assert norms[49] < 1e-3 * norms[0]


def test_relu_large_gain_gradient_explodes_and_clipping_bounds_it():
    norms = vg.gradient_norms("simplernn", steps=60, trials=2, sequences=2, **vg.exploding_kwargs(2.0))
    assert norms[0] < norms[9] < norms[49]
    assert norms[49] > 1e3 * norms[0]
    rows = vg.clipping_demo([10, 60], gain=2.0, clipnorm=1.0, sequences=2)
    assert rows[0]["norm"] < rows[1]["norm"]  # longer sequence, larger gradient
    for row in rows:
        assert row["norm"] > 1.0
        assert row["clipped"] == pytest.approx(1.0)
        assert row["cosine"] == pytest.approx(1.0)


def test_invalid_values_raise_value_error():
    with pytest.raises(ValueError, match="rnn"):
        common.build_rnn("rnn")
    with pytest.raises(ValueError, match="steps"):
        vg.gradient_norms("lstm", steps=1)
    with pytest.raises(ValueError, match="order"):
        lstm_forward.chapter_weights(common.build_rnn("lstm"), order=("i", "f", "c"))


def test_every_main_runs(tmp_path, capsys):
    tiny = ["--units", "2", "--features", "2", "--steps", "3", "--batch", "1"]
    for module in (simplernn_forward, lstm_forward, gru_forward, bptt):
        module.main(tiny)
        out = capsys.readouterr().out
        assert "OK" in out and "MISMATCH" not in out, module.__name__
        assert module.TASKS[0] in out
    png = tmp_path / "gradients.png"
    vg.main(
        [
            "--steps",
            "12",
            "--trials",
            "1",
            "--sequences",
            "1",
            "--units",
            "4",
            "--out",
            str(png),
        ]
    )
    assert "d=10" in capsys.readouterr().out
    assert png.stat().st_size > 0


def test_char_rnn_backward_pass_matches_finite_differences():
    """Every weight's BPTT gradient equals the central difference of the loss (float64, 1e-6 relative)."""
    model = char_rnn.CharRNN("abcde", hidden=5, seed=2)
    for value in model.params.values():  # larger weights than the init, so no gradient is ~0
        value += np.random.default_rng(3).normal(0, 0.5, value.shape)
    inputs, targets = model.encode("abcabdeea"), model.encode("bcabdeeab")
    _, grads, _ = char_rnn.loss_and_gradients(model, inputs, targets, np.zeros((5, 1)))
    rng = np.random.default_rng(0)
    for name, grad in grads.items():
        for _ in range(3):
            index = tuple(rng.integers(0, n) for n in grad.shape)
            numeric = char_rnn.numerical_gradient(model, inputs, targets, name, index)
            assert grad[index] == pytest.approx(numeric, rel=1e-6, abs=1e-9), (name, index)


def test_char_rnn_learns_a_repeated_line():
    text = "hello world. " * 20
    model = char_rnn.CharRNN("".join(sorted(set(text))), hidden=16, seed=0)
    losses, samples = char_rnn.train(model, text, steps=300, seq_len=12, every=300)
    assert losses[0] > 2.0 and losses[-1] < 0.5 * losses[0]  # from a uniform guess (ln 9 = 2.2) down
    assert len(samples) == 1 and "hello" in samples[0][1]


def test_readme_lists_every_task():
    readme = pathlib.Path(__file__).parents[1] / "exercises" / "README.md"
    text = re.sub(r"\s+", " ", readme.read_text())
    for module in (simplernn_forward, lstm_forward, gru_forward, bptt, vg, next_word, char_rnn):
        for task in module.TASKS:
            assert task in text, (module.__name__, task)


def test_next_word_beam_search_on_a_trained_run(tmp_path):
    """Beam search returns complete words whose probability is the product of their characters'."""
    import math

    import evaluate  # noqa: F401  (imports the CLI modules the run needs)
    import train
    from datasets import shakespeare
    from exercises import next_word
    from models.generation import Sampler
    from zoo import cli, rundir

    run_dir = str(tmp_path / "run")
    args = ["--model", "gru", "--task", "shakespeare", "--run-dir", run_dir, "--units", "16"]
    assert cli.run(train.main, [*args, "--epochs", "1", "--steps-per-epoch", "20"]) == 0
    results = next_word.main([run_dir, "--top-k", "3", "--length", "20"])
    assert [r["prompt"] for r in results] == list(next_word.PROMPTS)

    state = rundir.read_json(f"{run_dir}/{rundir.STATE_FILE}")
    sampler = Sampler(rundir.load_model(f"{run_dir}/{rundir.MODEL_FILE}"))
    for result in results:
        probs = [p for _, p in result["top_words"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
        assert len(result["completion"]) == 20
        word, p = result["top_words"][0]
        assert word and not set(word) & next_word.WORD_END
        # Recompute P(word + end) character by character.
        text, logp = result["prompt"], 0.0
        ends = [c for c in next_word.WORD_END]
        for char in word:
            logp += math.log(
                float(
                    sampler.next_probabilities(shakespeare.encode(state, text))[
                        shakespeare.encode(state, char)[0]
                    ]
                )
            )
            text += char
        last = sampler.next_probabilities(shakespeare.encode(state, text)).numpy()
        p_end = sum(last[i] for i in {int(shakespeare.encode(state, c)[0]) for c in ends})
        assert math.exp(logp) * p_end == pytest.approx(p, rel=1e-4)
