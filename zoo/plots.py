"""Plots of a run: learning curves, forecasts, attention (matplotlib, no display)."""

from __future__ import annotations

import csv

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; works on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402

from zoo import files  # noqa: E402


def save_curves(history_csv: str, path: str) -> None:
    """Loss and the task metric per epoch, train and validation, side by side."""
    with open(history_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    names = [
        k for k in rows[0] if k not in ("epoch", "seconds", "learning_rate") and not k.startswith("val_")
    ]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            if key in rows[0]:
                ax.plot(epochs, [float(r[key]) for r in rows], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    files.save_figure(fig, path)
    plt.close(fig)


def save_forecast(windows, truths, predictions, naive, path: str) -> None:
    """A few test windows: the past, the true next value(s) and the forecasts."""
    fig, axes = plt.subplots(1, len(windows), figsize=(5 * len(windows), 3.5), squeeze=False)
    for ax, x, y, p, n in zip(axes[0], windows, truths, predictions, naive):
        past = range(len(x))
        future = range(len(x), len(x) + len(y))
        ax.plot(past, x, color="gray", label="past window")
        ax.plot(future, y, "o-", color="black", label="truth")
        ax.plot(future, p, "x-", color="tab:red", label="model")
        ax.plot(future, n, "s", color="tab:blue", alpha=0.6, label="naive (last value)")
        ax.set_xlabel("step")
    axes[0][0].legend(loc="best", fontsize="small")
    files.save_figure(fig, path)
    plt.close(fig)


def save_confusion(matrix, class_names, path: str) -> None:
    """The confusion matrix as a heat map: rows the true classes, columns the predicted ones, counts written in."""
    matrix = np.asarray(matrix)
    size = 1.5 + 0.6 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize="small")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    files.save_figure(fig, path)
    plt.close(fig)


def save_attention(examples, path: str) -> None:
    """Attention heatmaps: `(source text, output text, weights (output steps, source steps))` each.

    The output's steps run down (its END last), the source's characters across.
    """
    fig, axes = plt.subplots(1, len(examples), figsize=(4 * len(examples), 3.5), squeeze=False)
    for ax, (source, output, weights) in zip(axes[0], examples):
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(source)), list(source))
        ax.set_yticks(range(len(output) + 1), [*output, "END"])
        ax.set_xlabel("source")
        ax.set_title(f"{source} -> {output}", fontsize="small")
    axes[0][0].set_ylabel("output")
    files.save_figure(fig, path)
    plt.close(fig)
