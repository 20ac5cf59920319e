"""One typed config: defaults < task defaults < model preset < the task's recipe < a settings file < flags.

The general settings are `TrainConfig`'s fields; each task declares its
own (`Task.settings`), kept in `TrainConfig.task_settings`, and so may a
model (`ModelEntry.settings`, kept in `TrainConfig.model_settings`). A
settings file (`train.py --settings FILE`, as tune.py writes one) holds flag
values by their names with underscores. The resolved config is saved as `config.json` in the run directory, so that evaluate.py
needs no repeated flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
from typing import Any

from zoo import files  # imports no TensorFlow
from zoo.cluster import STRATEGIES as DISTRIBUTE  # nor this
from zoo.spec import TOKENS, Setting  # nor this

# Bumped when a field changes meaning; version 1 (task settings as fields) is read, others refused.
CONFIG_VERSION = 2


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run. Task defaults and presets fill most of them."""

    model: str = "simplernn"
    task: str = "imdb"
    api: str = "functional"  # "sequential" builds the identical stack
    # Architecture (the model preset sets cell/layers/bidirectional).
    cell: str = "simplernn"
    units: int = 64
    layers: int = 1
    bidirectional: bool = False
    embedding_dim: int = 64
    dropout: float = 0.0
    # Token tasks: SpatialDropout1D after the embedding (whole embedding
    # channels dropped across all steps).
    embedding_dropout: float = 0.0
    # Optimisation.
    epochs: int = 10
    batch_size: int = 64
    steps_per_epoch: int | None = None
    learning_rate: float = 1e-3
    # "cosine": the rate falls from learning_rate towards 0 over the epochs
    # (set at each epoch's start, so a resumed run gets the same rates).
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    clipnorm: float | None = None
    patience: int = 3  # epochs without a better validation loss before stopping
    seed: int = 42
    # XLA: faster for small cells, slower for wide layers and long sequences,
    # so tasks with large models turn it off (docs/tuning.md).
    jit_compile: bool = True
    checkpoint_every: int = 0  # batches between mid-epoch checkpoints; 0 = each epoch only
    # tf.distribute strategy (zoo/distribute.py); batch_size stays the global batch.
    distribute: str = "none"
    # The chapter's classifier is compiled with categorical cross-entropy:
    # classification tasks then serve one-hot labels.
    one_hot_labels: bool = False
    # A finished run whose matching layers (name and weight shapes) start this one (zoo/init_from.py).
    init_from: str | None = None
    # The task's own settings (its `Setting`s: sequence length, window...).
    task_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The model's own settings (its `Setting`s: an encoder-decoder's attention).
    model_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Locations.
    data_dir: str | None = None
    run_dir: str | None = None


LR_SCHEDULES = ("constant", "cosine")
APIS = ("sequential", "functional")  # the same names as models.rnn.APIS (no Keras import here)
# Settings that take one of a few names.
CHOICES = {"distribute": DISTRIBUTE, "lr_schedule": LR_SCHEDULES, "api": APIS}
# General settings that only tasks with token inputs read.
TOKEN_SETTINGS = ("embedding_dim", "embedding_dropout")

