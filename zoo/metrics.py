"""Test-split metrics by kind of head, for the tasks' `evaluate` methods. Names no task."""

from __future__ import annotations

import keras
import numpy as np


def collect(model, ds, limit: int | None, batch_size: int):
    """Model outputs and labels over a (possibly limited) batched split."""
    if limit:
        ds = ds.unbatch().take(limit).padded_batch(batch_size)
    # Token-id models saved when imdb fed exactly `seq_len` ids take that
    # many; today's batches are as long as their longest review.
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


def binary(probabilities: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Accuracy, precision, recall and the confusion matrix of a sigmoid head (threshold 0.5)."""
    predicted = (probabilities >= 0.5).astype(int)
    (tn, fp), (fn, tp) = confusion(labels, predicted, 2)
    return {
        "accuracy": (tp + tn) / len(labels),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "confusion_matrix": {"rows_true_cols_predicted": list(class_names), "matrix": [[tn, fp], [fn, tp]]},
        "test_examples": len(labels),
    }


def multiclass(probabilities: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Accuracy and the confusion matrix of a softmax head (labels as ids or one-hot)."""
    if labels.ndim == 2:  # one-hot labels (models compiled with categorical_crossentropy)
        labels = labels.argmax(axis=1)
    predicted = probabilities.argmax(axis=1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "confusion_matrix": {
            "rows_true_cols_predicted": list(class_names),
            "matrix": confusion(labels, predicted, len(class_names)),
        },
        "test_examples": len(labels),
    }


def classes(labels: np.ndarray, predicted: np.ndarray, class_names) -> dict:
    """Accuracy, each class's precision, recall and F1, and the confusion matrix, from class ids."""
    n = len(class_names)
    matrix = np.array(confusion(labels, predicted, n))
    per_class = {}
    for i, name in enumerate(class_names):
        tp, predicted_i, true_i = matrix[i, i], matrix[:, i].sum(), matrix[i].sum()
        precision, recall = tp / max(predicted_i, 1), tp / max(true_i, 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(true_i),
        }
    return {
        "accuracy": float(np.trace(matrix) / max(matrix.sum(), 1)),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
        "confusion_matrix": {"rows_true_cols_predicted": list(class_names), "matrix": matrix.tolist()},
        "test_examples": int(matrix.sum()),
    }


def errors(name: str, predicted: np.ndarray, target: np.ndarray) -> dict:
    """`<name>_mae`, `<name>_mse` and `<name>_rmse` of a forecast."""
    err = predicted - target
    mse = float(np.mean(err**2))
    return {
        f"{name}_mae": float(np.mean(np.abs(err))),
        f"{name}_mse": mse,
        f"{name}_rmse": float(np.sqrt(mse)),
    }


def linear_baseline(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least squares from each window's values (plus a bias) to the targets, fitted on training windows.

    Args:
        x_train, x: Windows of shape (n, window, features).
        y_train: Targets of shape (n, ...).

    Returns:
        Predictions for `x`, shaped like one row of `y_train` each.
    """

    def design(windows):
        return np.concatenate([windows.reshape(len(windows), -1), np.ones((len(windows), 1))], axis=1)

    coef, *_ = np.linalg.lstsq(design(x_train), y_train.reshape(len(y_train), -1), rcond=None)
    return (design(x) @ coef).reshape((len(x), *y_train.shape[1:]))


def stream_loss(model, ids: np.ndarray) -> float:
    """Nats/char over a text read as one stream, as the sampler reads it.

    Every character is predicted from all the characters before it (the
    state is never reset), unlike the windowed loss, where the state starts
    from zero every `seq_len` characters and the first characters of each
    window are guessed with little context.
    """
    logits = np.asarray(model.predict_on_batch(ids[None, :-1]))[0]
    return float(np.mean(keras.losses.sparse_categorical_crossentropy(ids[1:], logits, from_logits=True)))


def format_table(metrics: dict) -> str:
    """The scalar metrics as aligned `name  value` lines, then texts and samples."""
    lines = []
    for key, value in metrics.items():
        if isinstance(value, float):
            lines.append(f"{key:<28} {value:.4f}")
        elif isinstance(value, (int, str)) and key != "sample":
            lines.append(f"{key:<28} {value}")
    if "per_class" in metrics:
        lines.append(f"{'class':<20} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}")
        for name, c in metrics["per_class"].items():
            lines.append(
                f"{name:<20} {c['precision']:>9.4f} {c['recall']:>9.4f} {c['f1']:>9.4f} {c['support']:>9}"
            )
    if "confusion_matrix" in metrics:
        cm = metrics["confusion_matrix"]
        names = cm["rows_true_cols_predicted"]
        lines.append("confusion matrix (rows: true, columns: predicted)")
        lines.append(" " * 12 + "".join(f"{n:>10}" for n in names))
        lines += [f"{n:>12}" + "".join(f"{v:>10}" for v in row) for n, row in zip(names, cm["matrix"])]
    for item in metrics.get("texts", []):
        lines.append(f"{item['positive_probability']:.3f}  {item['text']}")
    if metrics.get("mistakes"):
        lines.append("mistakes (input -> output, expected):")
    for item in metrics.get("mistakes", []):
        lines.append(f"  {item['input']} -> {item['output']}, expected {item['expected']}")
    for item in metrics.get("predictions", []):
        lines.append("  ".join(f"{k}: {v}" for k, v in item.items()))
    if "sample" in metrics:
        lines.append("--- sample ---\n" + metrics["sample"])
    return "\n".join(lines)
