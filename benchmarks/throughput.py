"""Training throughput of SimpleRNN, LSTM and GRU, side by side in one run.

Same model for every path: Embedding(20000, 64) -> RNN(64) -> Dense(1,
sigmoid), sequences of 200 token ids, binary cross-entropy, Adam. Paths:

* `zoo`: the zoo's own training path (models.rnn.build + compile_model:
  XLA on, no cuDNN-eligible fallback that disables it) at the zoo's batch size;
* `zoo-no-xla`: the same at the same batch size with XLA off, for comparison
  (XLA is not always faster on a CPU: the imdb and shakespeare tasks turn it off);
* `keras-default`: the same model compiled with Keras defaults (what a
  tutorial gets: jit_compile="auto", i.e. off on CPU), twice: at the zoo's
  batch size and at the tutorial's batch 64;
* `torch`: nn.RNN / nn.LSTM / nn.GRU + Adam, when torch is installed, at
  the same two batch sizes;
* the float32 matmul peak of this machine (numpy 2048x2048 product), to turn
  samples/s into FLOP utilisation.

The zoo's path over the others comes two ways, each labelled in the table:
"same batch" (every path at the zoo's batch: what the zoo's training path
itself buys) and "each side's default batch" (the zoo at its batch, the
others at 64: what a user who keeps each side's default gets, the batch
size included).

On a GPU machine (no TensorFlow there) the same builders run under
`KERAS_BACKEND=jax`: the zoo path and Keras defaults both compile with XLA
there (the no-XLA path is not run), PyTorch runs on the GPU (cuDNN), and the
peak is JAX's float32 8192x8192 product on the GPU. That table has its own
markers in docs/benchmarks.md, written from the JSON the GPU run saved (a
run saved before the same-batch paths existed shows "n/a" there):

    KERAS_BACKEND=jax python -m benchmarks.throughput --out throughput_gpu.json   # on the GPU machine
    python -m benchmarks.throughput --from-json benchmarks/throughput_gpu.json --readme docs/benchmarks.md

Samples/s are the batch size over the median training step (20 steps after
a compiling warm-up), for every path. The whole round is repeated
(`--repeats`, 3 by default) and the table shows the median and the range:
on this VM consecutive rounds differ by up to 20%.

    python -m benchmarks.throughput --readme docs/benchmarks.md   # full run, 3 rounds
    python -m benchmarks.throughput --quick        # tiny sizes (tests)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX shares the GPU with PyTorch

from zoo import cli  # noqa: E402, F401  (quiets TensorFlow's start-up log: before keras loads it)

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.environment import describe, header  # noqa: E402
from benchmarks.timing import StepTimer, matmul_peak, timed  # noqa: E402
from models.compile import compile_model  # noqa: E402
from models.rnn import build  # noqa: E402
from zoo.config import TrainConfig  # noqa: E402
from zoo.spec import BINARY, TOKENS, InputSpec, TaskSpec  # noqa: E402

CELLS = ("simplernn", "lstm", "gru")
GATES = {"simplernn": 1, "lstm": 4, "gru": 3}


def train_flops_per_sample(cell: str, seq_len: int, embed: int, units: int) -> float:
    """Useful FLOPs of one training sample: 3x the forward recurrent matmuls.

    Forward per step: 2 * gates * (embed + units) * units (input and
    recurrent matmuls); backward costs about twice the forward.
    """
    return 3 * seq_len * 2 * GATES[cell] * (embed + units) * units


def keras_samples_per_second(cell, path, batch, seq_len, steps, vocab, embed, units) -> float:
    spec = TaskSpec(
        inputs=(InputSpec(TOKENS, timesteps=seq_len, vocab_size=vocab, mask_zero=False),),
        head=BINARY,
        output_units=1,
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


def on_gpu(environment: dict) -> bool:
    """Whether a result was measured on a GPU (`describe()` names its accelerator)."""
    return environment.get("accelerator") is not None


def torch_device() -> str | None:
    """Where the PyTorch path runs: "cuda" where a GPU is visible, else "cpu"; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_samples_per_second(cell, batch, seq_len, steps, vocab, embed, units):
    device = torch_device()
    if device is None:
        return None
    import torch

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

    net = Net().to(device)
    optimizer = torch.optim.Adam(net.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = torch.randint(1, vocab, (steps, batch, seq_len), device=device)
    y = torch.randint(0, 2, (steps, batch, 1), device=device).float()

    def step(i):
        optimizer.zero_grad()
        loss_fn(net(x[i]), y[i]).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()  # GPU work is queued; time it done

    step(0)
    return batch / float(np.median([timed(lambda i=i: step(i)) for i in range(steps)]))


# Samples/s of each path. "keras_default" and "torch" are at the default batch (the
# names of runs saved before the zoo-batch paths existed); "*_zoo_batch" at the zoo's.
PATHS = ("zoo", "zoo_no_xla", "keras_default_zoo_batch", "keras_default", "torch_zoo_batch", "torch")
# The zoo's path over another: name -> that path.
RATIOS = {
    "speedup_same_batch": "keras_default_zoo_batch",
    "speedup": "keras_default",
    "torch_speedup_same_batch": "torch_zoo_batch",
    "torch_speedup": "torch",
}


def measure(cell, sizes, zoo_batch, default_batch) -> dict:
    """Samples/s of every path for one cell, once: the others at the zoo's batch and at their default."""
    seq_len, steps, vocab, embed, units = sizes
    sized = (seq_len, steps, vocab, embed, units)
    default_sized = (
        seq_len,
        max(1, steps * zoo_batch // default_batch),
        vocab,
        embed,
        units,
    )  # as many samples
    result = {"zoo": keras_samples_per_second(cell, "zoo", zoo_batch, *sized)}
    # Keras compiles with XLA on JAX whatever the setting says about a CPU.
    tensorflow = keras.backend.backend() == "tensorflow"
    result["zoo_no_xla"] = (
        keras_samples_per_second(cell, "zoo-no-xla", zoo_batch, *sized) if tensorflow else None
    )
    result["keras_default_zoo_batch"] = keras_samples_per_second(cell, "keras-default", zoo_batch, *sized)
    result["keras_default"] = (
        keras_samples_per_second(cell, "keras-default", default_batch, *default_sized)
        if default_batch != zoo_batch
        else result["keras_default_zoo_batch"]
    )
    result["torch_zoo_batch"] = torch_samples_per_second(cell, zoo_batch, *sized)
    result["torch"] = (
        torch_samples_per_second(cell, default_batch, *default_sized)
        if default_batch != zoo_batch
        else result["torch_zoo_batch"]
    )
    return result


def summarize(cell, runs, peaks, flops) -> dict:
    """Median and range over the repeats; ratios are taken within each repeat, then summarized."""
    row = {"cell": cell, "runs": runs}
    for path in PATHS:
        values = [r[path] for r in runs if r[path] is not None]
        row[path] = float(np.median(values)) if values else None
        row[f"{path}_range"] = [min(values), max(values)] if values else None
    add_ratios(row)
    fractions = [r["zoo"] * flops / 1e9 / peak for r, peak in zip(runs, peaks)]
    row["zoo_gflops"] = row["zoo"] * flops / 1e9
    row["zoo_peak_fraction"] = float(np.median(fractions))
    row["zoo_peak_fraction_range"] = [min(fractions), max(fractions)]
    return row


def add_ratios(row) -> dict:
    """Sets the row's ratios (median and range over its rounds) that its rounds measured both sides of.

    A run saved before some paths existed keeps its other ratios; those it
    cannot give stay out of the row (the table shows "n/a").
    """
    for name, other in RATIOS.items():
        if name in row or any(other not in r for r in row["runs"]):
            continue
        ratios = [r["zoo"] / r[other] for r in row["runs"] if r[other] is not None]
        row[name] = float(np.median(ratios)) if ratios else None
        row[f"{name}_range"] = [min(ratios), max(ratios)] if ratios else None
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    parser.add_argument(
        "--zoo-batch", type=int, default=256, help="the zoo path's batch size, and every path's 'same batch'"
    )
    parser.add_argument(
        "--default-batch",
        type=int,
        default=64,
        help="the Keras-defaults and PyTorch paths' default batch size",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="measure everything this many times; report median and range"
    )
    parser.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated, from: {', '.join(CELLS)}")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument(
        "--readme", help="rewrite the throughput table between this file's markers (e.g. docs/benchmarks.md)"
    )
    parser.add_argument(
        "--from-json", help="measure nothing: show (and with --readme write) the table of a saved --out file"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            result = json.load(f)
        for row in result["rows"]:
            add_ratios(row)  # zoo / PyTorch, where a saved run predates that column
    else:
        result = run(args, parser)
    print(format_table(result))
    if args.readme:
        from benchmarks.results import write_readme

        # A GPU run has its own table: the CPU table stays as it was measured.
        name = "throughput-gpu" if on_gpu(result["environment"]) else "throughput"
        write_readme(args.readme, format_table(result), f"<!-- {name}:begin -->", f"<!-- {name}:end -->")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


def run(args, parser) -> dict:
    """Measures every chosen cell and path `--repeats` times; the result as saved by `--out`."""
    if args.repeats < 1:
        parser.error(f"--repeats must be positive, got {args.repeats}")
    if min(args.zoo_batch, args.default_batch) < 1:
        parser.error(f"batch sizes must be positive, got {args.zoo_batch} and {args.default_batch}")
    cells = [c for c in args.cells.split(",") if c]
    if not cells or set(cells) - set(CELLS):
        parser.error(f"--cells must name some of {', '.join(CELLS)}, got {args.cells!r}")
    sizes = (20, 2, 100, 8, 8) if args.quick else (200, 20, 20000, 64, 64)
    seq_len, _, _, embed, units = sizes
    # Two batch sizes in --quick too, so that "same batch" and "default batch" differ there as well.
    zoo_batch, default_batch = (16, 8) if args.quick else (args.zoo_batch, args.default_batch)

    environment = describe()
    gpu = on_gpu(environment)
    peak_size = 256 if args.quick else 8192 if gpu else 2048
    # Repeat the whole round (peak, then every cell and path) rather than
    # each measurement in a row: the VM's slow spells then fall on all paths.
    peaks, runs = [], {cell: [] for cell in cells}
    for _ in range(args.repeats):
        peaks.append(matmul_peak(peak_size, gpu=gpu))
        for cell in cells:
            runs[cell].append(measure(cell, sizes, zoo_batch, default_batch))
    rows = [
        summarize(cell, runs[cell], peaks, train_flops_per_sample(cell, seq_len, embed, units))
        for cell in cells
    ]
    return {
        "environment": environment,
        "matmul_peak_gflops": float(np.median(peaks)),
        "matmul_peak_range": [min(peaks), max(peaks)],
        "settings": dict(
            seq_len=seq_len,
            embed=embed,
            units=units,
            zoo_batch=zoo_batch,
            default_batch=default_batch,
            repeats=args.repeats,
            peak=f"{'JAX on the GPU' if gpu else 'numpy'}, float32 {peak_size}x{peak_size}",
            torch_device=torch_device(),
        ),
        "rows": rows,
    }


def _spread(value, span, fmt="{:.0f}", missing="not installed") -> str:
    """The value with its range as "median (min-max)"; the value alone where the range is one point."""
    if value is None:
        return missing
    if span[0] == span[1]:
        return fmt.format(value)
    return f"{fmt.format(value)} ({fmt.format(span[0])}-{fmt.format(span[1])})"


def _cell(row, key, fmt="{:.0f}", missing="") -> str:
    """One table cell: "n/a" where the saved run has no such measurement (it predates it)."""
    if key not in row:
        return "n/a"
    return _spread(row[key], row[f"{key}_range"], fmt, missing)


def format_table(result) -> str:
    """Two tables: samples/s of every path, then the zoo's path over the others at both batch sizes."""
    s = result["settings"]
    gpu = on_gpu(result["environment"])
    peak = _spread(result["matmul_peak_gflops"], result["matmul_peak_range"])
    peak_of = f" ({s['peak']})" if gpu else ""
    torch_on = f", PyTorch on {s['torch_device']}" if gpu and s.get("torch_device") else ""
    zoo, default = s["zoo_batch"], s["default_batch"]
    missing = {"zoo_no_xla": "not run (XLA only)"}
    lines = [
        f"{header(result['environment'])}; matmul peak{peak_of} {peak} GFLOP/s",
        f"samples/s, embedding {s['embed']}, {s['units']} units, length {s['seq_len']}; "
        f"same batch: every path at the zoo's {zoo}; each side's default batch: the zoo at {zoo}, "
        f"Keras defaults and PyTorch at {default}{torch_on}; median (min-max) of {s['repeats']} rounds",
    ]
    if any(path not in r for r in result["rows"] for path in PATHS):
        lines.append(
            f"n/a: not measured in this run (saved before Keras defaults and PyTorch also ran at batch {zoo})"
        )
    lines += [
        f"| cell | zoo path (XLA), batch {zoo} | zoo path, no XLA, batch {zoo} | Keras defaults, batch {zoo} "
        f"| Keras defaults, batch {default} | PyTorch, batch {zoo} | PyTorch, batch {default} "
        "| zoo GFLOP/s | % of matmul peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        cells = [_cell(r, p, missing=missing.get(p, "not installed")) for p in PATHS]
        percent = [100 * x for x in r["zoo_peak_fraction_range"]]
        # A GPU's peak dwarfs these small models: whole percents would all read 0%.
        share = _spread(100 * r["zoo_peak_fraction"], percent, "{:.0f}%" if min(percent) >= 1 else "{:.2f}%")
        lines.append(f"| {r['cell']} | {' | '.join(cells)} | {r['zoo_gflops']:.1f} | {share} |")
    same, each = f"same batch ({zoo} vs {zoo})", f"each side's default batch ({zoo} vs {default})"
    lines += [
        "",
        f"| cell | zoo / Keras defaults, {same} | zoo / Keras defaults, {each} "
        f"| zoo / PyTorch, {same} | zoo / PyTorch, {each} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        ratios = [_cell(r, name, "{:.2f}x", "not installed") for name in RATIOS]
        lines.append(f"| {r['cell']} | {' | '.join(ratios)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
