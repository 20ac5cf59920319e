"""Every registered model on every compatible task, at tiny sizes (timm-style)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import datasets
import models
from models.rnn import MaskedMaxOverTime, build_functional, build_sequential
from zoo import config as config_lib
from zoo import rundir
from zoo.spec import BINARY, FEATURES, MULTICLASS, NEXT_TOKEN, POOLS, REGRESSION, TOKENS, InputSpec, TaskSpec
from zoo.training import build_model


def first_model(task) -> str:
    """The first registered model that can serve `task`."""
    return next(
        name
        for name, entry in models.MODELS.items()
        if not entry.refusal(task.heads, task.input_kinds, len(task.input_names))
    )


def task_spec(name: str) -> TaskSpec:
    """A task's spec from its default settings and its example state: no data read."""
    task = datasets.get_task(name)
    config = config_lib.resolve({"task": name, "model": first_model(task)})
    return task.spec(config, task.example_state(config))


# Each task's own spec, derived from the task: a new task needs no edit here.
TINY_SPECS = {name: task_spec(name) for name in datasets.TASKS}
TIMESTEPS = 7  # for inputs of variable length


def with_timesteps(spec: TaskSpec, timesteps: int) -> TaskSpec:
    """The spec with every input `timesteps` long."""
    inputs = tuple(dataclasses.replace(i, timesteps=timesteps) for i in spec.inputs)
    return dataclasses.replace(spec, inputs=inputs)


# Specs no task has yet, that the contract expresses: a multivariate,
# multi-step forecast, several classes at each of several steps, two inputs.
CONTRACT_SPECS = {
    "multivariate-multistep": TaskSpec(
        inputs=(InputSpec(FEATURES, timesteps=6, features=3),),
        head=REGRESSION,
        output_units=2,
        output_steps=4,
    ),
    "multiclass-multistep": TaskSpec(
        inputs=(InputSpec(FEATURES, timesteps=5, features=2),),
        head=MULTICLASS,
        output_units=3,
        output_steps=2,
    ),
}
TWO_INPUTS = TaskSpec(
    inputs=(InputSpec(TOKENS, name="source", vocab_size=9), InputSpec(TOKENS, name="target", vocab_size=7)),
    head=NEXT_TOKEN,
    output_units=7,
    per_step=True,
)


@pytest.mark.parametrize("name", list(CONTRACT_SPECS))
@pytest.mark.parametrize("preset", ["simplernn", "stacked-lstm", "bidirectional-gru"])
def test_the_recurrent_stacks_serve_what_the_contract_expresses(name, preset, tmp_path):
    spec = CONTRACT_SPECS[name]
    config = dataclasses.replace(config_lib.resolve({"model": preset, "task": "timeseries"}), units=4)
    model = build_model(config, spec)
    x, y = fake_batch(spec, config)
    out = np.asarray(model.predict_on_batch(x))
    assert out.shape == (4, *spec.output_shape())
    if spec.head == MULTICLASS:  # a distribution at every output step, not across them
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    assert_round_trip(model, x, tmp_path)


def test_the_recurrent_stacks_refuse_two_inputs():
    config = dataclasses.replace(config_lib.resolve({"model": "lstm", "task": "shakespeare"}), units=4)
    with pytest.raises(ValueError, match="this task has 2 inputs \\(source, target\\); the model reads one"):
        build_model(config, TWO_INPUTS)
    assert (
        models.get_model("lstm").refusal((NEXT_TOKEN,), (TOKENS,), 2) == "it reads 1 input, the task gives 2"
    )
    x, _ = fake_batch(TWO_INPUTS, config)
    assert set(x) == {"source", "target"} and x["source"].shape == (4, TIMESTEPS)


def test_tiny_specs_cover_every_task():
    assert set(TINY_SPECS) == set(datasets.TASKS)
    for name, spec in TINY_SPECS.items():
        assert datasets.get_task(name).input_names == tuple(i.name for i in spec.inputs)
        assert spec.head in datasets.get_task(name).heads


def tiny_config(model: str, task: str):
    """The real resolution path, then tiny sizes; None for an incompatible pair."""
    try:
        config = config_lib.resolve({"model": model, "task": task})
    except ValueError:
        return None
    if models.get_model(model).compiles:  # a snippet keeps its printed architecture
        return dataclasses.replace(config, jit_compile=False)
    return dataclasses.replace(config, units=4, embedding_dim=3, jit_compile=False)


