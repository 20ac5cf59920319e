"""Which models x tasks export to which format, file sizes and single-example latency.

    python -m benchmarks.export_formats              # every model on every task it serves
    python -m benchmarks.export_formats --quick      # three models, tiny sizes: checks the script
    python -m benchmarks.export_formats --tasks series   # those tasks' rows again, the others kept

Each model is built at its task's default settings with the task's real
state (the imdb vocabulary, the Shakespeare characters; a task on the
user's own data, which has none without `--data`, its `example_state`), untrained:
conversion, size and speed do not depend on the weights. Each is exported
as `export.py` exports it (`Task.export_model`; `--format litert`: the
fixed-shape batch-1 archive through `zoo.export.to_litert`; `--format
onnx`: `zoo.export.to_onnx`), then timed on
one example: the median of `--calls` calls after three warm-up calls
(SavedModel: its signature in TensorFlow; LiteRT: `tf.lite.Interpreter`;
ONNX: onnxruntime). Each file's answer is checked against the
SavedModel's on that example ("max diff").
Writes the table between the `export-formats` markers of docs/export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

from zoo import cli  # noqa: F401  (quiets TensorFlow's start-up log: before TensorFlow loads)

# isort: split
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.environment import describe, header  # noqa: E402

MARKERS = ("<!-- export-formats:begin -->", "<!-- export-formats:end -->")


def example_inputs(task, config, state) -> dict[str, np.ndarray]:
    """One raw example for a task's signature: a review, a source text, a series, a signal, a character."""
    if task.name in ("imdb", "text-classes"):
        return {"texts": np.array(["A wonderful, moving film; the ending stayed with me for days."])}
    if task.generative:
        return {"character": np.array(state["chars"][0])}  # `step`; the state is added by the caller
    if "source_chars" in state:  # an encoder-decoder: a source of the run's tokens
        pieces = list(state["source_chars"])[: state["max_source"]]
        return {"texts": np.array([(" " if state.get("words") else "").join(pieces)])}
    length = config.task_settings.get("window", 100)
    values = (np.sin(np.arange(length) / 4.0) * 2 + 3).astype(np.float32)[None]
    if task.name == "series":
        return {"series": np.repeat(values[:, :, None], len(state["columns"]), axis=2)}
    return {"series" if task.name == "timeseries" else "signals": values}


def task_state(task, config) -> dict:
    """The task's real state (its vocabulary...), or its example state where it reads the user's `--data`."""
    if any(s.name == "data" for s in task.settings):
        return task.example_state(config)
    return task.load(config, splits=()).state


def median_ms(call, calls: int) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def size_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def measure(model_name: str, task, state, calls: int, quick: bool, workdir: str) -> dict:
    import models
    from zoo import config as config_lib
    from zoo import export

    flags = {"model": model_name, "task": task.name}
    if quick and not models.get_model(model_name).compiles:  # the chapter's models keep their size
        flags |= {"units": 4}
    config = config_lib.resolve(flags)

    model = models.get_model(model_name).build(config, task.spec(config, state), config.api)
    row = {"task": task.name, "model": model_name}
    signature = "step" if task.generative else "serving_default"
    inputs = example_inputs(task, config, state)

    saved = os.path.join(workdir, f"{task.name}-{model_name}")
    task.export_model(model, config, state).write_out(saved, verbose=False)
    serve = tf.saved_model.load(saved).signatures[signature]
    if task.generative:
        inputs["state"] = np.zeros(serve.structured_input_signature[1]["state"].shape, np.float32)
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    reference = {k: v.numpy() for k, v in serve(**tensors).items()}
    row["saved_model_bytes"] = size_bytes(saved)
    row["saved_model_ms"] = median_ms(lambda: serve(**tensors), calls)

    try:
        onnx_model = export.to_onnx(saved, f"the {model_name} model on {task.name}")
    except export.ExportError as err:
        row["onnx"] = str(err).split("(", 1)[-1].rstrip(")")
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
        feed = {k: v for k, v in inputs.items()}
        answer = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
        row |= {
            "onnx": "runs",
            "onnx_bytes": len(onnx_model),
            "onnx_ms": median_ms(lambda: session.run(None, feed), calls),
            "onnx_max_difference": max_difference(answer, reference),
        }

    fixed = os.path.join(workdir, f"{task.name}-{model_name}-fixed")
    task.export_model(model, config, state, fixed_shape=True).write_out(fixed, verbose=False)
    try:
        flat = export.to_litert(fixed, f"the {model_name} model on {task.name}")
    except export.ExportError as err:
        row["litert"] = str(err).split("(", 1)[-1].rstrip(")")
        return row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=flat)
    runner = interpreter.get_signature_runner(signature)
    got = runner(**inputs)
    row |= {
        "litert": "runs",
        "litert_bytes": len(flat),
        "litert_ms": median_ms(lambda: runner(**inputs), calls),
        "litert_max_difference": max_difference(got, reference),
    }
    return row


