"""Requests/s and p50/p99 latency of an imdb run's SavedModel, beside evaluate.py's path.

    python -m benchmarks.serving runs/imdb/gru

Exports the run as `export.py` does, then sends the same test reviews,
one per request and 256 per request, one request after another, down
three paths: the SavedModel's `serving_default` (raw strings in), the
zoo's `Task.predict` (what `evaluate.py --text` runs: a vocabulary layer
built from task_state.json, the texts encoded, then the model), and the
run's Keras model on ids encoded beforehand (the model alone). Writes the
table between the `export-serving` markers of docs/export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log: before TensorFlow loads)

# isort: split
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.environment import describe, header  # noqa: E402

MARKERS = ("<!-- export-serving:begin -->", "<!-- export-serving:end -->")


def test_reviews(config, count: int) -> list[str]:
    """The first `count` reviews of the imdb test split, as raw text."""
    from datasets import imdb
    from datasets.tfds_source import load_builder

    builder = load_builder("imdb_reviews", config.data_dir, imdb.URL, imdb.ARCHIVE)
    ds = builder.as_dataset(split=f"test[:{count}]", as_supervised=True)
    return [text.decode("utf-8") for text, _ in ds.as_numpy_iterator()]


def timed_requests(request, batches, warmup: int = 3) -> dict:
    """Seconds per request over `batches` (one request each, in turn), after `warmup` untimed ones."""
    for batch in batches[:warmup]:
        request(batch)
    seconds = []
    start = time.perf_counter()
    for batch in batches:
        begin = time.perf_counter()
        request(batch)
        seconds.append(time.perf_counter() - begin)
    total = time.perf_counter() - start
    return {
        "requests": len(batches),
        "requests_per_second": len(batches) / total,
        "p50_ms": 1000 * float(np.percentile(seconds, 50)),
        "p99_ms": 1000 * float(np.percentile(seconds, 99)),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished imdb run, e.g. runs/imdb/gru")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of one text")
    parser.add_argument("--batch-requests", type=int, default=20, help="timed requests of 256 texts")
    parser.add_argument("--doc", default="docs/export.md", help="the page whose table is rewritten")
    parser.add_argument("--json", default="benchmarks/serving.json", help="where the numbers go")
    args = parser.parse_args(argv)
    import datasets
    import models  # noqa: F401  (the zoo's layers)
    from zoo import export, rundir

    config, _ = rundir.load_finished(args.run_dir, "benchmark", "benchmarks/serving.py")
    if config.task != "imdb":
        raise ValueError(f"{args.run_dir} is a {config.task!r} run; the serving benchmark sends imdb reviews")
    task = datasets.get_task("imdb")
    state = rundir.read_json(os.path.join(args.run_dir, rundir.STATE_FILE))
    model = rundir.load_model(os.path.join(args.run_dir, rundir.MODEL_FILE))
    reviews = test_reviews(config, max(args.requests, 256))
    singles = [[r] for r in reviews[: args.requests]]
    batches = [reviews[:256]] * args.batch_requests

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "imdb")
        export.export(args.run_dir, "saved_model", path)
        loaded = tf.saved_model.load(path)
        serve = loaded.signatures["serving_default"]
        encoded = {len(b): task.encode_texts(config, state, b) for b in (singles[0], batches[0])}
        paths = {
            "SavedModel `serving_default` (export.py)": lambda texts: serve(texts=tf.constant(texts)),
            "`Task.predict` (evaluate.py --text)": lambda texts: task.predict(
                model, config, state, texts, {}
            ),
            "model.keras on ids encoded beforehand": lambda texts: model.predict_on_batch(
                encoded[len(texts)]
            ),
        }
        for name, request in paths.items():
            for texts_per_request, work in ((1, singles), (256, batches)):
                row = {"path": name, "texts_per_request": texts_per_request} | timed_requests(request, work)
                print(json.dumps(row), flush=True)
                rows.append(row)
    result = {
        "environment": describe(torch=False),
        "run": {"model": config.model, "units": config.units, "seq_len": config.task_settings["seq_len"]},
        "rows": rows,
    }
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    from benchmarks.export_formats import write_table

    write_table(args.doc, format_table(result), MARKERS)
    print(format_table(result))
    return result


def format_table(result) -> str:
    run = result["run"]
    lines = [
        f"{header(result['environment'])}; an imdb `{run['model']}` run ({run['units']} units, "
        f"--seq-len {run['seq_len']}), test reviews, one request after another, by "
        "`python -m benchmarks.serving RUN_DIR`.",
        "",
        "| path | texts per request | requests | requests/s | texts/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['path']} | {row['texts_per_request']} | {row['requests']} | "
            f"{row['requests_per_second']:.1f} | {row['requests_per_second'] * row['texts_per_request']:.0f} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(cli.run(main))