def fake_input(spec: InputSpec, rng, n: int) -> np.ndarray:
    """Random inputs of the spec's shape: ids in [1, vocab) post-padded where masked, or normal features."""
    steps = spec.timesteps or TIMESTEPS
    if spec.kind == TOKENS:
        x = rng.integers(1, spec.vocab_size, size=(n, steps)).astype("int32")
        if spec.mask_zero:
            x[:, -2:] = 0  # post-padding, as the real pipelines make it
        return x
    return rng.normal(size=(n, steps, spec.features)).astype("float32")


def fake_batch(spec: TaskSpec, config, n: int = 4, seed: int = 0):
    """A batch `(x, y)` derived from the spec alone: its inputs (a dict where several) and head."""
    rng = np.random.default_rng(seed)
    xs = {i.name: fake_input(i, rng, n) for i in spec.inputs}
    x = xs if len(xs) > 1 else next(iter(xs.values()))
    steps = spec.inputs[-1].timesteps or TIMESTEPS  # a per-step head predicts along the last input
    shape = (n, *(steps if d is None else d for d in spec.output_shape(steps)))
    if spec.head == BINARY:
        y = rng.integers(0, 2, size=shape).astype("float32")
    elif spec.head == NEXT_TOKEN:
        y = rng.integers(0, spec.output_units, size=shape[:-1])
    elif spec.head == REGRESSION:
        y = rng.normal(size=shape).astype("float32")
    else:
        y = rng.integers(0, spec.output_units, size=shape[:-1])
        if config.one_hot_labels:
            y = np.eye(spec.output_units, dtype="float32")[y]
    return x, y


CASES = [
    pytest.param(m, t, id=f"{m}-{t}")
    for m in models.MODELS
    for t in datasets.TASKS
    if tiny_config(m, t) is not None
]


def test_every_model_runs_somewhere():
    assert {m for m, _ in (c.values for c in CASES)} == set(models.MODELS)


@pytest.mark.parametrize("model_name,task_name", CASES)
def test_model_on_task(model_name, task_name, tmp_path):
    config = tiny_config(model_name, task_name)
    task = datasets.get_task(task_name)
    spec = task.spec(config, task.example_state(config))  # with the model's recipe (a window of 10...)
    if models.get_model(model_name).compiles:
        spec = with_timesteps(spec, 10)  # the snippets' printed input_shape
    keras.utils.set_random_seed(0)
    model = build_model(config, spec)
    x, y = fake_batch(spec, config)

    out = model.predict_on_batch(x)
    steps = spec.inputs[-1].timesteps or TIMESTEPS
    assert out.shape == (4, *(steps if d is None else d for d in spec.output_shape(steps)))

    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    assert np.isfinite(float(loss))
    grads = tape.gradient(loss, model.trainable_variables)
    for var, grad in zip(model.trainable_variables, grads):
        assert grad is not None, var.path
        assert float(tf.reduce_max(tf.abs(tf.convert_to_tensor(grad)))) > 0, f"no gradient reaches {var.path}"

    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    assert_round_trip(model, x, tmp_path)


