"""Training throughput of SimpleRNN, LSTM and GRU, side by side in one run.

Same model for every path: Embedding(20000, 64) -> RNN(64) -> Dense(1,
sigmoid), sequences of 200 token ids, binary cross-entropy, Adam. Paths:

* `zoo`: the zoo's own training path (models.rnn.build + compile_model:
  XLA on, no cuDNN-eligible fallback that disables it) at the zoo's batch size;
* `zoo-no-xla`: the same at the same batch size with XLA off, for comparison
  (XLA is not always faster on a CPU: the imdb and shakespeare tasks turn it off);
* `keras-default`: the same model compiled with Keras defaults (what a
  tutorial gets: jit_compile="auto", i.e. off on CPU) at batch 64;
* `torch`: nn.RNN / nn.LSTM / nn.GRU + Adam, when torch is installed;
* the float32 matmul peak of this machine (numpy 2048x2048 product), to turn
  samples/s into FLOP utilisation.

Samples/s are the batch size over the median training step (20 steps after
a compiling warm-up), for every path.

    python -m benchmarks.throughput --readme README.md   # full run, a few minutes
    python -m benchmarks.throughput --quick        # tiny sizes (tests)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.timing import StepTimer  # noqa: E402
from datasets.base import BINARY, TaskSpec  # noqa: E402
from models.compile import compile_model  # noqa: E402
from models.rnn import build  # noqa: E402
from zoo.config import TrainConfig  # noqa: E402

CELLS = ("simplernn", "lstm", "gru")
GATES = {"simplernn": 1, "lstm": 4, "gru": 3}


def train_flops_per_sample(cell: str, seq_len: int, embed: int, units: int) -> float:
    """Useful FLOPs of one training sample: 3x the forward recurrent matmuls.

    Forward per step: 2 * gates * (embed + units) * units (input and
    recurrent matmuls); backward costs about twice the forward.
    """
    return 3 * seq_len * 2 * GATES[cell] * (embed + units) * units


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n numpy matmul."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b  # warm up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def keras_samples_per_second(cell, path, batch, seq_len, steps, vocab, embed, units) -> float:
    spec = TaskSpec(
        input_kind="tokens", timesteps=seq_len, vocab_size=vocab, mask_zero=False, head=BINARY, output_units=1
    )
    config = dataclasses.replace(
        TrainConfig(), model=cell, cell=cell, units=units, embedding_dim=embed, jit_compile=path == "zoo"
    )
    keras.utils.set_random_seed(0)
    model = build(config, spec)
    if path in ("zoo", "zoo-no-xla"):
        compile_model(model, config, spec)
    else:
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, size=(batch * steps, seq_len)).astype("int32")
    y = rng.integers(0, 2, size=(batch * steps, 1)).astype("float32")
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile
    timer = StepTimer()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=[timer])
    return batch / float(np.median(timer.seconds))


def torch_samples_per_second(cell, batch, seq_len, steps, vocab, embed, units):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    rnn = {"simplernn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, embed)
            self.rnn = rnn(embed, units, batch_first=True)
            self.head = torch.nn.Linear(units, 1)

        def forward(self, x):
            out, _ = self.rnn(self.embedding(x))
            return self.head(out[:, -1])

    net = Net()
    optimizer = torch.optim.Adam(net.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = torch.randint(1, vocab, (steps, batch, seq_len))
    y = torch.randint(0, 2, (steps, batch, 1)).float()

    def step(i):
        optimizer.zero_grad()
        loss_fn(net(x[i]), y[i]).backward()
        optimizer.step()

    step(0)
    return batch / float(np.median([_timed(lambda i=i: step(i)) for i in range(steps)]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    parser.add_argument("--zoo-batch", type=int, default=256, help="the zoo path's batch size")
    parser.add_argument("--default-batch", type=int, default=64, help="the tutorial path's batch size")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--readme", help="rewrite this README's throughput table (e.g. README.md)")
    args = parser.parse_args(argv)
    seq_len, steps, vocab, embed, units = (20, 2, 100, 8, 8) if args.quick else (200, 20, 20000, 64, 64)
    zoo_batch, default_batch = (16, 16) if args.quick else (args.zoo_batch, args.default_batch)

    peak = matmul_peak(256 if args.quick else 2048)
    rows = []
    for cell in CELLS:
        flops = train_flops_per_sample(cell, seq_len, embed, units)
        row = {"cell": cell}
        row["zoo"] = keras_samples_per_second(cell, "zoo", zoo_batch, seq_len, steps, vocab, embed, units)
        row["zoo_no_xla"] = keras_samples_per_second(
            cell, "zoo-no-xla", zoo_batch, seq_len, steps, vocab, embed, units
        )
        row["keras_default"] = keras_samples_per_second(
            cell,
            "keras-default",
            default_batch,
            seq_len,
            steps * zoo_batch // default_batch,
            vocab,
            embed,
            units,
        )
        row["torch"] = torch_samples_per_second(cell, default_batch, seq_len, steps, vocab, embed, units)
        row["speedup"] = row["zoo"] / row["keras_default"]
        row["zoo_gflops"] = row["zoo"] * flops / 1e9
        row["zoo_peak_fraction"] = row["zoo_gflops"] / peak
        rows.append(row)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "versions": {
            "keras": keras.__version__,
            "tensorflow": _version("tensorflow"),
            "numpy": np.__version__,
            "torch": _version("torch"),
        },
        "matmul_peak_gflops": peak,
        "settings": dict(
            seq_len=seq_len, embed=embed, units=units, zoo_batch=zoo_batch, default_batch=default_batch
        ),
        "rows": rows,
    }
    print(format_table(result))
    if args.readme:
        from benchmarks.results import write_readme

        write_readme(
            args.readme, format_table(result), "<!-- throughput:begin -->", "<!-- throughput:end -->"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


def _version(name):
    try:
        return __import__(name).__version__
    except ImportError:
        return None


def format_table(result) -> str:
    s = result["settings"]
    lines = [
        f"{result['date']}, {result['cores']} cores ({result['cpu']}), keras {result['versions']['keras']}, "
        f"tensorflow {result['versions']['tensorflow']}"
        + (f", torch {result['versions']['torch']}" if result["versions"].get("torch") else "")
        + f"; matmul peak {result['matmul_peak_gflops']:.0f} GFLOP/s",
        f"samples/s, embedding {s['embed']}, {s['units']} units, length {s['seq_len']}; "
        f"zoo batch {s['zoo_batch']}, default/torch batch {s['default_batch']}",
        "| cell | zoo path (XLA) | zoo batch, no XLA | Keras defaults | zoo / defaults | PyTorch "
        "| zoo GFLOP/s | % of matmul peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        torch_cell = f"{r['torch']:.0f}" if r["torch"] else "not installed"
        lines.append(
            f"| {r['cell']} | {r['zoo']:.0f} | {r['zoo_no_xla']:.0f} | {r['keras_default']:.0f} | {r['speedup']:.2f}x | {torch_cell} | "
            f"{r['zoo_gflops']:.1f} | {100 * r['zoo_peak_fraction']:.0f}% |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
