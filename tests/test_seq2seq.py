"""The encoder-decoders: their setting, masking, step-by-step decoding, beam search, save and load."""

from __future__ import annotations

import dataclasses
import datetime
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import datasets
from datasets import synthetic, translation
from models.compile import compile_model
from models.decoding import Translator
from models.seq2seq import END, PAD, START, build
from tests.cli_helpers import one_line_error, run_evaluate, run_train
from tests.test_models import assert_round_trip, fake_batch
from zoo import config as config_lib
from zoo import rundir
from zoo.spec import NEXT_TOKEN, TOKENS, InputSpec, TaskSpec

# Source ids 1..11, target ids 3..12 (0 pads, 1 starts, 2 ends), as addition's.
SPEC = TaskSpec(
    inputs=(
        InputSpec(TOKENS, name="source", vocab_size=12, mask_zero=True),
        InputSpec(TOKENS, name="decoder_inputs", vocab_size=13, mask_zero=True),
    ),
    head=NEXT_TOKEN,
    output_units=13,
    per_step=True,
)
SOURCES = np.array([[3, 4, 5, 11, 6, 0, 0], [9, 11, 2, 0, 0, 0, 0], [1, 2, 3, 11, 4, 5, 6]], dtype="int32")


def tiny(cell="lstm", attention="none", **overrides):
    config = config_lib.resolve({"model": f"seq2seq-{cell}", "task": "addition", "attention": attention})
    config = dataclasses.replace(config, units=6, embedding_dim=4, jit_compile=False, **overrides)
    keras.utils.set_random_seed(0)
    return compile_model(build(config, SPEC), config, SPEC)


def test_attention_is_a_setting_of_the_encoder_decoders_only():
    config = config_lib.resolve({"model": "seq2seq-gru", "task": "dates", "attention": "bahdanau"})
    assert config.model_settings == {"attention": "bahdanau"} and config.cell == "gru"

    def attention(**flags):
        return config_lib.resolve({"model": "seq2seq-lstm", "task": "dates"} | flags).model_settings[
            "attention"
        ]

    assert attention() == "luong" and attention(attention="none") == "none"  # the task's recipe; a flag wins
    assert config_lib.resolve({"model": "seq2seq-lstm", "task": "pairs"}).model_settings == {
        "attention": "luong"
    }
    assert config_lib.from_json(config_lib.to_json(config), "config.json") == config
    with pytest.raises(ValueError, match="--attention does not apply to model 'gru' .only to: seq2seq-lstm"):
        config_lib.resolve({"model": "gru", "task": "imdb", "attention": "luong"})
    with pytest.raises(ValueError, match="--attention must be one of none, luong, bahdanau, got 'dot'"):
        config_lib.resolve({"model": "seq2seq-lstm", "task": "addition", "attention": "dot"})
    with pytest.raises(ValueError, match="functional API only; --api sequential does not apply"):
        config_lib.resolve({"model": "seq2seq-lstm", "task": "addition", "api": "sequential"})
    saved = config_lib.to_json(config)
    saved["config"]["model_settings"] = {"attention": "cosine"}
    with pytest.raises(ValueError, match="config.json holds an invalid setting"):
        config_lib.from_json(saved, "config.json")


@pytest.mark.parametrize(
    "cell,attention,overrides",
    [
        ("lstm", "luong", dict(bidirectional=True)),
        ("gru", "bahdanau", dict(layers=2, bidirectional=True, dropout=0.1, embedding_dropout=0.1)),
    ],
    ids=["lstm-luong-bidirectional", "gru-bahdanau-2-bidirectional-dropout"],
)
def test_variants_learn_and_survive_save_and_load(cell, attention, overrides, tmp_path):
    """What the registry-wide test checks of the defaults (no attention), for attention and the encoder's options."""
    model = tiny(cell, attention, **overrides)
    names = {layer.name for layer in model.layers}
    assert {"attention", "attention_dense", "encoder_0"} <= names
    assert ("encoder_1" in names) == (overrides.get("layers") == 2)
    x, y = fake_batch(SPEC, None)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    for var, grad in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
        assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0, var.path
    assert_round_trip(model, x, tmp_path)


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_padding_counts_in_neither_loss_nor_accuracy(attention):
    model = tiny(attention=attention)
    x = {"source": SOURCES, "decoder_inputs": np.array([[1, 3, 4, 0], [1, 5, 0, 0], [1, 6, 7, 8]])}
    y = np.array([[3, 4, 2, 0], [5, 2, 0, 0], [6, 7, 8, 2]])
    other = y.copy()
    other[0, 3], other[1, 2:] = 9, 7  # labels where the decoder input is padding
    a = model.evaluate(x, y, verbose=0, return_dict=True)
    b = model.evaluate(x, other, verbose=0, return_dict=True)
    assert a == b
    wrong = y.copy()
    wrong[2, 0] = 12 if y[2, 0] != 12 else 11
    assert model.evaluate(x, wrong, verbose=0, return_dict=True)["loss"] != a["loss"]
    # More padding on the source changes nothing either.
    longer = dict(x, source=np.pad(SOURCES, ((0, 0), (0, 5))))
    np.testing.assert_allclose(model.predict_on_batch(longer), model.predict_on_batch(x), atol=1e-5)


