"""The benchmark scripts run at tiny sizes (their numbers come from full runs, never from tests)."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import results, throughput
from tests.conftest import ROOT


def test_throughput_quick(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    result = throughput.main(["--quick", "--readme", str(readme)])
    assert "| lstm |" in readme.read_text().split("<!-- throughput:begin -->")[1]
    assert result["matmul_peak_gflops"] > 0
    assert [r["cell"] for r in result["rows"]] == ["simplernn", "lstm", "gru"]
    for row in result["rows"]:
        assert row["zoo"] > 0 and row["zoo_no_xla"] > 0 and row["keras_default"] > 0
        assert row["speedup"] == row["zoo"] / row["keras_default"]
    # FLOPs per sample: 3 x steps x 2 x gates x (embed + units) x units.
    assert throughput.train_flops_per_sample("lstm", 200, 64, 64) == 3 * 200 * 2 * 4 * 128 * 64


def test_results_quick_rewrites_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    before = readme.read_text()
    out = results.main(
        [
            "--quick",
            "--rows",
            "waveforms",
            "--out-dir",
            str(tmp_path / "runs"),
            "--results",
            str(tmp_path / "results.json"),
            "--readme",
            str(readme),
        ]
    )
    run = out["rows"]["waveforms/gru"]["runs"]["1"]
    assert 0 <= run["accuracy"] <= 1 and run["epochs"] == 1 and run["train_seconds"] > 0
    assert run["settings"]["task"] == "waveforms" and "seed" not in run["settings"]
    after = readme.read_text()
    assert "--quick: smoke-test sizes" in after and "`gru`" in after
    assert after.split(results.BEGIN)[0] == before.split(results.BEGIN)[0]
    assert after.split(results.END)[1] == before.split(results.END)[1]
    assert json.loads((tmp_path / "results.json").read_text())["environment"]["quick"] is True


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


def test_results_refuses_a_model_in_none_of_the_rows(capsys):
    with pytest.raises(SystemExit) as exit_info:
        results.main(["--rows", "imdb-simplernn", "--models", "gru"])
    assert exit_info.value.code == 2
    assert "--models ['gru'] are in none of the rows imdb-simplernn" in capsys.readouterr().err
