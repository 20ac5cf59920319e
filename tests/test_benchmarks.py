"""The benchmark scripts run at tiny sizes (their numbers come from full runs, never from tests)."""

from __future__ import annotations

import ast
import json
import os
import shutil

import pytest

from benchmarks import environment, results, throughput
from tests.conftest import ROOT


def benchmarks_page(path):
    """A page with both throughput tables' markers, as docs/benchmarks.md has them."""
    path.write_text(
        "intro\n<!-- throughput:begin -->\nold cpu\n<!-- throughput:end -->\n"
        "middle\n<!-- throughput-gpu:begin -->\nold gpu\n<!-- throughput-gpu:end -->\noutro\n"
    )
    return path


def between(text, name):
    return text.split(f"<!-- {name}:begin -->")[1].split(f"<!-- {name}:end -->")[0]


def test_throughput_quick(tmp_path, monkeypatch):
    measured = []  # (path, batch) of every Keras and PyTorch measurement, in order
    keras_run, torch_run = throughput.keras_samples_per_second, throughput.torch_samples_per_second

    def keras_spy(cell, path, batch, *sizes):
        measured.append((path, batch))
        return keras_run(cell, path, batch, *sizes)

    def torch_spy(cell, batch, *sizes):
        measured.append(("torch", batch))
        return torch_run(cell, batch, *sizes)  # None without torch

    monkeypatch.setattr(throughput, "keras_samples_per_second", keras_spy)
    monkeypatch.setattr(throughput, "torch_samples_per_second", torch_spy)
    page = benchmarks_page(tmp_path / "benchmarks.md")
    result = throughput.main(["--quick", "--repeats", "2", "--cells", "lstm", "--readme", str(page)])
    table = between(page.read_text(), "throughput")
    assert between(page.read_text(), "throughput-gpu") == "\nold gpu\n"  # a CPU run writes the CPU table
    assert "| lstm |" in table and "| gru |" not in table and "| simplernn |" not in table
    assert "of 2 rounds" in table
    assert result["matmul_peak_range"][0] <= result["matmul_peak_gflops"] <= result["matmul_peak_range"][1]
    assert [r["cell"] for r in result["rows"]] == ["lstm"]

    # Keras defaults and PyTorch run at the zoo's batch (16 in --quick) and at their default (8).
    settings = result["settings"]
    zoo, default = settings["zoo_batch"], settings["default_batch"]
    assert zoo != default
    per_round = [("zoo", zoo), ("zoo-no-xla", zoo), ("keras-default", zoo), ("keras-default", default)]
    assert measured == 2 * (per_round + [("torch", zoo), ("torch", default)])
    for row in result["rows"]:
        assert len(row["runs"]) == 2
        for path in ("zoo", "zoo_no_xla", "keras_default_zoo_batch", "keras_default"):
            low, high = row[f"{path}_range"]
            assert 0 < low <= row[path] <= high
            assert row[path] == pytest.approx((row["runs"][0][path] + row["runs"][1][path]) / 2)
        # Ratios are taken within each round, then their median (of two: the mean).
        for name, other in (("speedup_same_batch", "keras_default_zoo_batch"), ("speedup", "keras_default")):
            ratios = [run["zoo"] / run[other] for run in row["runs"]]
            assert row[name] == pytest.approx(sum(ratios) / 2)

    # Both ratios, each labelled with its batch sizes, in a table of their own.
    header = next(line for line in table.splitlines() if line.startswith("| cell | zoo / Keras defaults"))
    assert header.split(" | ")[1:3] == [
        f"zoo / Keras defaults, same batch ({zoo} vs {zoo})",
        f"zoo / Keras defaults, each side's default batch ({zoo} vs {default})",
    ]
    row = result["rows"][0]
    ratios = next(line for line in table.splitlines()[::-1] if line.startswith("| lstm |"))
    speedups = [
        throughput._spread(row[n], row[f"{n}_range"], "{:.2f}x") for n in ("speedup_same_batch", "speedup")
    ]
    assert ratios.startswith(f"| lstm | {speedups[0]} | {speedups[1]} | ")
    assert f"| Keras defaults, batch {zoo} | Keras defaults, batch {default} |" in table
    # FLOPs per sample: 3 x steps x 2 x gates x (embed + units) x units.
    assert throughput.train_flops_per_sample("lstm", 200, 64, 64) == 3 * 200 * 2 * 4 * 128 * 64