def assert_round_trip(model, x, tmp_path) -> None:
    """Saved and loaded as a run saves and loads it: the same layers, the same predictions."""
    path = tmp_path / "model.keras"
    rundir.save_model(model, path)
    restored = rundir.load_model(path)
    assert [type(layer).__name__ for layer in restored.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    np.testing.assert_array_equal(restored.predict_on_batch(x), model.predict_on_batch(x))


@pytest.mark.parametrize(
    "overrides",
    [dict(cell="simplernn"), dict(cell="lstm", layers=2), dict(cell="gru", bidirectional=True, dropout=0.2)],
    ids=["simplernn", "stacked-lstm", "bidirectional-gru-dropout"],
)
@pytest.mark.parametrize("task_name", ["imdb", "waveforms"])
def test_sequential_and_functional_agree(overrides, task_name):
    spec = TINY_SPECS[task_name]
    config = dataclasses.replace(config_lib.TrainConfig(), units=5, embedding_dim=3, **overrides)
    functional = build_functional(config, spec)
    sequential = build_sequential(config, spec)
    assert isinstance(sequential, keras.Sequential) and not isinstance(functional, keras.Sequential)
    assert [type(layer) for layer in sequential.layers] == [type(layer) for layer in functional.layers[1:]]
    sequential.set_weights(functional.get_weights())
    x, _ = fake_batch(spec, config, seed=1)
    np.testing.assert_allclose(sequential.predict_on_batch(x), functional.predict_on_batch(x), atol=1e-6)


def test_config_accepts_exactly_the_builders_apis():
    from models.rnn import APIS

    assert config_lib.APIS == APIS  # config.py keeps its own copy to stay free of Keras imports


def test_every_pool_name_has_its_layer():
    """zoo.spec.POOLS (read by config.py, no Keras) names the builder's pooling layers, and "last" (none)."""
    from models.rnn import POOLING

    assert set(POOLS) == {"last", *POOLING}


@pytest.mark.parametrize("api", ["sequential", "functional"])
@pytest.mark.parametrize("pool", POOLS)
def test_every_head_survives_save_and_load(pool, api, tmp_path):
    """Each imdb head, built by either API, has its pooling layer and loads back.

    test_model_on_task saves the max head only (TINY_SPECS["imdb"]).
    """
    spec = dataclasses.replace(TINY_SPECS["imdb"], pool=pool)
    config = dataclasses.replace(
        config_lib.resolve({"model": "gru", "task": "imdb"}), units=5, embedding_dim=3
    )
    config = dataclasses.replace(config, api=api, task_settings=config.task_settings | {"pool": pool})
    keras.utils.set_random_seed(0)
    model = build_model(config, spec)
    pooling = [layer.name for layer in model.layers if layer.name.endswith("_over_time")]
    assert pooling == {"max": ["max_over_time"], "mean": ["mean_over_time"], "last": []}[pool]
    x, y = fake_batch(spec, config)
    model.train_on_batch(x, y)  # builds the optimizer, whose state is saved too
    assert_round_trip(model, x, tmp_path)


@pytest.mark.parametrize("pool", POOLS)
def test_mask_hides_padding(pool):
    """With mask_zero, trailing padding cannot change the prediction, whatever the head reads."""
    spec = dataclasses.replace(TINY_SPECS["imdb"], pool=pool)
    config = dataclasses.replace(config_lib.TrainConfig(), units=5, embedding_dim=3)
    model = build_functional(config, spec)
    x = np.array([[5, 6, 7, 0, 0, 0, 0]], dtype="int32")
    longer = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype="int32")
    unpadded_model = build_functional(config, with_timesteps(spec, None))
    unpadded_model.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict_on_batch(x), unpadded_model.predict_on_batch(longer), atol=1e-6)
    np.testing.assert_allclose(
        model.predict_on_batch(x), unpadded_model.predict_on_batch(x[:, :3]), atol=1e-6
    )


