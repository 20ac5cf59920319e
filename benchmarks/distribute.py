"""Training step time on one device and with 1 and 2 local tf.distribute workers.

Every configuration runs the real training path (`zoo.training.train`, the
code behind train.py) in its own processes; the 2 workers talk over free
ports on 127.0.0.1. A callback times each training step (batch begin to
batch end) after the first epoch (tracing); the table gives the median.

* `one device`: `--distribute none` (model.fit, XLA on);
* `1 worker`: `--distribute multiworker` without TF_CONFIG (the custom step,
  no XLA, no peer);
* `2 workers`: `--distribute multiworker`, two processes on this machine,
  each with half of every global batch.

    python -m benchmarks.distribute --readme docs/distributed.md   # timeseries, lstm, 32 units, batches 64 and 512
    python -m benchmarks.distribute --quick --batch-sizes 8   # tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile

from benchmarks.environment import describe, header

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = (("one device", "none", 1), ("1 worker", "multiworker", 1), ("2 workers", "multiworker", 2))


def worker(out: str, distribute: str, flags: list[str]) -> None:
    """One training process: trains with a step timer; the chief writes the timings to `out`."""
    from benchmarks.timing import StepTimer
    from zoo import cluster, config, training

    parser = argparse.ArgumentParser()
    config.add_flags(parser)
    args = vars(parser.parse_args([*flags, "--distribute", distribute]))
    timer = StepTimer(skip_epochs=1)  # the first epoch traces the step
    training.train(config.resolve(args), extra_callbacks=(timer,))
    if cluster.worker_role(distribute).chief:
        with open(out, "w") as f:
            json.dump(timer.seconds, f)


def measure(label: str, distribute: str, workers: int, flags: list[str], tmp: str, batch: int) -> dict:
    """Runs one configuration in `workers` processes at global batch `batch`; returns its median step time."""
    ports = free_ports(workers)
    flags = [*flags, "--batch-size", str(batch)]
    out = os.path.join(tmp, f"{distribute}-{workers}-{batch}.json")
    procs = []
    for index in range(workers):
        env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "CI": "1"}
        env.pop("TF_CONFIG", None)
        if workers > 1:
            cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        run_dir = os.path.join(tmp, f"run-{distribute}-{workers}-{batch}")
        command = [sys.executable, "-m", "benchmarks.distribute", "--worker", out, "--distribute", distribute]
        command += ["--", *flags, "--run-dir", run_dir]
        procs.append(
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        )
    try:
        errors = [p.communicate(timeout=900)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    if any(p.returncode for p in procs):
        raise RuntimeError(f"{label} failed:\n" + "\n".join(e.decode()[-2000:] for e in errors))
    with open(out) as f:
        seconds = json.load(f)
    return {
        "label": label,
        "batch": batch,
        "workers": workers,
        "steps": len(seconds),
        "ms_per_step": 1000 * statistics.median(seconds),
    }


def free_ports(n: int) -> list[int]:
    """Ports nothing listens on now (bound to port 0, then released together)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def main(argv=None):
    # No abbreviations: the old `--batch-size 128` must be refused, not read as --batch-sizes.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--units", type=int, default=32, help="the timeseries task's default")
    parser.add_argument(
        "--batch-sizes", default="64,512", help="comma-separated global batches (64: the task's default)"
    )
    parser.add_argument(
        "--steps", type=int, default=50, help="training steps per epoch (2 epochs, the first untimed)"
    )
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument(
        "--readme", help="rewrite the distribute table of this Markdown file (docs/distributed.md holds it)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one training process
    parser.add_argument("--distribute", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        return worker(args.worker, args.distribute, [a for a in rest if a != "--"])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    try:
        batches = list(dict.fromkeys(int(b) for b in args.batch_sizes.split(",") if b))
    except ValueError:
        batches = []
    if not batches or any(b < 2 or b % 2 for b in batches):  # two workers each take half of every batch
        parser.error(f"--batch-sizes must be even integers of at least 2, got {args.batch_sizes!r}")
    units, steps = (4, 5) if args.quick else (args.units, args.steps)
    flags = ["--task", "timeseries", "--model", args.model, "--units", str(units), "--epochs", "2"]
    flags += ["--steps-per-epoch", str(steps)]
    generate_data()  # once, here: workers that generate it together would race
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            measure(label, distribute, workers, flags, tmp, batch)
            for batch in batches
            for label, distribute, workers in MODES
        ]
    result = {
        "environment": describe(torch=False),  # these runs use no PyTorch
        "settings": dict(model=args.model, units=units, timed_steps=steps, quick=args.quick),
        "rows": rows,
    }
    print(format_table(result))
    if args.readme:
        from benchmarks.results import write_readme

        write_readme(
            args.readme, format_table(result), "<!-- distribute:begin -->", "<!-- distribute:end -->"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


def generate_data() -> None:
    """Generates the synthetic timeseries data once, before workers that would race to make it."""
    import datasets
    from zoo import config

    datasets.get_task("timeseries").load(config.resolve({"task": "timeseries"}), splits=("train",))


def format_table(result) -> str:
    """One row per global batch: each mode's median step, and two workers against one."""
    s = result["settings"]
    lines = [
        f"{header(result['environment'])}; timeseries, {s['model']} {s['units']} units, "
        f"median of {s['timed_steps']} training steps after an untimed epoch"
        + (" (**--quick: smoke-test sizes, not results**)" if s.get("quick") else ""),
        "",
        "| global batch | one device (`none`, XLA) | 1 worker (`multiworker`) | 2 local workers | 2 workers / 1 |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for batch in dict.fromkeys(r["batch"] for r in result["rows"]):
        ms = {r["label"]: r["ms_per_step"] for r in result["rows"] if r["batch"] == batch}
        cells = " | ".join(f"{ms[label]:.1f} ms" for label, _, _ in MODES)
        lines.append(f"| {batch} | {cells} | {ms['2 workers'] / ms['1 worker']:.1f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
