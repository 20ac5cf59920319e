"""The model registry: `--model NAME` resolves here.

Each entry is a named preset (plain settings, a one-line description) and the
builder that turns settings plus a task's `TaskSpec` into a Keras model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from zoo.spec import FEATURES, HEADS, TOKENS, Setting

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
        heads: The head kinds (zoo.spec.HEADS) it can serve.
        input_kinds: The input kinds (tokens, features) it reads.
        inputs: How many inputs it reads (1, or 2 for an encoder-decoder).
        apis: The model-building APIs it can be built with.
        compiles: Whether `build` returns a model compiled its own way.
        settings: Its own `Setting`s, which become `train.py` flags
            (refused on other models); their values are in
            `config.model_settings`.
    """

    name: str
    description: str
    build: Callable[..., Any]
    preset: dict[str, Any]
    heads: tuple[str, ...] = HEADS
    input_kinds: tuple[str, ...] = (TOKENS, FEATURES)
    inputs: int = 1
    apis: tuple[str, ...] = ("sequential", "functional")
    compiles: bool = False
    settings: tuple[Setting, ...] = ()

    def refusal(self, heads, input_kinds, inputs: int) -> str | None:
        """Why this model cannot serve a task of these kinds, or None where it can."""
        if not set(heads) & set(self.heads):
            return f"it has a {' or '.join(self.heads)} head, the task needs {' or '.join(heads)}"
        if not set(input_kinds) <= set(self.input_kinds):
            return f"it reads {' or '.join(self.input_kinds)} inputs, the task gives {', '.join(input_kinds)}"
        if inputs != self.inputs:
            return f"it reads {self.inputs} input{'s' if self.inputs > 1 else ''}, the task gives {inputs}"
        return None


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
