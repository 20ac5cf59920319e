"""One typed config: defaults < task defaults < model preset < command line.

The resolved config is saved as `config.json` in the run directory, so that
evaluate.py needs no repeated flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

from zoo.cluster import STRATEGIES as DISTRIBUTE  # imports no TensorFlow
from zoo.spec import POOLS  # nor this

# Bumped when a field changes meaning; evaluate.py refuses other versions.
CONFIG_VERSION = 1


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
    # XLA: on CPU Keras's "auto" means off. Measured here it is 2.3x faster
    # for a 64-unit LSTM at batch 64, but slower for wide layers and long
    # sequences (a 256-unit GRU at batch 128: 0.7 s a step with XLA, 0.35 s
    # without), so tasks with large models turn it off in their defaults.
    jit_compile: bool = True
    checkpoint_every: int = 0  # batches between mid-epoch checkpoints; 0 = each epoch only
    # tf.distribute strategy (zoo/distribute.py); batch_size stays the global batch.
    distribute: str = "none"
    # Task settings (used by the tasks that have them).
    # imdb: how the head reads the RNN's outputs (zoo.spec.POOLS). "mean" is
    # the default here because runs saved before the setting existed used it.
    pool: str = "mean"
    seq_len: int = 200
    max_tokens: int = 20000
    window: int = 50
    horizon: int = 1
    one_hot_labels: bool = False
    # Locations.
    data_dir: str | None = None
    run_dir: str | None = None


LR_SCHEDULES = ("constant", "cosine")
APIS = ("sequential", "functional")  # the same names as models.rnn.APIS (no Keras import here)
# Settings that take one of a few names.
CHOICES = {"distribute": DISTRIBUTE, "lr_schedule": LR_SCHEDULES, "api": APIS, "pool": POOLS}

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
    ("seq_len", int, "text tasks: words (imdb) or characters per training window (shakespeare)"),
    ("max_tokens", int, "imdb: vocabulary size"),
    (
        "pool",
        str,
        "imdb: what the head reads: max or mean (masked, over every step's output), or last (the final state)",
    ),
    ("patience", int, "epochs without a better validation loss before early stopping"),
    ("seed", int, "random seed (weights, shuffling); same seed, same weights on CPU"),
    ("checkpoint_every", int, "also checkpoint every N training batches (0: each epoch only)"),
    (
        "distribute",
        str,
        "data-parallel training: none (one device), mirrored (this machine's GPUs) "
        "or multiworker (the machines in $TF_CONFIG)",
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
    "seq_len",
    "max_tokens",
    "window",
    "horizon",
    "embedding_dim",
    "patience",
)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the training flags (each with help) to `parser`."""
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


def resolve(args: dict[str, Any]) -> TrainConfig:
    """Resolves flags (None = not given) into a validated `TrainConfig`.

    Raises:
        ValueError: unknown model/task, an incompatible pair, or a bad value.
    """
    # Imported here, not at the top: they import TensorFlow (seconds), and
    # train.py reads the flags and announces a resume before that.
    import datasets
    import models

    defaults = TrainConfig()
    # `is None`, not `or`: an empty name is an unknown name, not the default.
    task = datasets.get_task(defaults.task if args.get("task") is None else args["task"])
    entry = models.get_model(defaults.model if args.get("model") is None else args["model"])
    if entry.tasks is not None and task.name not in entry.tasks:
        raise ValueError(f"model {entry.name!r} runs only on: {', '.join(entry.tasks)}")
    task_defaults = task.defaults
    if entry.compiles:
        # The model compiles itself: no task default of a setting it fixes
        # (a learning-rate schedule, say) applies to it.
        task_defaults = {k: v for k, v in task.defaults.items() if k not in FIXED_BY_SNIPPETS}
    values = dataclasses.asdict(defaults) | task_defaults | entry.preset
    values |= entry.task_overrides.get(task.name, {})
    given = {k: v for k, v in args.items() if v is not None and k in values}
    fixed = sorted(set(given) & set(FIXED_BY_SNIPPETS)) if entry.compiles else []
    if fixed:
        raise ValueError(
            f"{entry.name!r} is the chapter's model as printed; --{fixed[0].replace('_', '-')} does not apply to it"
        )
    # A flag that some task lists in its `settings` applies to those tasks only.
    for name in given:
        readers = [t.name for t in datasets.TASKS.values() if name in t.settings]
        if readers and task.name not in readers:
            raise ValueError(
                f"--{name.replace('_', '-')} does not apply to task {task.name!r} "
                f"(only to: {', '.join(readers)})"
            )
    values |= given
    values.update(model=entry.name, task=task.name)
    config = TrainConfig(**values)
    validate(config)
    if config.bidirectional and task.generative:
        raise ValueError(f"a bidirectional model cannot serve {task.name!r}: generation runs left to right")
    return config


def validate(config: TrainConfig) -> None:
    """Raises ValueError for a value out of range, naming the value received."""
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


def to_json(config: TrainConfig) -> dict[str, Any]:
    return {"version": CONFIG_VERSION, "config": dataclasses.asdict(config)}


def from_json(data: dict[str, Any], where: str) -> TrainConfig:
    """Rebuilds a saved config; refuses other versions or unknown fields."""
    if data.get("version") != CONFIG_VERSION or not isinstance(data.get("config"), dict):
        raise ValueError(
            f"{where} was written by another version of the zoo (config version "
            f"{data.get('version')!r}, this one reads {CONFIG_VERSION}); retrain with this version"
        )
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data["config"]) - known)
    if unknown:
        raise ValueError(f"{where} has settings this version does not know: {', '.join(unknown)}")
    config = TrainConfig(**data["config"])
    try:
        validate(config)
    except (TypeError, ValueError) as err:  # TypeError: a value of the wrong type
        raise ValueError(f"{where} holds an invalid setting ({err})") from None
    return config