def log_probability(model, sources, ids) -> np.ndarray:
    """Teacher-forced log-probability of each output row (up to its END) under the whole model."""
    decoder_inputs = np.concatenate([np.full((len(ids), 1), START), ids[:, :-1]], axis=1)
    logits = model.predict_on_batch({"source": sources, "decoder_inputs": decoder_inputs})
    log_p = np.asarray(tf.nn.log_softmax(logits))
    picked = np.take_along_axis(log_p, ids[..., None], axis=-1)[..., 0]
    real = np.cumsum(ids == END, axis=1) - (ids == END) == 0  # up to and with the first END
    return (picked * real).sum(axis=1)


@pytest.mark.parametrize("cell,attention", [("lstm", "none"), ("gru", "luong"), ("lstm", "bahdanau")])
def test_step_by_step_decoding_matches_the_whole_model(cell, attention):
    """Each greedy token is the whole (teacher-forced) model's argmax after the tokens before it."""
    model = tiny(cell, attention, bidirectional=attention == "none")
    ids, weights = Translator(model).greedy(SOURCES, max_length=6)
    decoder_inputs = np.concatenate([np.full((3, 1), START), ids[:, :-1]], axis=1)
    logits = model.predict_on_batch({"source": SOURCES, "decoder_inputs": decoder_inputs})
    logits[..., [PAD, START]] = -np.inf  # never an answer
    live = np.cumsum(ids == END, axis=1) - (ids == END) == 0  # steps up to the first END
    np.testing.assert_array_equal(np.where(live, logits.argmax(-1), PAD), ids)
    assert weights.shape == (3, 6, SOURCES.shape[1])
    if attention != "none":  # weights over the real source characters only, summing to 1
        np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-5)
        assert np.all(weights[1, :, 3:] < 1e-6)


@pytest.mark.parametrize("attention", ["none", "bahdanau"])
def test_beam_one_is_greedy_and_wider_beams_score_no_worse(attention):
    model = tiny("gru", attention)
    translator = Translator(model)
    rng = np.random.default_rng(0)
    sources = rng.integers(1, 12, size=(16, 7)).astype("int32")
    sources[::2, 5:] = PAD
    greedy, _ = translator.greedy(sources, max_length=6)
    np.testing.assert_array_equal(translator.beam_search(sources, 1, max_length=6), greedy)
    wide = translator.beam_search(sources, 4, max_length=6)
    assert np.all(log_probability(model, sources, wide) >= log_probability(model, sources, greedy) - 1e-4)
    assert not np.array_equal(wide, greedy)  # an untrained model: the wider search finds other answers
    with pytest.raises(ValueError, match="--beam must be between 1 and the 13 target ids, got 14"):
        translator.beam_search(sources, 14, max_length=6)


def test_trained_model_decodes_the_same_after_save_and_load(tmp_path):
    """A few training steps on copying sequences; the loaded model decodes exactly as the trained one."""
    model = tiny("lstm", "luong")
    rng = np.random.default_rng(1)
    source = rng.integers(1, 11, size=(256, 4)).astype("int32")
    target = source + 2  # target ids 3..12
    decoder_inputs = np.concatenate([np.full((256, 1), START), target], axis=1)
    labels = np.concatenate([target, np.full((256, 1), END)], axis=1)
    model.fit(
        {"source": source, "decoder_inputs": decoder_inputs}, labels, epochs=3, batch_size=32, verbose=0
    )
    path = tmp_path / "model.keras"
    rundir.save_model(model, path)
    restored = Translator(rundir.load_model(path))
    trained = Translator(model)
    for a, b in zip(trained.greedy(source[:64], 6), restored.greedy(source[:64], 6)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        trained.beam_search(source[:64], 3, 6), restored.beam_search(source[:64], 3, 6)
    )


# --- the tasks: addition and dates ---------------------------------------------------------


