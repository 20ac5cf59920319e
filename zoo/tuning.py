"""A search over a task's settings with KerasTuner, each trial a zoo run: `python tune.py`.

KerasTuner's oracle (Bayesian optimisation, or random search) proposes the
settings; `ZooTuner.run_trial` trains them through `zoo.training.train`
into `OUT/trial_NNN`, a normal run directory that evaluate.py reads, and
scores the trial by the lowest validation loss of its epochs, the quantity
the task's head monitors for early stopping (the epoch whose weights the
run keeps). The oracle's state lives in `OUT/oracle` (KerasTuner's project
directory): rerunning the same command continues the search, and a trial
that a kill interrupted runs again with the same settings, resuming its run
from its last checkpoint. At the end `OUT/best.json` holds the best
trial's settings, which `train.py --settings` takes.

A search space is a JSON object (`tune.py --space FILE`) of train.py's
setting names (with underscores), each one of:

    {"min": 1e-4, "max": 1e-2, "log": true}     a range; "step" optional
    {"values": [32, 64, 128]}                   a choice
    0.25                                        a fixed value

An integer setting takes integer bounds; a range with `"log": true` and a
`"step"` multiplies by the step (32, 64, 128). The file's entries replace
the default space's (`default_space`), and `null` drops one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import keras_tuner

import datasets
import models
from models.compile import loss_and_metrics
from zoo import config as config_lib
from zoo import files, rundir, training
from zoo.checkpoint import NonFiniteLossError
from zoo.spec import TOKENS

ORACLES = ("bayesian", "random")
ORACLE_DIR = "oracle"  # KerasTuner's project directory, inside the search's
SEARCH_FILE = "search.json"  # what the search is over: a rerun must match it
BEST_FILE = "best.json"
TRIALS_FILE = "trials.csv"
# Float values are rounded to this many significant digits, so that the
# trial's run, the table and best.json hold the same short number.
DIGITS = 4


def default_space(config: config_lib.TrainConfig) -> dict[str, Any]:
    """The search space around a resolved config: the general settings that apply, then the task's own.

    Ranges are around the task's tuned defaults: the rate from a third to
    3 times its value (log scale), units, batch size and embedding from
    half to twice theirs, dropout 0 to 0.5, and from half of the epochs to
    all of them (the default's epochs are the cap). Embedding settings only
    on token inputs; none of the architecture settings for a model that
    compiles itself (the chapter's snippets).
    """
    task = datasets.get_task(config.task)
    entry = models.get_model(config.model)

    def doubling(value: int) -> dict[str, Any]:
        return {"min": max(1, value // 2), "max": value * 2, "step": 2, "log": True}

    space: dict[str, Any] = {}
    if not entry.compiles:
        lr = config.learning_rate
        space["learning_rate"] = {"min": _round(lr / 3), "max": _round(lr * 3), "log": True}
        space["units"] = doubling(config.units)
        space["dropout"] = {"min": 0.0, "max": 0.5, "step": 0.1}
        if TOKENS in task.input_kinds:
            space["embedding_dim"] = doubling(config.embedding_dim)
            space["embedding_dropout"] = {"min": 0.0, "max": 0.5, "step": 0.1}
    space["batch_size"] = doubling(config.batch_size)
    if config.epochs > 1:
        space["epochs"] = {"min": (config.epochs + 1) // 2, "max": config.epochs}
    return space | task.search_space


def read_space(path: str | None) -> dict[str, Any]:
    """The entries of a `--space` file (`{}` without one); ValueError for one that is not a JSON object."""
    if not path:
        return {}
    return files.read_json_object(path, f"--space {path}", '{"units": {"values": [64, 128]}}')


def hyperparameters(space: dict[str, Any], fixed: dict[str, Any], where: str) -> keras_tuner.HyperParameters:
    """KerasTuner's hyperparameters for `space`; every bound and choice is resolved with `fixed` first.

    Raises:
        ValueError: an unknown setting, a setting the command line fixes, a
            malformed entry, or a value the task or model refuses; the
            message names `where` (the --space file) and the setting.
    """
    types = config_lib.setting_types(datasets.TASKS, models.MODELS)
    hp = keras_tuner.HyperParameters()
    for name, entry in space.items():
        if name not in types or types[name][1] or name in ("task", "model", "run_dir", "data_dir"):
            raise ValueError(f"{where}: {name!r} is not a setting tune.py can search")
        if name in fixed:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{where} searches {name!r}, but {flag} (or --settings) fixes it")
        kind = types[name][0]
        try:
            probes = _add(hp, name, entry, kind)
        except ValueError as err:
            raise ValueError(f"{where}: {name!r}: {err}") from None
        for value in probes:  # the task and model take every value: no trial fails on a bad one
            try:
                config_lib.resolve(fixed | {name: value})
            except ValueError as err:
                raise ValueError(f"{where}: {name!r} = {value!r} is refused: {err}") from None
    return hp


def _add(hp: keras_tuner.HyperParameters, name: str, entry: Any, kind: type) -> list:
    """Declares one setting on `hp`; returns the values to check (the bounds, or every choice)."""
    if not isinstance(entry, dict):
        value = config_lib.check_type(name, entry, kind)
        hp.Fixed(name, value)
        return [value]
    if "values" in entry:
        if set(entry) != {"values"} or not isinstance(entry["values"], list) or not entry["values"]:
            raise ValueError('a choice is {"values": [...]}, a non-empty list and nothing else')
        values = [config_lib.check_type(name, v, kind) for v in entry["values"]]
        if len(set(values)) < len(values):
            raise ValueError(f"the values repeat: {values}")
        hp.Choice(name, values)
        return values
    unknown = set(entry) - {"min", "max", "step", "log"}
    if unknown or not {"min", "max"} <= set(entry):
        raise ValueError('a range is {"min": A, "max": B}, with "step" and "log" optional')
    if kind not in (int, float):
        raise ValueError(f'a {kind.__name__} setting takes {{"values": [...]}}, not a range')
    low, high = (config_lib.check_type(name, entry[k], kind) for k in ("min", "max"))
    step = config_lib.check_type(name, entry["step"], kind) if "step" in entry else None
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f'"log" must be true or false, got {json.dumps(log)}')
    if not low < high:
        raise ValueError(f'"min" must be below "max", got {low} and {high}')
    if (log and low <= 0) or (step is not None and step <= 0) or (log and step is not None and step <= 1):
        raise ValueError('a log range needs "min" > 0 (and a "step" > 1); a "step" must be positive')
    sampling = "log" if log else "linear"
    if kind is int:
        hp.Int(name, low, high, step=step or 1, sampling=sampling)
    else:
        hp.Float(name, low, high, step=step, sampling=sampling)
    return [low, high]


def _round(value):
    return float(f"{value:.{DIGITS}g}") if isinstance(value, float) else value


class ZooTuner(keras_tuner.Tuner):
    """A KerasTuner `Tuner` whose trials are zoo runs (KerasTuner's way to tune a custom training).

    Args:
        oracle: The KerasTuner oracle that proposes the settings.
        fixed: The settings every trial shares (the flags given).
        out: The search's directory; trial N's run is `out/trial_NNN`.
        monitor: The logged validation quantity that scores a trial (lower is better).
        callbacks: More Keras callbacks for every trial's training (tests).
    """

    def __init__(self, oracle, fixed, out, monitor, callbacks=(), **kwargs):
        super().__init__(oracle, directory=out, project_name=ORACLE_DIR, **kwargs)
        self.fixed, self.out, self.monitor, self.callbacks = fixed, out, monitor, tuple(callbacks)
        self.error: BaseException | None = None

    def trial_dir(self, trial_id: str) -> str:
        return os.path.join(self.out, f"trial_{int(trial_id):03d}")

    def trial_settings(self, trial) -> dict[str, Any]:
        """A trial's settings as train.py takes them: the fixed ones and the trial's values."""
        return self.fixed | {k: _round(v) for k, v in trial.hyperparameters.values.items()}

    def run_trial(self, trial, *args, **kwargs):
        run_dir = self.trial_dir(trial.trial_id)
        settings = self.trial_settings(trial)
        try:
            cfg = config_lib.resolve(settings | {"run_dir": run_dir})
            if not finished_with(run_dir, cfg):
                training.train(cfg, flags=settings | {"run_dir": run_dir}, extra_callbacks=self.callbacks)
        except NonFiniteLossError as err:  # a rate too high, say: this trial fails, the search goes on
            raise keras_tuner.errors.FailedTrialError(str(err)) from err
        except Exception as err:  # a bad input or a bug: the search stops and says why
            self.error = err
            raise keras_tuner.errors.FatalError(str(err)) from err
        return {self.monitor: best_value(run_dir, self.monitor)}


def finished_with(run_dir: str, config) -> bool:
    """Whether `run_dir` holds a finished run of `config` (a kill came after it ended, before the oracle heard)."""
    try:
        saved = json.loads((Path(run_dir) / rundir.CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(saved.get("finished")) and saved.get("config") == config_lib.to_json(config)["config"]


def best_value(run_dir: str, monitor: str) -> float:
    """The lowest finite `monitor` in a run's history.csv (NaN if none: KerasTuner marks the trial invalid)."""
    with open(os.path.join(run_dir, rundir.HISTORY_FILE), newline="", encoding="utf-8") as f:
        values = [float(row[monitor]) for row in csv.DictReader(f) if row.get(monitor)]
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else math.nan


def monitor_of(config) -> str:
    """The validation quantity the task's head monitors, from its spec (no data read)."""
    task = datasets.get_task(config.task)
    spec = task.spec(config, task.example_state(config))
    return loss_and_metrics(spec, config.one_hot_labels)[2]


def search(
    fixed: dict[str, Any],
    trials: int,
    out: str,
    space_file: str | None = None,
    oracle: str = "bayesian",
    overwrite: bool = False,
    callbacks=(),
) -> dict[str, Any]:
    """Runs (or continues) a search and writes `out/best.json` and `out/trials.csv`.

    Args:
        fixed: The settings every trial shares (train.py flag names, with
            underscores): the task, the model, the data flags, anything the
            command line gives.
        trials: The number of trials in all, counting those already run.
        out: The search's directory.
        space_file: A JSON file whose entries replace the default space's.
        oracle: "bayesian" (a Gaussian process after a few random trials) or "random".
        overwrite: Start over, removing the search's files in `out`.
        callbacks: More Keras callbacks for every trial (tests).

    Returns:
        `{"rows", "names", "best", "monitor", "best_file", "best_dir"}`: the
        trials (one dict each), the searched settings' names, the best
        trial's row (None before any has a score), the scored quantity,
        best.json and the best trial's run directory.

    Raises:
        ValueError: a bad space, settings or trial count, or a search in
            `out` over other settings; whatever a trial raises but a NaN loss.
    """
    if trials < 1:
        raise ValueError(f"--trials must be positive, got {trials}")
    if oracle not in ORACLES:
        raise ValueError(f"--oracle must be one of {', '.join(ORACLES)}, got {oracle!r}")
    base = config_lib.resolve(fixed)
    fixed = {"task": base.task, "model": base.model} | fixed
    space = default_space(base)
    for name in fixed:
        space.pop(name, None)  # what the command line gives is not searched
    for name, entry in read_space(space_file).items():
        if entry is None:
            space.pop(name, None)
        else:
            space[name] = entry
    hp = hyperparameters(space, fixed, f"--space {space_file}" if space_file else "the default space")
    monitor = monitor_of(base)
    record = {"fixed": fixed, "space": space, "oracle": oracle}
    _prepare(out, record, overwrite)

    seed = base.seed
    objective = keras_tuner.Objective(monitor, direction="min")
    if oracle == "bayesian":
        # A few random trials first (KerasTuner's default is 3 per setting, more than a short search runs).
        initial = max(2, min(3 * len(hp.space), trials // 3))
        kt_oracle = keras_tuner.oracles.BayesianOptimizationOracle(
            objective=objective, max_trials=trials, num_initial_points=initial, hyperparameters=hp, seed=seed
        )
    else:
        kt_oracle = keras_tuner.oracles.RandomSearchOracle(
            objective=objective, max_trials=trials, hyperparameters=hp, seed=seed
        )
    tuner = ZooTuner(kt_oracle, fixed, out, monitor, callbacks=callbacks, overwrite=overwrite)
    try:
        with warnings.catch_warnings():
            # The Gaussian process's fit on a few trials warns about its length scales.
            warnings.filterwarnings("ignore", module=r"sklearn\.gaussian_process")
            tuner.search()
    except keras_tuner.errors.FatalError:
        if tuner.error is not None:
            raise tuner.error from None
        raise
    except RuntimeError as err:
        if "consecutive failures" not in str(err):
            raise
        # KerasTuner stops after 3 failed trials in a row, here NaN losses.
        last = next((line for line in reversed(str(err).splitlines()) if line.strip()), "")
        raise NonFiniteLossError(
            f"{kt_oracle.max_consecutive_failed_trials} trials in a row failed, the last with: "
            f"{last.removeprefix('keras_tuner.src.errors.FailedTrialError: ')}; the search stops: "
            "narrow the space (a lower learning rate, say) and rerun with --overwrite"
        ) from None
    return _results(tuner, out, monitor)


def _prepare(out: str, record: dict, overwrite: bool) -> None:
    """Makes `out` ready: refuses a search there over other settings, unless `overwrite` removes it."""
    path = Path(out)
    saved_path = path / SEARCH_FILE
    if overwrite:
        for child in path.glob("trial_*"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for name in (ORACLE_DIR, SEARCH_FILE, BEST_FILE, TRIALS_FILE):
            target = path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif saved_path.exists():
        saved = rundir.read_json(saved_path)
        now = json.loads(json.dumps(record))  # as JSON has it (tuples as lists)
        if saved != now:
            old = saved.get("fixed") if isinstance(saved.get("fixed"), dict) else {}
            differ = [
                f"{k}: {old.get(k, '(absent)')!r} there, {v!r} now"
                for k, v in now["fixed"].items()
                if old.get(k, "(absent)") != v
            ]
            differ += [f"{k} ({old.get(k, '(absent)')!r} there)" for k in old if k not in now["fixed"]]
            differ += [f"the {k}" for k in ("space", "oracle") if saved.get(k) != now[k]]
            raise ValueError(
                f"{out} holds a search with other settings ({'; '.join(differ)}); "
                "rerun its own command to continue it, pass --overwrite to start over, or choose another --out"
            )
    elif (path / ORACLE_DIR).exists():
        raise ValueError(
            f"{out} holds a search without its {SEARCH_FILE}; pass --overwrite or choose another --out"
        )
    path.mkdir(parents=True, exist_ok=True)
    files.write_json(saved_path, record)


def _results(tuner: ZooTuner, out: str, monitor: str) -> dict[str, Any]:
    """The trials as rows (settings, status, score); writes trials.csv and, once a trial has a score, best.json."""
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    names = list(dict.fromkeys(n for t in trials for n in t.hyperparameters.values))
    rows = []
    for t in trials:
        values = {k: _round(v) for k, v in t.hyperparameters.values.items()}
        score = t.score if t.status == "COMPLETED" else None
        rows.append({"trial": int(t.trial_id), "status": t.status, **values, monitor: score})
    done = [r for r in rows if r[monitor] is not None and math.isfinite(r[monitor])]
    best = min(done, key=lambda r: r[monitor]) if done else None
    table = [
        {k: ("" if r.get(k) is None else r.get(k)) for k in ["trial", "status", *names, monitor]}
        for r in rows
    ]
    files.write_text(
        os.path.join(out, TRIALS_FILE),
        training.rows_to_csv([{k: str(v) for k, v in r.items()} for r in table]),
    )
    best_file = os.path.join(out, BEST_FILE)
    if best is not None:
        settings = tuner.fixed | {k: best[k] for k in names if k in best}
        files.write_json(best_file, settings)
    return {
        "rows": table,
        "names": names,
        "best": best,
        "monitor": monitor,
        "best_file": best_file,
        "best_dir": tuner.trial_dir(str(best["trial"])) if best else None,
    }


def format_table(result: dict[str, Any]) -> str:
    """The trials, one a line: their settings and validation score, the best marked with `*`."""
    monitor, names = result["monitor"], result["names"]
    header = ["trial", *names, monitor, "status"]

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.{DIGITS}g}"
        return str(value)

    lines = [[cell(r[k]) for k in ["trial", *names, monitor, "status"]] for r in result["rows"]]
    best = result["best"]
    widths = [max(len(x) for x in column) for column in zip(header, *lines)]
    text = []
    for i, line in enumerate([header, *lines]):
        mark = "*" if best is not None and i > 0 and result["rows"][i - 1]["trial"] == best["trial"] else " "
        text.append(mark + " " + "  ".join(x.rjust(w) for x, w in zip(line, widths)))
    return "\n".join(text)
