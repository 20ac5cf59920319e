"""The `series` task on real series: the zoo's models against the naive, seasonal-naive and linear baselines.

The series are the real ones statsmodels ships as CSV files (its package
holds them; no download at run time): yearly sunspot numbers 1700-2008 and
the weekly Mauna Loa CO2 record 1958-2001 (with missing weeks, filled by
interpolation). Each is written as a CSV of its own, as a user would have
it, and trained and evaluated through `train.py --task series` and
`evaluate.py --season N` in fresh processes, with the task's defaults
but `--anchor` (last and linear by default) and `--seed` (1..N).

    pip install --no-deps statsmodels==0.14.6         # only its data files are read
    python -m benchmarks.real_series --doc docs/own-data.md
    python -m benchmarks.real_series --csv-dir data   # only the CSV files, to train or tune on
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- real-series:begin -->", "<!-- real-series:end -->"
MODELS = ("gru", "lstm", "stacked-lstm")
ANCHORS = ("last", "linear")  # the task's default, and the model over the linear fit
# name -> the file in statsmodels/datasets, its columns, the task's settings.
SERIES = {
    "sunspots": dict(
        file="sunspots/sunspots.csv",
        time="YEAR",
        target="SUNACTIVITY",
        season=11,  # the solar cycle, in years
        flags=["--window", "22", "--test-fraction", "0.2"],  # 309 years: 62 for test
    ),
    "co2": dict(
        file="co2/co2.csv",
        time="date",
        target="co2",
        season=52,  # weeks in a year
        flags=["--window", "104", "--fill", "interpolate"],
    ),
}


def statsmodels_file(name: str) -> Path:
    """A data file of the installed statsmodels package, found without importing it."""
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("statsmodels is not installed: pip install --no-deps statsmodels==0.14.6")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


def write_csv(name: str, out: Path) -> Path:
    """The series as a user's CSV (`time,value`; CO2's yyyymmdd dates as ISO dates)."""
    series = SERIES[name]
    with open(statsmodels_file(series["file"]), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    path = out / f"{name}.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([series["time"], series["target"]])
        for row in rows:
            stamp = row[series["time"]]
            if len(stamp) == 8 and stamp.isdigit():  # 19580329 -> 1958-03-29
                stamp = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
            writer.writerow([stamp, row[series["target"]]])
    return path


def run(name: str, model: str, anchor: str, seed: int, work: Path) -> dict:
    series = SERIES[name]
    data = write_csv(name, work)
    run_dir = work / f"{name}-{model}-{anchor}-{seed}"
    train = [sys.executable, "train.py", "--task", "series", "--model", model, "--data", str(data)]
    train += [
        "--target",
        series["target"],
        "--time",
        series["time"],
        *series["flags"],
        "--anchor",
        anchor,
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
    ]
    subprocess.run(train, cwd=ROOT, check=True)
    evaluate = [sys.executable, "evaluate.py", str(run_dir), "--season", str(series["season"])]
    subprocess.run(evaluate, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv", newline="") as f:
        seconds = sum(float(r["seconds"]) for r in csv.DictReader(f))
    return {"series": name, "model": model, "anchor": anchor, "seed": seed, "train_seconds": seconds} | {
        k: metrics[k] for k in metrics if k.endswith(("_mae", "_mase")) or k == "test_windows"
    }


def format_table(rows: list[dict], env: dict) -> str:
    from benchmarks.environment import header

    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"Measured {header(env)}, by `python -m benchmarks.real_series`; test MAE in the series' own units, "
        f"each part's windows after the split by time; the model's over seeds {', '.join(map(str, seeds))} "
        "(mean, and the range), the best counted on its worst seed.",
        "",
        "| series | model | --anchor | test windows | model MAE | naive | seasonal naive | linear | best "
        "| training s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["series"], r["model"], r["anchor"]), []).append(r)
    for (name, model, anchor), runs in groups.items():
        r, maes = runs[0], [one["model_mae"] for one in runs]
        baselines = {k: r[f"{k}_mae"] for k in ("naive", "seasonal_naive", "linear")}
        best = "the model" if max(maes) < min(baselines.values()) else min(baselines, key=baselines.get)
        spread = f" ({min(maes):.3f}-{max(maes):.3f})" if len(maes) > 1 else ""
        seconds = np.mean([one["train_seconds"] for one in runs])
        lines.append(
            f"| {name} | `{model}` | {anchor} | {r['test_windows']} | {np.mean(maes):.3f}{spread} | "
            + " | ".join(f"{v:.3f}" for v in baselines.values())
            + f" | {best} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--series", default=",".join(SERIES), help=f"comma-separated, from: {', '.join(SERIES)}"
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo models")
    parser.add_argument(
        "--anchors", default=",".join(ANCHORS), help="comma-separated values of the task's --anchor"
    )
    parser.add_argument("--seeds", type=int, default=3, help="train each row with seeds 1..N")
    parser.add_argument("--doc", help="the Markdown page whose real-series table is rewritten")
    parser.add_argument(
        "--csv-dir", help="only write the series' CSV files into this folder (to train or tune on them)"
    )
    args = parser.parse_args(argv)
    if args.csv_dir:
        Path(args.csv_dir).mkdir(parents=True, exist_ok=True)
        for name in args.series.split(","):
            print(write_csv(name, Path(args.csv_dir)))
        return
    from benchmarks.environment import describe

    env = describe(torch=False)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.series.split(","):
            for model in args.models.split(","):
                for anchor in args.anchors.split(","):
                    for seed in range(1, args.seeds + 1):
                        rows.append(run(name, model, anchor, seed, Path(work)))
                        print(json.dumps(rows[-1]), flush=True)
    table = format_table(rows, env)
    print(table)
    (ROOT / "benchmarks" / "real_series.json").write_text(
        json.dumps({"environment": env, "rows": rows}, indent=2) + "\n"
    )
    if args.doc:
        from benchmarks.results import write_readme

        write_readme(args.doc, table, BEGIN, END)


if __name__ == "__main__":
    main()
