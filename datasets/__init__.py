"""TFDS-backed tasks and the task registry. No model code lives here."""

from datasets import addition, dates, imdb, pairs, shakespeare, timeseries  # noqa: F401  (registers the tasks)
from datasets.base import Task, TaskData
from datasets.registry import TASKS, get_task, register_task
from datasets.tfds_source import DataNotFoundError
from zoo.spec import TaskSpec

__all__ = ["TASKS", "DataNotFoundError", "Task", "TaskData", "TaskSpec", "get_task", "register_task"]