# Command-line flags: (config field, type, help). Every flag defaults to
# None, meaning "not given": the resolved value comes from the layers below.
FLAGS = [
    ("model", str, "model name (see --list)"),
    ("task", str, "task name (see --list)"),
    ("epochs", int, "maximum number of epochs (early stopping may end sooner)"),
    ("batch_size", int, "global batch size"),
    ("steps_per_epoch", int, "cap on training batches per epoch, for quick runs"),
    ("units", int, "units per recurrent layer (overrides the preset)"),
    ("layers", int, "number of stacked recurrent layers (overrides the preset)"),
    ("api", str, "model-building API: sequential or functional"),
    ("learning_rate", float, "optimizer learning rate"),
    ("lr_schedule", str, "constant, or cosine: decay the rate towards 0 over --epochs"),
    ("clipnorm", float, "clip each gradient to this norm (helps against NaN/exploding gradients)"),
    ("dropout", float, "dropout rate between layers, in [0, 1)"),
    ("embedding_dropout", float, "token tasks: spatial dropout rate after the embedding, in [0, 1)"),
    ("embedding_dim", int, "embedding size for token inputs"),
    ("patience", int, "epochs without a better validation loss before early stopping"),
    ("seed", int, "random seed (weights, shuffling); same seed, same weights on CPU"),
    ("checkpoint_every", int, "also checkpoint every N training batches (0: each epoch only)"),
    (
        "distribute",
        str,
        "data-parallel training: none (one device), mirrored (this machine's GPUs) "
        "or multiworker (the machines in $TF_CONFIG)",
    ),
    (
        "init_from",
        str,
        "start from the weights of the finished run in this directory, in the layers whose names "
        "and weight shapes match (embedding, recurrent layers); the task takes that run's vocabulary",
    ),
    ("data_dir", str, "TFDS data dir (default: $TFDS_DATA_DIR, else ~/tensorflow_datasets)"),
    ("run_dir", str, "where to write the run (default: runs/<task>/<model>)"),
]
# A model that compiles itself (the chapter's snippets) fixes these.
FIXED_BY_SNIPPETS = (
    "units",
    "layers",
    "bidirectional",
    "embedding_dim",
    "learning_rate",
    "lr_schedule",
    "clipnorm",
    "dropout",
    "embedding_dropout",
    "api",
)
POSITIVE = (
    "epochs",
    "batch_size",
    "steps_per_epoch",
    "units",
    "layers",
    "learning_rate",
    "clipnorm",
    "embedding_dim",
    "patience",
)


def add_flags(parser: argparse.ArgumentParser, tasks=None, models=None) -> None:
    """Adds the training flags (each with help) to `parser`.

    Args:
        parser: The parser.
        tasks: The registered tasks (`datasets.TASKS`), whose own settings
            become flags grouped by the tasks that declare them.
        models: The registered models (`models.MODELS`), whose own settings
            become flags grouped by the models that declare them.
    """
    for field, kind, help_text in FLAGS:
        parser.add_argument("--" + field.replace("_", "-"), type=kind, default=None, help=help_text)
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile the training step with XLA (the task's default: see --list)",
    )
    parser.add_argument(
        "--bidirectional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wrap every recurrent layer in Bidirectional (overrides the preset)",
    )
    add_setting_flags(parser, [(task.name, task.settings) for task in (tasks or {}).values()], "task")
    add_setting_flags(parser, [(m.name, m.settings) for m in (models or {}).values()], "model")


