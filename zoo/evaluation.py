"""Evaluation of a run directory: its task scores it (`Task.evaluate`); metrics.json is written here."""

from __future__ import annotations

import os

import datasets
from zoo import rundir
from zoo.metrics import format_table  # noqa: F401  (evaluate.py prints with it)


def check_inputs(options: dict) -> None:
    """Refuses bad raw inputs (an empty text, a file that is not UTF-8...) before any run is read.

    Each task that declares one of the options given reads them as it
    would; evaluate.py calls it before `evaluate`.
    """
    given = {k for k, v in options.items() if v is not None}
    for task in datasets.TASKS.values():
        own = {s.name for s in task.eval_settings}
        if given & own:
            task.read_inputs(
                {s.name: s.default for s in task.eval_settings} | {k: options[k] for k in given & own}
            )


def evaluate(run_dir: str, options: dict) -> dict:
    """Evaluates a finished run on its task's test split; writes and returns metrics.json.

    Args:
        run_dir: A run directory written by train.py.
        options: `limit` and the run's task's evaluation settings (`Task.eval_settings`).

    Raises:
        RunError: the directory holds no finished run.
        ValueError: an option of another task, or a bad input.
    """
    config, _ = rundir.load_finished(run_dir, "evaluate")
    task = datasets.get_task(config.task)
    own = {s.name for s in task.eval_settings}
    for name, value in options.items():
        if value is not None and name != "limit" and name not in own:
            readers = [t.name for t in datasets.TASKS.values() if name in {s.name for s in t.eval_settings}]
            raise ValueError(
                f"--{name.replace('_', '-')} does not apply to a {task.name!r} run (only to: {', '.join(readers)})"
            )
    for setting in task.eval_settings:
        if options.get(setting.name) is not None and not setting.many:
            setting.check(options[setting.name])
    options = {s.name: s.default for s in task.eval_settings} | {
        k: v for k, v in options.items() if v is not None
    }
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    model = rundir.load_model(os.path.join(run_dir, rundir.MODEL_FILE))
    data = task.load(config, state, splits=("test",))
    metrics = {"task": config.task, "model": config.model} | task.evaluate(
        model, config, data, options, run_dir
    )
    rundir.write_json(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics
