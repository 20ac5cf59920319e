"""`text-classes`: class folders and CSVs, stratified splits, UTF-8 words; train.py / evaluate.py; bad inputs."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

import datasets
from datasets.text_classes import standardize
from tests.cli_helpers import one_line_error, run_evaluate, run_train
from zoo.config import resolve
from zoo.spec import BINARY, MULTICLASS

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "3", "--batch-size", "8", "--no-jit-compile"]
WORDS = {"pos": "great superb lovely", "neg": "awful boring dull", "mid": "fine okay average"}


def make_folders(root, classes=("neg", "pos"), per_class=20):
    for name in classes:
        (root / name).mkdir(parents=True)
        words = WORDS[name].split()
        for i in range(per_class):
            (root / name / f"{i:03d}.txt").write_text(f"{words[i % 3]} {words[(i + 1) % 3]} text{i}", "utf-8")
    return str(root)


def config(**settings):
    base = resolve({"task": "text-classes"})
    return dataclasses.replace(base, batch_size=4, task_settings=base.task_settings | settings)


def test_non_ascii_text_is_lower_cased():
    assert standardize(tf.constant("ÉCOLE Über ΑΘΗΝΑ, l'été!")).numpy().decode() == "école über αθηνα  l'été "
    # Keras's and TensorFlow's default lower-casing leave non-ASCII capitals as they are.
    assert tf.strings.lower("ÉCOLE").numpy().decode() == "École"


def test_folders_give_sorted_classes_stratified_seeded_splits(tmp_path):
    root = make_folders(tmp_path / "d", ("pos", "neg", "mid"), per_class=20)
    (tmp_path / "d" / "pos" / "empty.txt").write_text("  \n", "utf-8")
    task = datasets.get_task("text-classes")
    parts, names = task.texts(config(data=root, val_fraction=0.2, test_fraction=0.25))
    assert names == ["mid", "neg", "pos"]
    for split, per_class in {"train": 12, "val": 3, "test": 5}.items():
        assert np.bincount(parts[split][1]).tolist() == [per_class] * 3, split
    every = sorted(t for texts, _ in parts.values() for t in texts)
    assert len(every) == 60 and len(set(every)) == 60  # the empty file skipped, no text twice
    again, _ = task.texts(config(data=root, val_fraction=0.2, test_fraction=0.25))
    assert again["test"][0] == parts["test"][0]  # seeded: evaluate.py rebuilds the same test split
    other, _ = task.texts(
        dataclasses.replace(config(data=root, val_fraction=0.2, test_fraction=0.25), seed=1)
    )
    assert other["test"][0] != parts["test"][0]
    data = task.load(config(data=root, val_fraction=0.2, test_fraction=0.25))
    assert data.spec.head == MULTICLASS and data.spec.output_units == 3
    assert data.state["class_names"] == ["mid", "neg", "pos"]
    vocabulary = set(data.state["vocabulary"])
    train_words = {w for t in parts["train"][0] for w in t.split()}
    test_only = {w for t in parts["test"][0] for w in t.split()} - train_words
    assert test_only and not test_only & vocabulary  # the vocabulary comes from the training texts only


def test_two_classes_take_the_binary_head_and_csv_and_test_data(tmp_path):
    rows = [["id", "review", "label"]] + [
        [i, f"{WORDS[c]} text{i}", c] for i, c in enumerate(["pos", "neg"] * 15)
    ]
    with open(tmp_path / "t.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    test_dir = make_folders(tmp_path / "test", ("neg", "pos"), per_class=4)
    cfg = config(data=str(tmp_path / "t.csv"), text_column="review", label_column="label", test_data=test_dir)
    data = datasets.get_task("text-classes").load(cfg)
    assert data.spec.head == BINARY and data.spec.output_units == 1
    assert data.spec.class_names == ("neg", "pos")
    labels = np.concatenate([y.numpy() for _, y in data.test])
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4  # --test-data, in the training's class order


def test_train_and_evaluate_with_texts(tmp_path, capsys):
    root = make_folders(tmp_path / "d", ("pos", "neg", "mid"))
    run_dir = str(tmp_path / "run")
    code = run_train("--task", "text-classes", "--model", "gru", "--data", root, *TINY, "--run-dir", run_dir)
    assert code == 0, capsys.readouterr().err
    assert run_evaluate(run_dir, "--text", "Great and LOVELY", "--text", "dull") == 0
    out = capsys.readouterr().out
    result = json.load(open(f"{run_dir}/metrics.json"))
    assert set(result["per_class"]) == {"mid", "neg", "pos"}
    assert {"precision", "recall", "f1", "support"} <= set(result["per_class"]["pos"])
    assert np.array(result["confusion_matrix"]["matrix"]).sum() == result["test_examples"] == 6
    for item in result["predictions"]:
        assert sum(item[c] for c in ("mid", "neg", "pos")) == pytest.approx(1, abs=1e-3)
    assert "text: Great and LOVELY" in out and (tmp_path / "run" / "confusion.png").exists()
    one_line_error(capsys, run_evaluate(run_dir, "--text", "!!!"), 2, "'!!!' has no words")


def folder(p, classes=("neg", "pos")):
    return make_folders(p / "d", classes)


def csv_file(p, rows):
    with open(p / "t.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return str(p / "t.csv")


def latin1(p):
    root = folder(p)
    (p / "d" / "neg" / "bad.txt").write_bytes("caf\xe9".encode("latin-1"))
    return root


def empty_class(p):
    root = folder(p)
    (p / "d" / "mid").mkdir()
    (p / "d" / "mid" / "a.txt").write_text("", "utf-8")
    return root


@pytest.mark.parametrize(
    "make,args,fragments",
    [
        (None, [], ["task 'text-classes' needs --data DIR"]),
        (lambda p: str(p / "nope"), [], ["--data", "nope does not exist"]),
        (
            lambda p: (p / "d").mkdir() or str(p / "d"),
            [],
            ["has no class folders", "one subfolder of .txt files"],
        ),
        (lambda p: folder(p, ("pos",)), [], ["holds one class ('pos')", "two or more"]),
        (empty_class, [], ["class folder", "mid holds no non-empty .txt file"]),
        (latin1, [], ["bad.txt is not utf-8 text", "--encoding"]),
        (folder, ["--encoding", "klingon"], ["--encoding 'klingon' is not an encoding"]),
        (
            lambda p: csv_file(p, [["text", "label"], ["good", "pos"]]),
            [],
            ["name its columns with --text-column"],
        ),
        (
            lambda p: csv_file(p, [["text", "label"], ["good", "pos"], ["bad", ""]]),
            ["--text-column", "text", "--label-column", "label"],
            ["line 3 has no label in column 'label'"],
        ),
        (
            lambda p: csv_file(p, [["text", "label"], ["good", "pos"]]),
            ["--text-column", "body", "--label-column", "label"],
            ["--text-column 'body' is not a column", "text, label"],
        ),
        (folder, ["--test-data", "nowhere"], ["--test-data nowhere does not exist"]),
        (folder, ["--val-fraction", "1.5"], ["--val-fraction must be in (0, 1)"]),
    ],
)
def test_bad_text_classes_input(make, args, fragments, tmp_path, capsys):
    data = ["--data", make(tmp_path)] if make else []
    code = run_train(
        "--task", "text-classes", "--model", "gru", *data, *args, *TINY, "--run-dir", str(tmp_path / "r")
    )
    one_line_error(capsys, code, 2, *fragments)
    assert not (tmp_path / "r").exists()  # no half-made run directory
