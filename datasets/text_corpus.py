"""`text-corpus`: next-character prediction on the user's own text, as `shakespeare` does on its own.

    python train.py --task text-corpus --data novel.txt       # or --data DIR: its .txt files, in name order

The text is cut by position: the first 90% trains, the next 5% validates,
the last 5% is test (`--val-fraction`, `--test-fraction`). The characters
of the training part are the vocabulary, plus one id for a character it
does not hold. Training, the stream evaluation and the sampler are
`shakespeare`'s; evaluate.py also reports what `bz2 -9` achieves on the
test text given the training text, in the same units.
"""

from __future__ import annotations

import bz2
import math
import os

from datasets.base import Task, TaskData, task_data
from datasets.registry import register_task
from datasets.shakespeare import (
    SAMPLING,
    Shakespeare,
    char_spec,
    char_windows,
    encode,
    evaluate_characters,
    export_characters,
    generate,
)
from zoo.spec import NEXT_TOKEN, TOKENS, Setting, TaskSpec


def read_corpus(path: str, encoding: str) -> str:
    """The text of a file, or of a folder's .txt files (recursively, in name order) joined by newlines."""
    if not path:
        raise ValueError("task 'text-corpus' needs --data FILE.txt (or a folder of .txt files)")
    if not os.path.exists(path):
        raise ValueError(f"--data {path} does not exist")
    try:
        "".encode(encoding)
    except LookupError:
        raise ValueError(f"--encoding {encoding!r} is not an encoding Python knows") from None
    if os.path.isdir(path):
        paths = []
        for folder, subfolders, names in os.walk(path):
            subfolders.sort()
            paths += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".txt")]
        if not paths:
            raise ValueError(f"--data {path} holds no .txt file")
    else:
        paths = [path]
    texts = []
    for file in paths:
        try:
            with open(file, encoding=encoding) as f:
                texts.append(f.read())
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{file} is not {encoding} text ({err.reason} at byte {err.start}); "
                "pass --encoding to read another encoding (e.g. --encoding latin-1)"
            ) from None
    return "\n".join(t for t in texts if t)


def split_text(text: str, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Training, validation and test text, cut by position in that order."""
    val, test = round(len(text) * val_fraction), round(len(text) * test_fraction)
    train = len(text) - val - test
    return {"train": text[:train], "val": text[train : train + val], "test": text[train + val :]}


def bz2_bits_per_char(train: str, test: str) -> float:
    """Bits per character of `test` that bz2 -9 adds after `train`: size(train + test) - size(train)."""
    before = len(bz2.compress(train.encode("utf-8"), 9))
    after = len(bz2.compress((train + test).encode("utf-8"), 9))
    return 8 * (after - before) / len(test)


@register_task
class TextCorpus(Task):
    name = "text-corpus"
    description = "your text (a UTF-8 file or a folder of .txt): next character, nats/char beside bz2"
    heads = (NEXT_TOKEN,)
    input_kinds = (TOKENS,)
    generative = True
    settings = (
        Setting("data", str, "", "a text file, or a folder of .txt files (read in name order)"),
        Setting("encoding", str, "utf-8", "the text files' encoding"),
        Setting("val_fraction", float, 0.05, "the part after the training text that validates"),
        Setting("test_fraction", float, 0.05, "the last part of the text, kept for evaluate.py"),
        *Shakespeare.settings,
    )
    eval_settings = (
        Setting("seed_text", str, "", "start of the generated sample (default: the test text's first line)"),
        *(s for s in SAMPLING if s.name != "seed_text"),
    )
    defaults = Shakespeare.defaults  # shakespeare's, so that its text trains alike here
    recipes = Shakespeare.recipes

    def parts(self, config) -> dict[str, str]:
        settings = config.task_settings
        for name in ("val_fraction", "test_fraction"):
            if not 0 < settings[name] < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be in (0, 1), got {settings[name]}")
        if settings["val_fraction"] + settings["test_fraction"] >= 1:
            raise ValueError(
                "--val-fraction + --test-fraction leave no training text: their sum must be below 1"
            )
        text = read_corpus(settings["data"], settings["encoding"])
        parts = split_text(text, settings["val_fraction"], settings["test_fraction"])
        need = settings["seq_len"] + 1
        for split, part in parts.items():
            if len(part) < need:
                raise ValueError(
                    f"--data {settings['data']} has {len(text)} characters: its {split} part has {len(part)}, "
                    f"fewer than one window of --seq-len {settings['seq_len']} + 1; use more text or a smaller --seq-len"
                )
        return parts

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        parts = self.parts(config)
        if state is None:
            state = {"chars": "".join(sorted(set(parts["train"])))}

        def pipeline(split):
            ids = encode(state, parts[split])
            return char_windows(
                ids,
                config.task_settings["seq_len"],
                config.batch_size,
                config.seed,
                training=split == "train",
            )

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        return char_spec(state)

    def example_state(self, config) -> dict:
        return {"chars": "abcdefghijk"}

    def read_inputs(self, options) -> list[str]:
        return [options["seed_text"]] if options.get("seed_text") else []

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        return [
            {"seed_text": text, "sample": text + generate(model, state, text, options, config.seed)[0]}
            for text in inputs
        ]

    def export_model(self, model, config, state, fixed_shape=False):
        return export_characters(model, state)  # shakespeare's `generate` and `step`: fixed shapes already

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        parts = self.parts(config)
        seed_text = (self.read_inputs(options) or [parts["test"].split("\n")[0][:40] or parts["test"][:20]])[
            0
        ]
        result = evaluate_characters(
            model, config, data, options, run_dir, seed_text, lambda split: encode(data.state, parts[split])
        )
        test = (
            parts["test"][: options["limit"] * config.task_settings["seq_len"]]
            if options.get("limit")
            else parts["test"]
        )
        bits = bz2_bits_per_char(parts["train"], test)
        result |= {
            "test_stream_bits_per_char": result["test_stream_nats_per_char"] / math.log(2),
            "bz2_bits_per_char": bits,
            "bz2_nats_per_char": bits * math.log(2),
            "test_characters": len(test),
        }
        return result
