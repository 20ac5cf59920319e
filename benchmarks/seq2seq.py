"""Train and evaluate the encoder-decoders on addition and dates; write docs/seq2seq.md's table.

Each run is the command a user would type (`python train.py ...`, then
`python evaluate.py ...`, fresh processes, the task's defaults plus the
row's flags and `--seed`); its numbers are kept in
`benchmarks/seq2seq.json` and the table in docs/seq2seq.md (between the
`seq2seq` markers) is rewritten from that file, with date, CPU and versions.

    python -m benchmarks.seq2seq                        # every row, seeds 1-3
    python -m benchmarks.seq2seq --seeds 1              # seed 1 only
    python -m benchmarks.seq2seq --rows addition --seeds 2,3
    python -m benchmarks.seq2seq --render-only          # the table from seq2seq.json, nothing run
    python -m benchmarks.seq2seq --quick --rows addition --docs /tmp/seq2seq.md --results /tmp/s.json  # tests

Training time is the sum of the epochs' wall-clock seconds in history.csv
(training and validation, XLA compilation included). Decoding speed is
batched greedy decoding of the addition test set (5,000 sums, batches of
1,024) by the trained model, the best of 3 passes after one that traces
the decoder.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log)

# isort: split
from benchmarks.environment import describe, header

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- seq2seq:begin -->", "<!-- seq2seq:end -->"
MODEL = "seq2seq-lstm"
# name -> (task, flags, target); one table row each.
ROWS = {
    "addition": ("addition", {}, ">= 0.995 exact match, <= 300 s"),
    "dates": ("dates", {}, ">= 0.999 exact match, <= 300 s"),
    # 16 epochs: longer sums cost more an epoch; 16 keep a run near 8 minutes on 2 shared cores.
    "digits6-none": (
        "addition",
        {"digits": 6, "attention": "none", "epochs": 16},
        "with vs without attention",
    ),
    "digits6-luong": (
        "addition",
        {"digits": 6, "attention": "luong", "epochs": 16},
        "with vs without attention",
    ),
}
DECODE_TARGET = 5000  # greedy sequences/s on addition


def run_one(name: str, seed: int, out_dir: Path, quick: bool) -> dict:
    """Trains and evaluates one row's run; returns its numbers."""
    task, flags, _ = ROWS[name]
    run_dir = out_dir / f"{name}-seed{seed}"
    args = dict(model=MODEL, task=task, seed=seed, run_dir=str(run_dir)) | flags
    if quick:
        args |= dict(epochs=1, steps_per_epoch=2, units=4)
    command = [sys.executable, "train.py", "--overwrite"]
    for key, value in args.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(command, cwd=ROOT, check=True)
    evaluate = [sys.executable, "evaluate.py", str(run_dir)] + (["--limit", "100"] if quick else [])
    subprocess.run(evaluate, cwd=ROOT, check=True)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    run = {
        "row": name,
        "seed": seed,
        "exact_match": metrics["exact_match"],
        "char_accuracy": metrics["char_accuracy"],
        "epochs": len(rows),
        "train_seconds": round(sum(float(r["seconds"]) for r in rows), 1),
    }
    if name == "addition":
        run["decoded_per_second"] = decoding_speed(run_dir)
    return run


def decoding_speed(run_dir: Path, repeats: int = 3) -> float:
    """Greedy sequences/s of the run's model over its task's test sources (best of `repeats`)."""
    import datasets
    from datasets.translation import DECODE_BATCH
    from models.decoding import Translator
    from zoo import rundir

    config, _ = rundir.load_config(str(run_dir))
    state = rundir.read_json(str(run_dir / rundir.STATE_FILE))
    task = datasets.get_task(config.task)
    x, _, _ = task.arrays(config, state, "test")
    translator = Translator(rundir.load_model(str(run_dir / rundir.MODEL_FILE)))
    max_length = state["max_target"] + 1
    batches = [x["source"][i : i + DECODE_BATCH] for i in range(0, len(x["source"]), DECODE_BATCH)]

    def one_pass():
        start = time.perf_counter()
        for batch in batches:
            translator.greedy(batch, max_length)
        return time.perf_counter() - start

    one_pass()  # traces the decoder (one trace per batch shape)
    return round(len(x["source"]) / min(one_pass() for _ in range(repeats)), 1)


