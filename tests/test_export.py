"""export.py: each export runs in a process that cannot import the zoo and answers as the zoo does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import export
from tests.cli_helpers import one_line_error, run_train
from tests.conftest import ROOT
from zoo import cli

TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--units", "4", "--batch-size", "16"]
# Runs the code with TensorFlow alone: another working directory, no PYTHONPATH, isolated mode
# (neither the working directory nor the checkout on sys.path), and it checks that it cannot see the zoo.
STANDALONE = """
import importlib.util, json, sys
for name in ("zoo", "models", "train", "evaluate", "export"):
    assert importlib.util.find_spec(name) is None, f"the zoo's {name} is importable"
import numpy as np
import tensorflow as tf
"""


def run_export(*args):
    return cli.run(export.main, list(args))


def standalone(code: str, cwd) -> dict:
    """Runs STANDALONE + code in a fresh, isolated Python; the code prints one JSON line last."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", STANDALONE + code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_run(directory, task, model, *extra):
    """A finished tiny run, its config, state and model, as evaluate.py loads them."""
    import models  # noqa: F401  (the zoo's layers)
    from zoo import rundir

    run_dir = str(directory / f"{task}-run")
    assert run_train("--model", model, "--task", task, "--run-dir", run_dir, *TINY, *extra) == 0
    config, _ = rundir.load_finished(run_dir, "export")
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    return run_dir, config, state, rundir.load_model(os.path.join(run_dir, rundir.MODEL_FILE))