def max_difference(got: dict, reference: dict) -> float:
    """The largest absolute difference between two answers' float outputs."""
    return max(
        float(np.max(np.abs(got[k] - reference[k]))) for k in reference if reference[k].dtype.kind == "f"
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three models at 4 units: checks the script")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per measurement")
    parser.add_argument("--doc", default="docs/export.md", help="the page whose table is rewritten")
    parser.add_argument("--json", default="benchmarks/export_formats.json", help="where the rows go")
    parser.add_argument(
        "--tasks", help="comma-separated tasks to measure; the other tasks' rows in --json are kept"
    )
    args = parser.parse_args(argv)
    import datasets
    import models
    from zoo import config as config_lib

    chosen = [datasets.get_task(t.strip()).name for t in args.tasks.split(",")] if args.tasks else None
    rows = []
    names = ["gru", "snippet-classifier", "seq2seq-gru"] if args.quick else list(models.MODELS)
    with tempfile.TemporaryDirectory() as workdir:
        for task in datasets.TASKS.values():
            if chosen and task.name not in chosen:
                continue
            state = None
            for name in names:
                entry = models.get_model(name)
                if entry.refusal(task.heads, task.input_kinds, len(task.input_names)):
                    continue
                try:
                    config = config_lib.resolve({"model": name, "task": task.name})
                except ValueError:  # a bidirectional model on a generative task
                    continue
                if state is None:
                    state = task_state(task, config)
                row = measure(name, task, state, args.calls, args.quick, workdir)
                print(json.dumps(row), flush=True)
                rows.append(row)
    if chosen:  # the rows of the other tasks, as measured before, in the registry's order
        with open(args.json, encoding="utf-8") as f:
            kept = [r for r in json.load(f)["rows"] if r["task"] not in chosen]
        order = list(datasets.TASKS)
        rows = sorted(kept + rows, key=lambda r: order.index(r["task"]))  # stable: models keep their order
    result = {"environment": describe(torch=False), "calls": args.calls, "rows": rows}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    write_table(args.doc, format_table(result))
    print(format_table(result))
    return result


def format_table(result) -> str:
    """The table, with each reason for a refusal once, as a footnote."""
    lines = [
        f"{header(result['environment'])}; untrained models at each task's defaults, one example, "
        f"median of {result['calls']} calls, by `python -m benchmarks.export_formats`.",
        "",
        "| task | model | SavedModel | ms | LiteRT | ms | max diff | ONNX | ms | max diff |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    reasons: list[str] = []

    def cells(row, fmt) -> str:
        if row.get(fmt) != "runs":
            if row.get(fmt) not in reasons:
                reasons.append(row.get(fmt))
            return f"refused{'¹²³⁴⁵⁶⁷⁸⁹'[reasons.index(row.get(fmt))]} | | "
        return f"{row[fmt + '_bytes'] / 1e6:.2f} MB | {row[fmt + '_ms']:.2f} | {row[fmt + '_max_difference']:.0e}"

    for row in result["rows"]:
        saved = f"{row['saved_model_bytes'] / 1e6:.2f} MB | {row['saved_model_ms']:.2f}"
        lines.append(
            f"| {row['task']} | `{row['model']}` | {saved} | {cells(row, 'litert')} | {cells(row, 'onnx')} |"
        )
    lines.append("")
    lines += [f"{'¹²³⁴⁵⁶⁷⁸⁹'[i]} {reason}." for i, reason in enumerate(reasons)]
    return "\n".join(lines)


def write_table(doc: str, table: str, markers: tuple[str, str] = MARKERS) -> None:
    """Replaces what stands between `markers` in `doc` with `table`."""
    from zoo import files

    text = open(doc, encoding="utf-8").read()
    begin, end = markers
    if begin not in text or end not in text:
        raise ValueError(f"{doc} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    files.write_text(doc, head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    sys.exit(cli.run(main))
