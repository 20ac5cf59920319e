"""`text-corpus`: the user's text cut by position, its characters, bz2 beside it; train.py / evaluate.py; bad inputs."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

import datasets
from datasets.text_corpus import bz2_bits_per_char, split_text
from tests.cli_helpers import one_line_error, run_evaluate, run_train
from zoo.config import resolve

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "3", "--batch-size", "4", "--seq-len", "20"]
TEXT = "".join(random.Random(0).choice("abcdefgh \n") for _ in range(3000))


def config(**settings):
    base = resolve({"task": "text-corpus"})
    return dataclasses.replace(
        base, batch_size=4, task_settings=base.task_settings | {"seq_len": 20} | settings
    )


def test_the_text_is_cut_by_position_and_its_characters_come_from_training(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXT[:2700] + "Z" * 300, "utf-8")  # "Z" only in the last 10%
    task = datasets.get_task("text-corpus")
    parts = task.parts(config(data=str(path)))
    assert [len(parts[s]) for s in ("train", "val", "test")] == [2700, 150, 150]
    assert parts["train"] + parts["val"] + parts["test"] == path.read_text("utf-8")
    data = task.load(config(data=str(path)))
    assert data.state["chars"] == "".join(sorted(set(TEXT[:2700])))
    assert data.spec.output_units == len(data.state["chars"]) + 1  # plus the unknown-character id
    x, y = next(iter(data.test))
    assert np.all(x.numpy() == 0) and np.all(y.numpy() == 0)  # "Z", unseen in training: id 0


def test_a_folder_is_read_in_name_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("second", "utf-8")
    (tmp_path / "1.txt").write_text("first", "utf-8")
    (tmp_path / "notes.md").write_text("not read", "utf-8")
    from datasets.text_corpus import read_corpus

    assert read_corpus(str(tmp_path), "utf-8") == "first\nsecond"


def test_bz2_counts_what_the_training_text_already_holds():
    rng = random.Random(1)
    train = "".join(rng.choice("abcdefghijklmnop") for _ in range(20000))
    seen = bz2_bits_per_char(train, train[:2000])  # a repeat of the training text
    new = bz2_bits_per_char(train, "".join(rng.choice("abcdefghijklmnop") for _ in range(2000)))
    assert seen < 3.6 < 3.9 < new < 4.2  # 16 random letters: 4 bits/char, less what repeats
    assert bz2_bits_per_char("", "ab" * 1000) < 0.2
    assert split_text("abcdefghijklmnopqrst", 0.1, 0.1) == {
        "train": "abcdefghijklmnop",
        "val": "qr",
        "test": "st",
    }


def test_train_and_evaluate(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, "utf-8")
    run_dir = str(tmp_path / "run")
    assert (
        run_train("--task", "text-corpus", "--model", "gru", "--data", str(path), *TINY, "--run-dir", run_dir)
        == 0
    )
    assert run_evaluate(run_dir, "--length", "30", "--seed-text", "abc") == 0
    result = json.load(open(f"{run_dir}/metrics.json"))
    for key in (
        "test_stream_nats_per_char",
        "test_stream_bits_per_char",
        "bz2_bits_per_char",
        "bz2_nats_per_char",
    ):
        assert np.isfinite(result[key]), key
    assert result["bz2_nats_per_char"] == pytest.approx(result["bz2_bits_per_char"] * np.log(2))
    assert result["sample"].startswith("abc") and len(result["sample"]) == 33
    assert run_evaluate(run_dir, "--length", "10") == 0  # seeded with the test text's start
    assert len(json.load(open(f"{run_dir}/metrics.json"))["sample"]) > 10


def short(p):
    (p / "t.txt").write_text("too short", "utf-8")
    return str(p / "t.txt")


def latin1(p):
    (p / "t.txt").write_bytes("caf\xe9 ".encode("latin-1") * 1000)
    return str(p / "t.txt")


@pytest.mark.parametrize(
    "make,args,fragments",
    [
        (None, [], ["task 'text-corpus' needs --data FILE.txt"]),
        (lambda p: str(p / "nope.txt"), [], ["nope.txt does not exist"]),
        (lambda p: str(p), [], ["holds no .txt file"]),
        (short, [], ["has 9 characters", "fewer than one window of --seq-len 20"]),
        (latin1, [], ["t.txt is not utf-8 text", "--encoding"]),
        (latin1, ["--encoding", "klingon"], ["--encoding 'klingon' is not an encoding"]),
        (latin1, ["--test-fraction", "0"], ["--test-fraction must be in (0, 1)"]),
    ],
)
def test_bad_text_corpus_input(make, args, fragments, tmp_path, capsys):
    data = ["--data", make(tmp_path)] if make else []
    code = run_train(
        "--task", "text-corpus", "--model", "gru", *data, *args, *TINY, "--run-dir", str(tmp_path / "r")
    )
    one_line_error(capsys, code, 2, *fragments)
    assert not (tmp_path / "r").exists()  # no half-made run directory