def add_setting_flags(
    parser: argparse.ArgumentParser, declared, what: str, parse_positive: bool = False
) -> None:
    """One flag per setting name, in a `--help` group named after the tasks that declare it.

    Args:
        parser: The parser.
        declared: `(task name, settings)` pairs.
        what: The kind of settings, for the group titles ("task", "evaluation").
        parse_positive: Refuse a non-positive value of a positive setting
            while parsing (else `validate` refuses it, naming the flag).
    """
    readers: dict[str, list[tuple[str, Setting]]] = {}
    for task, settings in declared:
        for setting in settings:
            readers.setdefault(setting.name, []).append((task, setting))
    groups: dict[tuple[str, ...], Any] = {}  # tasks -> their argument group
    for name, pairs in readers.items():
        tasks = tuple(task for task, _ in pairs)
        if tasks not in groups:
            groups[tasks] = parser.add_argument_group(f"{what} settings of {', '.join(tasks)}")
        kinds = {setting.type for _, setting in pairs}
        if len(kinds) > 1:
            raise ValueError(
                f"tasks declare setting {name!r} with different types: {sorted(k.__name__ for k in kinds)}"
            )
        setting = pairs[0][1]

        def described(s: Setting) -> str:
            return s.help if s.default in (None, "") else f"{s.help} (default: {s.default})"

        if len({described(s) for _, s in pairs}) == 1:
            help_text = described(setting)
        else:
            help_text = "; ".join(f"{task}: {described(s)}" for task, s in pairs)
        if setting.type is bool:
            groups[tasks].add_argument(
                setting.flag, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif setting.many:
            groups[tasks].add_argument(
                setting.flag, type=setting.type, action="append", default=None, help=help_text
            )
        else:
            kind = positive(setting.type) if setting.positive and parse_positive else setting.type
            groups[tasks].add_argument(setting.flag, type=kind, default=None, help=help_text)


def positive(kind):
    """An argparse type: a finite number > 0 of `kind` (refuses nan and inf)."""

    def parse(text):
        value = kind(text)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names it: "invalid int value: 'x'"
    return parse


def task_setting_names(tasks) -> dict[str, list[str]]:
    """Setting name -> the names of the tasks (or models) that declare it."""
    readers: dict[str, list[str]] = {}
    for task in tasks.values():
        for setting in task.settings:
            readers.setdefault(setting.name, []).append(task.name)
    return readers


def setting_types(tasks, models) -> dict[str, tuple[type, bool]]:
    """Every training flag's name, with underscores -> `(type, many)`: the keys a settings file takes."""
    types = {field: (kind, False) for field, kind, _ in FLAGS}
    types |= {"jit_compile": (bool, False), "bidirectional": (bool, False)}
    for declarer in [*tasks.values(), *models.values()]:
        for setting in declarer.settings:
            types.setdefault(setting.name, (setting.type, setting.many))
    return types


def check_type(name: str, value: Any, kind: type, many: bool = False) -> Any:
    """`value` (read from JSON) as a value of the flag `name`; ValueError naming it otherwise.

    An integer is taken for a float setting; nothing else is converted.
    """
    if many:
        if not isinstance(value, list):
            raise ValueError(f"{name!r} must be a list, got {json.dumps(value)}")
        return [check_type(name, v, kind) for v in value]
    integer = isinstance(value, int) and not isinstance(value, bool)
    if kind is float and (integer or isinstance(value, float)):
        return float(value)
    if (kind is int and integer) or (kind in (str, bool) and isinstance(value, kind)):
        return value
    what = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]
    raise ValueError(f"{name!r} must be {what}, got {json.dumps(value)}")


def read_settings(path: str | None, tasks, models) -> dict[str, Any]:
    """Reads a settings file: a JSON object of train.py's flag names, with underscores, and values.

    Example: `{"task": "imdb", "units": 128, "learning_rate": 0.003, "seq_len": 300}`.

    Args:
        path: The file; None or "" reads nothing.
        tasks: The registered tasks (`datasets.TASKS`), for their settings' names.
        models: The registered models (`models.MODELS`).

    Returns:
        The values, typed (`{}` without a file).

    Raises:
        ValueError: the file cannot be read, is not a JSON object, or holds an
            unknown key or a value of the wrong type; the message names both.
    """
    if not path:
        return {}
    data = files.read_json_object(path, f"settings file {path}", '{"units": 128}')
    types = setting_types(tasks, models)
    values = {}
    for key, value in data.items():
        if key not in types:
            close = difflib.get_close_matches(key.replace("-", "_"), list(types), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else " (its keys are train.py's flags, with underscores)"
            )
            raise ValueError(f"settings file {path}: unknown setting {key!r}{hint}")
        try:
            values[key] = check_type(key, value, *types[key])
        except ValueError as err:
            raise ValueError(f"settings file {path}: {err}") from None
    return values


