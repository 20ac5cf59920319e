"""The contract between tasks and models: `TaskSpec` and the head kinds.

A *task* (datasets/) knows its data and its output head (size, activation,
loss, metrics); a *model* (models/) knows only its recurrent body and asks
the task's `TaskSpec` for the input and the head. This module imports
neither TensorFlow nor Keras, so the builders also run under another Keras
backend (JAX on a GPU machine, benchmarks/throughput.py).
"""

from __future__ import annotations

import dataclasses

# Head kinds: how a task turns the last recurrent output into a prediction.
BINARY = "binary"  # one sigmoid unit, e.g. sentiment
NEXT_TOKEN = "next_token"  # logits over the vocabulary at every step
REGRESSION = "regression"  # `units` real values, e.g. the next value(s)
MULTICLASS = "multiclass"  # softmax over `units` classes

# How a sequence-level head reads the last recurrent layer's outputs.
POOLS = ("last", "mean", "max")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """The shape of a task's inputs and outputs, all a model builder needs.

    Args:
        input_kind: `"tokens"` (integer ids, embedded by the model) or
            `"features"` (float vectors fed to the RNN directly).
        timesteps: Fixed sequence length, or `None` for variable length.
        features: Feature size for `"features"` inputs.
        vocab_size: Number of token ids for `"tokens"` inputs.
        mask_zero: Whether token id 0 is padding that the RNN must skip.
        head: One of `BINARY`, `NEXT_TOKEN`, `REGRESSION`, `MULTICLASS`.
        output_units: Size of the head's output.
        per_step: Whether the head predicts at every step (the last
            recurrent layer then returns sequences).
        pool: How a sequence-level head reads the last recurrent layer:
            `"last"` (its final state), `"mean"` or `"max"` (the masked mean,
            or each feature's masked maximum, of its outputs over all
            steps: gradients then reach the steps directly).
        class_names: Names of the classes, where the head classifies.
    """

    input_kind: str
    head: str
    output_units: int
    timesteps: int | None = None
    features: int = 1
    vocab_size: int = 0
    mask_zero: bool = False
    per_step: bool = False
    pool: str = "last"
    class_names: tuple[str, ...] = ()

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """Per-example input shape, without the batch axis."""
        if self.input_kind == "tokens":
            return (self.timesteps,)
        return (self.timesteps, self.features)

    @property
    def input_dtype(self) -> str:
        return "int32" if self.input_kind == "tokens" else "float32"
