"""The chapter's snippets run verbatim, and the registered models are the same models."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import models
from models import snippets
from tests.test_models import TINY_SPECS, with_timesteps
from zoo import config as config_lib

FILL = {"timesteps": 100, "features": 1, "number_of_classes": 4}


def run_verbatim(text: str) -> keras.Model:
    """Executes the printed snippet with the chapter's free names filled in."""
    namespace = dict(FILL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(text, namespace)  # the point of the test: the printed text, unchanged
    assert any("input_shape" in str(w.message) for w in caught), "Keras 3 warns about input_shape"
    return namespace["model"]


def describe(model: keras.Model):
    return (
        [
            (type(layer).__name__, layer.get_config().get("units"), layer.count_params())
            for layer in model.layers
        ],
        model.input_shape,
        model.output_shape,
        type(model.optimizer).__name__,
        model.loss,
    )


@pytest.mark.parametrize(
    "name,text,task,x_shape,y",
    [
        pytest.param(
            "snippet-forecaster",
            snippets.FORECASTER_TEXT,
            "timeseries",
            (8, 10, 1),
            np.zeros((8, 1)),
            id="forecaster",
        ),
        pytest.param(
            "snippet-classifier",
            snippets.CLASSIFIER_TEXT,
            "waveforms",
            (8, 100, 1),
            np.eye(4)[np.arange(8) % 4],
            id="classifier",
        ),
    ],
)
def test_snippet_verbatim_trains_and_matches_the_zoo_model(name, text, task, x_shape, y):
    printed = run_verbatim(text)
    x = np.random.default_rng(0).normal(size=x_shape).astype("float32")
    loss = printed.train_on_batch(x, y)
    assert np.all(np.isfinite(loss))

    config = config_lib.resolve({"model": name, "task": task})
    spec = with_timesteps(TINY_SPECS[task], x_shape[1])
    zoo_model = models.get_model(name).build(config, spec, config.api)
    assert describe(zoo_model) == describe(printed)


def test_snippet_settings_resolve_for_their_task():
    forecaster = config_lib.resolve({"model": "snippet-forecaster", "task": "timeseries"})
    assert forecaster.task_settings == {"window": 10, "horizon": 1} and forecaster.units == 50
    classifier = config_lib.resolve({"model": "snippet-classifier", "task": "waveforms"})
    assert classifier.one_hot_labels and classifier.optimizer == "rmsprop"
    # Their optimizers are printed with a fixed rate: no task's schedule applies.
    assert forecaster.lr_schedule == classifier.lr_schedule == "constant"
    with pytest.raises(ValueError, match="cannot serve task 'imdb': it has a regression head"):
        config_lib.resolve({"model": "snippet-forecaster", "task": "imdb"})
    with pytest.raises(ValueError, match="as printed; --units does not apply"):
        config_lib.resolve({"model": "snippet-classifier", "task": "waveforms", "units": 8})


@pytest.mark.parametrize(
    "model,task", [("snippet-forecaster", "timeseries"), ("snippet-classifier", "waveforms")]
)
def test_snippets_run_from_the_command_line(model, task, tmp_path):
    import json

    import evaluate
    import train
    from zoo import cli

    run_dir = str(tmp_path / "run")
    quick = ["--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "16"]
    assert cli.run(train.main, ["--model", model, "--task", task, "--run-dir", run_dir, *quick]) == 0
    assert cli.run(evaluate.main, [run_dir, "--limit", "100"]) == 0
    metrics = json.load(open(f"{run_dir}/metrics.json"))
    assert ("model_mse" if task == "timeseries" else "accuracy") in metrics
    saved = json.load(open(f"{run_dir}/config.json"))["config"]
    assert (saved["task_settings"].get("window") if task == "timeseries" else saved["one_hot_labels"]) in (
        10,
        True,
    )
