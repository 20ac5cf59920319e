"""TFDS-backed tasks and the task registry. No model code lives here."""

from datasets import (  # noqa: F401  (registers the tasks)
    addition,
    dates,
    imdb,
    imdb_lm,
    pairs,
    series,
    shakespeare,
    text_classes,
    text_corpus,
    timeseries,
)
from datasets.base import Task, TaskData
from datasets.registry import TASKS, get_task, register_task
from datasets.tfds_source import DataNotFoundError
from zoo.spec import TaskSpec

__all__ = ["TASKS", "DataNotFoundError", "Task", "TaskData", "TaskSpec", "get_task", "register_task"]
