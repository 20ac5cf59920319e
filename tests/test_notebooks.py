"""The course in notebooks/: each executes top to bottom in quick mode, and its .ipynb matches its .py source."""

from __future__ import annotations

import os
import time

import jupytext
import nbclient
import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
LIMIT_S = 90  # each notebook, quick mode, on 2 CPU cores


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_matches_its_source(source):
    """The committed .ipynb (no outputs) is the .py source, cell for cell: `jupytext --sync` keeps them so."""
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run jupytext --sync {source.relative_to(ROOT)}"
    ours, theirs = jupytext.read(source), jupytext.read(paired)
    assert [(c.cell_type, c.source) for c in ours.cells] == [(c.cell_type, c.source) for c in theirs.cells]
    assert not any(c.get("outputs") for c in theirs.cells), f"{paired.name} holds outputs"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_in_quick_mode(source, monkeypatch, tmp_path):
    """Every cell, top to bottom, with RNN_ZOO_QUICK=1; a failing cell fails the test."""
    monkeypatch.setenv("RNN_ZOO_QUICK", "1")
    monkeypatch.setenv("RNN_ZOO_NOTEBOOK_RUNS", str(tmp_path))  # where the notebooks train
    notebook = jupytext.read(source)
    start = time.monotonic()
    nbclient.NotebookClient(
        notebook, timeout=LIMIT_S, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    ).execute()
    seconds = time.monotonic() - start
    assert seconds < LIMIT_S, f"{source.name} took {seconds:.0f} s in quick mode"
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert os.environ["RNN_ZOO_QUICK"] == "1"