def test_throughput_gpu_table_from_saved_json(tmp_path, capsys):
    """The GPU run (JAX, no TensorFlow) saves JSON; --from-json writes its own table from it.

    The saved run predates the paths at the zoo's batch: those cells say "n/a", the rest is as measured.
    """
    saved = json.loads((ROOT / "benchmarks" / "throughput_gpu.json").read_text())
    assert saved["environment"]["accelerator"] and saved["environment"]["backend"] == "jax"
    assert "keras_default_zoo_batch" not in saved["rows"][0]["runs"][0]  # if it gains them, test those
    page = benchmarks_page(tmp_path / "benchmarks.md")
    (tmp_path / "gpu.json").write_text(json.dumps(saved))
    throughput.main(["--from-json", str(tmp_path / "gpu.json"), "--readme", str(page)])
    after = page.read_text()
    table = between(after, "throughput-gpu")
    assert between(after, "throughput") == "\nold cpu\n"  # the CPU table is untouched
    assert f"GPU {saved['environment']['accelerator']}" in table and "PyTorch on cuda" in table
    assert "n/a: not measured in this run" in table
    samples, ratios = (line for line in table.splitlines() if line.startswith("| lstm |"))
    lstm = next(r for r in saved["rows"] if r["cell"] == "lstm")
    zoo, no_xla, keras_zoo_batch, keras_default, torch_zoo_batch, torch = samples.split(" | ")[1:7]
    assert no_xla == "not run (XLA only)"  # JAX always compiles: no "no XLA" path
    assert keras_zoo_batch == torch_zoo_batch == "n/a"
    assert keras_default.startswith(f"{lstm['keras_default']:.0f} (") and torch.startswith(
        f"{lstm['torch']:.0f} ("
    )
    share = 100 * lstm["zoo_peak_fraction"]
    assert f"| {share:.2f}% (" in samples  # small shares keep two decimals instead of reading 0%
    # Same batch: n/a. Each side's default: the saved ratio, and zoo / PyTorch from the saved rounds.
    torch_ratio = sorted(run["zoo"] / run["torch"] for run in lstm["runs"])[1]  # the median of three
    assert ratios.split(" | ")[1:] == [
        "n/a",
        throughput._spread(lstm["speedup"], lstm["speedup_range"], "{:.2f}x"),
        "n/a",
        f"{torch_ratio:.2f}x ({min(r['zoo'] / r['torch'] for r in lstm['runs']):.2f}x-"
        f"{max(r['zoo'] / r['torch'] for r in lstm['runs']):.2f}x) |",
    ]
    assert table.strip() in capsys.readouterr().out