def test_generators_are_seeded_and_keep_the_splits_apart():
    assert synthetic.format_date(datetime.date(7075, 9, 20)) == ("September 20, 7075", "7075-09-20")
    assert synthetic.format_date(datetime.date(1000, 1, 1)) == ("January 1, 1000", "1000-01-01")
    source, target = synthetic.draw_date(np.random.default_rng(3))
    assert datetime.date.fromisoformat(target).strftime("%B %-d, %Y") == source  # C locale here
    test = synthetic.addition_pairs(3, "test")
    assert (
        test == synthetic.addition_pairs(3, "test") and len(test) == synthetic.SPLIT_SIZES["addition"]["test"]
    )
    for source, target in test[:50]:
        a, b = source.split("+")
        assert int(a) + int(b) == int(target) and max(len(a), len(b)) <= 3
    train = {s for s, _ in synthetic.addition_pairs(3, "train")}
    assert len(train) == synthetic.SPLIT_SIZES["addition"]["train"] and not train & {s for s, _ in test}


@pytest.mark.parametrize("task_name", ["addition", "dates"])
def test_pairs_become_teacher_forcing_batches(task_name, monkeypatch):
    task = datasets.get_task(task_name)
    config = config_lib.resolve({"model": "seq2seq-lstm", "task": task_name, "batch_size": 2})
    pairs = {"addition": (["535+61", "9+9"], ["596", "18"]), "dates": (["May 1, 1999"], ["1999-05-01"])}
    monkeypatch.setattr(type(task), "pairs", lambda self, config, split, state=None: pairs[task_name])
    data = task.load(config)
    x, y = next(iter(data.test))
    source, target = pairs[task_name][0][0], pairs[task_name][1][0]
    state = data.state
    assert x["source"].shape[1] == state["max_source"] and y.shape[1] == state["max_target"] + 1
    assert "".join(state["source_chars"][i - 1] for i in x["source"][0] if i) == source
    labels, decoder_inputs = y[0].numpy(), x["decoder_inputs"][0].numpy()
    assert translation.decode_target(state, labels) == target and labels[len(target)] == END
    np.testing.assert_array_equal(decoder_inputs[: len(target) + 1], [START, *labels[: len(target)]])
    assert not labels[len(target) + 1 :].any() and not decoder_inputs[len(target) + 1 :].any()
    assert data.spec.inputs[1].vocab_size == data.spec.output_units == len(task.target_chars) + 3


def test_exact_match_and_character_accuracy_on_hand_made_cases():
    outputs, targets = ["596", "19", "1000", ""], ["596", "18", "100", "7"]
    # 4/4, 2/3 (END right), 3/5 ("1000" + END against "100" + END), 0/2
    assert translation.char_accuracy(outputs, targets) == pytest.approx((4 + 2 + 3 + 0) / (4 + 3 + 5 + 2))
    state = datasets.get_task("addition").new_state(
        config_lib.resolve({"model": "seq2seq-gru", "task": "addition"})
    )
    ids = [3 + 5, 3 + 9, 3 + 6, END, 3 + 1, PAD]
    assert translation.decode_target(state, ids) == "596"
    with pytest.raises(
        ValueError, match="--text '12a\\+3' holds characters the model was not trained on: 'a'"
    ):
        translation.encode_source(state, ["12a+3"])


def test_train_and_evaluate_addition(tmp_path, capsys):
    """The whole command line: a few steps, then exact match, mistakes, attention.png, decoded --text."""
    run = str(tmp_path / "run")
    flags = ["--model", "seq2seq-gru", "--task", "addition", "--digits", "2", "--attention", "luong"]
    flags += ["--epochs", "1", "--steps-per-epoch", "5", "--units", "8", "--no-jit-compile", "--run-dir", run]
    assert run_train(*flags) == 0
    assert run_evaluate(run, "--limit", "40", "--text", "12+30", "--text", "7+7") == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_examples"] == 40 and 0 <= metrics["exact_match"] <= metrics["char_accuracy"] <= 1
    assert len(metrics["mistakes"]) == 5 and "mistakes (input -> output, expected):" in out
    assert [p["input"] for p in metrics["predictions"]] == ["12+30", "7+7"]
    assert all(set(p["output"]) <= set("0123456789") for p in metrics["predictions"])
    assert (tmp_path / "run" / "attention.png").stat().st_size > 0
    code = run_evaluate(run, "--text", "12a+3")
    one_line_error(capsys, code, 2, "holds characters the model was not trained on: 'a'")


