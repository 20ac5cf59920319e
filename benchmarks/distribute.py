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

    python -m benchmarks.distribute            # timeseries, lstm, 32 units, batch 64; a few minutes
    python -m benchmarks.distribute --quick    # tiny sizes
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
    from zoo import config, training
    from zoo import distribute as distribute_lib

    parser = argparse.ArgumentParser()
    config.add_flags(parser)
    args = vars(parser.parse_args([*flags, "--distribute", distribute]))
    timer = StepTimer(skip_epochs=1)  # the first epoch traces the step
    training.train(config.resolve(args), extra_callbacks=(timer,))
    if distribute_lib.worker_role(distribute).chief:
        with open(out, "w") as f:
            json.dump(timer.seconds, f)


def measure(label: str, distribute: str, workers: int, flags: list[str], tmp: str) -> dict:
    """Runs one configuration in `workers` processes; returns its median step time."""
    ports = free_ports(workers)
    out = os.path.join(tmp, f"{distribute}-{workers}.json")
    procs = []
    for index in range(workers):
        env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "CI": "1"}
        env.pop("TF_CONFIG", None)
        if workers > 1:
            cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        run_dir = os.path.join(tmp, f"run-{distribute}-{workers}")
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--units", type=int, default=32, help="the timeseries task's default")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch (the task's default)")
    parser.add_argument(
        "--steps", type=int, default=50, help="training steps per epoch (2 epochs, the first untimed)"
    )
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one training process
    parser.add_argument("--distribute", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        return worker(args.worker, args.distribute, [a for a in rest if a != "--"])

    units, steps = (4, 5) if args.quick else (args.units, args.steps)
    flags = ["--task", "timeseries", "--model", args.model, "--units", str(units), "--epochs", "2"]
    flags += ["--steps-per-epoch", str(steps), "--batch-size", str(args.batch_size)]
    generate_data()  # once, here: workers that generate it together would race
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(label, distribute, workers, flags, tmp) for label, distribute, workers in MODES]
    result = {
        "environment": describe(),
        "settings": dict(model=args.model, units=units, global_batch=args.batch_size, timed_steps=steps),
        "rows": rows,
    }
    print(format_table(result))
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
    s, base = result["settings"], result["rows"][0]["ms_per_step"]
    lines = [
        f"{header(result['environment'])}; timeseries, {s['model']} {s['units']} units, "
        f"global batch {s['global_batch']}, median of {s['timed_steps']} steps",
        "| run | ms/step | samples/s | vs one device |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        ms = r["ms_per_step"]
        lines.append(f"| {r['label']} | {ms:.1f} | {1000 * s['global_batch'] / ms:.0f} | {ms / base:.1f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
