"""Test settings: no network, shared real data where present, tiny sizes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "tensorflow_datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDS_DATA_DIR", str(SHARED_DATA))
# Never wait on the network in tests: an unprepared real dataset fails at once.
os.environ["RNN_ZOO_OFFLINE"] = "1"


def pytest_addoption(parser):
    parser.addoption(
        "--run-large", action="store_true", help="also run the tests marked large (benchmark smoke runs)"
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked `large` (keras-hub's convention) run only with --run-large: they keep CI short."""
    if config.getoption("--run-large"):
        return
    skip = pytest.mark.skip(reason="large: run with python -m pytest --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def generated_dir(tmp_path_factory):
    """Synthetic TFDS data is generated once per session into a temporary dir."""
    path = tmp_path_factory.mktemp("generated_tfds")
    os.environ["RNN_ZOO_GENERATED_DIR"] = str(path)
    return path


@pytest.fixture
def real_data_dir():
    """The prepared TFDS dir beside the checkout; skips where it is absent."""
    data_dir = Path(os.environ["TFDS_DATA_DIR"])
    if not (data_dir / "imdb_reviews").is_dir():
        pytest.skip(f"no prepared real data in {data_dir}")
    return str(data_dir)