def resolve(args: dict[str, Any], settings: dict[str, Any] | None = None, source: str = "") -> TrainConfig:
    """Resolves flags (None = not given) and a settings file's values into a validated `TrainConfig`.

    Layers, each over the one before: `TrainConfig`'s defaults, the task's
    and the model's settings' defaults, the task's `defaults`, the model's
    preset, the task's recipe for that model (`Task.recipes`), the settings
    file's values (`read_settings`), the flags given.

    Args:
        args: The flags, None where not given.
        settings: The settings file's values.
        source: The settings file, named in the errors its values cause.

    Raises:
        ValueError: unknown model/task, an incompatible pair, a flag or a
            setting that does not apply, or a bad value.
    """
    if not settings:
        return _resolve(args)
    given = {k: v for k, v in args.items() if v is not None}
    merged = settings | given
    try:
        return _resolve(merged)
    except ValueError as err:
        import datasets  # the registries (already imported by _resolve)
        import models

        # The error is the file's when the flags alone resolve, on the file's
        # task and model where those are names the zoo knows.
        known = {"task": datasets.TASKS, "model": models.MODELS}
        probe = {k: settings[k] for k in known if settings.get(k) in known[k]}
        try:
            _resolve(probe | given)
        except ValueError:
            raise err from None
        raise ValueError(f"settings file {source or 'given'}: {err}") from None


def _resolve(args: dict[str, Any]) -> TrainConfig:
    # Imported here, not at the top: they import TensorFlow (seconds).
    import datasets
    import models

    defaults = TrainConfig()
    # `is None`, not `or`: an empty name is an unknown name, not the default.
    task = datasets.get_task(defaults.task if args.get("task") is None else args["task"])
    entry = models.get_model(defaults.model if args.get("model") is None else args["model"])
    refusal = entry.refusal(task.heads, task.input_kinds, len(task.input_names))
    if refusal:
        raise ValueError(f"model {entry.name!r} cannot serve task {task.name!r}: {refusal}")
    own = {setting.name: setting for setting in task.settings}
    own_model = {setting.name: setting for setting in entry.settings}
    task_defaults = task.defaults
    if entry.compiles:
        # The model compiles itself: no task default of a setting it fixes
        # (a learning-rate schedule, say) applies to it.
        task_defaults = {k: v for k, v in task.defaults.items() if k not in FIXED_BY_SNIPPETS}
    general = dataclasses.asdict(defaults)
    del general["task_settings"], general["model_settings"]
    values = general | {name: s.default for name, s in (own | own_model).items()}
    values |= task_defaults | entry.preset | task.recipes.get(entry.name, {})
    unknown = sorted(set(values) - set(general) - set(own) - set(own_model))
    if unknown:  # a preset or recipe naming a setting nobody declares: a bug, said plainly
        raise ValueError(
            f"task {task.name!r} / model {entry.name!r} set unknown settings: {', '.join(unknown)}"
        )
    readers = task_setting_names(datasets.TASKS)
    model_readers = task_setting_names(models.MODELS)
    given = {
        k: v
        for k, v in args.items()
        if v is not None and (k in general or k in readers or k in model_readers)
    }
    fixed = sorted(set(given) & set(FIXED_BY_SNIPPETS)) if entry.compiles else []
    if fixed:
        raise ValueError(
            f"{entry.name!r} is the chapter's model as printed; --{fixed[0].replace('_', '-')} does not apply to it"
        )
    for name in given:
        flag = "--" + name.replace("_", "-")
        if name in readers and name not in own:
            raise ValueError(
                f"{flag} does not apply to task {task.name!r} (only to: {', '.join(readers[name])})"
            )
        if name in model_readers and name not in own_model:
            raise ValueError(
                f"{flag} does not apply to model {entry.name!r} (only to: {', '.join(model_readers[name])})"
            )
        if name in TOKEN_SETTINGS and TOKENS not in task.input_kinds:
            token_tasks = [t.name for t in datasets.TASKS.values() if TOKENS in t.input_kinds]
            raise ValueError(
                f"{flag} does not apply to task {task.name!r} (only to: {', '.join(token_tasks)})"
            )
    if given.get("api") in APIS and given["api"] not in entry.apis:
        raise ValueError(
            f"{entry.name!r} is built with the {' or '.join(entry.apis)} API only; --api {given['api']} does not apply"
        )
    values |= given
    values.update(model=entry.name, task=task.name)
    config = TrainConfig(
        **{k: v for k, v in values.items() if k in general},
        task_settings={k: v for k, v in values.items() if k in own},
        model_settings={k: v for k, v in values.items() if k in own_model},
    )
    validate(config, task.settings, entry.settings)
    if config.bidirectional and task.generative:
        raise ValueError(f"a bidirectional model cannot serve {task.name!r}: generation runs left to right")
    return config


