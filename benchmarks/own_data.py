"""The own-data tasks on real and synthetic data written out as a user's files, against the built-in tasks.

Each proof writes a built-in task's data in the layout a user would have,
trains the same model with the same settings through the own-data task and
through the built-in one (fresh `python train.py` processes, one at a time),
evaluates both, and keeps the numbers in `benchmarks/own_data.json`:

* `series`: the synthetic timeseries series as one CSV in long format, 400
  ids, each its training, validation and test series one after the other
  (`--val-fraction` and `--test-fraction` 1/3: each part is exactly one
  series), against the `timeseries` task. Target: the same naive and linear
  errors, and the model's error within 10%.

* `text-classes`: IMDB from the shared TFDS copy written out as the
  original archive's `aclImdb/{train,test}/{pos,neg}/*.txt`, trained with
  `--data aclImdb/train --test-data aclImdb/test` against the `imdb` task,
  the same model (`gru`) and settings (text-classes takes imdb's defaults).
  Target: test accuracy within 0.01, training time within 20%.

* `text-corpus`: the original tiny Shakespeare `input.txt` (in the TFDS
  data dir's `downloads/manual/`) through `text-corpus` against the
  `shakespeare` task, the same model (`gru`) and settings (text-corpus
  takes shakespeare's defaults; its 90/5/5 cut by position gives the TFDS
  splits' texts). Target: test stream nats/char within 0.03.

* `series-memory`: a 5-million-row, 4-column CSV (time, target, two
  features; one series), trained for 50 steps: peak resident memory of
  the `train.py` process, which reads the whole file and lists every
  window. Target: under 3 GB.

* `text-reading`: 100,000 small .txt files (two class folders, 30 words
  each) read, split, and vectorized into every split's ids by
  `text-classes` (its `load` and one pass over each split). Target: under
  60 s.

Run with `TFDS_DATA_DIR` pointing at the prepared TFDS data.

    python -m benchmarks.own_data series                 # about 4 minutes on 2 cores
    python -m benchmarks.own_data text-classes           # about 4 minutes
    python -m benchmarks.own_data text-corpus            # about 10 minutes
    python -m benchmarks.own_data series-memory          # about 3 minutes
    python -m benchmarks.own_data text-reading           # about 2 minutes
    python -m benchmarks.own_data series --quick         # a smoke run (tests)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log)

# isort: split
from benchmarks.environment import describe, header

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "own_data.json"
DOCS = ROOT / "docs" / "own-data.md"
BEGIN, END = "<!-- own-data:begin -->", "<!-- own-data:end -->"
SERIES_IDS = 400  # the synthetic task's validation and test splits hold 400 series each


def train_and_evaluate(run_dir: Path, train_flags: list[str], eval_flags: list[str] = ()) -> dict:
    """`python train.py ... --run-dir RUN`, then `python evaluate.py RUN`: metrics and training seconds."""
    subprocess.run(
        [sys.executable, "train.py", "--overwrite", "--run-dir", str(run_dir), *train_flags],
        cwd=ROOT,
        check=True,
    )
    subprocess.run([sys.executable, "evaluate.py", str(run_dir), *eval_flags], cwd=ROOT, check=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    metrics["train_seconds"] = round(sum(float(r["seconds"]) for r in history), 1)
    metrics["epochs"] = len(history)
    for key in ("sample", "confusion_matrix", "predictions", "per_class"):
        metrics.pop(key, None)
    return metrics


def write_series_csv(path: Path, ids: int) -> None:
    """The synthetic timeseries series in long format: per id, its train, validation and test series in turn."""
    import tensorflow_datasets as tfds

    from datasets import synthetic

    builder = synthetic.load_builder("timeseries", None)
    splits = [
        tfds.as_numpy(builder.as_dataset(split=s, batch_size=-1))["series"][:ids]
        for s in ("train", "validation", "test")
    ]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["series", "t", "value"])
        for k in range(ids):
            for t, value in enumerate(v for block in splits for v in block[k]):
                writer.writerow([k, t, f"{value:.9g}"])


def series_proof(work: Path, quick: bool) -> dict:
    model = "simplernn"
    # The timeseries task's defaults, given to both: the same model and settings.
    same = ["--model", model, "--epochs", "40", "--patience", "6", "--batch-size", "128"]
    same += ["--learning-rate", "0.002", "--lr-schedule", "cosine", "--units", "64", "--window", "50"]
    if quick:
        same += ["--epochs", "1", "--steps-per-epoch", "2", "--units", "4"]
    path = work / "synthetic_series.csv"
    write_series_csv(path, 20 if quick else SERIES_IDS)
    own = ["--task", "series", "--data", str(path), "--target", "value", "--id", "series", "--time", "t"]
    own += ["--val-fraction", str(1 / 3), "--test-fraction", str(1 / 3)]
    own += ["--anchor", "mean"]  # the timeseries task's values: not measured from each window's last
    built_in = train_and_evaluate(work / "timeseries", ["--task", "timeseries", *same])
    ours = train_and_evaluate(work / "series", [*own, *same])
    return {
        "task": "series",
        "against": "timeseries",
        "model": model,
        "built_in": built_in,
        "own_data": ours,
        "mse_ratio": {k: ours[f"{k}_mse"] / built_in[f"{k}_mse"] for k in ("model", "naive", "linear")},
        "target": "naive and linear MSE within 10%, model MSE within 10% of the timeseries task's",
    }


def write_aclimdb(root: Path, limit: int | None) -> None:
    """IMDB from TFDS as aclImdb/{train,test}/{pos,neg}/NNNNN.txt (label 0: neg, 1: pos)."""
    import tensorflow_datasets as tfds

    from datasets.imdb import ARCHIVE, URL
    from datasets.tfds_source import load_builder

    builder = load_builder("imdb_reviews", None, URL, ARCHIVE)
    for split in ("train", "test"):
        for name in ("neg", "pos"):
            (root / split / name).mkdir(parents=True, exist_ok=True)
        examples = tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True))
        for i, (text, label) in enumerate(examples):
            if limit and i >= limit:
                break
            (root / split / ("neg", "pos")[int(label)] / f"{i:05d}.txt").write_bytes(text)


def text_classes_proof(work: Path, quick: bool) -> dict:
    model = "gru"
    same = ["--model", model] + (["--epochs", "1", "--steps-per-epoch", "2", "--units", "4"] if quick else [])
    root = work / "aclImdb"
    write_aclimdb(root, 200 if quick else None)
    built_in = train_and_evaluate(work / "imdb", ["--task", "imdb", *same])
    own = ["--task", "text-classes", "--data", str(root / "train"), "--test-data", str(root / "test")]
    ours = train_and_evaluate(work / "text-classes", [*own, *same])
    return {
        "task": "text-classes",
        "against": "imdb",
        "model": model,
        "built_in": built_in,
        "own_data": ours,
        "accuracy_difference": ours["accuracy"] - built_in["accuracy"],
        "train_seconds_ratio": ours["train_seconds"] / built_in["train_seconds"],
        "target": "test accuracy within 0.01 and training time within 20% of the imdb task's",
    }


def text_corpus_proof(work: Path, quick: bool) -> dict:
    from datasets.tfds_source import default_data_dir

    model = "gru"
    same = ["--model", model] + (["--epochs", "1", "--steps-per-epoch", "2", "--units", "4"] if quick else [])
    evaluate = ["--limit", "64", "--length", "50"] if quick else []
    path = Path(default_data_dir()) / "downloads" / "manual" / "input.txt"
    built_in = train_and_evaluate(work / "shakespeare", ["--task", "shakespeare", *same], evaluate)
    own = ["--task", "text-corpus", "--data", str(path)]
    ours = train_and_evaluate(work / "text-corpus", [*own, *same], evaluate)
    return {
        "task": "text-corpus",
        "against": "shakespeare",
        "model": model,
        "built_in": built_in,
        "own_data": ours,
        "test_stream_difference": ours["test_stream_nats_per_char"] - built_in["test_stream_nats_per_char"],
        "target": "test stream nats/char within 0.03 of the shakespeare task's",
    }


def series_memory_proof(work: Path, quick: bool) -> dict:
    import numpy as np

    rows = 20000 if quick else 5_000_000
    path = work / "big.csv"
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    y = np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(rows)
    a, b = np.cos(2 * np.pi * t / 24), rng.standard_normal(rows)
    with open(path, "w") as f:
        f.write("t,y,a,b\n")
        for start in range(0, rows, 100_000):
            block = np.stack(
                [
                    t[start : start + 100_000],
                    y[start : start + 100_000],
                    a[start : start + 100_000],
                    b[start : start + 100_000],
                ],
                axis=1,
            )
            np.savetxt(f, block, fmt=["%d", "%.6f", "%.6f", "%.6f"], delimiter=",")
    run_dir = work / "run"
    flags = ["--task", "series", "--model", "gru", "--data", str(path), "--target", "y", "--time", "t"]
    flags += [
        "--features",
        "a,b",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "50",
        "--run-dir",
        str(run_dir),
        "--overwrite",
    ]
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "train.py", *flags], cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)  # this process's own resource usage
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"train.py failed on {path}")
    peak_kib = usage.ru_maxrss  # KiB on Linux
    return {
        "task": "series-memory",
        "rows": rows,
        "csv_megabytes": round(path.stat().st_size / 1e6, 1),
        "peak_resident_gigabytes": round(peak_kib / 1024**2, 3),
        "train_py_seconds": round(seconds, 1),
        "target": "peak resident memory under 3 GB",
    }


def text_reading_proof(work: Path, quick: bool) -> dict:
    import dataclasses
    import random

    import datasets
    from zoo.config import resolve

    files = 2000 if quick else 100_000
    rng = random.Random(0)
    words = [f"word{i}" for i in range(5000)]
    for name in ("neg", "pos"):
        (work / "texts" / name).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        text = " ".join(rng.choice(words) for _ in range(30))
        (work / "texts" / ("neg", "pos")[i % 2] / f"{i:06d}.txt").write_text(text, encoding="utf-8")
    config = resolve({"task": "text-classes", "model": "gru"})
    config = dataclasses.replace(config, task_settings=config.task_settings | {"data": str(work / "texts")})
    start = time.perf_counter()
    data = datasets.get_task("text-classes").load(config)
    batches = sum(1 for split in (data.train, data.val, data.test) for _ in split)
    seconds = time.perf_counter() - start
    return {
        "task": "text-reading",
        "files": files,
        "batches": batches,
        "seconds": round(seconds, 1),
        "target": "100,000 small files indexed and vectorized in under 60 s",
    }


PROOFS = {
    "series": series_proof,
    "text-classes": text_classes_proof,
    "text-corpus": text_corpus_proof,
    "series-memory": series_memory_proof,
    "text-reading": text_reading_proof,
}


def summary(result: dict) -> tuple[str, str, str]:
    """(built-in result, own-data result, how they compare) of one proof, for the table."""
    a, b = result["built_in"], result["own_data"]
    if result["task"] == "series":

        def mse(m):
            return f"MSE model {m['model_mse']:.5f}, naive {m['naive_mse']:.5f}, linear {m['linear_mse']:.5f}"

        ratios = result["mse_ratio"]
        compare = ", ".join(f"{k} {v:.3f}x" for k, v in ratios.items())
        return mse(a), mse(b) + f"; MASE model {b['model_mase']:.3f}", compare
    if result["task"] == "text-classes":
        return (
            f"{a['accuracy']:.4f} test accuracy",
            f"{b['accuracy']:.4f} test accuracy",
            f"{result['accuracy_difference']:+.4f} accuracy; {result['train_seconds_ratio']:.2f}x training time",
        )
    return (
        f"{a['test_stream_nats_per_char']:.4f} nats/char (test stream)",
        f"{b['test_stream_nats_per_char']:.4f} nats/char (test stream); bz2 -9 {b['bz2_nats_per_char']:.4f}",
        f"{result['test_stream_difference']:+.4f} nats/char",
    )


def render(results: dict) -> str:
    """The table of docs/own-data.md: one row per proof, with where and how it was measured."""
    lines = [
        "| own-data task | against | model | built-in task | own-data task | own / built-in | training s | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in PROOFS:
        if name not in results or name in ("series-memory", "text-reading"):
            continue
        r = results[name]
        built, own, compare = summary(r)
        seconds = f"{r['built_in']['train_seconds']:.0f} / {r['own_data']['train_seconds']:.0f}"
        lines.append(
            f"| {name} | {r['against']} | `{r['model']}` | {built} | {own} | {compare} | {seconds} | {r['target']} |"
        )
    measured = sorted({f"{r['measured']}" for r in results.values()})
    head = "Measured " + "; ".join(measured) + ", by `python -m benchmarks.own_data`."
    memory = results.get("series-memory")
    if memory:
        lines.append(
            f"\nseries-memory: a {memory['rows']:,}-row, 4-column CSV ({memory['csv_megabytes']} MB) trains "
            f"with a peak resident memory of {memory['peak_resident_gigabytes']:.2f} GB "
            f"({memory['train_py_seconds']:.0f} s for train.py, 50 training steps; target: under 3 GB)."
        )
    reading = results.get("text-reading")
    if reading:
        lines.append(
            f"\ntext-reading: {reading['files']:,} small .txt files are read, split and vectorized by "
            f"text-classes in {reading['seconds']:.0f} s (target: under 60 s)."
        )
    return head + "\n\n" + "\n".join(lines)


def write_docs(results: dict, path: Path = DOCS) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + render(results) + "\n" + text[end:], encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proofs", nargs="*", help=f"which proofs to run: {', '.join(PROOFS)}")
    parser.add_argument(
        "--render-only", action="store_true", help="the docs table from own_data.json, nothing run"
    )
    parser.add_argument("--quick", action="store_true", help="tiny runs, results not kept (tests)")
    parser.add_argument("--work-dir", help="where the files and runs go (default: a temporary directory)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.proofs) - set(PROOFS))
    if unknown or not (args.proofs or args.render_only):
        parser.error(f"name one or more proofs of: {', '.join(PROOFS)} (got {', '.join(unknown) or 'none'})")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() and not args.quick else {}
    if args.render_only:
        write_docs(results)
        return
    env = describe(torch=False)
    with tempfile.TemporaryDirectory(prefix="own-data-") as tmp:
        work = Path(args.work_dir or tmp)
        for name in args.proofs:
            (work / name).mkdir(parents=True, exist_ok=True)
            result = PROOFS[name](work / name, args.quick) | {"measured": header(env)}
            print(json.dumps(result, indent=1))
            results[name] = result
    if not args.quick:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        write_docs(results)


if __name__ == "__main__":
    main()
