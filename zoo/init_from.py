"""`train.py --init-from RUN`: a new run starts from a finished run's weights, where layers match.

The model is built as usual; then every layer with weights takes RUN's
weights when RUN's model has a layer of the same name whose weights have
the same shapes (an embedding and a recurrent layer, say), and keeps its
fresh initialisation otherwise (a head of another size). The task takes
RUN's state first (`Task.adopt_state`: its vocabulary), so that the
copied embedding rows stand for the same words. A resumed run reads its
weights from its own checkpoint, never from RUN again.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from zoo import rundir


@dataclasses.dataclass
class Source:
    """The finished run a new run starts from."""

    run_dir: str
    config: Any  # its TrainConfig
    state: dict[str, Any]  # its task state (vocabulary...)


def open_source(run_dir: str) -> Source:
    """RUN's config and task state; `RunError` when RUN is not a finished run."""
    try:
        config, _ = rundir.load_finished(run_dir, "start from", script="--init-from")
        state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    except rundir.RunError as err:
        raise rundir.RunError(f"--init-from: {err}") from None
    return Source(run_dir, config, state)


def check_not_itself(source_dir: str, run_dir: str) -> None:
    """ValueError when RUN is the new run's own directory (which `--overwrite` would empty first)."""
    if os.path.realpath(source_dir) == os.path.realpath(run_dir):
        raise ValueError(
            f"--init-from {source_dir} is this run's own directory; train into another --run-dir"
        )


def shapes(layer) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in layer.weights]


def copy_matching(model, source_model) -> tuple[list[str], list[str]]:
    """Copies into `model` the weights of `source_model`'s layers that match by name and weight shapes.

    Returns:
        `(copied, not_copied)`: the names of the layers copied, and for each
        layer with weights that was not, its name and why.
    """
    theirs = {layer.name: layer for layer in source_model.layers}
    copied, not_copied = [], []
    for layer in model.layers:
        if not layer.weights:
            continue  # dropout, pooling: nothing to copy
        other = theirs.get(layer.name)
        if other is None:
            not_copied.append(f"{layer.name} (RUN has no layer of that name)")
        elif shapes(layer) != shapes(other):
            not_copied.append(f"{layer.name} (weights {shapes(layer)} here, {shapes(other)} in RUN)")
        else:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
    return copied, not_copied


def initialise(model, source: Source) -> str:
    """Copies RUN's matching layers into `model`; the line that says what was copied.

    Raises:
        ValueError: no layer matches (another architecture, other sizes).
    """
    source_model = rundir.load_model(os.path.join(source.run_dir, rundir.MODEL_FILE))
    copied, not_copied = copy_matching(model, source_model)
    if not copied:
        raise ValueError(
            f"--init-from {source.run_dir}: no layer of this {model.name} matches a layer of RUN's "
            f"{source.config.model} by name and weight shapes ({'; '.join(not_copied)})"
        )
    fresh = f"; not copied (fresh weights): {', '.join(not_copied)}" if not_copied else ""
    return f"Initialised from {source.run_dir}: copied {', '.join(copied)}{fresh}."
