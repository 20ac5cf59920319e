"""`timeseries` and `waveforms`: tasks on this project's synthetic TFDS builder."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from datasets import synthetic
from datasets.base import Task, TaskData, class_answer, export_archive, finish, task_data
from datasets.registry import register_task
from zoo import metrics, plots
from zoo.spec import FEATURES, MULTICLASS, REGRESSION, InputSpec, Setting, TaskSpec

SPLITS = {"train": "train", "val": "validation", "test": "test"}


def make_windows(series: np.ndarray, window: int, horizon: int, stride: int = 5):
    """Cuts series into (past `window` values -> next `horizon` values).

    Args:
        series: Array of shape (num_series, length).
        window: Number of past steps the model sees.
        horizon: Number of future steps to predict.
        stride: Steps between the starts of consecutive windows.

    Returns:
        `(x, y)` with shapes (num_windows, window, 1) and (num_windows, horizon).
    """
    length = series.shape[1]
    if window + horizon > length:
        raise ValueError(f"window + horizon = {window + horizon} exceeds the series length {length}")
    starts = np.arange(0, length - window - horizon + 1, stride)
    x = np.stack([series[:, s : s + window] for s in starts], axis=1).reshape(-1, window, 1)
    y = np.stack([series[:, s + window : s + window + horizon] for s in starts], axis=1).reshape(-1, horizon)
    return x, y


# evaluate.py flag of the tasks that answer for a series of values.
VALUES_INPUT = (
    Setting(
        "values", str, None, "comma-separated values of a new series to answer for (repeatable)", many=True
    ),
)


def read_values(options) -> list[np.ndarray]:
    """The `--values` series as float arrays; ValueError for one that is not numbers."""
    series = []
    for text in options.get("values") or []:
        try:
            values = np.array([float(v) for v in text.split(",") if v.strip()], dtype=np.float32)
        except ValueError:
            raise ValueError(f"--values {text!r} is not a comma-separated list of numbers") from None
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError(f"--values {text!r} holds no finite numbers")
        series.append(values)
    return series


def last_window(values: np.ndarray, window: int, flag: str = "--values") -> np.ndarray:
    """The last `window` values as one model input (window, 1); refuses a shorter series."""
    if len(values) < window:
        raise ValueError(f"{flag} has {len(values)} values; the model reads windows of {window}")
    return values[-window:, None]


def last_window_graph(series: tf.Tensor, window: int, features: int | None = None) -> tf.Tensor:
    """`last_window` in a graph; fails on series shorter than `window`.

    Args:
        series: (batch, length) values, or (batch, length, features) rows
            where `features` is given.
        window: The steps the model reads.
        features: The values per step of a rank-3 `series`; `None`: one, and `series` is rank 2.

    Returns:
        (batch, window, features or 1): the last `window` steps.
    """
    long_enough = tf.debugging.assert_greater_equal(
        tf.shape(series)[1],
        window,
        message=f"the series are shorter than the {window} values the model reads",
    )
    with tf.control_dependencies([long_enough]):  # checked before the shape is
        if features is None:
            return tf.ensure_shape(series[:, -window:], [None, window])[:, :, None]
        return tf.ensure_shape(series[:, -window:], [None, window, features])


@register_task
class TimeSeries(Task):
    name = "timeseries"
    description = "synthetic trend+seasonality+noise series: past window -> next value(s), MSE"
    heads = (REGRESSION,)
    input_kinds = (FEATURES,)
    settings = (
        Setting("window", int, 50, "past steps the model reads", positive=True),
        Setting("horizon", int, 1, "future steps it predicts at once", positive=True),
    )
    eval_settings = VALUES_INPUT
    # How each default was chosen: docs/tuning.md#timeseries.
    defaults = dict(epochs=40, batch_size=128, learning_rate=2e-3, lr_schedule="cosine", units=64, patience=6)
    recipes = {"snippet-forecaster": dict(window=10, horizon=1)}  # the chapter's model reads 10 steps

    def windows(self, config, split: str):
        """`(x, y)` NumPy windows of one split ("train", "val" or "test")."""
        builder = synthetic.load_builder("timeseries", config.data_dir)
        series = tfds.as_numpy(builder.as_dataset(split=SPLITS[split], batch_size=-1))["series"]
        return make_windows(series, config.task_settings["window"], config.task_settings["horizon"])

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        def pipeline(split):
            ds = tf.data.Dataset.from_tensor_slices(self.windows(config, split))
            return finish(ds, config.batch_size, 10000 if split == "train" else 0, config.seed)

        state = state or {}
        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        window = config.task_settings["window"]
        return TaskSpec(
            inputs=(InputSpec(FEATURES, timesteps=window, features=1),),
            head=REGRESSION,
            output_units=config.task_settings["horizon"],
        )

    def example_state(self, config) -> dict:
        return {}

    def read_inputs(self, options) -> list[np.ndarray]:
        return read_values(options)

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        x = np.stack([last_window(v, config.task_settings["window"]) for v in inputs])
        forecasts = np.asarray(model.predict_on_batch(x))
        return [{"forecast": [round(float(f), 6) for f in row]} for row in forecasts]

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: raw series (batch, length >= window) -> `forecast` (batch, horizon).

        The values go in as they are, in the series' own units (the task
        scales nothing); the model reads the last `window` of each.
        """
        window = config.task_settings["window"]

        def serve(series):
            return {"forecast": model(last_window_graph(series, window), training=False)}

        shape = [1, window] if fixed_shape else [None, None]
        signature = [tf.TensorSpec(shape, tf.float32, name="series")]
        return export_archive([model], {"serving_default": (serve, signature)})

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        series = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, series, options) if series else []
        x, y = self.windows(config, "test")
        if options.get("limit"):
            x, y = x[: options["limit"]], y[: options["limit"]]
        forecast = np.asarray(model.predict(x, batch_size=256, verbose=0))
        naive = np.repeat(x[:, -1, :], y.shape[1], axis=1)  # the last value, held
        linear = metrics.linear_baseline(*self.windows(config, "train"), x)
        result = {"test_windows": len(x)}
        for name, p in (("model", forecast), ("naive", naive), ("linear", linear)):
            result |= metrics.errors(name, p, y)
        result["mse_vs_linear"] = result["model_mse"] / result["linear_mse"]
        picks = np.linspace(0, len(x) - 1, 3).astype(int)
        plots.save_forecast(
            x[picks, :, 0], y[picks], forecast[picks], naive[picks], os.path.join(run_dir, "forecast.png")
        )
        return result | ({"predictions": predictions} if predictions else {})