def module_level_imports(name: str, seen: set[str]) -> set[str]:
    """Every module that importing the project module `name` imports at load time, transitively.

    Follows the project's own modules (and their packages' __init__ files);
    imports inside functions run later, so they do not count.
    """
    found = set()
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        module = ".".join(parts[:i])
        if module in seen:
            continue
        seen.add(module)
        path = ROOT.joinpath(*module.split("."))
        file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if not file.exists():
            continue
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from models import rnn` loads models.rnn where that is a module.
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for imported in names:
                top = imported.split(".")[0]
                if (ROOT / top).is_dir() or (ROOT / f"{top}.py").exists():
                    found |= {imported} | module_level_imports(imported, seen)
                else:
                    found.add(top)
    return found


def test_gpu_benchmark_imports_no_tensorflow():
    """The GPU machine has JAX but no TensorFlow: the throughput script and the builders must load there."""
    loaded = module_level_imports("benchmarks.throughput", set())
    assert {"models.rnn", "zoo.spec", "keras"} <= loaded  # the walk follows the real imports
    assert "tensorflow" not in loaded and not any(m.split(".")[0] == "datasets" for m in loaded)
    # The walk does see TensorFlow where it is imported (the tasks import it).
    assert "tensorflow" in module_level_imports("datasets.imdb", set())


def marked(text: str, begin: str, end: str) -> str:
    """What stands between the `begin` and `end` markers of `text`."""
    return text.split(begin)[1].split(end)[0]


def copy_tables(tmp_path):
    """Copies of README.md (short table) and docs/results.md (full table)."""
    readme, docs = tmp_path / "README.md", tmp_path / "results.md"
    shutil.copy(ROOT / "README.md", readme)
    shutil.copy(ROOT / "docs" / "results.md", docs)
    return readme, docs


def test_results_quick_rewrites_only_the_tables(tmp_path):
    readme, docs = copy_tables(tmp_path)
    before, docs_before = readme.read_text(), docs.read_text()
    args = ["--quick", "--rows", "waveforms", "--seeds", "1", "--out-dir", str(tmp_path / "runs")]
    args += ["--results", str(tmp_path / "results.json"), "--readme", str(readme), "--docs", str(docs)]
    out = results.main(args)
    run = out["rows"]["waveforms/gru"]["runs"]["1"]
    assert 0 <= run["accuracy"] <= 1 and run["epochs"] == 1 and run["train_seconds"] > 0
    assert run["settings"]["task"] == "waveforms" and "seed" not in run["settings"]
    assert run["date"] == out["environment"]["date"]  # trained today
    assert run["matmul_gflops"] > 0  # measured before training
    # The full table in docs/results.md ...
    after = docs.read_text()
    table = marked(after, results.BEGIN, results.END)
    assert "--quick: smoke-test sizes" in table and "| waveforms | `gru` | 1 | " in table
    assert (
        f"matmul peak before training: {run['matmul_gflops']:.0f} GFLOP/s (1 of 1 runs recorded it: waveforms)"
        in table
    )
    assert after.split(results.BEGIN)[0] == docs_before.split(results.BEGIN)[0]
    assert after.split(results.END)[1] == docs_before.split(results.END)[1]
    # ... and the best model of each task in the README: here one task, one row.
    short = marked(readme.read_text(), results.SHORT_BEGIN, results.SHORT_END)
    assert "--quick: smoke-test sizes" in short
    assert [line.split(" | ")[:2] for line in short.splitlines() if line.startswith("| waveforms")] == [
        ["| waveforms", "`gru`"]
    ]
    assert f"| {run['accuracy']:.4f} test accuracy |" in short  # one seed: no mean, no range
    assert readme.read_text().split(results.SHORT_BEGIN)[0] == before.split(results.SHORT_BEGIN)[0]
    assert readme.read_text().split(results.SHORT_END)[1] == before.split(results.SHORT_END)[1]
    assert json.loads((tmp_path / "results.json").read_text())["environment"]["quick"] is True

    # --evaluate-only: the same run evaluated again, not retrained ...
    args += ["--evaluate-only"]
    model_file = tmp_path / "runs" / "waveforms" / "gru-seed1" / "model.keras"
    trained_at = model_file.stat().st_mtime_ns
    again = results.main(args)["rows"]["waveforms/gru"]["runs"]["1"]
    assert model_file.stat().st_mtime_ns == trained_at
    assert again["train_seconds"] == run["train_seconds"] and again["accuracy"] == run["accuracy"]
    assert again["matmul_gflops"] == run["matmul_gflops"]  # the speed of the day it was trained
    # ... and refused for a run trained with other settings than today's defaults.
    config_file = model_file.parent / "config.json"
    saved = json.loads(config_file.read_text())
    saved["config"]["units"] = 5
    config_file.write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match="other settings than today's defaults \\(units\\)"):
        results.main(args)
    # A model trained again since (by hand): its peak was not measured, so none is credited to it.
    config_file.write_text(json.dumps(saved | {"config": saved["config"] | {"units": 4}}))
    os.utime(model_file, ns=(trained_at, trained_at + 1))
    assert "matmul_gflops" not in results.main(args)["rows"]["waveforms/gru"]["runs"]["1"]


def test_results_render_only_writes_the_committed_tables(tmp_path):
    """--render-only trains nothing and writes both tables from results.json: the committed ones."""
    readme, docs = copy_tables(tmp_path)
    saved = tmp_path / "results.json"
    shutil.copy(ROOT / "benchmarks" / "results.json", saved)
    readme.write_text(
        results.replace_between(readme.read_text(), "old", results.SHORT_BEGIN, results.SHORT_END)
    )
    docs.write_text(results.replace_between(docs.read_text(), "old", results.BEGIN, results.END))
    args = ["--render-only", "--results", str(saved), "--readme", str(readme), "--docs", str(docs)]
    results.main(args + ["--out-dir", str(tmp_path / "runs")])
    assert readme.read_text() == (ROOT / "README.md").read_text()
    assert docs.read_text() == (ROOT / "docs" / "results.md").read_text()
    assert saved.read_text() == (ROOT / "benchmarks" / "results.json").read_text()
    assert not (tmp_path / "runs").exists()
    # The README holds the short table only, docs/results.md the full one.
    short = marked(readme.read_text(), results.SHORT_BEGIN, results.SHORT_END)
    assert [line.split(" | ")[0] for line in short.splitlines() if line.startswith("| ")][2:] == [
        "| imdb",
        "| shakespeare",
        "| timeseries",
        "| waveforms",
    ]
    assert results.BEGIN not in readme.read_text() and results.SHORT_BEGIN not in docs.read_text()
    with pytest.raises(SystemExit):
        results.main(args + ["--quick"])  # runs nothing, so it has no sizes to choose


def test_results_writes_neither_table_when_a_file_lacks_its_markers(tmp_path):
    readme, docs = copy_tables(tmp_path)
    docs.write_text("no table here\n")
    before = readme.read_text()
    fake = {"environment": ENV, "rows": {"waveforms/gru": ROW | {"runs": {"1": RUN}}}}
    with pytest.raises(ValueError, match="has no <!-- results:begin --> ... <!-- results:end --> markers"):
        results.write_tables(fake, readme, docs)
    assert readme.read_text() == before and docs.read_text() == "no table here\n"


ENV = {"date": "2026-11-28", "cores": 2, "cpu": "CPU", "python": "3", "tensorflow": "2", "keras": "3"}
ROW = {"task": "waveforms", "model": "gru", "target": "t"}
RUN = {"accuracy": 0.9, "epochs": 1, "train_seconds": 1.0}


def test_results_short_table_gives_the_best_model_of_each_task():
    """Best by the mean over seeds (not the best single seed); higher accuracy, lower loss and MSE."""

    def row(task, model, runs):
        return {"task": task, "model": model, "target": "t", "runs": dict(enumerate(runs, 1))}

    def series(mse):
        return {"model_mse": mse, "mse_vs_linear": mse / 0.006, "epochs": 1, "train_seconds": 1.0}

    def chars(loss):
        return {"best_val_loss": loss, "epochs": 1, "train_seconds": 2.0}

    rows = [
        # gru has the best single seed (0.95), bidirectional-gru the best mean (0.90 > 0.85).
        row("imdb", "gru", [RUN | {"accuracy": 0.95}, RUN | {"accuracy": 0.75}]),
        row(
            "imdb",
            "bidirectional-gru",
            [RUN | {"accuracy": 0.90, "train_seconds": 3.4}, RUN | {"accuracy": 0.90}],
        ),
        row("timeseries", "lstm", [series(0.004)]),
        row("timeseries", "gru", [series(0.003)]),
        row("timeseries", "simplernn", [series(0.005)]),
        row("shakespeare", "gru", [chars(1.40)]),
        row("shakespeare", "stacked-gru", [chars(1.50)]),
    ]
    fake = {"environment": ENV, "rows": {f"{r['task']}/{r['model']}": r for r in rows}}
    assert [(r["task"], r["model"]) for r in results.best_rows(fake)] == [
        ("imdb", "bidirectional-gru"),
        ("shakespeare", "gru"),
        ("timeseries", "gru"),
    ]
    table = results.render_short(fake).splitlines()
    assert table[0].startswith("Measured 2026-11-28, 2 CPU cores") and "best model of each task" in table[0]
    assert table[4:] == [
        "| imdb | `bidirectional-gru` | 0.9000 test accuracy (mean of 2 seeds, 0.9000-0.9000) | 1-3 | t |",
        "| shakespeare | `gru` | 1.400 nats/char validation | 2 | t |",
        "| timeseries | `gru` | MSE 0.00300, 0.50x the linear baseline's | 1 | t |",
    ]


def test_results_adds_seeds_only_to_runs_with_the_same_settings():
    a, b = {"units": 64}, {"units": 32}
    previous = {
        "1": {"accuracy": 0.1, "settings": a},
        "2": {"accuracy": 0.2, "settings": b},
        "4": {"accuracy": 0.4},
    }
    fresh = {"3": {"accuracy": 0.3, "settings": a}, "2": {"accuracy": 0.22, "settings": a}}
    merged = results.merge_runs(previous, fresh)
    # Seed 1 (same settings) stays; seed 2 is the fresh one; seed 4 (no settings recorded) goes.
    assert list(merged) == ["1", "2", "3"]
    assert [r["accuracy"] for r in merged.values()] == [0.1, 0.22, 0.3]


def test_results_table_dates_span_its_runs():
    """Rows measured on different days: the table's header gives the first and the last."""
    env = {"date": "2026-11-28", "cores": 2, "cpu": "CPU", "python": "3", "tensorflow": "2", "keras": "3"}
    row = {"task": "waveforms", "model": "gru", "target": "t"}
    run = {"accuracy": 0.9, "epochs": 1, "train_seconds": 1.0}
    fake = {
        "environment": env,
        "rows": {
            "waveforms/gru": row
            | {"runs": {"1": run | {"date": "2026-11-27"}, "2": run | {"date": "2026-11-26"}}}
        },
    }
    assert results.render(fake).startswith("Measured 2026-11-26 to 2026-11-27, 2 CPU cores")
    # Rows scored by accuracy give their spread over the seeds, on the last seed's line ...
    fake["rows"]["waveforms/gru"]["runs"]["2"]["accuracy"] = 0.8
    table = results.render(fake)
    assert "| 2 | 0.8000 test accuracy; mean 0.8500, min 0.8000, max 0.9000 over 2 seeds |" in table
    assert "| 1 | 0.9000 test accuracy |" in table
    # ... rows scored otherwise do not.
    losses = {"model_mse": 0.003, "naive_mse": 0.02, "linear_mse": 0.006, "mse_vs_linear": 0.5}
    series = {"epochs": 1, "train_seconds": 1.0} | losses
    fake["rows"]["timeseries/gru"] = {"task": "timeseries", "model": "gru", "target": "t"} | {
        "runs": {"1": series, "2": series}
    }
    assert results.render(fake).count("over 2 seeds") == 1
    fake["rows"]["waveforms/gru"]["runs"] = {"1": run}  # no date recorded: the file's date
    assert results.render(fake).startswith("Measured 2026-11-28, 2 CPU cores")
    assert "matmul peak" not in results.render(fake)  # no run recorded one


def test_results_table_gives_the_machine_speed_its_runs_saw():
    env = {"date": "2026-11-28", "cores": 2, "cpu": "CPU", "python": "3", "tensorflow": "2", "keras": "3"}
    run = {"accuracy": 0.9, "epochs": 1, "train_seconds": 1.0}
    runs = {"1": run | {"matmul_gflops": 251.2}, "2": run | {"matmul_gflops": 141.6}, "3": run}
    fake = {
        "environment": env,
        "rows": {"waveforms/gru": {"task": "waveforms", "model": "gru", "target": "t", "runs": runs}},
    }
    first = results.render(fake).splitlines()[0]
    assert (
        "; float32 matmul peak before training: 142-251 GFLOP/s (2 of 3 runs recorded it: waveforms), by"
        in first
    )


def test_cpu_model_tells_generations_apart(tmp_path):
    """A VM that names only "AMD EPYC" still shows its family, model and widest vector unit."""
    info = tmp_path / "cpuinfo"
    first = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: sse avx avx2 fma\n"
    info.write_text(first + "\nprocessor\t: 1\ncpu family\t: 26\nflags\t\t: avx512f\n")
    assert environment.cpu_model(str(info)) == "AMD EPYC, family 25 model 1, AVX2"  # the first processor's
    info.write_text(first.replace("avx2", "avx2 avx512f avx512dq"))
    assert environment.cpu_model(str(info)) == "AMD EPYC, family 25 model 1, AVX-512"


def test_results_refuses_a_model_in_none_of_the_rows(capsys):
    with pytest.raises(SystemExit) as exit_info:
        results.main(["--rows", "imdb-simplernn", "--models", "gru"])
    assert exit_info.value.code == 2
    assert "--models ['gru'] are in none of the rows imdb-simplernn" in capsys.readouterr().err


def test_throughput_refuses_unknown_cells(capsys):
    with pytest.raises(SystemExit):
        throughput.main(["--quick", "--cells", "lstm,transformer"])
    assert "--cells must name some of simplernn, lstm, gru, got 'lstm,transformer'" in capsys.readouterr().err


def test_every_table_has_the_same_header():
    from benchmarks import distribute
    from benchmarks.environment import describe, header

    env = describe()
    assert env["cpu"] and env["cores"] >= 1 and env["keras"] and env["tensorflow"]
    line = header(env)
    assert line.startswith(env["date"]) and f"Keras {env['keras']}" in line
    assert "torch" in env and "torch" not in describe(torch=False)  # for runs without PyTorch
    fake = {
        "environment": env,
        "settings": dict(model="lstm", units=4, timed_steps=5),
        "rows": [
            {"label": label, "batch": batch, "ms_per_step": ms}
            for batch, times in ((8, (10.0, 12.0, 30.0)), (64, (20.0, 40.0, 44.0)))
            for label, ms in zip(("one device", "1 worker", "2 workers"), times)
        ],
    }
    table = distribute.format_table(fake).splitlines()
    assert table[0].startswith(line)
    assert table[-2:] == [
        "| 8 | 10.0 ms | 12.0 ms | 30.0 ms | 2.5x |",
        "| 64 | 20.0 ms | 40.0 ms | 44.0 ms | 1.1x |",
    ]


@pytest.mark.large  # 75 s of worker processes; tests/test_distribute.py covers the training itself
def test_distribute_writes_its_readme_table(tmp_path):
    """Real processes at tiny sizes: one device, one worker, two workers over loopback."""
    from benchmarks import distribute

    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- distribute:begin -->\nold\n<!-- distribute:end -->\nafter\n")
    result = distribute.main(["--quick", "--batch-sizes", "8", "--readme", str(readme)])
    assert [(r["label"], r["batch"]) for r in result["rows"]] == [
        ("one device", 8),
        ("1 worker", 8),
        ("2 workers", 8),
    ]
    assert all(0 < r["ms_per_step"] < 10_000 for r in result["rows"])
    text = readme.read_text()
    assert "old" not in text and text.startswith("before\n") and text.endswith("after\n")
    assert "--quick: smoke-test sizes" in text and "\n| 8 | " in text


def test_distribute_refuses_bad_batch_sizes(capsys):
    from benchmarks import distribute

    for sizes in ("64,1", "64,33", "x"):
        with pytest.raises(SystemExit):
            distribute.main(["--quick", "--batch-sizes", sizes])
        assert f"--batch-sizes must be even integers of at least 2, got '{sizes}'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        distribute.main(["--quick", "--batch-size", "128"])  # the flag before --batch-sizes
    assert "unrecognized arguments: --batch-size 128" in capsys.readouterr().err


def test_export_tables_give_each_refusal_once_and_write_between_their_markers(tmp_path):
    from benchmarks import export_formats, serving

    env = environment.describe(torch=False)
    refused = "TensorFlow ops that LiteRT has no built-in for: StringLower"
    rows = [
        {"task": "imdb", "model": m, "saved_model_bytes": 2e7, "saved_model_ms": 10.0, "litert": refused}
        | {"onnx": "runs", "onnx_bytes": 1.5e7, "onnx_ms": 5.0, "onnx_max_difference": 3e-8}
        for m in ("gru", "lstm")
    ]
    table = export_formats.format_table({"environment": env, "calls": 50, "rows": rows}).splitlines()
    assert table[0].startswith(environment.header(env)) and "median of 50 calls" in table[0]
    assert table[4] == "| imdb | `gru` | 20.00 MB | 10.00 | refused¹ | |  | 15.00 MB | 5.00 | 3e-08 |"
    assert table[-1] == f"¹ {refused}." and sum("¹" in line for line in table) == 3

    page = tmp_path / "export.md"
    page.write_text("intro\n<!-- export-serving:begin -->\nold\n<!-- export-serving:end -->\noutro\n")
    result = {
        "environment": env,
        "run": {"model": "gru", "units": 64, "seq_len": 400},
        "rows": [
            {"path": "SavedModel", "texts_per_request": 256, "requests": 20}
            | {"requests_per_second": 2.0, "p50_ms": 480.0, "p99_ms": 510.0}
        ],
    }
    export_formats.write_table(str(page), serving.format_table(result), serving.MARKERS)
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| SavedModel | 256 | 20 | 2.0 | 512 | 480.0 | 510.0 |" in between(text, "export-serving")
    with pytest.raises(ValueError, match="no <!-- export-formats:begin -->"):
        export_formats.write_table(str(page), "table")


def test_own_data_table_is_written_between_its_markers(tmp_path):
    """benchmarks/own_data.py renders each proof's comparison into a copy of docs/own-data.md."""
    from benchmarks import own_data

    measured = "2026-12-01, 2 CPU cores (x), Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1"
    errors = {f"{k}_mse": v for k, v in (("model", 0.003), ("naive", 0.02), ("linear", 0.006))}
    found = {
        "series": {
            "task": "series",
            "against": "timeseries",
            "model": "simplernn",
            "built_in": errors | {"train_seconds": 100.0},
            "own_data": errors | {"model_mase": 0.4, "train_seconds": 110.0},
            "mse_ratio": {"model": 1.0, "naive": 1.0, "linear": 1.0},
            "target": "within 10%",
            "measured": measured,
        },
        "series-memory": {
            "rows": 5_000_000,
            "csv_megabytes": 150.0,
            "peak_resident_gigabytes": 1.5,
            "train_py_seconds": 90.0,
            "measured": measured,
        },
    }
    page = tmp_path / "own-data.md"
    page.write_text(f"before\n{own_data.BEGIN}\nold\n{own_data.END}\nafter\n", encoding="utf-8")
    own_data.write_docs(found, page)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith(f"{own_data.END}\nafter\n") and "old" not in text
    assert f"Measured {measured}, by `python -m benchmarks.own_data`." in text
    assert "| series | timeseries | `simplernn` | MSE model 0.00300, naive 0.02000, linear 0.00600 |" in text
    assert "model 1.000x, naive 1.000x, linear 1.000x | 100 / 110 | within 10% |" in text
    assert "a 5,000,000-row, 4-column CSV (150.0 MB) trains with a peak resident memory of 1.50 GB" in text
    assert own_data.BEGIN in (ROOT / "docs" / "own-data.md").read_text(encoding="utf-8")


def test_real_series_table_counts_the_model_best_only_on_its_worst_seed():
    from benchmarks import real_series

    env = json.loads((ROOT / "benchmarks" / "real_series.json").read_text())["environment"]
    base = {"series": "co2", "model": "gru", "test_windows": 124, "train_seconds": 10.0}
    base |= {"naive_mae": 0.38, "seasonal_naive_mae": 1.27, "linear_mae": 0.254}
    rows = [base | {"anchor": "linear", "seed": s, "model_mae": m} for s, m in ((1, 0.250), (2, 0.252))]
    rows += [base | {"anchor": "last", "seed": s, "model_mae": m} for s, m in ((1, 0.250), (2, 0.260))]
    lines = real_series.format_table(rows, env).splitlines()
    assert "seeds 1, 2" in lines[0]
    assert (
        lines[-2]
        == "| co2 | `gru` | linear | 124 | 0.251 (0.250-0.252) | 0.380 | 1.270 | 0.254 | the model | 10 |"
    )
    assert lines[-1].endswith(
        "| 0.255 (0.250-0.260) | 0.380 | 1.270 | 0.254 | linear | 10 |"
    )  # one seed lost


def time_to_accuracy_page(path):
    from benchmarks import time_to_accuracy

    path.write_text(
        f"intro\n{time_to_accuracy.BEGIN}\nold\n{time_to_accuracy.END}\noutro\n", encoding="utf-8"
    )
    return path


def test_time_to_accuracy_quick(tmp_path):
    """Real entries at tiny sizes: the JSON, both tables, thresholds not reached shown as such."""
    import importlib.util

    from benchmarks import time_to_accuracy as tta

    page, saved = time_to_accuracy_page(tmp_path / "benchmarks.md"), tmp_path / "tta.json"
    entries = "shakespeare/zoo,shakespeare/hands-on-ml,imdb/pytorch,imdb/bigram"
    args = ["--quick", "--entries", entries, "--docs", str(page), "--results", str(saved)]
    results = tta.main(args + ["--out", str(tmp_path / "runs")])
    assert json.loads(saved.read_text()) == results and results["environment"]["quick"]
    assert not (tmp_path / "runs").exists()  # the zoo's run directories are removed
    assert list(results["tasks"]) == ["imdb", "shakespeare"]
    assert list(results["tasks"]["shakespeare"]) == ["hands-on-ml", "zoo"]  # only those asked for

    for entry in results["tasks"]["shakespeare"].values():
        scores = entry["scores"]
        assert [s["epoch"] for s in scores] == [1, 2] and entry["epochs"] == 2  # --quick: 2 epochs
        assert 0 < scores[0]["seconds"] <= scores[1]["seconds"] == entry["train_seconds"]
        assert [s["batches"] for s in scores] == [2, 4] and not entry["stopped_by_budget"]
        # Tiny models stay near log(66) = 4.19 nats/char: no threshold is reached.
        assert all(3.5 < s["value"] < 5 and 3.5 < s["windows"] < 5 for s in scores)
        assert entry["reached"] == {"1.60": None, "1.50": None}
        assert entry["best"] == min(scores, key=lambda s: s["value"])
    bigram = results["tasks"]["imdb"]["bigram"]
    assert 0.5 <= bigram["best"]["value"] <= 1 and bigram["features"] > 1000
    pytorch = results["tasks"]["imdb"]["pytorch"]
    if importlib.util.find_spec("torch") is None:
        assert pytorch["skipped"] == "torch not installed" and "scores" not in pytorch

    text = page.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith(f"{tta.END}\noutro\n") and "\nold\n" not in text
    table = between(text, "time-to-accuracy")
    assert table.count("--quick: smoke-test sizes, not results") == 2  # one per task
    assert "budget 600 s of training per entry, seed 1" in table
    assert f"`python -m benchmarks.time_to_accuracy {' '.join(args)} --out" in table
    header = next(line for line in table.splitlines() if line.startswith("| entry") and "<= 1.60" in line)
    assert header.split(" | ")[2:4] == ["<= 1.60", "<= 1.50"]
    zoo = next(line for line in table.splitlines() if line.startswith("| `zoo` |") and "stacked-gru" in line)
    assert zoo.split(" | ")[2:4] == ["not reached", "not reached"]  # never 0 s
    if "skipped" in pytorch:
        assert "| `pytorch` |" in table and "skipped: torch not installed" in table
    assert "1.60: not reached by the zoo; 1.50: not reached by the zoo." in table

    # --render-only writes the same tables from the JSON, and runs nothing.
    time_to_accuracy_page(page)
    tta.main(["--render-only", "--docs", str(page), "--results", str(saved), "--out", str(tmp_path / "r")])
    assert page.read_text(encoding="utf-8") == text and not (tmp_path / "r").exists()