def test_benchmark_table_reports_the_targets(tmp_path):
    """benchmarks/seq2seq.py's table from its results: means over seeds, decoding speed, attention's gain."""
    from benchmarks import seq2seq as bench

    env = dict(date="2026-12-01", cores=2, cpu="CPU", python="3.11", tensorflow="2.21", keras="3.15")
    run = dict(row="addition", seed=1, exact_match=0.996, char_accuracy=0.999, epochs=16, train_seconds=250.0)
    runs = [
        run,
        run | dict(seed=2, exact_match=0.998, train_seconds=262.4, decoded_per_second=9000.0),
        run | dict(row="digits6-none", exact_match=0.90),
        run | dict(row="digits6-luong", exact_match=0.95),
    ]
    docs = tmp_path / "seq2seq.md"
    docs.write_text(f"# before\n{bench.BEGIN}\nold\n{bench.END}\nafter\n")
    bench.write_docs(docs, bench.render({"environment": env, "runs": runs, "command": " --seeds 1,2"}))
    text = docs.read_text()
    assert text.startswith("# before\n") and text.endswith("after\n") and "old" not in text
    assert "`python -m benchmarks.seq2seq --seeds 1,2`" in text
    assert (
        "| addition | `(defaults)` | 0.9970 (mean of 2, 0.9960-0.9980) | 0.9990 (mean of 2, 0.9990-0.9990) |"
        in text
    )
    assert "| 250-262 | >= 0.995 exact match, <= 300 s |" in text
    assert "9,000 sequences/s (target >= 5,000)" in text and "+0.0500 exact match" in text


def write_pairs(path, n: int = 120):
    rng = np.random.default_rng(0)
    english = ["go", "run", "stop", "wait", "help"]
    french = {"go": "va", "run": "cours", "stop": "arrête", "wait": "attends", "help": "aide"}
    lines = []
    for _ in range(n):
        a, b = rng.choice(english, size=2)
        lines.append(f"{a} {b}.\t{french[a]} {french[b]} !\tCC-BY 2.0 (France) Attribution: tatoeba.org")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_pairs_reads_your_tsv_as_words_and_scores_it(tmp_path, capsys):
    data = write_pairs(tmp_path / "fra.tsv")
    run = str(tmp_path / "run")
    flags = ["--model", "seq2seq-lstm", "--task", "pairs", "--data", data, "--tokens", "words"]
    flags += ["--epochs", "1", "--steps-per-epoch", "3", "--units", "8", "--no-jit-compile", "--run-dir", run]
    assert run_train(*flags) == 0
    state = json.loads((tmp_path / "run" / "task_state.json").read_text())
    assert state["words"] and "arrête" in state["target_chars"] and "stop." in state["source_chars"]
    assert state["max_source"] == 2 and state["max_target"] == 3  # "va aide !"
    assert run_evaluate(run, "--text", "go stop.") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_examples"] == 12  # a seeded tenth of 120
    assert all(w in state["target_chars"] for w in metrics["predictions"][0]["output"].split())
    capsys.readouterr()
    code = run_evaluate(run, "--text", "go home.")
    one_line_error(capsys, code, 2, "holds words the model was not trained on: 'home.'")


@pytest.mark.parametrize(
    "text,message",
    [
        (b"go.\tva !\nno tab here\n", "line 2 has no tab: one source<TAB>target pair a line"),
        (b"go.\t  \t(attribution)\n", "line 1 has an empty target"),
        ("café\tcafé\n".encode("latin-1"), "is not UTF-8 text; save it as UTF-8"),
        (b"\n\n", "holds no pairs"),
    ],
    ids=["no-tab", "empty-side", "not-utf8", "empty-file"],
)
def test_pairs_refuses_bad_files_in_one_line(text, message, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(text)
    code = run_train(
        "--model", "seq2seq-gru", "--task", "pairs", "--data", str(bad), "--run-dir", str(tmp_path / "r")
    )
    one_line_error(capsys, code, 2, f"--data {bad} {message}")


def test_pairs_splits_are_seeded_and_test_data_replaces_the_held_out_tenth(tmp_path):
    task = datasets.get_task("pairs")
    data = write_pairs(tmp_path / "fra.tsv", n=50)
    config = config_lib.resolve({"model": "seq2seq-lstm", "task": "pairs", "data": data, "seed": 7})
    splits = task.all_pairs(config)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [
        41,
        4,
        5,
    ]  # tenths rounded: 5 of 50, then 4 of 45
    assert splits == task.all_pairs(dataclasses.replace(config, seed=8))  # the split seed is fixed
    test = write_pairs(tmp_path / "test.tsv", n=7)
    other = dataclasses.replace(config, task_settings=config.task_settings | {"test_data": test})
    assert [len(other_split) for other_split in task.all_pairs(other).values()] == [45, 5, 7]
    with pytest.raises(ValueError, match="task 'pairs' needs --data FILE.tsv"):
        task.load(config_lib.resolve({"model": "seq2seq-lstm", "task": "pairs"}))