def test_max_over_time_skips_masked_steps():
    """MaskedMaxOverTime == numpy's maximum over the kept steps; a row with none kept gives zeros."""
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    x[:, 3:] = 10.0  # padded steps that would win an unmasked maximum
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        pooled = MaskedMaxOverTime()(xt, mask=tf.constant(mask))
        total = tf.reduce_sum(pooled)
    grad = tape.gradient(total, xt).numpy()
    assert np.isfinite(grad).all() and grad[:, 3:].sum() == 0 and grad[2].sum() == 0  # none to padding
    out = pooled.numpy()
    np.testing.assert_array_equal(out[0], x[0, :3].max(axis=0))
    np.testing.assert_array_equal(out[1], x[1, 0])
    np.testing.assert_array_equal(out[2], np.zeros(4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(MaskedMaxOverTime()(x)), x.max(axis=1))


def test_pool_is_an_imdb_setting():
    assert config_lib.resolve({"task": "imdb", "pool": "mean"}).task_settings["pool"] == "mean"
    with pytest.raises(ValueError, match="--pool must be one of last, mean, max, got 'sum'"):
        config_lib.resolve({"task": "imdb", "pool": "sum"})
    with pytest.raises(ValueError, match="--pool does not apply to task 'waveforms'"):
        config_lib.resolve({"task": "waveforms", "pool": "max"})


def test_imdb_heads_by_cell():
    """Gated cells read the maximum on imdb; the SimpleRNN keeps its mean-head settings; flags win."""

    def resolved(model, **flags):
        config = config_lib.resolve({"model": model, "task": "imdb"} | flags)
        return config.task_settings["pool"], config.embedding_dim, config.learning_rate, config.epochs

    assert resolved("bidirectional-gru") == resolved("lstm") == ("max", 128, 5e-3, 2)
    assert resolved("simplernn") == ("mean", 64, 2e-3, 3)
    assert resolved("simplernn", pool="max", epochs=2) == ("max", 64, 2e-3, 2)


def test_runs_saved_before_pool_read_as_mean():
    """A version-1 config.json from before --pool existed (no "pool") is a mean-head run, as it was trained."""
    saved = config_lib.to_json(config_lib.resolve({"model": "gru", "task": "imdb"}))
    v1 = saved["config"] | {"seq_len": 400, "max_tokens": 20000, "window": 50, "horizon": 1}
    del v1["task_settings"]
    config = config_lib.from_json({"version": 1, "config": v1}, "config.json")
    assert config.task_settings == {"seq_len": 400, "max_tokens": 20000, "pool": "mean"}
    config = config_lib.from_json({"version": 1, "config": v1 | {"pool": "max"}}, "config.json")
    assert config.task_settings["pool"] == "max"
    assert config_lib.from_json(saved, "config.json") == config_lib.resolve({"model": "gru", "task": "imdb"})


def test_collect_pads_batches_for_a_fixed_length_model():
    """A run saved when imdb fed exactly seq_len ids still evaluates on shorter batches."""
    from zoo.metrics import collect

    config = dataclasses.replace(config_lib.TrainConfig(), units=5, embedding_dim=3)
    model = build_functional(config, with_timesteps(TINY_SPECS["imdb"], 7))  # input (None, 7)
    x = np.array([[5, 6, 7, 0], [8, 9, 0, 0], [4, 0, 0, 0]], dtype="int32")
    ds = tf.data.Dataset.from_tensor_slices((x, np.array([1, 0, 1]))).batch(2)
    outputs, labels = collect(model, ds, limit=None, batch_size=2)
    np.testing.assert_allclose(outputs, model.predict_on_batch(np.pad(x, ((0, 0), (0, 3)))), atol=1e-6)
    np.testing.assert_array_equal(labels, [1, 0, 1])
    limited, _ = collect(model, ds, limit=2, batch_size=2)
    np.testing.assert_allclose(limited, outputs[:2], atol=1e-6)


def test_unknown_model_lists_the_choices():
    with pytest.raises(ValueError, match="unknown model 'transformer'.*simplernn"):
        models.get_model("transformer")


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="registered twice"):
        models.register_model("lstm", "again", build_functional, preset={})


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_xla_is_kept_on_cpu(cell):
    """Keras silently drops jit_compile for cuDNN-eligible layers where a GPU is present."""
    config = dataclasses.replace(config_lib.TrainConfig(), cell=cell, units=3)
    model = build_model(config, TINY_SPECS["timeseries"])
    assert model.jit_compile is (not tf.config.list_physical_devices("GPU"))


def test_tasks_choose_xla_and_flags_override_them():
    """Shakespeare's wide GRU trains faster without XLA (measured); a flag overrides any task."""
    config = config_lib.resolve({"model": "gru", "task": "shakespeare"})
    assert config.jit_compile is False and config.lr_schedule == "cosine"
    assert config_lib.resolve({"model": "gru", "task": "shakespeare", "jit_compile": True}).jit_compile
    assert config_lib.resolve({"model": "gru", "task": "timeseries"}).jit_compile
    tiny = dataclasses.replace(config, units=3, embedding_dim=2)
    assert build_model(tiny, TINY_SPECS["shakespeare"]).jit_compile is False


def test_stacked_gru_on_shakespeare_has_its_own_width():
    """Two 224-unit layers on shakespeare (the cost of one 384-unit layer); elsewhere and with --units, as usual."""

    def units(model, task, **flags):
        return config_lib.resolve({"model": model, "task": task} | flags).units

    assert units("stacked-gru", "shakespeare") == 224 and units("gru", "shakespeare") == 384
    assert units("stacked-gru", "timeseries") == units("gru", "timeseries") == 64
    assert units("stacked-gru", "shakespeare", units=16) == 16  # a flag still wins
    config = config_lib.resolve({"model": "stacked-gru", "task": "shakespeare"})
    model = build_model(dataclasses.replace(config, embedding_dim=32), TINY_SPECS["shakespeare"])
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.GRU)] == [224, 224]


def test_simplernn_on_waveforms_clips_its_gradient():
    """100-step signals: a SimpleRNN at the task's 4e-3 stayed near chance; it gets 2e-3 and clipnorm 1."""

    def resolved(model, **flags):
        config = config_lib.resolve({"model": model, "task": "waveforms"} | flags)
        return config.learning_rate, config.clipnorm, config.patience

    assert resolved("simplernn") == (2e-3, 1.0, 20)
    assert resolved("gru") == (4e-3, None, 6)  # the task's own defaults
    assert resolved("simplernn", learning_rate=1e-2, clipnorm=5.0) == (1e-2, 5.0, 20)  # flags still win
