"""Train and evaluate the default presets, and write the results tables of README.md and docs/results.md.

Each row runs the same commands a user would (`python train.py ...` then
`python evaluate.py ...`, fresh processes, default settings plus `--seed`),
reads `metrics.json` and `history.csv`, and keeps the numbers in
`benchmarks/results.json`. Both tables are rewritten from that file, with
date, CPU and versions: every run in docs/results.md (between the `results`
markers), the best model of each task in README.md (between the
`results-short` markers).

    python -m benchmarks.results                         # every row (about an hour on 2 cores)
    python -m benchmarks.results --rows timeseries,waveforms
    python -m benchmarks.results --rows timeseries --models stacked-gru   # one model of a row
    python -m benchmarks.results --rows shakespeare --evaluate-only   # a new metric, no retraining
    python -m benchmarks.results --render-only           # both tables from results.json, nothing run
    python -m benchmarks.results --quick --rows waveforms --readme /tmp/README.md --docs /tmp/results.md   # tests

Training time is the sum of the epochs' wall-clock seconds in history.csv
(training and validation, XLA compilation included; data preparation,
vocabulary building and evaluation excluded).

Before training a run, the script measures this machine's float32 matmul
peak (numpy, 2048x2048, best of 3) and keeps it beside the run
(`benchmark_machine.json`, tied to the model file it preceded); the table's
header gives the range over the runs that have one. The same VM type has
run 2.3-5.4x slower on some days than on others.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log: before benchmarks.timing loads it)

# isort: split
from benchmarks.environment import describe, header
from benchmarks.timing import matmul_peak
from models.rnn import PRESETS

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"  # every run: docs/results.md
SHORT_BEGIN, SHORT_END = "<!-- results-short:begin -->", "<!-- results-short:end -->"  # README.md
MACHINE_FILE = "benchmark_machine.json"  # in the run directory, written by run_one
RECURRENT = tuple(PRESETS)  # every recurrent preset, from the model registry

# name -> (task, models, seeds, target text); each model is one table row.
ROWS = {
    "imdb-simplernn": ("imdb", ("simplernn",), (1, 2, 3), ">= 0.86 test accuracy, <= 300 s"),
    "imdb-best": ("imdb", ("gru", "bidirectional-gru"), (1, 2, 3), ">= 0.89 test accuracy, <= 300 s"),
    "shakespeare": (
        "shakespeare",
        ("gru", "stacked-gru"),
        (1, 2),
        "<= 1.45 nats/char validation, <= 900 s, >= 2,000 chars/s",
    ),
    "timeseries": ("timeseries", RECURRENT, (1,), "beats naive and linear; best <= 0.5x linear MSE"),
    "waveforms": ("waveforms", ("gru",), (1, 2, 3), ">= 0.98 test accuracy"),
}


def run_one(task, model, seed, out_dir, quick, evaluate_only=False):
    """Trains (unless `evaluate_only`) and evaluates one run; returns its metrics."""
    run_dir = Path(out_dir) / task / f"{model}-seed{seed}"
    flags = dict(task=task, model=model, seed=seed, run_dir=str(run_dir))
    if quick:
        flags |= dict(epochs=1, steps_per_epoch=2, units=4)
    machine = run_dir / MACHINE_FILE
    if evaluate_only:
        check_reusable(run_dir, flags)
    else:
        # How fast this VM multiplies matrices just before training (see the module docstring).
        peak = matmul_peak(n=256 if quick else 2048, repeats=3)
        machine.unlink(missing_ok=True)  # train.py --overwrite leaves files it does not know
        train = [sys.executable, "train.py", "--overwrite"]
        for name, value in flags.items():
            train += ["--" + name.replace("_", "-"), str(value)]
        subprocess.run(train, cwd=ROOT, check=True)
        trained = (run_dir / "model.keras").stat().st_mtime_ns
        machine.write_text(json.dumps({"matmul_gflops": round(peak, 1), "model_mtime_ns": trained}) + "\n")
    evaluate = [sys.executable, "evaluate.py", str(run_dir)] + (
        ["--limit", "64"] + (["--length", "50"] if task == "shakespeare" else []) if quick else []
    )
    subprocess.run(evaluate, cwd=ROOT, check=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv", newline="") as f:
        history = list(csv.DictReader(f))
    metrics["train_seconds"] = sum(float(r["seconds"]) for r in history)
    metrics["epochs"] = len(history)
    metrics["best_val_loss"] = min(float(r["val_loss"]) for r in history)
    metrics["settings"] = settings(json.loads((run_dir / "config.json").read_text())["config"])
    # The day it was trained (the model is written when training ends), so a
    # table whose rows were measured on different days says so.
    trained_ns = (run_dir / "model.keras").stat().st_mtime_ns
    metrics["date"] = time.strftime("%Y-%m-%d", time.localtime(trained_ns / 1e9))
    # Not for runs trained before it was recorded, nor for a model trained
    # again since (by hand, say): the peak belongs to the training it preceded.
    recorded = json.loads(machine.read_text()) if machine.exists() else {}
    if recorded.get("model_mtime_ns") == trained_ns:
        metrics["matmul_gflops"] = recorded["matmul_gflops"]
    metrics.pop("sample", None)
    metrics.pop("confusion_matrix", None)
    return metrics


def check_reusable(run_dir: Path, flags: dict) -> None:
    """Refuses to re-evaluate a run that is unfinished or was trained with other settings than today's."""
    import dataclasses

    from zoo import config as config_lib

    path = run_dir / "config.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if not saved.get("finished"):
        raise SystemExit(
            f"--evaluate-only: {run_dir} holds no finished run; train it (leave out --evaluate-only)"
        )
    today = settings(dataclasses.asdict(config_lib.resolve(flags)))
    if settings(saved["config"]) != today:
        differ = sorted(k for k in today if saved["config"].get(k) != today[k])
        raise SystemExit(
            f"--evaluate-only: {run_dir} was trained with other settings than today's defaults "
            f"({', '.join(differ)}); train it again (leave out --evaluate-only)"
        )


