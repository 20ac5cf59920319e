"""Test-split evaluation of a run directory, one evaluator per kind of head."""

from __future__ import annotations

import dataclasses
import math
import os
import time

import keras
import numpy as np

import datasets
from datasets import shakespeare
from models.generation import Sampler
from zoo import plots, rundir
from zoo.spec import BINARY, MULTICLASS, NEXT_TOKEN, REGRESSION


@dataclasses.dataclass
class EvalOptions:
    """evaluate.py's options beyond the run directory."""

    texts: list[str] = dataclasses.field(default_factory=list)  # imdb: texts to score
    seed_text: str = "ROMEO:"  # shakespeare: start of the generated sample
    length: int = 300  # shakespeare: characters to generate
    temperature: float = 0.8  # shakespeare: sampling temperature
    limit: int | None = None  # evaluate on the first N test examples only (quick checks)


def collect(model, ds, limit: int | None, batch_size: int):
    """Model outputs and labels over a (possibly limited) batched split."""
    if limit:
        ds = ds.unbatch().take(limit).padded_batch(batch_size)
    # Token-id models saved before imdb batched by length take exactly
    # `seq_len` ids; today's batches are as long as their longest review.
    fixed_steps = model.input_shape[1] if len(model.input_shape) == 2 else None
    outputs, labels = [], []
    for x, y in ds:
        if fixed_steps and x.shape[1] < fixed_steps:
            x = np.pad(x, ((0, 0), (0, fixed_steps - x.shape[1])))  # zeros: masked padding
        outputs.append(np.asarray(model.predict_on_batch(x)))
        labels.append(y.numpy())
    return np.concatenate(outputs), np.concatenate(labels)


def confusion(labels: np.ndarray, predicted: np.ndarray, n: int) -> list[list[int]]:
    """Confusion matrix: row = true class, column = predicted class."""
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (labels.astype(int), predicted.astype(int)), 1)
    return matrix.tolist()


def evaluate_binary(model, task, config, data, options, run_dir):
    # Texts first: one that cannot be scored is refused before the test split runs.
    ids = task.encode_texts(config, data.state, options.texts) if options.texts else None
    probs, labels = collect(model, data.test, options.limit, config.batch_size)
    predicted = (probs[:, 0] >= 0.5).astype(int)
    (tn, fp), (fn, tp) = confusion(labels, predicted, 2)
    metrics = {
        "accuracy": (tp + tn) / len(labels),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "confusion_matrix": {
            "rows_true_cols_predicted": list(data.spec.class_names),
            "matrix": [[tn, fp], [fn, tp]],
        },
        "test_examples": len(labels),
    }
    if options.texts:
        scores = np.asarray(model.predict_on_batch(ids))[:, 0]
        metrics["texts"] = [
            {"text": t, "positive_probability": float(p)} for t, p in zip(options.texts, scores)
        ]
    return metrics


def stream_loss(model, ids: np.ndarray) -> float:
    """Nats/char over a text read as one stream, as the sampler reads it.

    Every character is predicted from all the characters before it (the
    state is never reset), unlike the windowed loss, where the state starts
    from zero every `seq_len` characters and the first characters of each
    window are guessed with little context.
    """
    logits = np.asarray(model.predict_on_batch(ids[None, :-1]))[0]
    return float(np.mean(keras.losses.sparse_categorical_crossentropy(ids[1:], logits, from_logits=True)))


def evaluate_next_token(model, task, config, data, options, run_dir):
    test = data.test.take(math.ceil(options.limit / config.batch_size)) if options.limit else data.test
    nats = float(model.evaluate(test, verbose=0, return_dict=True)["loss"])
    streams = {}
    for split in ("val", "test"):
        ids = task.text_ids(config, data.state, split)
        streams[split] = stream_loss(model, ids[: options.limit * config.seq_len] if options.limit else ids)
    prime = shakespeare.encode(data.state, options.seed_text)
    sampler = Sampler(model)
    sampler.sample(prime, 2, options.temperature)  # trace the tf.function once before timing
    start = time.perf_counter()
    ids = sampler.sample(prime, options.length, options.temperature, seed=config.seed)
    seconds = time.perf_counter() - start
    sample = options.seed_text + shakespeare.decode(data.state, ids)
    rundir.write_text(os.path.join(run_dir, "samples.txt"), sample + "\n")
    return {
        "loss_nats_per_char": nats,
        "bits_per_char": nats / math.log(2),
        "perplexity": math.exp(nats),
        # The same model, each split read as one stream (see stream_loss).
        "val_stream_nats_per_char": streams["val"],
        "test_stream_nats_per_char": streams["test"],
        "generation_chars_per_second": options.length / seconds,
        "sample": sample,
    }