@register_task
class Waveforms(Task):
    name = "waveforms"
    description = "synthetic sine/square/sawtooth/triangle signals: 4-class classification"
    heads = (MULTICLASS,)
    input_kinds = (FEATURES,)
    eval_settings = VALUES_INPUT
    # How each default was chosen: docs/tuning.md#waveforms.
    defaults = dict(epochs=20, batch_size=64, learning_rate=4e-3, lr_schedule="cosine", units=64, patience=6)
    recipes = {
        # 100-step signals: the SimpleRNN needs a lower, clipped rate, and all 20 epochs.
        "simplernn": dict(learning_rate=2e-3, clipnorm=1.0, patience=20),
    }

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        builder = synthetic.load_builder("waveforms", config.data_dir)
        num_classes = len(synthetic.WAVE_CLASSES)

        def pipeline(split):
            ds = builder.as_dataset(split=SPLITS[split], as_supervised=True)

            def prepare(x, y):
                x = x[:, None]  # (steps,) -> (steps, 1 feature)
                if config.one_hot_labels:  # for models compiled with categorical_crossentropy
                    y = tf.one_hot(y, num_classes)
                return x, y

            ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache()
            return finish(ds, config.batch_size, 5000 if split == "train" else 0, config.seed)

        state = state or {}
        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        return TaskSpec(
            inputs=(InputSpec(FEATURES, timesteps=synthetic.WAVE_LENGTH, features=1),),
            head=MULTICLASS,
            output_units=len(synthetic.WAVE_CLASSES),
            class_names=synthetic.WAVE_CLASSES,
        )

    def example_state(self, config) -> dict:
        return {}

    def read_inputs(self, options) -> list[np.ndarray]:
        return read_values(options)

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        x = np.stack([last_window(v, synthetic.WAVE_LENGTH) for v in inputs])
        probs = np.asarray(model.predict_on_batch(x))
        return [{name: round(float(p), 4) for name, p in zip(synthetic.WAVE_CLASSES, row)} for row in probs]

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: raw signals (batch, length >= 100) -> `probabilities` (batch, 4), `class`.

        The model reads the last 100 values of each signal, as `predict` does.
        """

        def serve(signals):
            probabilities = model(last_window_graph(signals, synthetic.WAVE_LENGTH), training=False)
            return class_answer(probabilities, synthetic.WAVE_CLASSES)

        shape = [1, synthetic.WAVE_LENGTH] if fixed_shape else [None, None]
        signature = [tf.TensorSpec(shape, tf.float32, name="signals")]
        return export_archive([model], {"serving_default": (serve, signature)})

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        series = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, series, options) if series else []
        probs, labels = metrics.collect(model, data.test, options.get("limit"), config.batch_size)
        result = metrics.multiclass(probs, labels, data.spec.class_names)
        return result | ({"predictions": predictions} if predictions else {})