def settings(config) -> dict:
    """What a run was trained with, less what differs between seeds and machines."""
    return {k: v for k, v in config.items() if k not in ("seed", "run_dir", "data_dir")}


def merge_runs(previous, fresh) -> dict:
    """`fresh` runs by seed, plus the `previous` seeds not re-run that had the same settings.

    `--seeds 2,3` adds two seeds to a row that has seed 1; a seed trained with
    other defaults (or with no recorded settings) is dropped, never mixed in.
    """
    same = {json.dumps(r["settings"], sort_keys=True) for r in fresh.values()}
    kept = {
        seed: run
        for seed, run in previous.items()
        if seed not in fresh and json.dumps(run.get("settings"), sort_keys=True) in same
    }
    return dict(sorted((kept | fresh).items(), key=lambda item: int(item[0])))


def headline(task, m) -> str:
    """The one number that the target is about, per task."""
    if task == "imdb" or task == "waveforms":
        return f"{m['accuracy']:.4f} test accuracy"
    if task == "shakespeare":
        stream = (
            f"; read as one stream: {m['val_stream_nats_per_char']:.3f} validation, "
            f"{m['test_stream_nats_per_char']:.3f} test"
            if "val_stream_nats_per_char" in m
            else ""
        )
        return (
            f"{m['best_val_loss']:.3f} nats/char validation ({m['loss_nats_per_char']:.3f} test){stream}, "
            f"{m['generation_chars_per_second']:,.0f} chars/s"
        )
    return (
        f"MSE {m['model_mse']:.5f} (naive {m['naive_mse']:.5f}, linear {m['linear_mse']:.5f}; "
        f"{m['mse_vs_linear']:.2f}x linear)"
    )


def spread(runs) -> str:
    """Mean, min and max accuracy over a row's seeds (rows scored by accuracy)."""
    if len(runs) < 2 or any("accuracy" not in r for r in runs):
        return ""
    acc = [r["accuracy"] for r in runs]
    return f"; mean {statistics.mean(acc):.4f}, min {min(acc):.4f}, max {max(acc):.4f} over {len(acc)} seeds"


def all_runs(results) -> list[tuple[str, dict]]:
    """(task, metrics) of every run of every row."""
    return [(row["task"], m) for row in results["rows"].values() for m in row["runs"].values()]