def evaluate_regression(model, task, config, data, options, run_dir):
    x, y = task.windows(config, "test")
    if options.limit:
        x, y = x[: options.limit], y[: options.limit]
    predictions = np.asarray(model.predict(x, batch_size=256, verbose=0))
    naive = np.repeat(x[:, -1, :], y.shape[1], axis=1)  # the last value, held
    # Linear baseline: least squares from the window (plus a bias) to the
    # target, fitted on the training windows.
    x_train, y_train = task.windows(config, "train")
    design = np.concatenate([x_train[:, :, 0], np.ones((len(x_train), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    linear = np.concatenate([x[:, :, 0], np.ones((len(x), 1))], axis=1) @ coef
    metrics = {"test_windows": len(x)}
    for name, p in (("model", predictions), ("naive", naive), ("linear", linear)):
        err = p - y
        metrics[f"{name}_mae"] = float(np.mean(np.abs(err)))
        metrics[f"{name}_mse"] = float(np.mean(err**2))
        metrics[f"{name}_rmse"] = float(np.sqrt(np.mean(err**2)))
    metrics["mse_vs_linear"] = metrics["model_mse"] / metrics["linear_mse"]
    picks = np.linspace(0, len(x) - 1, 3).astype(int)
    plots.save_forecast(
        x[picks, :, 0], y[picks], predictions[picks], naive[picks], os.path.join(run_dir, "forecast.png")
    )
    return metrics


def evaluate_multiclass(model, task, config, data, options, run_dir):
    probs, labels = collect(model, data.test, options.limit, config.batch_size)
    if labels.ndim == 2:  # one-hot labels (models compiled with categorical_crossentropy)
        labels = labels.argmax(axis=1)
    predicted = probs.argmax(axis=1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "confusion_matrix": {
            "rows_true_cols_predicted": list(data.spec.class_names),
            "matrix": confusion(labels, predicted, len(data.spec.class_names)),
        },
        "test_examples": len(labels),
    }


EVALUATORS = {
    BINARY: evaluate_binary,
    NEXT_TOKEN: evaluate_next_token,
    REGRESSION: evaluate_regression,
    MULTICLASS: evaluate_multiclass,
}


def evaluate(run_dir: str, options: EvalOptions) -> dict:
    """Evaluates a run on its task's test split; writes and returns metrics.json."""
    config, saved = rundir.load_config(run_dir)
    if not saved.get("finished"):
        raise rundir.RunError(
            f"{run_dir} holds an unfinished run (interrupted, or still training): "
            "rerun its train.py command to resume it"
        )
    task = datasets.get_task(config.task)
    if options.texts and task.name != "imdb":
        raise ValueError(f"--text/--text-file score sentiment: they need an imdb run, not {task.name!r}")
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    model = rundir.load_model(os.path.join(run_dir, rundir.MODEL_FILE))
    data = task.load(config, state, splits=("test",))
    metrics = EVALUATORS[data.spec.head](model, task, config, data, options, run_dir)
    metrics = {"task": config.task, "model": config.model} | metrics
    rundir.write_json(os.path.join(run_dir, "metrics.json"), metrics)
    return metrics


def format_table(metrics: dict) -> str:
    """The scalar metrics as aligned `name  value` lines, then texts and samples."""
    lines = []
    for key, value in metrics.items():
        if isinstance(value, float):
            lines.append(f"{key:<28} {value:.4f}")
        elif isinstance(value, (int, str)) and key != "sample":
            lines.append(f"{key:<28} {value}")
    if "confusion_matrix" in metrics:
        cm = metrics["confusion_matrix"]
        names = cm["rows_true_cols_predicted"]
        lines.append("confusion matrix (rows: true, columns: predicted)")
        lines.append(" " * 12 + "".join(f"{n:>10}" for n in names))
        lines += [f"{n:>12}" + "".join(f"{v:>10}" for v in row) for n, row in zip(names, cm["matrix"])]
    for item in metrics.get("texts", []):
        lines.append(f"{item['positive_probability']:.3f}  {item['text']}")
    if "sample" in metrics:
        lines.append("--- sample ---\n" + metrics["sample"])
    return "\n".join(lines)