def epoch_points(epoch):
    """(batches so far, within the epoch) of each score of a 4-batch epoch scored after every batch."""
    done = 4 * (epoch - 1)
    return [(done + b, True) for b in range(1, 5)] + [(done + 4, False)]


def test_time_to_accuracy_stops_at_the_budget_and_times_the_thresholds():
    import keras
    import numpy as np

    from benchmarks import time_to_accuracy as tta

    # A budget of 0: one batch, then the epoch is cut, scored (the clock paused) and training ends.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    progress = tta.Progress(0.0, lambda m: 0.5)
    x = np.zeros((64, 3), "float32")
    model.fit(x, x[:, :1], batch_size=8, epochs=3, verbose=0, callbacks=[tta.KerasProgress(progress)])
    assert progress.batches == 1 and len(progress.scores) == 1 and progress.scores[0]["cut"]
    assert not progress.clock.since  # stopped when training ended
    # --score-every: scored within the epoch too, after every batch here, and at its end.
    progress = tta.Progress(600.0, lambda m: 0.5, every=1e-9)
    model.fit(x, x[:, :1], batch_size=16, epochs=2, verbose=0, callbacks=[tta.KerasProgress(progress)])
    assert [(s["epoch"], s["batches"], s.get("mid", False)) for s in progress.scores] == [
        (epoch, batches, mid) for epoch in (1, 2) for batches, mid in epoch_points(epoch)
    ]
    assert tta.summarize("imdb", progress.scores)["epochs"] == 2

    def scores(*points):
        return [
            dict(epoch=i + 1, seconds=s, value=v, cut=False, batches=i) for i, (s, v) in enumerate(points)
        ]

    zoo = tta.summarize("imdb", scores((30.0, 0.86), (61.0, 0.895), (90.0, 0.88)))
    assert zoo["reached"] == {
        "0.85": dict(seconds=30.0, epoch=1, cut=False),
        "0.87": dict(seconds=61.0, epoch=2, cut=False),
        "0.89": dict(seconds=61.0, epoch=2, cut=False),
    }
    assert zoo["best"]["value"] == 0.895 and zoo["train_seconds"] == 90.0
    other = tta.summarize("imdb", scores((300.0, 0.84), (600.0, 0.871)))
    assert other["reached"]["0.85"]["seconds"] == 600.0 and other["reached"]["0.89"] is None
    record = dict(date="2026-12-01", budget_s=600.0, seed=1, command="", configuration="c", source="s")
    env = {"date": "2026-12-01", "cores": 2, "cpu": "CPU", "python": "3", "tensorflow": "2", "keras": "3"}
    results = {
        "environment": env,
        "tasks": {
            "imdb": {"keras-io": record | other | {"scores": []}, "zoo": record | zoo | {"scores": []}}
        },
    }
    table = tta.render(results).splitlines()
    assert table[4].startswith(
        "| `keras-io` | c | 600 (epoch 2) | 600 (epoch 2) | not reached | 0.8710 (epoch 2) |"
    )
    assert (
        table[5] == "| `zoo` | c | 30 (epoch 1) | 61 (epoch 2) | 61 (epoch 2) | 0.8950 (epoch 2) | 3 | 90 |"
    )
    assert table[7] == (
        "The zoo against the fastest other entry that reaches each threshold (target: 3x sooner): "
        "0.85: 20.0x sooner than `keras-io` (30 s vs 600 s); 0.87: 9.8x sooner than `keras-io` (61 s vs 600 s); "
        "0.89: the zoo only (61 s)."
    )
    # Scored within an epoch (--score-every): the cell says so, and so does the header.
    mid = scores((45.0, 0.855)) + scores((60.0, 0.86))
    mid[0] |= {"mid": True}
    results["tasks"]["imdb"]["tf-tutorial"] = record | tta.summarize("imdb", mid) | {"score_every_s": 45.0}
    table = tta.render(results).splitlines()
    assert "every 45 s of training within an epoch" in table[0]
    assert table[5].startswith("| `tf-tutorial` | c | 45 (in epoch 1) | not reached | not reached |")
    # Two zoo entries: each threshold takes the sooner one, named.
    quick = tta.summarize("imdb", scores((15.0, 0.87), (40.0, 0.88)))
    results["tasks"]["imdb"]["zoo-gru"] = record | quick | {"scores": []}
    assert tta.render(results).splitlines()[-1] == (
        "The zoo against the fastest other entry that reaches each threshold (target: 3x sooner): "
        "0.85: 3.0x sooner than `tf-tutorial` (`zoo-gru`, 15 s vs 45 s); "
        "0.87: 40.0x sooner than `keras-io` (`zoo-gru`, 15 s vs 600 s); 0.89: the zoo only (`zoo`, 61 s)."
    )


