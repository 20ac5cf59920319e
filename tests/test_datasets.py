"""Loaders: mocked TFDS (no data, no network), the synthetic builder, real-data smoke tests."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

import datasets
from datasets import synthetic, tfds_source
from datasets.timeseries import make_windows
from zoo.config import TrainConfig, resolve


def cfg(task: str, **kwargs):
    """The task's resolved config (defaults, its own settings), then `kwargs`: fields or task settings."""
    config = resolve({"task": task})
    own = {k: v for k, v in kwargs.items() if k in config.task_settings}
    fields = {k: v for k, v in kwargs.items() if k not in own}
    return dataclasses.replace(config, task_settings=config.task_settings | own, **fields)


@pytest.fixture
def mocked_tfds(monkeypatch):
    """tfds.testing.mock_data serves random examples; the builder counts as prepared."""
    monkeypatch.setattr(tfds_source, "is_prepared", lambda builder: True)
    with tfds.testing.mock_data(num_examples=40):
        yield


def test_tasks_declare_their_own_settings():
    """A task's settings are its own flags: none is a general field, and tasks that share one agree on its type."""
    general = {f.name for f in dataclasses.fields(TrainConfig)}
    types = {}
    for task in datasets.TASKS.values():
        for setting in task.settings + task.eval_settings:
            assert setting.name not in general, (task.name, setting.name)
            assert types.setdefault(setting.name, setting.type) is setting.type, setting.name
            if setting.default is not None and not setting.many:
                setting.check(setting.default)
    imdb = {s.name for s in datasets.get_task("imdb").settings}
    assert imdb == {"seq_len", "max_tokens", "pool"}


def test_imdb_loader_with_mock_data(mocked_tfds):
    data = datasets.get_task("imdb").load(
        cfg(task="imdb", seq_len=12, max_tokens=50, batch_size=8, pool="last")
    )
    assert data.spec.pool == "last"  # the head the config asks for
    x, y = next(iter(data.train))
    assert x.shape[0] == 8 and x.shape[1] <= 12 and x.dtype.name == "int64"
    assert data.spec.input.timesteps is None  # batches are as long as their longest review
    assert set(np.unique(y.numpy())) <= {0, 1}
    assert data.spec.input.mask_zero and data.spec.input.vocab_size == len(data.state["vocabulary"])
    assert data.state["vocabulary"][:2] == ["", "[UNK]"]
    # Post-padded: once a zero appears, only zeros follow.
    for row in x.numpy():
        nonzero = np.flatnonzero(row)
        assert nonzero.size == 0 or (row[: nonzero[-1] + 1] != 0).all()