# The inputs of each task's export. The last text is longer than the run's --seq-len 50.
TEXTS = [
    "A wonderful, moving film.",
    "Terrible.<br /><br />Boring, and far TOO long!!",
    "zyzzyva qwxlp the",  # words outside the vocabulary
    " ".join(["great", "awful"] * 40),
]
SEED_TEXT = "KING:"
_rng = np.random.default_rng(0)
SERIES = (3.0 + 2.0 * np.sin(np.arange(73) / 4.0) + _rng.normal(0, 0.3, (3, 73))).astype(np.float32)
SIGNALS = (np.sign(np.sin(np.arange(130) / 5.0)) + _rng.normal(0, 0.2, (3, 130))).astype(np.float32)
# What the standalone process asks each export: its signatures, TensorFlow alone.
ASK = """
def plain(answer):
    return {k: v.numpy().tolist() for k, v in answer.items()}
def refused(fn, **inputs):
    try:
        fn(**inputs)
    except tf.errors.InvalidArgumentError as err:
        return err.message
got = {}
"""
ANSWER = """
serve = tf.saved_model.load(paths["imdb"]).signatures["serving_default"]
got["imdb"] = plain(serve(texts=tf.constant(TEXTS + ["!!!"])))
loaded = tf.saved_model.load(paths["shakespeare"])
generate, step = loaded.signatures["generate"], loaded.signatures["step"]
text = generate(seed_text=tf.constant(SEED_TEXT), length=tf.constant(40), temperature=tf.constant(0.8),
                seed=tf.constant(SEED))["text"]
state = tf.zeros(step.structured_input_signature[1]["state"].shape)
for character in SEED_TEXT:
    answer = step(character=tf.constant(character), state=state)
    state = answer["state"]
got["shakespeare"] = {"text": text.numpy().decode(), **plain(answer),
                      "default": sorted(loaded.signatures["serving_default"].structured_input_signature[1]),
                      "empty": refused(generate, seed_text=tf.constant(""), length=tf.constant(4),
                                       temperature=tf.constant(1.0), seed=tf.constant(0))}
for task, name, values in (("timeseries", "series", SERIES), ("waveforms", "signals", SIGNALS)):
    serve = tf.saved_model.load(paths[task]).signatures["serving_default"]
    got[task] = plain(serve(**{name: tf.constant(values, tf.float32)}))
    got[task]["short"] = refused(serve, **{name: tf.zeros([1, 9])})
for task, name, values in (("timeseries", "series", SERIES), ("waveforms", "signals", SIGNALS)):
    interpreter = tf.lite.Interpreter(model_path=paths[f"{task}-litert"])
    runner = interpreter.get_signature_runner("serving_default")
    width = runner.get_input_details()[name]["shape"][1]
    answers = [runner(**{name: row[None, -width:]}) for row in np.array(values, np.float32)]
    got[f"{task}-litert"] = {k: np.concatenate([a[k] for a in answers]).tolist() for k in answers[0]}
    got[f"{task}-litert"]["shape"] = runner.get_input_details()[name]["shape"].tolist()
import onnxruntime
session = onnxruntime.InferenceSession(paths["waveforms-onnx"], providers=["CPUExecutionProvider"])
answer = session.run(None, {"signals": np.array(SIGNALS, np.float32)})
got["waveforms-onnx"] = {o.name: a.tolist() for o, a in zip(session.get_outputs(), answer)}
import keras
try:
    keras.saving.load_model(models["imdb"])
except TypeError as err:
    got["plain_keras_imdb"] = str(err)
exec(PLAIN_KERAS.replace("runs/imdb/gru/model.keras", models["imdb"]))  # the docs' block
got["keras_imdb"] = model.predict_on_batch(np.array(IDS)).tolist()
got["keras_shakespeare"] = keras.saving.load_model(models["shakespeare"]).predict_on_batch(np.array(CHAR_IDS)).tolist()
print(json.dumps(got, default=bytes.decode))
"""
# The docs' code that loads a max-pooled imdb model.keras with plain Keras.
PLAIN_KERAS = re.search(
    r"<!-- plain-keras:begin -->\n```python\n(.*?)```\n<!-- plain-keras:end -->",
    (ROOT / "docs" / "export.md").read_text(encoding="utf-8"),
    re.DOTALL,
).group(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny run of each task, exported; the exports' answers in a standalone process; the zoo's own."""
    import datasets
    from datasets.shakespeare import encode
    from datasets.timeseries import last_window
    from models.generation import Sampler

    if not (Path(os.environ["TFDS_DATA_DIR"]) / "imdb_reviews").is_dir():
        pytest.skip(f"no prepared real data in {os.environ['TFDS_DATA_DIR']}")
    directory = tmp_path_factory.mktemp("exports")
    runs = {
        "imdb": train_run(directory, "imdb", "gru", "--seq-len", "50", "--batch-size", "128"),  # max head
        "shakespeare": train_run(directory, "shakespeare", "stacked-lstm", "--batch-size", "64"),  # 2x (h, c)
        "timeseries": train_run(directory, "timeseries", "lstm"),
        "waveforms": train_run(directory, "waveforms", "bidirectional-gru"),
    }
    paths = {task: str(directory / f"{task}-export") for task in runs}
    for task, (run_dir, *_) in runs.items():
        assert run_export(run_dir, "--out", paths[task]) == 0
    for task in ("timeseries", "waveforms"):  # LiteRT: batch 1, built-in ops
        paths[f"{task}-litert"] = str(directory / f"{task}.tflite")
        assert run_export(runs[task][0], "--format", "litert", "--out", paths[f"{task}-litert"]) == 0
    paths["waveforms-onnx"] = str(directory / "waveforms.onnx")
    assert run_export(runs["waveforms"][0], "--format", "onnx", "--out", paths["waveforms-onnx"]) == 0
    models = {task: os.path.join(runs[task][0], "model.keras") for task in ("imdb", "shakespeare")}
    ids = datasets.get_task("imdb").encode_texts(runs["imdb"][1], runs["imdb"][2], TEXTS)
    char_ids = encode(runs["shakespeare"][2], SEED_TEXT)[None]
    away = directory / "elsewhere"
    away.mkdir()
    inputs = (
        f"paths = {paths!r}\nTEXTS = {TEXTS!r}\nSEED_TEXT = {SEED_TEXT!r}\nSEED = {runs['shakespeare'][1].seed}\n"
        f"SERIES = {SERIES.tolist()!r}\nSIGNALS = {SIGNALS.tolist()!r}\nPLAIN_KERAS = {PLAIN_KERAS!r}\n"
        f"models = {models!r}\nIDS = {ids.tolist()!r}\nCHAR_IDS = {char_ids.tolist()!r}\n"
    )
    got = standalone(inputs + ASK + ANSWER, away)

    # The zoo's own answers: each task's predict (what evaluate.py prints), the model on its encoded inputs.
    expected = {}
    _, config, state, model = runs["imdb"]
    predicted = datasets.get_task("imdb").predict(model, config, state, TEXTS, {})
    expected["imdb"] = [p["positive_probability"] for p in predicted]
    _, config, state, model = runs["shakespeare"]
    options = {"length": 40, "temperature": 0.8}
    expected["shakespeare"] = {
        "sample": datasets.get_task("shakespeare").predict(model, config, state, [SEED_TEXT], options)[0][
            "sample"
        ],
        "probabilities": Sampler(model).next_probabilities(encode(state, SEED_TEXT)).numpy(),
        "chars": state["chars"],
    }
    _, config, state, model = runs["timeseries"]
    windows = np.stack([last_window(s, config.task_settings["window"]) for s in SERIES])
    predicted = datasets.get_task("timeseries").predict(model, config, state, list(SERIES), {})
    expected["timeseries"] = {
        "model": model.predict_on_batch(windows),
        "predict": [p["forecast"] for p in predicted],
    }
    _, config, state, model = runs["waveforms"]
    expected["waveforms"] = {
        "model": model.predict_on_batch(np.stack([last_window(s, 100) for s in SIGNALS])),
        "names": datasets.get_task("waveforms").spec(config, state).class_names,
    }
    expected["keras_imdb"] = runs["imdb"][3].predict_on_batch(ids)
    expected["keras_shakespeare"] = runs["shakespeare"][3].predict_on_batch(char_ids)
    return got, expected, runs


def test_imdb_export_takes_strings(exported):
    got, expected, _ = exported
    probabilities = np.array(got["imdb"]["probabilities"])
    np.testing.assert_allclose(probabilities[:4, 1], expected["imdb"], atol=1e-5)
    np.testing.assert_allclose(probabilities[:4].sum(axis=1), 1, atol=1e-6)
    assert got["imdb"]["class"][:4] == ["positive" if p > 0.5 else "negative" for p in expected["imdb"]]
    # A text with no words the model reads (which evaluate.py refuses) is NaN, with no class.
    assert np.isnan(probabilities[4]).all() and got["imdb"]["class"][4] == ""


def test_character_export_generates_and_steps(exported):
    got, expected = exported[0]["shakespeare"], exported[1]["shakespeare"]
    assert got["text"] == expected["sample"] and len(got["text"]) == 45
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-5)
    assert "".join(got["characters"]) == "?" + expected["chars"]
    assert got["default"] == ["length", "seed", "seed_text", "temperature"]  # serving_default: generate
    assert "seed_text is empty" in got["empty"]


def test_series_exports_take_raw_values(exported):
    got, expected, _ = exported
    np.testing.assert_allclose(got["timeseries"]["forecast"], expected["timeseries"]["model"], atol=1e-5)
    np.testing.assert_allclose(got["timeseries"]["forecast"], expected["timeseries"]["predict"], atol=1e-5)
    assert "shorter than the 50 values the model reads" in got["timeseries"]["short"]
    probabilities = expected["waveforms"]["model"]
    np.testing.assert_allclose(got["waveforms"]["probabilities"], probabilities, atol=1e-5)
    names = expected["waveforms"]["names"]
    assert got["waveforms"]["class"] == [names[i] for i in probabilities.argmax(axis=1)]
    assert "shorter than the 100 values the model reads" in got["waveforms"]["short"]


def test_model_keras_loads_with_plain_keras_and_the_documented_layer(exported):
    got, expected, _ = exported
    # The max-pooled imdb model needs the zoo's layer: plain Keras refuses it, the docs' block loads it.
    assert "could not be deserialized" in got["plain_keras_imdb"]
    np.testing.assert_allclose(got["keras_imdb"], expected["keras_imdb"], atol=1e-6)
    np.testing.assert_allclose(got["keras_shakespeare"], expected["keras_shakespeare"], atol=1e-6)


def test_litert_exports_answer_as_the_zoo_does(exported):
    got, expected, _ = exported
    assert got["timeseries-litert"]["shape"] == [1, 50] and got["waveforms-litert"]["shape"] == [1, 100]
    np.testing.assert_allclose(
        got["timeseries-litert"]["forecast"], expected["timeseries"]["model"], atol=1e-4
    )
    probabilities = expected["waveforms"]["model"]
    np.testing.assert_allclose(got["waveforms-litert"]["probabilities"], probabilities, atol=1e-4)
    names = expected["waveforms"]["names"]
    assert got["waveforms-litert"]["class"] == [names[i] for i in probabilities.argmax(axis=1)]


def test_onnx_export_answers_as_the_zoo_does(exported):
    got, expected, _ = exported
    probabilities = expected["waveforms"]["model"]
    np.testing.assert_allclose(got["waveforms-onnx"]["probabilities"], probabilities, atol=1e-5)
    names = expected["waveforms"]["names"]
    assert got["waveforms-onnx"]["class"] == [names[i] for i in probabilities.argmax(axis=1)]


# The tasks on the user's own data and the encoder-decoders: tiny files, no real data needed.
CLASS_WORDS = {"neg": "awful boring dull", "pos": "great école lovely"}  # école: a non-ASCII word
CLASS_TEXTS = ["GREAT and lovely", "ÉCOLE Dull", "école dull", "awful <br />BORING!", "zyzzyva great", "!!!"]
CORPUS = "".join(np.random.default_rng(1).choice(list("abcdefgh \n"), 3000))
SUMS = ["12+30", "7+7", "99+99", "5+61"]
SENTENCES = ["go stop.", "help wait.", "run go."]
OWN_ANSWER = """
serve = tf.saved_model.load(paths["series"]).signatures["serving_default"]
got["series"] = plain(serve(series=tf.constant(ROWS, tf.float32)))
got["series"]["short"] = refused(serve, series=tf.zeros([1, 3, 2]))
got["series"]["signature"] = serve.structured_input_signature[1]["series"].shape.as_list()
runner = tf.lite.Interpreter(model_path=paths["series-litert"]).get_signature_runner("serving_default")
got["series-litert"] = np.concatenate([runner(series=np.array(r, np.float32)[None, -7:])["forecast"] for r in ROWS])
import onnxruntime
session = onnxruntime.InferenceSession(paths["series-onnx"], providers=["CPUExecutionProvider"])
got["series-onnx"] = session.run(["forecast"], {"series": np.array(ROWS, np.float32)})[0]
serve = tf.saved_model.load(paths["text-classes"]).signatures["serving_default"]
got["text-classes"] = plain(serve(texts=tf.constant(CLASS_TEXTS)))
loaded = tf.saved_model.load(paths["text-corpus"])
generate, step = loaded.signatures["generate"], loaded.signatures["step"]
text = generate(seed_text=tf.constant("abc"), length=tf.constant(30), temperature=tf.constant(0.8),
                seed=tf.constant(SEED))["text"]
state = tf.zeros(step.structured_input_signature[1]["state"].shape)
for character in "abc":
    answer = step(character=tf.constant(character), state=state)
    state = answer["state"]
got["text-corpus"] = {"text": text.numpy().decode(), **plain(answer)}
for task, texts, bad in (("addition", SUMS, "12a+3"), ("pairs", SENTENCES, "go home.")):
    serve = tf.saved_model.load(paths[task]).signatures["serving_default"]
    got[task] = plain(serve(texts=tf.constant(texts)))
    got[task]["unknown"] = refused(serve, texts=tf.constant([texts[0], bad]))
    got[task]["empty"] = refused(serve, texts=tf.constant([""]))
print(json.dumps(got, default=lambda v: v.decode() if isinstance(v, bytes) else v.tolist()))
"""


def write_classes(root):
    for name, words in CLASS_WORDS.items():
        (root / name).mkdir(parents=True)
        words = words.split()
        for i in range(20):
            (root / name / f"{i:03d}.txt").write_text(f"{words[i % 3]} {words[(i + 1) % 3]} text{i}", "utf-8")
    return str(root)


@pytest.fixture(scope="module")
def own_exported(tmp_path_factory):
    """Tiny runs of series, text-classes, text-corpus, addition and pairs, exported; answers both ways."""
    import datasets
    from datasets.shakespeare import encode
    from models.generation import Sampler
    from tests.test_seq2seq import write_pairs
    from tests.test_series import store_rows, write_csv

    directory = tmp_path_factory.mktemp("own-exports")
    csv_path = write_csv(directory / "s.csv", ["date", "store", "units", "price"], store_rows())
    (directory / "corpus.txt").write_text(CORPUS, "utf-8")
    fast = ["--no-jit-compile"]  # XLA compiles for longer than these runs train
    series = ["--data", csv_path, "--target", "units", "--id", "store", "--time", "date"]
    series += ["--features", "price", "--window", "7", "--horizon", "2", *fast]
    series += ["--anchor", "linear"]  # the graph holds the linear fit; its inputs are --anchor last's
    classes = ["--data", write_classes(directory / "classes"), "--seq-len", "3", "--embedding-dim", "3"]
    corpus = ["--data", str(directory / "corpus.txt"), "--seq-len", "20", "--embedding-dim", "3"]
    # Batches of 1024: addition validates on 5,000 sums every epoch. Its recipe: luong attention.
    addition = ["--digits", "2", "--batch-size", "1024", *fast]
    pairs = ["--data", write_pairs(directory / "fra.tsv"), "--tokens", "words", "--attention", "none", *fast]
    runs = {
        "series": train_run(directory, "series", "gru", *series),
        "text-classes": train_run(directory, "text-classes", "lstm", *classes),
        "text-corpus": train_run(directory, "text-corpus", "gru", *corpus),
        "addition": train_run(directory, "addition", "seq2seq-gru", *addition),
        "pairs": train_run(directory, "pairs", "seq2seq-lstm", *pairs),
    }
    paths = {task: str(directory / f"{task}-export") for task in runs}
    for task, (run_dir, *_) in runs.items():
        assert run_export(run_dir, "--out", paths[task]) == 0
    for fmt in ("litert", "onnx"):  # the series export converts to both
        paths[f"series-{fmt}"] = str(directory / f"series.{fmt}")
        assert run_export(runs["series"][0], "--format", fmt, "--out", paths[f"series-{fmt}"]) == 0

    # The series' own rows, in their units, longer than the window: the zoo's forecast after each one's end.
    task, (_, config, state, model) = datasets.get_task("series"), runs["series"]
    table = task.table(config)
    rows = np.stack([table.values[a:b] for _, a, b in table.series()]).astype(np.float32)
    away = directory / "elsewhere"
    away.mkdir()
    inputs = (
        f"paths = {paths!r}\nROWS = {rows.tolist()!r}\nCLASS_TEXTS = {CLASS_TEXTS!r}\nSUMS = {SUMS!r}\n"
        f"SENTENCES = {SENTENCES!r}\nSEED = {runs['text-corpus'][1].seed}\n"
    )
    got = standalone(inputs + ASK + OWN_ANSWER, away)

    expected = {}
    forecast = task.forecast(model, config, state, table)  # what evaluate.py --forecast writes
    expected["series"] = np.array([r["forecast"] for r in forecast]).reshape(len(rows), -1)
    _, config, state, model = runs["text-classes"]
    task = datasets.get_task("text-classes")
    texts = CLASS_TEXTS[:-1]  # "!!!", which evaluate.py refuses, apart
    outputs = np.asarray(model.predict_on_batch(task.encode_texts(config, state, texts)))
    expected["text-classes"] = {
        "model": task.probabilities(outputs, len(state["class_names"])),
        "predict": [
            [p[n] for n in state["class_names"]] for p in task.predict(model, config, state, texts, {})
        ],
        "names": state["class_names"],
    }
    _, config, state, model = runs["text-corpus"]
    options = {"length": 30, "temperature": 0.8}
    predicted = datasets.get_task("text-corpus").predict(model, config, state, ["abc"], options)
    expected["text-corpus"] = {
        "sample": predicted[0]["sample"],
        "probabilities": Sampler(model).next_probabilities(encode(state, "abc")).numpy(),
        "chars": state["chars"],
    }
    for name, texts in (("addition", SUMS), ("pairs", SENTENCES)):
        _, config, state, model = runs[name]
        expected[name] = [
            p["output"] for p in datasets.get_task(name).predict(model, config, state, texts, {})
        ]
    return got, expected, runs


def test_series_export_scales_inside_and_forecasts_in_the_targets_units(own_exported):
    got, expected, runs = own_exported
    assert got["series"]["signature"] == [None, None, 2]  # the target and one feature, any length
    np.testing.assert_allclose(got["series"]["forecast"], expected["series"], rtol=1e-5, atol=1e-5)
    # The targets run to 100 and 199: unscaled forecasts are in those units, not around 0.
    assert np.abs(np.array(got["series"]["forecast"])).max() > 10
    assert "shorter than the 7 values the model reads" in got["series"]["short"]
    np.testing.assert_allclose(got["series-litert"], expected["series"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["series-onnx"], expected["series"], rtol=1e-5, atol=1e-5)


def test_text_classes_export_reads_words_as_the_task_does(own_exported):
    got, expected = own_exported[0]["text-classes"], own_exported[1]["text-classes"]
    probabilities = np.array(got["probabilities"])
    assert probabilities.shape == (6, 2)
    np.testing.assert_allclose(probabilities[:5], expected["model"], atol=1e-5)
    np.testing.assert_allclose(probabilities[:5], expected["predict"], atol=1e-4)  # predict rounds to 4
    names = expected["names"]
    assert got["class"][:5] == [names[i] for i in expected["model"].argmax(axis=1)]
    # Non-ASCII capitals are lower-cased: "ÉCOLE" reads as the training word "école".
    np.testing.assert_array_equal(probabilities[1], probabilities[2])
    assert np.isnan(probabilities[5]).all() and got["class"][5] == ""


def test_text_corpus_export_generates_and_steps(own_exported):
    got, expected = own_exported[0]["text-corpus"], own_exported[1]["text-corpus"]
    assert got["text"] == expected["sample"] and len(got["text"]) == 33
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-5)
    assert "".join(got["characters"]) == "?" + expected["chars"]


@pytest.mark.parametrize("task,what", [("addition", "characters"), ("pairs", "words")])
def test_seq2seq_export_decodes_strings_as_evaluate_does(task, what, own_exported):
    got, expected = own_exported[0][task], own_exported[1][task]
    assert got["output"] == expected
    assert any(got["output"])  # something decoded, not only empty strings
    assert f"a text holds {what} the model was not trained on" in got["unknown"]
    assert "a text is empty" in got["empty"]


@pytest.mark.parametrize(
    "task,fmt,fragments",
    [
        ("imdb", "litert", ["the gru model on imdb does not convert to LiteRT", "StringLower"]),
        (
            "shakespeare",
            "onnx",
            ["the stacked-lstm model on shakespeare does not convert to ONNX", "UnicodeDecode"],
        ),
    ],
)
def test_an_export_that_does_not_convert_is_refused(task, fmt, fragments, exported, tmp_path, capsys):
    out = tmp_path / f"{task}.{fmt}"
    one_line_error(
        capsys, run_export(exported[2][task][0], "--format", fmt, "--out", str(out)), 2, *fragments
    )
    assert not out.exists() and leftovers(tmp_path) == []  # no file, not even a broken one


@pytest.mark.parametrize(
    "task,fmt,fragments",
    [
        ("addition", "onnx", ["the seq2seq-gru model on addition does not convert to ONNX", "UnicodeDecode"]),
    ],
)
def test_text_exports_that_do_not_convert_are_refused(task, fmt, fragments, own_exported, tmp_path, capsys):
    out = tmp_path / f"{task}.{fmt}"
    one_line_error(
        capsys, run_export(own_exported[2][task][0], "--format", fmt, "--out", str(out)), 2, *fragments
    )
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.fixture
def finished_run(exported):
    return exported[2]["waveforms"][0]


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_bad_exports_are_refused_in_one_line(finished_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    one_line_error(
        capsys,
        run_export(finished_run, "--format", "onnx2", "--out", str(out)),
        2,
        "unknown format 'onnx2'",
        "saved_model",
    )
    one_line_error(capsys, run_export(str(tmp_path / "nope"), "--out", str(out)), 2, "does not exist")
    model_file = os.path.join(finished_run, "model.keras")
    one_line_error(capsys, run_export(model_file, "--out", str(out)), 2, "is a file; export.py takes a run")
    one_line_error(capsys, run_export(finished_run), 2, "--out")
    one_line_error(capsys, run_export(finished_run, "--out", str(tmp_path / "a" / "b")), 2, "does not exist")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(finished_run, unfinished)
    saved = json.loads((unfinished / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(saved | {"finished": False}))
    one_line_error(capsys, run_export(str(unfinished), "--out", str(out)), 2, "unfinished run")
    no_model = tmp_path / "no_model"
    shutil.copytree(finished_run, no_model)
    (no_model / "model.keras").unlink()
    one_line_error(capsys, run_export(str(no_model), "--out", str(out)), 2, "has no trained model")
    assert not out.exists() and leftovers(tmp_path) == []

    # A failure while the export is written leaves nothing under --out, nor beside it.
    import datasets

    class FullDisk:
        def write_out(self, path, **kwargs):
            os.makedirs(path)
            open(os.path.join(path, "saved_model.pb"), "w").close()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        type(datasets.get_task("waveforms")), "export_model", lambda *args, **kwargs: FullDisk()
    )
    one_line_error(capsys, run_export(finished_run, "--out", str(out)), 1, "No space left")
    assert not out.exists() and leftovers(tmp_path) == []


def test_an_existing_out_is_replaced_only_with_overwrite(finished_run, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    one_line_error(capsys, run_export(finished_run, "--out", str(out)), 2, "already exists", "--overwrite")
    assert (out / "mine.txt").read_text() == "keep"
    assert run_export(finished_run, "--out", str(out), "--overwrite") == 0
    assert (out / "saved_model.pb").is_file() and not (out / "mine.txt").exists()
    assert leftovers(tmp_path) == []
