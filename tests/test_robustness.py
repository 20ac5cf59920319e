"""Never lose a run: a kill, a kill during a save, NaN, corrupt files, bad input, determinism.

Real processes where it matters (SIGKILL, the first line a user sees); the
rest in-process. Tiny sizes throughout (about a minute on 2 cores).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.cli_helpers import mid_epoch_checkpoint_seen, one_line_error, run_evaluate, run_train
from tests.conftest import ROOT
from zoo import cli, files, rundir

# Enough batches per epoch to kill one in the middle: timeseries has 28,000
# training windows.
STEPS = 100
KILL_ARGS = [
    "--task", "timeseries", "--model", "simplernn", "--units", "4", "--epochs", "3",
    "--steps-per-epoch", str(STEPS), "--checkpoint-every", "10",
]  # fmt: skip
TINY = ["--task", "timeseries", "--model", "gru", "--units", "4", "--epochs", "2", "--steps-per-epoch", "3"]


def env():
    # CI=1: one line per epoch instead of progress bars.
    return os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "CI": "1", "PYTHONUNBUFFERED": "1"}


def history(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def saved_config(run_dir) -> dict:
    return json.loads(Path(run_dir, "config.json").read_text())


def all_variables(model) -> list[np.ndarray]:
    """Weights, then optimizer state (iterations, learning rate, moments)."""
    return model.get_weights() + [np.asarray(v) for v in model.optimizer.variables]


# --- Kill -9 and resume ---------------------------------------------------------


def test_kill_during_training_then_the_same_command_resumes(tmp_path):
    run_dir = str(tmp_path / "killed")
    command = [sys.executable, "train.py", *KILL_ARGS, "--run-dir", run_dir]
    metadata = Path(run_dir, "backup", "training_metadata.json")
    log = open(tmp_path / "killed.log", "w")  # a file, not a pipe: a full pipe would block the child
    proc = subprocess.Popen(command, cwd=ROOT, env=env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:  # kill in the middle of epoch 2, after a mid-epoch checkpoint
        if mid_epoch_checkpoint_seen(metadata):
            break
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"training ended before the kill: {(tmp_path / 'killed.log').read_text()[-2000:]}")
        assert time.monotonic() < deadline, "no mid-epoch checkpoint within 180 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert proc.returncode == -signal.SIGKILL
    checkpoint = json.loads(metadata.read_text())  # what the resume starts from
    assert not saved_config(run_dir)["finished"]

    resumed = subprocess.run(
        command, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    # As the user sees it, stdout and stderr together: the resume comes first
    # (TensorFlow's start-up lines are hidden).
    lines = resumed.stdout.splitlines()
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    epoch = checkpoint["epoch"] + 1
    assert lines[0].startswith(f"Resuming the unfinished run in {run_dir} from its last checkpoint"), lines[
        :3
    ]
    assert f"epoch {epoch} of 3, after batch {checkpoint['batches_done']}" in lines[0], lines[0]
    assert [int(r["epoch"]) for r in history(run_dir)] == [1, 2, 3]
    assert saved_config(run_dir)["finished"]
    assert not Path(run_dir, "backup").exists()
    # The optimizer state came back, and the resumed run trained only the
    # batches the checkpoint had not seen: Adam counted every batch once.
    model = rundir.load_model(os.path.join(run_dir, "model.keras"))
    assert int(model.optimizer.iterations) == 3 * STEPS

    # The same command, never interrupted (in this process: same seed, same data).
    straight = str(tmp_path / "straight")
    assert run_train(*KILL_ARGS, "--run-dir", straight) == 0
    assert int(rundir.load_model(os.path.join(straight, "model.keras")).optimizer.iterations) == 3 * STEPS
    first, last = float(history(straight)[0]["val_loss"]), float(history(straight)[-1]["val_loss"])
    resumed_last = float(history(run_dir)[-1]["val_loss"])
    assert resumed_last < first  # it kept learning after the resume
    assert abs(resumed_last - last) < 0.2 * last, (resumed_last, last)


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Raises `Interrupt` after batch `batch` (1-based) of epoch `epoch` (0-based): a kill, in-process."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch + 1) == self.at:
            raise Interrupt


@pytest.mark.parametrize(
    "sizes",
    [dict(batch_size=1024), dict(steps_per_epoch=20)],
    ids=["epochs-over-the-data", "steps-per-epoch-stream"],
)
def test_a_run_killed_mid_epoch_resumes_on_the_batches_it_had_not_seen(sizes, tmp_path):
    """Killed 2 batches after a mid-epoch checkpoint, resumed: the weights of the run never killed."""
    from zoo import config as config_lib
    from zoo import training

    def config(run_dir):
        settings = dict(task="timeseries", model="simplernn", units=4, epochs=3, checkpoint_every=5)
        return config_lib.resolve(settings | sizes | {"run_dir": str(run_dir)})

    straight = training.train(config(tmp_path / "straight"))
    killed = tmp_path / "killed"
    with pytest.raises(Interrupt):
        training.train(config(killed), extra_callbacks=(InterruptAt(epoch=1, batch=12),))
    checkpoint = json.loads(Path(killed, "backup", "training_metadata.json").read_text())
    assert (checkpoint["epoch"], checkpoint["batches_done"]) == (1, 10)

    batches = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    training.train(config(killed), extra_callbacks=(counter,))
    per_epoch = 28 if "batch_size" in sizes else 20  # 28,000 training windows at batch 1024
    assert len(batches) == (per_epoch - 10) + per_epoch  # the rest of epoch 2, then epoch 3
    assert [int(r["epoch"]) for r in history(killed)] == [1, 2, 3]
    models_ = [rundir.load_model(os.path.join(d, "model.keras")) for d in (straight, killed)]
    assert [int(m.optimizer.iterations) for m in models_] == [3 * per_epoch] * 2
    a, b = (all_variables(m) for m in models_)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


class Scripted(keras.callbacks.Callback):
    """Sets val_loss from a script (before early stopping reads it), records weights, interrupts."""

    def __init__(self, val_losses, interrupt_at=None):
        super().__init__()
        self.val_losses, self.interrupt_at, self.weights, self.epochs = val_losses, interrupt_at, {}, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.interrupt_at:
            raise Interrupt

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.val_losses[epoch]
        self.weights[epoch] = self.model.get_weights()
        self.epochs.append(epoch)


def fit_resumed(model, x, y, epochs, checkpoint, callbacks):
    """Trains as zoo/training.py does: the fits `resume_segments` plans from the checkpoint (batches of 8)."""
    from zoo.checkpoint import resume_segments

    def load_train():
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)

    for segment in resume_segments(load_train, checkpoint.point, epochs, None):
        model.fit(
            segment.train,
            initial_epoch=segment.initial_epoch,
            epochs=segment.epochs,
            steps_per_epoch=segment.steps_per_epoch,
            callbacks=callbacks,
            verbose=0,
        )
        if model.stop_training:
            break


def test_a_resumed_run_stops_early_and_keeps_the_best_weights_as_if_never_interrupted(tmp_path):
    from zoo.checkpoint import EarlyStopping, RunCheckpoint

    x, y = np.random.default_rng(0).normal(size=(2, 32, 3)).astype("float32")
    val_losses = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8]  # best at epoch 2 (index 1); patience 2 ends it at epoch 4

    def fit(interrupt_at=None):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        model.compile("adam", "mse", jit_compile=False)
        early = EarlyStopping(patience=2)
        script = Scripted(val_losses, interrupt_at)
        checkpoint = RunCheckpoint(str(tmp_path), early_stopping=early)
        callbacks = [script, early, checkpoint]
        try:
            fit_resumed(model, x, y, 6, checkpoint, callbacks)
            early.restore_best(model)
        except Interrupt:
            pass
        return model, script

    _, first = fit(interrupt_at=3)  # killed after 3 epochs
    assert first.epochs == [0, 1, 2]
    model, resumed = fit()
    assert resumed.epochs == [3]  # patience ran out, counting the epochs before the kill
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), first.weights[1]))
    # Killed after early stopping, before model.keras was saved: nothing left to train.
    model, again = fit()
    assert again.epochs == []
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), first.weights[1]))


class RatesSeen(keras.callbacks.Callback):
    """Records the optimizer's learning rate at each epoch's first batch."""

    def __init__(self):
        super().__init__()
        self.rates = {}

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.rates[len(self.rates)] = float(np.asarray(self.model.optimizer.learning_rate))


def test_a_resumed_run_gets_the_same_cosine_learning_rates(tmp_path):
    from zoo.checkpoint import RunCheckpoint
    from zoo.training import CosineLearningRate

    x, y = np.random.default_rng(0).normal(size=(2, 32, 3)).astype("float32")
    base, epochs = 0.01, 5

    def fit(run_dir, interrupt_at=None):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        model.compile(keras.optimizers.Adam(base), "mse", jit_compile=False)
        seen = RatesSeen()
        checkpoint = RunCheckpoint(str(run_dir))
        callbacks = [
            Scripted([1.0] * epochs, interrupt_at),
            CosineLearningRate(base, epochs),
            checkpoint,
            seen,
        ]
        try:
            fit_resumed(model, x, y, epochs, checkpoint, callbacks)
        except Interrupt:
            pass
        return list(seen.rates.values())

    straight = fit(tmp_path / "straight")
    expected = [base * 0.5 * (1 + np.cos(np.pi * e / epochs)) for e in range(epochs)]
    np.testing.assert_allclose(straight, expected, rtol=1e-6)
    assert straight[0] == pytest.approx(base) and straight[-1] < 0.1 * base
    before = fit(tmp_path / "killed", interrupt_at=2)
    after = fit(tmp_path / "killed")
    np.testing.assert_allclose(before + after, expected, rtol=1e-6)


# --- Atomic saves ------------------------------------------------------------------


def tiny_model(value: float) -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="zeros")])
    model.layers[0].kernel.assign(np.full((3, 2), value, dtype="float32"))
    return model


def test_an_interrupted_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    rundir.save_model(tiny_model(1.0), path)
    good = path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == oct(files.FILE_MODE)  # not mkstemp's 0600

    real_open = zipfile.ZipFile.open
    calls = []

    def failing_open(self, name, mode="r", *args, **kwargs):  # fails halfway through the archive
        if mode == "w":
            calls.append(name)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", failing_open)
    with pytest.raises(OSError):
        rundir.save_model(tiny_model(2.0), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary file left
    # Keras's own save, interrupted the same way, destroys the previous file.
    plain = tmp_path / "plain.keras"
    shutil.copy(path, plain)
    calls.clear()
    with pytest.raises(OSError):
        tiny_model(2.0).save(plain)
    assert plain.read_bytes() != good
    monkeypatch.undo()

    for name, write in (
        ("config.json", lambda p, v: rundir.write_json(p, {"v": v})),
        ("history.csv", lambda p, v: rundir.write_text(p, f"epoch\n{v}\n")),
    ):
        target = tmp_path / name
        write(target, 1)
        before = target.read_bytes()
        with monkeypatch.context() as m:

            def half_then_fail(self, text, *args, **kwargs):
                Path.write_bytes(self, text[: len(text) // 2].encode())
                raise OSError(28, "No space left on device")

            m.setattr(Path, "write_text", half_then_fail)
            with pytest.raises(OSError):
                write(target, 2)
        assert target.read_bytes() == before, name

    import matplotlib.pyplot as plt

    fig = plt.figure()
    rundir.save_figure(fig, tmp_path / "curves.png")
    before = (tmp_path / "curves.png").read_bytes()
    monkeypatch.setattr(fig, "savefig", lambda tmp, **kw: (Path(tmp).write_bytes(b"\x89PNG half"), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        rundir.save_figure(fig, tmp_path / "curves.png")
    plt.close(fig)
    assert (tmp_path / "curves.png").read_bytes() == before


def test_a_kill_during_a_save_leaves_the_previous_model(tmp_path):
    """SIGKILL in the middle of writing model.keras, in a real process."""
    path = tmp_path / "model.keras"
    script = textwrap.dedent(
        f"""
        import os, signal, zipfile
        import keras, numpy as np
        from zoo import rundir
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        rundir.save_model(model, {str(path)!r})
        print("saved", flush=True)
        real, calls = zipfile.ZipFile.open, []
        def killed_halfway(self, name, mode="r", *args, **kwargs):
            if mode == "w":
                calls.append(name)
                if len(calls) == 2:  # metadata.json written, config.json next
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(self, name, mode, *args, **kwargs)
        zipfile.ZipFile.open = killed_halfway
        model.layers[0].kernel.assign(np.ones((3, 2), "float32"))
        rundir.save_model(model, {str(path)!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL and "saved" in done.stdout, done.stderr[-2000:]
    leftovers = [p for p in tmp_path.iterdir() if p.name != "model.keras"]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".model.keras.")
    model = rundir.load_model(path)  # the previous file, whole
    assert not np.any(model.layers[0].kernel.numpy() == 1.0)
    rundir.remove_leftovers(tmp_path)  # what prepare() does before training
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


# --- NaN -----------------------------------------------------------------------------


def test_nan_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    from datasets.timeseries import TimeSeries

    run_dir = str(tmp_path / "run")
    args = ["--task", "timeseries", "--model", "simplernn", "--units", "4", "--epochs", "2"]
    args += ["--steps-per-epoch", "4", "--checkpoint-every", "2", "--run-dir", run_dir]
    args += ["--lr-schedule", "constant"]  # the rate the resume sets is the rate trained with
    real_load = TimeSeries.load

    def load_with_a_nan(self, config, state=None, splits=("train", "val", "test")):
        data = real_load(self, config, state, splits)
        poison = 6  # epoch 2, batch 3 (4 batches an epoch)

        def inject(i, batch):
            x, y = batch
            return tf.where(i == poison, x * np.float32("nan"), x), y

        data.train = data.train.enumerate().map(inject)
        return data

    monkeypatch.setattr(TimeSeries, "load", load_with_a_nan)
    last = one_line_error(capsys, run_train(*args), 1, "loss became nan at epoch 2, batch 3")
    assert "--learning-rate" in last and "--clipnorm" in last and "last good checkpoint" in last
    monkeypatch.undo()
    assert not saved_config(run_dir)["finished"]
    checkpoint = json.loads(Path(run_dir, "backup", "training_metadata.json").read_text())
    assert checkpoint["epoch"] == 1 and checkpoint["batches_done"] == 2  # the checkpoint before the NaN
    assert checkpoint["early_stopping"]["best_weights"] == "best-epoch1.npz"
    with h5py.File(Path(run_dir, "backup", "latest.weights.h5")) as f:
        arrays = []
        f.visititems(lambda name, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
    assert arrays and all(np.isfinite(a).all() for a in arrays)

    # The remedy the message names resumes from that checkpoint.
    assert run_train(*args, "--learning-rate", "5e-4", "--clipnorm", "1.0") == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Resuming the unfinished run") and "epoch 2 of 2, after batch 2" in first, first
    assert (
        f"--learning-rate {TimeSeries.defaults['learning_rate']} -> 0.0005" in first
        and "--clipnorm off -> 1.0" in first
    ), first
    assert [int(r["epoch"]) for r in history(run_dir)] == [1, 2]
    model = rundir.load_model(os.path.join(run_dir, "model.keras"))
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-4)  # not the checkpoint's 1e-3
    assert int(model.optimizer.iterations) == 2 * 4  # the two batches of epoch 2 in the checkpoint, once


def test_an_absurd_learning_rate_gives_one_line(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    code = run_train(
        "--task", "timeseries", "--model", "simplernn", "--units", "4", "--epochs", "2",
        "--steps-per-epoch", "4", "--learning-rate", "1e30", "--run-dir", run_dir,
    )  # fmt: skip
    last = one_line_error(capsys, code, 1, "at epoch 1, batch", "--learning-rate (this run: 1e+30)")
    assert "no checkpoint yet" in last and not saved_config(run_dir)["finished"]


# --- Determinism ---------------------------------------------------------------------


def test_same_seed_gives_bit_identical_weights(tmp_path):
    """The default path (XLA on CPU): a separate process, then this one, the same flags."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    done = subprocess.run(
        [sys.executable, "train.py", *TINY, "--seed", "3", "--run-dir", first],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert run_train(*TINY, "--seed", "3", "--run-dir", second) == 0
    assert saved_config(first)["config"]["jit_compile"]
    a, b = (all_variables(rundir.load_model(os.path.join(d, "model.keras"))) for d in (first, second))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# --- Corrupt, legacy and unsafe model files --------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, generated_dir):
    run_dir = str(tmp_path_factory.mktemp("finished") / "run")
    quick = ["--task", "timeseries", "--model", "simplernn", "--units", "4", "--epochs", "1"]
    assert run_train(*quick, "--steps-per-epoch", "2", "--run-dir", run_dir) == 0
    return run_dir


@pytest.fixture
def run_copy(finished_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    return target


def hdf5_model_bytes(tmp_path) -> bytes:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "legacy.h5")  # Keras 3 still writes the legacy format on request
    return (tmp_path / "legacy.h5").read_bytes()


def test_evaluate_refuses_bad_model_files(run_copy, tmp_path, capsys, monkeypatch):
    model_file = run_copy / "model.keras"
    good = model_file.read_bytes()

    seen = []
    real_load = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: seen.append(k) or real_load(*a, **k))
    rundir.load_model(model_file)  # the one loader evaluate.py (and exercises/) use
    assert seen == [{"safe_mode": True}]

    cases = [
        (good[: len(good) // 2], "is not a valid .keras file (truncated or corrupt)"),  # truncated
        (os.urandom(2000), "is not a valid .keras file (truncated or corrupt)"),  # garbage
        (b"", "is not a valid .keras file"),  # empty
        (hdf5_model_bytes(tmp_path), "legacy HDF5 model under a .keras name"),  # renamed .h5
    ]
    for content, fragment in cases:
        model_file.write_bytes(content)
        one_line_error(capsys, run_evaluate(str(run_copy)), 2, fragment)
    # A whole zip whose model config is garbage.
    with zipfile.ZipFile(model_file, "w") as z:
        z.writestr("config.json", "{not json")
        z.writestr("metadata.json", "{}")
    one_line_error(capsys, run_evaluate(str(run_copy)), 2, "could not be loaded", "corrupt")
    # Only a legacy .h5 model in the run directory.
    model_file.unlink()
    (run_copy / "model.h5").write_bytes(hdf5_model_bytes(tmp_path))
    one_line_error(capsys, run_evaluate(str(run_copy)), 2, "only a legacy HDF5 model (model.h5)")
    with pytest.raises(rundir.RunError, match="legacy HDF5"):
        rundir.load_model(run_copy / "model.h5")
    assert seen == [{"safe_mode": True}] * 2  # only the whole zip reached Keras's loader, in safe mode


def test_a_model_that_needs_unsafe_loading_is_refused(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(rundir.RunError, match="loads only with safe_mode=False; it is not loaded"):
        rundir.load_model(tmp_path / "lambda.keras")


# --- Run directories that cannot be used as asked --------------------------------------


def edit_config(run_dir, change):
    data = saved_config(run_dir)
    change(data)
    Path(run_dir, "config.json").write_text(json.dumps(data))


def test_evaluate_refuses_runs_it_cannot_read(run_copy, tmp_path, capsys):
    run = str(run_copy)
    edit_config(run, lambda d: d.update(finished=False))
    one_line_error(capsys, run_evaluate(run), 2, "holds an unfinished run", "rerun its train.py command")
    from zoo import runlock

    with runlock.hold(run):  # as a train.py still training there holds it
        one_line_error(capsys, run_evaluate(run), 2, "is still training (process", str(os.getpid()))
    edit_config(run, lambda d: d.update(finished=True, version=0))
    one_line_error(capsys, run_evaluate(run), 2, "another version of the zoo (config version 0")
    edit_config(run, lambda d: d.update(version=1) or d["config"].update(colour="red"))
    one_line_error(capsys, run_evaluate(run), 2, "settings this version does not know: colour")
    edit_config(run, lambda d: d["config"].pop("colour") and d["config"].update(units="many"))
    one_line_error(capsys, run_evaluate(run), 2, "holds an invalid setting")
    Path(run, "config.json").write_text("{truncated")
    one_line_error(capsys, run_evaluate(run), 2, "cannot read", "config.json")
    one_line_error(
        capsys, run_evaluate(str(run_copy / "model.keras")), 2, "is a file; evaluate.py takes a run"
    )


def test_train_refuses_run_dirs_it_must_not_touch(run_copy, tmp_path, capsys):
    run = str(run_copy)
    # Another task: refused before any data is loaded.
    ours = ["--task", "waveforms", "--model", "simplernn", "--units", "4", "--epochs", "1"]
    # A finished run of another task: refused, named, left as it was.
    before = (run_copy / "model.keras").read_bytes()
    one_line_error(capsys, run_train(*ours, "--run-dir", run), 2, "already holds a finished run (timeseries/")
    # An unfinished run of another task or other settings: refused, naming the difference.
    edit_config(run, lambda d: d.update(finished=False))
    one_line_error(
        capsys, run_train(*ours, "--run-dir", run), 2, "unfinished timeseries/simplernn run", "task:"
    )
    # A run from another version of the zoo.
    edit_config(run, lambda d: d.update(version=0))
    one_line_error(capsys, run_train(*ours, "--run-dir", run), 2, "another version of the zoo")
    # Run files without a config.json.
    (run_copy / "config.json").unlink()
    one_line_error(capsys, run_train(*ours, "--run-dir", run), 2, "holds run files but no config.json")
    assert (run_copy / "model.keras").read_bytes() == before
    # A --run-dir that is a file, or lies under one.
    one_line_error(
        capsys, run_train(*ours, "--run-dir", run + "/model.keras"), 2, "is a file, not a directory"
    )
    one_line_error(
        capsys, run_train(*ours, "--run-dir", run + "/model.keras/x"), 2, "cannot create run directory"
    )


def test_train_refuses_a_run_dir_it_cannot_write(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root writes anyway; sysfs refuses even root
            locked = Path("/sys")
        args = ["--task", "timeseries", "--model", "simplernn", "--epochs", "1", "--run-dir", str(locked)]
        one_line_error(capsys, run_train(*args), 2, f"run directory {locked} is not writable")
    finally:
        (tmp_path / "locked").chmod(0o755)


# --- Bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--seed", "-1"], ["--seed must be in [0, 2**32), got -1"]),
        (["--learning-rate", "nan"], ["--learning-rate must be a finite number, got nan"]),
        (["--clipnorm", "0"], ["--clipnorm must be positive, got 0"]),
        (["--clipnorm", "-1"], ["--clipnorm must be positive, got -1"]),
        (["--checkpoint-every", "-5"], ["--checkpoint-every must be >= 0, got -5"]),
        (["--epochs", "three"], ["argument --epochs: invalid int value: 'three'"]),
        (["--colour", "red"], ["unrecognized arguments: --colour red"]),
        (["--model", ""], ["unknown model ''"]),
        (["--lr-schedule", "step"], ["--lr-schedule must be one of constant, cosine, got 'step'"]),
        (["--seq-len", "0"], ["--seq-len must be positive, got 0"]),
        (
            ["--task", "timeseries", "--embedding-dim", "8"],
            ["--embedding-dim does not apply to task 'timeseries' (only to: ", "imdb", "shakespeare"],
        ),
        (
            ["--task", "shakespeare", "--max-tokens", "500"],
            ["--max-tokens does not apply", "(only to: ", "imdb"],
        ),
        (
            ["--model", "snippet-forecaster", "--task", "timeseries", "--lr-schedule", "cosine"],
            ["--lr-schedule does not apply"],
        ),
    ],
)
def test_bad_train_flags(args, fragments, tmp_path, capsys):
    one_line_error(capsys, run_train(*args, "--run-dir", str(tmp_path / "r")), 2, *fragments)
    assert not (tmp_path / "r").exists()


def test_a_data_dir_without_the_dataset(tmp_path, capsys):
    code = run_train("--task", "shakespeare", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "r"))
    one_line_error(capsys, code, 2, "tiny_shakespeare", str(tmp_path))


def make_file(tmp_path, name, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "make_args,fragment",
    [
        (lambda t: ["--text", ""], "--text is empty"),
        (lambda t: ["--text", "   "], "--text is empty"),
        (lambda t: ["--text-file", make_file(t, "empty.txt", b"")], "holds no text"),
        (lambda t: ["--text-file", make_file(t, "blank.txt", b"\n  \n")], "holds no text"),
        (lambda t: ["--text-file", str(t / "missing.txt")], "does not exist"),
        (
            lambda t: ["--text-file", make_file(t, "latin1.txt", "café noir".encode("latin-1"))],
            "is not UTF-8",
        ),
        (lambda t: ["--text-file", str(t)], "is a directory"),
        (lambda t: ["--seed-text", ""], "--seed-text is empty"),
        (lambda t: ["--length", "0"], "argument --length: must be a positive number, got 0"),
        (lambda t: ["--temperature", "-1"], "argument --temperature: must be a positive number"),
        (lambda t: ["--temperature", "nan"], "argument --temperature: must be a positive number"),
        (lambda t: ["--limit", "0"], "argument --limit: must be a positive number"),
        (lambda t: ["--limit", "x"], "argument --limit: invalid int value: 'x'"),
    ],
)
def test_bad_evaluate_input(make_args, fragment, tmp_path, capsys):
    one_line_error(capsys, run_evaluate(str(tmp_path / "no-run"), *make_args(tmp_path)), 2, fragment)


def test_text_on_a_run_of_another_task(finished_run, capsys):
    one_line_error(
        capsys,
        run_evaluate(finished_run, "--text", "Great."),
        2,
        "--text does not apply to a 'timeseries' run (only to: ",
        "imdb",
    )


def test_failures_during_a_run_are_one_line_too(capsys):
    def disk_full(argv):
        raise OSError(28, "No space left on device")

    def ctrl_c(argv):
        raise KeyboardInterrupt

    one_line_error(
        capsys, cli.run(disk_full), 1, "No space left on device", "files already written are whole"
    )
    assert cli.run(ctrl_c) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err


def test_a_model_with_the_zoos_own_layers_loads_in_a_fresh_process(tmp_path):
    """evaluate.py imports no model code before it loads the run's model (a max-pool head's layer)."""
    import dataclasses

    from zoo import config as config_lib
    from zoo.spec import TOKENS, InputSpec, TaskSpec
    from zoo.training import build_model

    spec = TaskSpec((InputSpec(TOKENS, vocab_size=10, mask_zero=True),), "binary", 1, pool="max")
    config = dataclasses.replace(config_lib.TrainConfig(), units=3, embedding_dim=2, jit_compile=False)
    keras.utils.set_random_seed(0)
    rundir.save_model(build_model(config, spec), tmp_path / "model.keras")
    code = f"from zoo import rundir; print(rundir.load_model({str(tmp_path / 'model.keras')!r}).name)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
