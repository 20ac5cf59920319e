"""In-process calls of train.py / evaluate.py and the one-line-error check, shared by the CLI tests."""

from __future__ import annotations

import json

import evaluate
import train
from zoo import cli


def run_train(*args):
    return cli.run(train.main, list(args))


def run_evaluate(*args):
    return cli.run(evaluate.main, list(args))


def one_line_error(capsys, code, expected_code, *fragments):
    """Asserts the exit code and a last stderr line `error: ...` holding every fragment; returns it."""
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    last = err.splitlines()[-1]
    assert last.startswith("error: "), err
    for fragment in fragments:
        assert fragment in last, last
    assert "Traceback" not in err
    return last


def mid_epoch_checkpoint_seen(metadata) -> bool:
    """Whether a run's checkpoint metadata shows a checkpoint inside epoch 2 or later."""
    try:
        seen = json.loads(metadata.read_text())
    except (OSError, ValueError):  # not written yet, or being replaced
        return False
    return seen["epoch"] >= 1 and seen["batches_done"] > 0