def span(values, digits=4) -> str:
    """ "0.9990" for one value; "0.9990 (mean of 3, 0.9980-1.0000)" for several."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    mean = sum(values) / len(values)
    return f"{mean:.{digits}f} (mean of {len(values)}, {min(values):.{digits}f}-{max(values):.{digits}f})"


def render(results: dict) -> str:
    """The table of every row from `results` ({"environment": ..., "runs": [...]})."""
    runs = results["runs"]
    lines = [
        f"Measured {header(results['environment'])}, by `python -m benchmarks.seq2seq"
        f"{results.get('command', '')}`; model `{MODEL}`, each task's defaults plus the row's flags.",
        "",
        "| task | flags | exact match | per-character accuracy | epochs | training s | target |",
        "| --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for name, (task, flags, target) in ROWS.items():
        mine = [r for r in runs if r["row"] == name]
        if not mine:
            continue
        shown = " ".join(f"--{k} {v}" for k, v in flags.items()) or "(defaults)"
        seconds = sorted({round(r["train_seconds"]) for r in mine})
        lines.append(
            f"| {task} | `{shown}` | {span([r['exact_match'] for r in mine])} "
            f"| {span([r['char_accuracy'] for r in mine])} | {'/'.join(str(r['epochs']) for r in mine)} "
            f"| {'-'.join(str(s) for s in (seconds[0], seconds[-1])[: len(seconds)])} | {target} |"
        )
    speeds = [r["decoded_per_second"] for r in runs if "decoded_per_second" in r]
    if speeds:
        lines += [
            "",
            f"Batched greedy decoding of the addition test set: {min(speeds):,.0f}"
            + (f"-{max(speeds):,.0f}" if len(speeds) > 1 else "")
            + " "
            f"sequences/s (target >= {DECODE_TARGET:,}).",
        ]
    without = [r["exact_match"] for r in runs if r["row"] == "digits6-none"]
    with_attention = [r["exact_match"] for r in runs if r["row"] == "digits6-luong"]
    if without and with_attention:
        difference = sum(with_attention) / len(with_attention) - sum(without) / len(without)
        lines += ["", f"With attention minus without, on --digits 6: {difference:+.4f} exact match."]
    return "\n".join(lines)


def write_docs(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{BEGIN}\n{END}\n"
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{BEGIN}\n{table}\n{END}{after}", encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows: {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--out", default="runs/benchmarks/seq2seq", help="where the runs go")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "seq2seq.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs" / "seq2seq.md"))
    parser.add_argument("--quick", action="store_true", help="tiny runs, for the tests")
    parser.add_argument("--render-only", action="store_true", help="rewrite the table, run nothing")
    args = parser.parse_args(argv)
    results_path = Path(args.results)
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": []}
    if not args.render_only:
        rows = [r for r in args.rows.split(",") if r]
        unknown = sorted(set(rows) - set(ROWS))
        if unknown:
            raise SystemExit(f"unknown rows: {', '.join(unknown)}; choose from: {', '.join(ROWS)}")
        seeds = [int(s) for s in args.seeds.split(",")]
        results["environment"] = describe(torch=False)
        results["command"] = "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        for name in rows:
            for seed in seeds:
                run = run_one(name, seed, Path(args.out), args.quick)
                results["runs"] = [r for r in results["runs"] if (r["row"], r["seed"]) != (name, seed)] + [
                    run
                ]
                results_path.write_text(json.dumps(results, indent=1) + "\n")
                print(json.dumps(run), flush=True)
    write_docs(Path(args.docs), render(results))


if __name__ == "__main__":
    main()
