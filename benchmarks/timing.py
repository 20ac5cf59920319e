"""The timers the benchmarks share: a step timer, one call timed, the machine's matmul peak."""

from __future__ import annotations

import time

import keras
import numpy as np


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


def matmul_peak(n: int = 2048, repeats: int = 5, gpu: bool = False) -> float:
    """Best float32 GFLOP/s of an n x n matmul: numpy on the CPU, or JAX on the GPU."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    product = lambda: a @ b  # noqa: E731
    if gpu:
        import jax

        a, b = jax.device_put(a), jax.device_put(b)
        matmul = jax.jit(lambda x, y: x @ y)
        product = lambda: matmul(a, b).block_until_ready()  # noqa: E731
    product()  # warm up (and compile)
    best = min(timed(product) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def timed(fn) -> float:
    """Wall-clock seconds of one call of `fn`."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