def test_time_to_accuracy_refuses_unknown_entries_and_missing_results(tmp_path, capsys):
    from benchmarks import time_to_accuracy as tta

    for args, message in (
        (["--entries", "imdb/hands-on-ml"], "--entries must name some of keras-io,"),
        (["--tasks", "timeseries"], "--tasks must name some of imdb, shakespeare, got 'timeseries'"),
        (["--budget", "0"], "--budget must be positive, got 0"),
        (
            ["--tasks", "imdb", "--entries", "hands-on-ml"],
            "--entries hands-on-ml names no entry of --tasks imdb",
        ),
        (["--render-only", "--results", str(tmp_path / "none.json")], "none.json does not exist"),
    ):
        with pytest.raises(SystemExit):
            tta.main(args + ["--docs", str(tmp_path / "page.md")])
        assert message in capsys.readouterr().err


def test_lm_step_cost_prints_a_row_per_head_width(capsys):
    from benchmarks import lm_step_cost

    tiny = ["--seq-len", "3", "--batch-size", "2", "--units", "2", "--batches", "1", "--repeats", "1"]
    lm_step_cost.main(["--predicted-words", "3", "5", "--no-jit-compile", *tiny])
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(r[1].strip(), r[2].strip()) for r in rows] == [("3", "no"), ("5", "no")]
    assert all(float(r[3]) > 0 and float(r[5].replace(",", "")) > 0 for r in rows)