def validate(config: TrainConfig, settings=None, model_settings=None) -> None:
    """Raises ValueError for a value out of range, naming the value received.

    Args:
        config: The config.
        settings: The task's `Setting`s, checked against `config.task_settings`.
        model_settings: The model's `Setting`s, checked against `config.model_settings`.
    """
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--{field.name.replace('_', '-')} must be a finite number, got {value}")
    for name in POSITIVE:
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if not 0 <= config.seed < 2**32:  # the range NumPy's seed accepts
        raise ValueError(f"--seed must be in [0, 2**32), got {config.seed}")
    for name in ("dropout", "embedding_dropout"):
        if not 0 <= getattr(config, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be in [0, 1), got {getattr(config, name)}")
    if config.checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every must be >= 0, got {config.checkpoint_every}")
    for name, choices in CHOICES.items():
        value = getattr(config, name)
        if value not in choices:
            raise ValueError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}")
    for what, name, declared, values in (
        ("task", config.task, settings, config.task_settings),
        ("model", config.model, model_settings, config.model_settings),
    ):
        if declared is None:
            continue
        declared = {s.name: s for s in declared}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ValueError(f"{what} {name!r} has no setting {unknown[0]!r}")
        for setting_name, setting in declared.items():
            if setting_name not in values:
                raise ValueError(f"{what} {name!r} needs its setting {setting.flag}")
            setting.check(values[setting_name])


def to_json(config: TrainConfig) -> dict[str, Any]:
    return {"version": CONFIG_VERSION, "config": dataclasses.asdict(config)}


# Version 1 kept these task settings as fields; runs saved before imdb had
# --pool read the mean of the steps.
V1_TASK_FIELDS = {"seq_len": 200, "max_tokens": 20000, "window": 50, "horizon": 1, "pool": "mean"}


def from_json(data: dict[str, Any], where: str) -> TrainConfig:
    """Rebuilds a saved config (this version's, or version 1's); refuses others or unknown fields."""
    import datasets  # the task's settings (TensorFlow: evaluate.py loads a model next anyway)
    import models  # the model's

    version = data.get("version")
    if version not in (1, CONFIG_VERSION) or not isinstance(data.get("config"), dict):
        raise ValueError(
            f"{where} was written by another version of the zoo (config version "
            f"{version!r}, this one reads 1 and {CONFIG_VERSION}); retrain with this version"
        )
    saved = dict(data["config"])
    if version == 1:
        task = datasets.TASKS.get(saved.get("task"))
        names = [s.name for s in task.settings] if task else []
        old = {k: saved.pop(k, default) for k, default in V1_TASK_FIELDS.items()}
        saved["task_settings"] = {k: old[k] for k in names if k in old}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ValueError(f"{where} has settings this version does not know: {', '.join(unknown)}")
    try:
        config = TrainConfig(**saved)
        task = datasets.get_task(config.task)
        validate(config, task.settings, models.get_model(config.model).settings)
    except (TypeError, ValueError) as err:  # TypeError: a value of the wrong type
        raise ValueError(f"{where} holds an invalid setting ({err})") from None
    return config
