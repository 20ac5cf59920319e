"""What a training step of `imdb-lm` costs, by the width of its head: `python -m benchmarks.lm_step_cost`.

Times `model.fit` on random windows of the task's shape (no data read),
the best of `--repeats` passes of `--batches` batches after a warm-up, and
gives the time one epoch of the training stream would take at that speed.
The numbers in docs/tuning.md#pretraining come from it.

    python -m benchmarks.lm_step_cost --predicted-words 1000 2000 4000
    python -m benchmarks.lm_step_cost --predicted-words 2000 --no-jit-compile
"""

from __future__ import annotations

import argparse
import sys
import time

from zoo import cli

# Words in imdb-lm's training stream at its default vocabulary (20,000):
# the length of the stream `datasets/imdb_lm.py::word_stream` builds.
EPOCH_WORDS = 16_873_077


def step_cost(
    model: str,
    predicted_words: int,
    jit: bool,
    seq_len: int,
    batch: int,
    units: int,
    batches: int,
    repeats: int,
):
    """Seconds per batch (the best pass) of `model` on imdb-lm at these sizes."""
    import numpy as np

    import datasets
    from zoo.config import resolve
    from zoo.training import build_model

    config = resolve(
        dict(
            task="imdb-lm",
            model=model,
            predicted_words=predicted_words,
            seq_len=seq_len,
            batch_size=batch,
            units=units,
            jit_compile=jit,
        )
    )
    spec = datasets.get_task("imdb-lm").spec(
        config, {"vocabulary": [""] * config.task_settings["max_tokens"]}
    )
    net = build_model(config, spec)
    rng = np.random.default_rng(0)
    x = rng.integers(2, spec.input.vocab_size, (batch * batches, seq_len))
    y = rng.integers(0, spec.output_units, (batch * batches, seq_len))
    net.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, verbose=0)  # compiles
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        net.fit(x, y, batch_size=batch, verbose=0)
        best = min(best, time.perf_counter() - start)
    return best / batches


def main(argv=None) -> None:
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gru", help="zoo model (default: gru)")
    parser.add_argument("--predicted-words", type=int, nargs="+", default=[2000], help="head widths to time")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=True, help="XLA")
    parser.add_argument("--seq-len", type=int, default=50, help="words per window (default: 50)")
    parser.add_argument("--batch-size", type=int, default=128, help="windows per batch (default: 128)")
    parser.add_argument("--units", type=int, default=64, help="units (default: 64)")
    parser.add_argument("--batches", type=int, default=8, help="batches per timed pass (default: 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the best counts (default: 5)")
    args = parser.parse_args(argv)
    print("| model | --predicted-words | XLA | ms per batch | words/s | an epoch (16.9M words), s |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for words in args.predicted_words:
        seconds = step_cost(
            args.model,
            words,
            args.jit_compile,
            args.seq_len,
            args.batch_size,
            args.units,
            args.batches,
            args.repeats,
        )
        rate = args.batch_size * args.seq_len / seconds
        xla = "yes" if args.jit_compile else "no"
        print(
            f"| `{args.model}` | {words} | {xla} | {seconds * 1000:.0f} | {rate:,.0f} | {EPOCH_WORDS / rate:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(cli.run(main))
