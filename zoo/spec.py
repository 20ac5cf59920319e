"""The contract between tasks and models: `TaskSpec`, its inputs, the head kinds, and `Setting`.

A *task* (datasets/) knows its data and its output head (size, activation,
loss, metrics); a *model* (models/) knows only its recurrent body and asks
the task's `TaskSpec` for the inputs and the head. This module imports
neither TensorFlow nor Keras, so the builders also run under another Keras
backend (JAX on a GPU machine, benchmarks/throughput.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Head kinds: how a task turns the recurrent outputs into a prediction.
BINARY = "binary"  # one sigmoid unit, e.g. sentiment
NEXT_TOKEN = "next_token"  # logits over a vocabulary at every step
REGRESSION = "regression"  # real values, e.g. the next value(s) of one or more series
MULTICLASS = "multiclass"  # softmax over `output_units` classes
HEADS = (BINARY, NEXT_TOKEN, REGRESSION, MULTICLASS)

# How a sequence-level head reads the last recurrent layer's outputs.
POOLS = ("last", "mean", "max")

TOKENS, FEATURES = "tokens", "features"  # input kinds


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One named input of a task.

    Args:
        kind: `"tokens"` (integer ids, embedded by the model) or
            `"features"` (float vectors fed to the RNN directly).
        name: The input's name (a key of the batch's input dict where a
            task has several inputs; the Keras input's name).
        timesteps: Fixed sequence length, or `None` for variable length.
        features: Feature size for `"features"` inputs (1 for a univariate series).
        vocab_size: Number of token ids for `"tokens"` inputs.
        mask_zero: Whether token id 0 is padding that the RNN must skip.
    """

    kind: str
    name: str = "inputs"
    timesteps: int | None = None
    features: int = 1
    vocab_size: int = 0
    mask_zero: bool = False

    def __post_init__(self):
        if self.kind not in (TOKENS, FEATURES):
            raise ValueError(f"input kind must be {TOKENS!r} or {FEATURES!r}, got {self.kind!r}")
        if self.kind == TOKENS and self.vocab_size < 1:
            raise ValueError(f"token input {self.name!r} needs a vocabulary size, got {self.vocab_size}")

    @property
    def shape(self) -> tuple[int | None, ...]:
        """Per-example shape, without the batch axis: (timesteps,) ids or (timesteps, features)."""
        return (self.timesteps,) if self.kind == TOKENS else (self.timesteps, self.features)

    @property
    def dtype(self) -> str:
        return "int32" if self.kind == TOKENS else "float32"


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """The shape of a task's inputs and outputs, all a model builder needs.

    Args:
        inputs: The task's inputs, in order (one for a classifier or a
            forecaster; a source and a target for an encoder-decoder).
        head: One of `HEADS`.
        output_units: Size of the head's output at each output step (the
            classes, the vocabulary, the target series).
        output_steps: For a sequence-level head that predicts several
            steps at once (a multi-step forecast): their number; the
            output is then `(output_steps, output_units)` per example.
        per_step: Whether the head predicts at every input step (the last
            recurrent layer then returns sequences).
        pool: How a sequence-level head reads the last recurrent layer:
            `"last"` (its final state), `"mean"` or `"max"` (the masked mean,
            or each feature's masked maximum, of its outputs over all
            steps: gradients then reach the steps directly).
        class_names: Names of the classes, where the head classifies.

    Example:
        >>> TaskSpec((InputSpec("features", timesteps=50),), REGRESSION, 1).output_shape()
        (1,)
    """

    inputs: tuple[InputSpec, ...]
    head: str
    output_units: int
    output_steps: int | None = None
    per_step: bool = False
    pool: str = "last"
    class_names: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.inputs:
            raise ValueError("a task spec needs at least one input")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if self.per_step and self.output_steps:
            raise ValueError("a per-step head predicts at every input step: it takes no output_steps")

    @property
    def input(self) -> InputSpec:
        """The one input of a single-input task (ValueError where there are several)."""
        if len(self.inputs) != 1:
            names = ", ".join(i.name for i in self.inputs)
            raise ValueError(f"this task has {len(self.inputs)} inputs ({names}); the model reads one")
        return self.inputs[0]

    def output_shape(self, timesteps: int | None = None) -> tuple[int | None, ...]:
        """Per-example output shape: (steps, units) per step, (output_steps, units), or (units,)."""
        if self.per_step:
            return (timesteps, self.output_units)
        if self.output_steps:
            return (self.output_steps, self.output_units)
        return (self.output_units,)


@dataclasses.dataclass(frozen=True)
class Setting:
    """A setting a task declares: its flag, type, default and help.

    `train.py` turns each into a flag (`seq_len` -> `--seq-len`), shown in
    `--help` under the tasks that declare it and refused on other tasks.

    Args:
        name: The setting's name, a Python identifier.
        type: `int`, `float`, `str` or `bool`.
        default: The value when the flag is not given.
        help: One line for `--help`.
        choices: The values allowed, where only a few are.
        positive: Whether the value must be > 0.
        many: Whether the flag may be given several times (a list of values).
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()
    positive: bool = False
    many: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> None:
        """Raises ValueError for a value this setting does not take, naming it."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.flag} must be true or false, got {value!r}")
        elif self.type in (int, float):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric or (self.type is int and not isinstance(value, int)):
                raise ValueError(
                    f"{self.flag} must be a{'n integer' if self.type is int else ' number'}, got {value!r}"
                )
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{self.flag} must be a finite number, got {value}")
            if self.positive and value <= 0:
                raise ValueError(f"{self.flag} must be positive, got {value}")
        elif not isinstance(value, self.type):
            raise ValueError(f"{self.flag} must be a {self.type.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.flag} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