def test_finish_by_length_buckets_training_batches():
    """Training: every sequence once per epoch, batches from one length bucket; others: order kept."""
    import tensorflow as tf

    from datasets.base import BUCKET_WIDTH, finish_by_length

    lengths = np.random.default_rng(0).integers(1, 3 * BUCKET_WIDTH, size=200)
    sequences = [np.arange(1, n + 1) for n in lengths]  # ids 1..n; 0 is padding
    ds = tf.data.Dataset.from_generator(
        lambda: ((s, i) for i, s in enumerate(sequences)),
        output_signature=(tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64)),
    )
    seen = []
    training = finish_by_length(ds, 16, 3 * BUCKET_WIDTH, shuffle=200, seed=1)
    for x, index in training:
        x, index = x.numpy(), index.numpy()
        assert len({n // BUCKET_WIDTH for n in lengths[index]}) == 1  # one bucket per batch
        assert x.shape[1] == lengths[index].max()  # padded to the batch's longest, no further
        for row, i in zip(x, index):
            np.testing.assert_array_equal(row, np.pad(sequences[i], (0, x.shape[1] - lengths[i])))
        seen.extend(index)
    assert sorted(seen) == list(range(200))
    assert int(training.cardinality()) == len(list(training))  # the progress bar's total

    plain = finish_by_length(ds, 16, 3 * BUCKET_WIDTH)
    in_order = [b.numpy() for _, b in plain]
    np.testing.assert_array_equal(np.concatenate(in_order), np.arange(200))
    # Known length (Keras would otherwise warn, after the first validation, that data "ran out").
    assert int(plain.cardinality()) == len(in_order) == 13

    # few_shapes (for XLA): training batches padded to their bucket's end, the rest to max_len.
    few = finish_by_length(ds, 16, 3 * BUCKET_WIDTH, shuffle=200, seed=1, few_shapes=True)
    widths = {x.shape[1] for x, _ in few}
    assert widths == {BUCKET_WIDTH, 2 * BUCKET_WIDTH, 3 * BUCKET_WIDTH}
    assert int(few.cardinality()) == len(list(few))
    fixed = finish_by_length(ds, 16, 3 * BUCKET_WIDTH, few_shapes=True)
    assert {x.shape[1] for x, _ in fixed} == {3 * BUCKET_WIDTH}


@pytest.mark.parametrize("model,pool", [("simplernn", "mean"), ("bidirectional-gru", "max")])
def test_imdb_spec_reads_the_model_default_pool(mocked_tfds, model, pool):
    """The resolved defaults reach the spec the builders read: the SimpleRNN's mean head, the max elsewhere."""
    config = resolve({"model": model, "task": "imdb", "seq_len": 12, "max_tokens": 50})
    assert datasets.get_task("imdb").load(config, splits=("test",)).spec.pool == pool


def test_imdb_vocabulary_round_trip(mocked_tfds):
    task = datasets.get_task("imdb")
    config = cfg(task="imdb", seq_len=6, max_tokens=50)
    data = task.load(config)
    ids = task.encode_texts(config, data.state, ["a b c", "<br /> A, b!"])
    assert ids.shape == (2, 6)
    np.testing.assert_array_equal(ids[1], ids[0] * [1, 1, 0, 0, 0, 0])  # "a b" of "a b c", then padding
    # A text of punctuation only would be all padding, scored NaN by the masked mean.
    with pytest.raises(ValueError, match="'!!! ...' has no words"):
        task.encode_texts(config, data.state, ["fine", "!!! ..."])
    again = task.load(config, state=data.state, splits=("test",))
    assert again.train is None and again.state is data.state


def test_shakespeare_loader_with_mock_data(mocked_tfds):
    data = datasets.get_task("shakespeare").load(cfg(task="shakespeare", seq_len=5, batch_size=2))
    x, y = next(iter(data.train))
    assert x.shape == y.shape == (2, 5)
    # The target is the input shifted by one character.
    assert data.spec.per_step and data.spec.input.vocab_size == len(data.state["chars"]) + 1


def test_make_windows_shifts_by_one():
    series = np.arange(20, dtype=np.float32).reshape(2, 10)
    x, y = make_windows(series, window=4, horizon=2, stride=3)
    assert x.shape == (4, 4, 1) and y.shape == (4, 2)
    np.testing.assert_array_equal(x[1, :, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(y[1], [7, 8])
    np.testing.assert_array_equal(x[2, :, 0], [10, 11, 12, 13])
    with pytest.raises(ValueError, match="exceeds the series length"):
        make_windows(series, window=9, horizon=2)


def test_synthetic_draws_are_seeded():
    a = synthetic.draw_series(np.random.default_rng(1))
    b = synthetic.draw_series(np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    waves = [synthetic.draw_wave(np.random.default_rng(0), k) for k in range(4)]
    assert all(w.shape == (synthetic.WAVE_LENGTH,) for w in waves)
    assert len({w.tobytes() for w in waves}) == 4


def test_synthetic_builder_generates_deterministically(tmp_path, monkeypatch, caplog):
    """Two generations in two directories give identical examples, never in the read dir."""
    copies = []
    for name in ("one", "two"):
        monkeypatch.setenv(tfds_source.GENERATED_DIR_ENV, str(tmp_path / name))
        builder = synthetic.load_builder("waveforms", data_dir=str(tmp_path / "read_only"))
        assert builder.data_dir.startswith(str(tmp_path / name))
        copies.append(tfds.as_numpy(builder.as_dataset(split="test", batch_size=-1)))
    # TFDS warns of "variant folders" with no dataset_info.json where a builder
    # looks in a directory without a copy: not about the data dir the user named.
    assert not [r.getMessage() for r in caplog.records if "read_only" in r.getMessage()]
    # A copy prepared in the data dir is read where it is, not generated again.
    monkeypatch.setenv(tfds_source.GENERATED_DIR_ENV, str(tmp_path / "three"))
    assert synthetic.load_builder("waveforms", data_dir=str(tmp_path / "one")).data_dir.startswith(
        str(tmp_path / "one")
    )
    assert not (tmp_path / "three").exists()
    np.testing.assert_array_equal(copies[0]["signal"], copies[1]["signal"])
    np.testing.assert_array_equal(copies[0]["label"], copies[1]["label"])
    assert copies[0]["signal"].shape == (synthetic.SPLIT_SIZES["waveforms"]["test"], synthetic.WAVE_LENGTH)
    counts = np.bincount(copies[0]["label"], minlength=4)
    assert counts.min() > 0.15 * counts.sum()  # all four classes drawn
    assert not (tmp_path / "read_only").exists()


def test_timeseries_and_waveform_tasks():
    ts = datasets.get_task("timeseries").load(cfg(task="timeseries", window=10, horizon=3, batch_size=5))
    x, y = next(iter(ts.test))
    assert x.shape == (5, 10, 1) and y.shape == (5, 3)
    wave = datasets.get_task("waveforms").load(cfg(task="waveforms", one_hot_labels=True, batch_size=5))
    x, y = next(iter(wave.train))
    assert x.shape == (5, synthetic.WAVE_LENGTH, 1) and y.shape == (5, 4)
    np.testing.assert_array_equal(y.numpy().sum(axis=1), np.ones(5))


def test_missing_dataset_fails_fast_and_clearly(tmp_path):
    start = time.monotonic()
    with pytest.raises(tfds_source.DataNotFoundError) as err:
        datasets.get_task("imdb").load(cfg(task="imdb", data_dir=str(tmp_path)))
    assert time.monotonic() - start < 30
    message = str(err.value)
    for part in (
        "imdb_reviews",
        str(tmp_path),
        "aclImdb_v1.tar.gz",
        "--data-dir",
        "TFDS_DATA_DIR",
        os.path.join(str(tmp_path), "downloads", "manual"),
    ):
        assert part in message


def test_network_probe_answers_quickly_when_closed(monkeypatch):
    monkeypatch.delenv(tfds_source.OFFLINE_ENV, raising=False)
    start = time.monotonic()
    assert not tfds_source.network_reachable("http://127.0.0.1:1/x", timeout=2)  # closed port
    assert time.monotonic() - start < 5


def test_manual_download_path_prepares_in_a_writable_dir(tmp_path, real_data_dir):
    """The original tiny Shakespeare file in the manual dir is enough, offline."""
    manual = tmp_path / "downloads" / "manual"
    manual.mkdir(parents=True)
    os.symlink(os.path.join(real_data_dir, "downloads", "manual", "input.txt"), manual / "input.txt")
    data = datasets.get_task("shakespeare").load(cfg(task="shakespeare", data_dir=str(tmp_path), seq_len=50))
    assert (tmp_path / "tiny_shakespeare" / "1.0.0" / "dataset_info.json").exists()
    assert len(data.state["chars"]) == 65


def test_real_imdb_smoke(real_data_dir):
    data = datasets.get_task("imdb").load(
        cfg(task="imdb", data_dir=real_data_dir, seq_len=50, max_tokens=2000, batch_size=32), splits=("val",)
    )
    x, y = next(iter(data.val))
    assert x.shape == (32, 50) and data.spec.input.vocab_size == 2000  # some review in 32 has 50+ words
    labels = np.concatenate([b.numpy() for _, b in data.val])
    assert len(labels) == 2500 and 0.4 < labels.mean() < 0.6  # balanced validation carve-out
    # Known length, from TFDS (Keras would otherwise warn that validation data "ran out").
    assert int(data.val.cardinality()) == -(-2500 // 32)


def test_real_shakespeare_smoke(real_data_dir):
    data = datasets.get_task("shakespeare").load(cfg(task="shakespeare", data_dir=real_data_dir, seq_len=100))
    assert len(data.state["chars"]) == 65
    x, y = next(iter(data.val.unbatch()))
    np.testing.assert_array_equal(x.numpy()[1:], y.numpy()[:-1])
    text = datasets.shakespeare.decode(data.state, x.numpy())
    assert datasets.shakespeare.encode(data.state, text).tolist() == x.numpy().tolist()


def test_shakespeare_training_windows_shift_every_epoch(real_data_dir):
    """Each epoch cuts the training text at a new offset; windows stay whole and in order."""
    from datasets import shakespeare
    from datasets.tfds_source import load_builder

    config = cfg(task="shakespeare", data_dir=real_data_dir, seq_len=100, batch_size=64, seed=3)
    data = datasets.get_task("shakespeare").load(config, splits=("train",))
    text = shakespeare.split_text(
        load_builder("tiny_shakespeare", real_data_dir, shakespeare.URL, shakespeare.ARCHIVE), "train"
    )
    steps = int(data.train.cardinality())
    assert steps == -(-((len(text) - 100) // 101) // 64)  # known, the same from every offset
    offsets = []
    for _ in range(3):
        batches = list(data.train)
        assert len(batches) == steps
        x, y = batches[0]
        np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
        window = shakespeare.decode(data.state, x.numpy()[0])
        start = text.find(window)
        assert start >= 0 and text.count(window) == 1
        offsets.append(start % 101)
    assert len(set(offsets)) > 1, offsets