def measured_on(results) -> str:
    """The day, or first and last days, on which the table's runs were trained."""
    days = sorted({m.get("date", results["environment"]["date"]) for _, m in all_runs(results)})
    return days[0] if len(days) < 2 else f"{days[0]} to {days[-1]}"


def speeds(results) -> str:
    """The range of the matmul peaks measured before training, where the runs recorded one."""
    runs = all_runs(results)
    recorded = [(task, m["matmul_gflops"]) for task, m in runs if "matmul_gflops" in m]
    if not recorded:
        return ""
    low, high = min(p for _, p in recorded), max(p for _, p in recorded)
    span = f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"
    tasks = ", ".join(sorted({task for task, _ in recorded}))
    return (
        f"; float32 matmul peak before training: {span} GFLOP/s "
        f"({len(recorded)} of {len(runs)} runs recorded it: {tasks})"
    )


def header_line(results, what="") -> str:
    """Date, machine, versions and matmul peaks of the runs, and the command that wrote the table."""
    env = results["environment"] | {"date": measured_on(results)}
    return (
        f"Measured {header(env)}{speeds(results)}, by `python -m benchmarks.results`"
        + (f"; {what}" if what else "")
        + (" (**--quick: smoke-test sizes, not results**)" if env.get("quick") else "")
        + "."
    )


def row_order(results) -> list[str]:
    """The keys of `results["rows"]` in the order of ROWS (unknown rows last)."""
    order = [f"{task}/{model}" for task, model_names, _, _ in ROWS.values() for model in model_names]
    return sorted(results["rows"], key=lambda k: order.index(k) if k in order else len(order))


