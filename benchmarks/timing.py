"""The step timer the benchmarks share."""

from __future__ import annotations

import time

import keras


class StepTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training batch, from batch begin to batch end.

    Benchmarks report the median step, not whole `fit` calls: timed whole,
    runs on this VM showed stalls of several seconds that have nothing to do
    with the model.

    Args:
        skip_epochs: Epochs not timed (a first epoch that traces the step).
    """

    def __init__(self, skip_epochs: int = 0):
        super().__init__()
        self.skip_epochs, self.epoch, self.seconds = skip_epochs, 0, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])  # the step's result, computed
        if self.epoch >= self.skip_epochs:
            self.seconds.append(time.perf_counter() - self.start)
