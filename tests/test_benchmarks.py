"""The benchmark scripts run at tiny sizes (their numbers come from full runs, never from tests)."""

from __future__ import annotations

import json
import shutil

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
    after = readme.read_text()
    assert "--quick: smoke-test sizes" in after and "`gru`" in after
    assert after.split(results.BEGIN)[0] == before.split(results.BEGIN)[0]
    assert after.split(results.END)[1] == before.split(results.END)[1]
    assert json.loads((tmp_path / "results.json").read_text())["environment"]["quick"] is True
