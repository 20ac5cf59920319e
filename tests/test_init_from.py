"""`imdb-lm` (the pretraining task) and `train.py --init-from RUN`, on mocked TFDS data at tiny sizes."""

from __future__ import annotations

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import datasets
from datasets import tfds_source
from datasets.imdb_lm import UNKNOWN, targets
from zoo import config as config_lib
from zoo import init_from, rundir, training

TINY = dict(units=4, embedding_dim=8, batch_size=4, max_tokens=60, seq_len=6, epochs=1, steps_per_epoch=2)


@pytest.fixture(scope="module")
def mocked_tfds():
    """tfds.testing.mock_data serves random reviews (every split, unsupervised too); the builder counts as prepared."""
    with pytest.MonkeyPatch.context() as patch, tfds.testing.mock_data(num_examples=24):
        patch.setattr(tfds_source, "is_prepared", lambda builder: True)
        yield


@pytest.fixture(scope="module")
def lm_run(mocked_tfds, tmp_path_factory):
    """A finished tiny imdb-lm run (a GRU), shared by the tests: copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("pretrained") / "lm"
    return training.train(resolve("imdb-lm", "gru", run_dir, predicted_words=10))


def resolve(task, model, run_dir, **flags):
    return config_lib.resolve(dict(task=task, model=model, run_dir=str(run_dir)) | TINY | flags)


class WeightsAtStart(keras.callbacks.Callback):
    """Keeps every layer's weights as training begins (after --init-from, before any step)."""

    def on_train_begin(self, logs=None):
        self.weights = {layer.name: layer.get_weights() for layer in self.model.layers if layer.weights}


def test_imdb_lm_windows_predict_the_next_word_and_train(mocked_tfds):
    config = config_lib.resolve(dict(task="imdb-lm", model="gru", predicted_words=10) | TINY)
    task = datasets.get_task("imdb-lm")
    data = task.load(config)
    assert data.state["vocabulary"][:2] == ["", "[UNK]"]  # imdb's form
    assert data.spec.output_units == 10 and data.spec.input.vocab_size == len(data.state["vocabulary"])
    for split in (data.train, data.val):
        x, y = next(iter(split))
        assert x.shape == y.shape == (4, 6)
        # y is x shifted by one word, words past the 10 most frequent as one class.
        np.testing.assert_array_equal(y.numpy()[:, :-1], targets(x[:, 1:], 10).numpy())
        assert y.numpy().max() < 10
    assert targets(np.array([0, 3, 9, 10, 59]), 10).numpy().tolist() == [0, 3, 9, UNKNOWN, UNKNOWN]
    model = training.build_model(config, data.spec)
    assert model.output_shape == (None, None, 10)
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)


def test_init_from_copies_the_matching_layers_before_training(lm_run, tmp_path, capsys):
    source = lm_run
    lm = rundir.load_model(os.path.join(source, "model.keras"))
    start = WeightsAtStart()
    run = training.train(
        resolve("imdb", "gru", tmp_path / "imdb", init_from=source), extra_callbacks=(start,)
    )
    out = capsys.readouterr().out
    assert f"Initialised from {source}: copied embedding, gru_0; not copied (fresh weights): head" in out
    for name in ("embedding", "gru_0"):
        for mine, theirs in zip(start.weights[name], lm.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    # The classifier reads the pretraining run's vocabulary, and says where it started.
    assert rundir.read_json(os.path.join(run, "task_state.json")) == rundir.read_json(
        os.path.join(source, "task_state.json")
    )
    assert json.loads(open(os.path.join(run, "config.json")).read())["config"]["init_from"] == source


def test_init_from_reports_what_does_not_match(lm_run, tmp_path):
    source = init_from.open_source(lm_run)
    config = resolve("imdb", "bidirectional-gru", tmp_path)
    spec = datasets.get_task("imdb").spec(
        config, datasets.get_task("imdb").adopt_state(config, source.config, source.state)
    )
    report = init_from.initialise(training.build_model(config, spec), source)
    assert report == (
        f"Initialised from {lm_run}: copied embedding; not copied (fresh weights): "
        "bidirectional_0 (RUN has no layer of that name), "
        "head (weights [(8, 1), (1,)] here, [(4, 10), (10,)] in RUN)."
    )


def test_init_from_refuses_a_run_it_cannot_start_from(lm_run, tmp_path):
    source = str(shutil.copytree(lm_run, tmp_path / "lm"))
    with pytest.raises(ValueError, match="no layer of this gru matches a layer of RUN's gru"):
        training.train(resolve("imdb", "gru", tmp_path / "wide", init_from=source, units=5, embedding_dim=9))
    with pytest.raises(ValueError, match="is this run's own directory"):
        training.train(resolve("imdb", "gru", source, init_from=source), overwrite=True)
    assert rundir.load_finished(source, "start from")  # --overwrite removed nothing
    with pytest.raises(rundir.RunError, match="--init-from: run directory .* does not exist"):
        training.train(resolve("imdb", "gru", tmp_path / "a", init_from=str(tmp_path / "nowhere")))
    saved = json.loads(open(os.path.join(source, "config.json")).read())
    rundir.write_json(os.path.join(source, "config.json"), saved | {"finished": False})
    with pytest.raises(rundir.RunError, match="--init-from: .* holds an unfinished run"):
        training.train(resolve("imdb", "gru", tmp_path / "b", init_from=source))
    imdb, series = resolve("imdb", "gru", tmp_path), config_lib.resolve({"task": "timeseries"})
    with pytest.raises(
        ValueError, match="task 'imdb' starts from an imdb or imdb-lm run, not a 'timeseries'"
    ):
        datasets.get_task("imdb").adopt_state(imdb, series, {})
    with pytest.raises(ValueError, match="task 'timeseries' cannot start from a run of task 'imdb'"):
        datasets.get_task("timeseries").adopt_state(series, imdb, {})


def test_a_resumed_run_does_not_copy_again(lm_run, tmp_path):
    from tests.test_robustness import Interrupt, InterruptAt

    source = str(shutil.copytree(lm_run, tmp_path / "lm"))
    config = resolve("imdb", "gru", tmp_path / "imdb", init_from=source, epochs=2, checkpoint_every=1)
    with pytest.raises(Interrupt):
        training.train(config, extra_callbacks=(InterruptAt(epoch=1, batch=1),))
    shutil.rmtree(source)  # a resume that read RUN again would fail here
    training.train(config)
    checkpoint = rundir.load_model(os.path.join(tmp_path / "imdb", "model.keras"))
    assert int(checkpoint.optimizer.iterations) == 4  # 2 epochs of 2 steps, each trained once
