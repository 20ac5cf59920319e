"""The model registry: `--model NAME` resolves here.

Each entry is a named preset (plain settings, a one-line description) and the
builder that turns settings plus a task's `TaskSpec` into a Keras model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

MODELS: dict[str, ModelEntry] = {}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Args:
        name: The `--model` name.
        description: One line for `train.py --list`.
        build: `build(config, spec, api) -> keras.Model` (uncompiled unless
            `compiles` is set).
        preset: Settings this model fixes (cell, layers, units...); the
            command line may still override them.
        tasks: The task names it runs on, or `None` for every compatible one.
        task_overrides: Per-task settings, e.g. `{"timeseries": {"window": 10}}`.
        compiles: Whether `build` returns a model compiled its own way.
    """

    name: str
    description: str
    build: Callable[..., Any]
    preset: dict[str, Any]
    tasks: tuple[str, ...] | None = None
    task_overrides: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    compiles: bool = False


def register_model(name: str, description: str, build: Callable[..., Any], **kwargs) -> ModelEntry:
    """Registers a model; refuses a name that is already taken."""
    if name in MODELS:
        raise ValueError(f"Model {name!r} is registered twice.")
    MODELS[name] = ModelEntry(name=name, description=description, build=build, **kwargs)
    return MODELS[name]


def get_model(name: str) -> ModelEntry:
    """Returns the registered model `name`.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]
