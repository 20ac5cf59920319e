"""Time every notebook of the course, top to bottom, with and without the quick switch.

Each notebook runs in a fresh kernel (nbclient), as the tests run it; the
runs it trains go to a temporary directory. The table goes between the
`notebooks` markers of the page named by `--doc`.

    python -m benchmarks.notebooks --doc docs/teaching.md            # quick and full, about 8 minutes
    python -m benchmarks.notebooks --modes quick --doc docs/teaching.md
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up lines)

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- notebooks:begin -->", "<!-- notebooks:end -->"


def run_notebook(source: Path, quick: bool, timeout: int) -> float:
    """Seconds to execute the notebook `source` (a jupytext .py) top to bottom."""
    import jupytext
    import nbclient

    notebook = jupytext.read(source)
    with tempfile.TemporaryDirectory() as runs:
        env = {"RNN_ZOO_QUICK": "1" if quick else "0", "RNN_ZOO_NOTEBOOK_RUNS": runs}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the kernel inherits this process's environment
        try:
            start = time.monotonic()
            nbclient.NotebookClient(
                notebook,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(source.parent)}},
            ).execute()
            return time.monotonic() - start
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def format_table(rows: list[dict], env: dict, modes: list[str]) -> str:
    from benchmarks.environment import header

    columns = " | ".join(f"{m} (s)" for m in modes)
    lines = [
        f"Measured {header(env)}, by `python -m benchmarks.notebooks`; wall-clock seconds, a fresh kernel each.",
        "",
        f"| notebook | {columns} |",
        "| --- | " + " | ".join("---:" for _ in modes) + " |",
    ]
    for row in rows:
        lines.append(f"| `{row['notebook']}` | " + " | ".join(f"{row[m]:.0f}" for m in modes) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="quick,full", help="comma-separated: quick, full")
    parser.add_argument("--only", help="comma-separated notebook name prefixes, e.g. 01,04")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run")
    parser.add_argument("--doc", help="the Markdown page whose notebooks table is rewritten")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if not set(modes) <= {"quick", "full"} or not modes:
        raise SystemExit(f"--modes takes quick and/or full, got {args.modes!r}")
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    if args.only:
        sources = [s for s in sources if s.name.split("_")[0] in args.only.split(",")]
    from benchmarks.environment import describe

    env = describe(torch=False)
    rows = []
    for source in sources:
        row = {"notebook": source.name}
        for mode in modes:
            row[mode] = run_notebook(source, mode == "quick", args.timeout)
            print(f"{source.name}: {mode} {row[mode]:.0f} s", flush=True)
        rows.append(row)
    table = format_table(rows, env, modes)
    print(table)
    if args.doc:
        from benchmarks.results import write_readme

        write_readme(args.doc, table, BEGIN, END)


if __name__ == "__main__":
    main()
