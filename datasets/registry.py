"""The task registry: `--task NAME` resolves here."""

from __future__ import annotations

from datasets.base import Task

TASKS: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator that registers one instance of a `Task` subclass."""
    if not cls.name:
        raise ValueError(f"Task class {cls.__name__} has no `name`.")
    if cls.name in TASKS:
        raise ValueError(f"Task {cls.name!r} is registered twice.")
    TASKS[cls.name] = cls()
    return cls


def get_task(name: str) -> Task:
    """Returns the registered task `name`.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}")
    return TASKS[name]
