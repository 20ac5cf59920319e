"""`pairs`: your own source<TAB>target pairs, one a line (the Tatoeba/Anki translation files).

`Go.<TAB>Va !<TAB>attribution`: columns after the second are ignored.
Characters by default, `--tokens words` for whitespace-separated words.
The vocabularies come from the training pairs; validation and test pairs
holding a token the training pairs lack are left out (`test_examples`
says how many are scored).
"""

from __future__ import annotations

import numpy as np

from datasets.base import read_utf8
from datasets.registry import register_task
from datasets.translation import TranslationTask, tokens
from zoo.spec import Setting

SPLIT_SEED = 20261201  # fixed, so that runs with different --seed share their splits
HELD_OUT = 0.1  # the validation share of the training pairs, and the test share without --test-data


def read_pairs(path: str, flag: str) -> list[tuple[str, str]]:
    """The (source, target) pairs of a TSV file; ValueError, naming the file and line, for a bad one."""
    lines = read_utf8(path, flag).splitlines()
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{flag} {path} line {number} has no tab: one source<TAB>target pair a line")
        source, target = (column.strip() for column in line.split("\t")[:2])
        for side, text in (("source", source), ("target", target)):
            if not text:
                raise ValueError(f"{flag} {path} line {number} has an empty {side}")
        pairs.append((source, target))
    if not pairs:
        raise ValueError(f"{flag} {path} holds no pairs")
    return pairs


@register_task
class Pairs(TranslationTask):
    name = "pairs"
    description = "your own source<TAB>target pairs (--data FILE.tsv): a sequence to a sequence, exact match"
    settings = (
        Setting("data", str, "", "a UTF-8 TSV file, one source<TAB>target pair a line (pairs only)"),
        Setting("test_data", str, "", "a TSV file of test pairs (default: a seeded tenth of --data)"),
        Setting(
            "tokens",
            str,
            "chars",
            "what the models read and write: chars or words",
            choices=("chars", "words"),
        ),
    )
    defaults = dict(
        epochs=20,
        batch_size=64,
        learning_rate=2e-3,
        lr_schedule="cosine",
        units=256,
        embedding_dim=64,
        patience=3,
    )

    def all_pairs(self, config) -> dict[str, list[tuple[str, str]]]:
        """The train, val and test pairs: seeded tenths held out (test only without --test-data)."""
        settings = config.task_settings
        if not settings["data"]:
            raise ValueError("task 'pairs' needs --data FILE.tsv: one source<TAB>target pair a line")
        pairs = read_pairs(settings["data"], "--data")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(pairs))
        pairs = [pairs[i] for i in order]
        if settings["test_data"]:
            test = read_pairs(settings["test_data"], "--test-data")
        else:
            cut = int(round(len(pairs) * HELD_OUT))
            test, pairs = pairs[:cut], pairs[cut:]
        cut = int(round(len(pairs) * HELD_OUT))
        if len(pairs) - cut < 1 or cut < 1:
            raise ValueError(
                f"--data {settings['data']} holds too few pairs to split ({len(pairs)} left for training)"
            )
        return {"train": pairs[cut:], "val": pairs[:cut], "test": test}

    def new_state(self, config) -> dict:
        train = self.all_pairs(config)["train"]
        words = config.task_settings["tokens"] == "words"
        split = {"words": words}
        sources = [tokens(split, s) for s, _ in train]
        targets = [tokens(split, t) for _, t in train]
        return {
            "source_chars": sorted({t for s in sources for t in s}),
            "target_chars": sorted({t for s in targets for t in s}),
            "words": words,
            "max_source": max(len(s) for s in sources),
            "max_target": max(len(t) for t in targets),
        }

    def pairs(self, config, split: str, state=None) -> tuple[list[str], list[str]]:
        chosen = self.all_pairs(config)[split]
        if state is not None and split != "train":  # pairs the vocabularies cannot express are left out
            known = set(state["source_chars"]), set(state["target_chars"])
            chosen = [
                (s, t)
                for s, t in chosen
                if set(tokens(state, s)) <= known[0] and set(tokens(state, t)) <= known[1]
            ]
        return [s for s, _ in chosen], [t for _, t in chosen]

    def example_state(self, config) -> dict:
        return {
            "source_chars": list("abc"),
            "target_chars": list("xyz"),
            "words": False,
            "max_source": 5,
            "max_target": 5,
        }