def render(results) -> str:
    """docs/results.md's table: every run of every row."""
    lines = [
        header_line(results),
        "",
        "| task | model | seed | result | epochs | training s | target |",
        "| --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for row in (results["rows"][k] for k in row_order(results)):
        runs = row["runs"]
        for i, (seed, m) in enumerate(runs.items()):
            note = spread(list(runs.values())) if i == len(runs) - 1 else ""
            lines.append(
                f"| {row['task']} | `{row['model']}` | {seed} | {headline(row['task'], m)}{note} | "
                f"{m['epochs']} | {m['train_seconds']:.0f} | {row['target']} |"
            )
    return "\n".join(lines)


# What "best" means per task: the metric its target is about, and whether higher is better.
BEST_BY = {
    "imdb": ("accuracy", True),
    "waveforms": ("accuracy", True),
    "shakespeare": ("best_val_loss", False),
    "timeseries": ("model_mse", False),
}


def best_rows(results) -> list[dict]:
    """The best row (model) of each task, by the mean of the task's metric over the row's seeds.

    Tasks come in the table's order; of equal means, the first row in that order wins.
    """
    best = {}
    for row in (results["rows"][k] for k in row_order(results)):
        key, higher = BEST_BY[row["task"]]
        mean = statistics.mean(m[key] for m in row["runs"].values())
        sign = 1 if higher else -1
        if row["task"] not in best or sign * mean > sign * best[row["task"]][0]:
            best[row["task"]] = (mean, row)
    return [row for _, row in best.values()]


def short_result(task, runs) -> str:
    """The best row's number: the mean over its seeds, with their range where there are several."""
    key, _ = BEST_BY[task]
    values = [m[key] for m in runs]
    digits = {"accuracy": 4, "best_val_loss": 3, "model_mse": 5}[key]
    number = f"{statistics.mean(values):.{digits}f}"
    if task == "timeseries":
        ratio = statistics.mean(m["mse_vs_linear"] for m in runs)
        text = f"MSE {number}, {ratio:.2f}x the linear baseline's"
    else:
        text = f"{number} {'nats/char validation' if task == 'shakespeare' else 'test accuracy'}"
    if len(values) > 1:
        text += f" (mean of {len(values)} seeds, {min(values):.{digits}f}-{max(values):.{digits}f})"
    return text


def render_short(results) -> str:
    """The README's table: one line per task, its best model (`best_rows`)."""
    lines = [
        header_line(results, "the best model of each task, by the mean over its seeds"),
        "",
        "| task | best model | result | training s | target |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for row in best_rows(results):
        runs = list(row["runs"].values())
        low, high = (f"{f(m['train_seconds'] for m in runs):.0f}" for f in (min, max))
        seconds = low if low == high else f"{low}-{high}"
        lines.append(
            f"| {row['task']} | `{row['model']}` | {short_result(row['task'], runs)} | {seconds} | {row['target']} |"
        )
    return "\n".join(lines)


def replace_between(text: str, table: str, begin: str, end: str, where="the text") -> str:
    """`text` with what stands between its `begin` and `end` markers replaced by `table`."""
    if begin not in text or end not in text:
        raise ValueError(f"{where} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def write_readme(path, table, begin=BEGIN, end=END):
    """Replaces what stands between the `begin` and `end` markers of `path` (any Markdown file) with `table`."""
    text = Path(path).read_text(encoding="utf-8")
    Path(path).write_text(replace_between(text, table, begin, end, path), encoding="utf-8")


def environment(quick):
    return describe(torch=False) | {"quick": quick}  # these runs use no PyTorch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from: {', '.join(ROWS)}")
    parser.add_argument("--models", help="comma-separated: only these models of the chosen rows")
    parser.add_argument("--seeds", help="comma-separated seeds instead of each row's own (e.g. 1)")
    parser.add_argument("--quick", action="store_true", help="tiny runs (tests); marks the table as such")
    parser.add_argument(
        "--evaluate-only",
        action="store_true",
        help="evaluate the finished runs in --out-dir again instead of training (refused where their "
        "settings are not today's defaults); for a new metric",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="train and evaluate nothing: rewrite both tables from --results as it is",
    )
    parser.add_argument("--out-dir", default="benchmarks/runs", help="where the runs go")
    parser.add_argument("--results", default="benchmarks/results.json", help="the results file to update")
    parser.add_argument(
        "--readme", default="README.md", help="file whose short table (best model per task) is rewritten"
    )
    parser.add_argument("--docs", default="docs/results.md", help="file whose full table is rewritten")
    args = parser.parse_args(argv)
    if args.render_only:
        if args.quick or args.evaluate_only:
            parser.error("--render-only runs nothing: it takes neither --quick nor --evaluate-only")
        results = json.loads(Path(args.results).read_text())
        write_tables(results, args.readme, args.docs)
        return results
    names = [n for n in args.rows.split(",") if n]
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    only = args.models.split(",") if args.models else None
    if only:
        in_rows = {m for name in names for m in ROWS[name][1]}
        unknown = sorted(set(only) - in_rows)
        if unknown:
            parser.error(f"--models {unknown} are in none of the rows {', '.join(names)}")

    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    if results.get("environment", {}).get("quick") != args.quick:
        results = {"rows": {}}  # never mix smoke-test numbers with real ones
    results["environment"] = environment(args.quick)
    for name in names:
        task, model_names, seeds, target = ROWS[name]
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else seeds
        if only:
            model_names = [m for m in model_names if m in only]
        for model in model_names:
            fresh = {
                str(s): run_one(task, model, s, args.out_dir, args.quick, args.evaluate_only) for s in seeds
            }
            previous = results["rows"].get(f"{task}/{model}", {}).get("runs", {})
            runs = merge_runs(previous, fresh)
            results["rows"][f"{task}/{model}"] = dict(task=task, model=model, target=target, runs=runs)
            path.write_text(json.dumps(results, indent=2) + "\n")  # keep what is done
    write_tables(results, args.readme, args.docs)
    return results


def write_tables(results, readme, docs) -> None:
    """Rewrites the short table in `readme` and the full one in `docs`, and prints both.

    Both files are checked for their markers before either is written, so a
    missing marker leaves both as they were.
    """
    short, table = render_short(results), render(results)
    texts = {path: Path(path).read_text(encoding="utf-8") for path in (readme, docs)}
    texts[readme] = replace_between(texts[readme], short, SHORT_BEGIN, SHORT_END, readme)
    texts[docs] = replace_between(texts[docs], table, BEGIN, END, docs)
    for path, text in texts.items():
        Path(path).write_text(text, encoding="utf-8")
    print(table, short, sep="\n\n")


if __name__ == "__main__":
    main()
