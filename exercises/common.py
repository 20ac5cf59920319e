"""Helpers shared by the exercises: activations, a seeded model builder, reports.

Notation used in every exercise (the chapter's): vectors are columns, so a
weight matrix acts from the left, `W @ x`. Keras stores the same matrices
transposed, because it multiplies row vectors from the right, `x @ kernel`.
To run a whole batch at once we keep the column convention and put the batch
along the columns: `x_t` has shape (features, batch), `h_t` (units, batch).
"""

import argparse
import itertools

import keras
import numpy as np

# Layer classes by the name used on the command line and in the tests.
RNN_LAYERS = {
    "simplernn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}

# Every exercise checks its from-scratch maths against Keras to this tolerance.
TOLERANCE = 1e-5


def sigmoid(x):
    """Logistic function `1 / (1 + exp(-x))`, elementwise.

    Args:
        x: NumPy array of any shape.

    Returns:
        Array of the same shape with values in (0, 1).
    """
    return 1.0 / (1.0 + np.exp(-x))


def build_rnn(
    cell,
    units=4,
    features=3,
    output_size=2,
    seed=0,
    dtype="float32",
    weight_scale=0.5,
    **layer_kwargs,
):
    """Builds `Input -> RNN(return_sequences=True) -> Dense` with seeded weights.

    The recurrent layer is named `"rnn"` and the Dense head `"head"`. Keras
    initialises biases to zero, which would hide a wrong bias in a
    from-scratch implementation, so every weight (biases included) is redrawn
    from N(0, weight_scale^2) with a NumPy generator seeded by `seed`.

    Args:
        cell: One of `"simplernn"`, `"lstm"`, `"gru"`.
        units: Hidden size of the recurrent layer. Defaults to 4, small enough
            to read the matrices when printed.
        features: Input features per time step. Defaults to 3.
        output_size: Units of the Dense head. Defaults to 2.
        seed: Seed for Keras initialisers and for the redrawn weights.
        dtype: Dtype of every layer. Defaults to `"float32"`, Keras's default;
            BPTT uses `"float64"` so the comparison tests the maths, not rounding.
        weight_scale: Standard deviation of the redrawn weights. Defaults to
            0.5, which keeps tanh and sigmoid away from saturation. Pass `None`
            to keep Keras's default initialisers.
        **layer_kwargs: Passed to the recurrent layer (e.g. `reset_after`).

    Returns:
        A `keras.Model` mapping (batch, steps, features) to
        (batch, steps, output_size).

    Example:

    >>> model = build_rnn("lstm", units=4, features=3)
    >>> model(np.zeros((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 2])
    """
    if cell not in RNN_LAYERS:
        raise ValueError(f"Unknown cell {cell!r}; known cells: {sorted(RNN_LAYERS)}")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None, features), dtype=dtype)
    hidden = RNN_LAYERS[cell](units, return_sequences=True, dtype=dtype, name="rnn", **layer_kwargs)(inputs)
    outputs = keras.layers.Dense(output_size, dtype=dtype, name="head")(hidden)
    model = keras.Model(inputs, outputs)
    if weight_scale is not None:
        rng = np.random.default_rng(seed)
        model.set_weights([weight_scale * rng.standard_normal(w.shape) for w in model.get_weights()])
    return model


def random_inputs(batch=2, steps=5, features=3, seed=0, dtype="float32"):
    """Standard-normal input sequences, Keras layout (batch, steps, features).

    Args:
        batch: Number of sequences. Defaults to 2.
        steps: Time steps per sequence. Defaults to 5.
        features: Features per step. Defaults to 3.
        seed: NumPy seed. Defaults to 0.
        dtype: Array dtype. Defaults to `"float32"`.

    Returns:
        NumPy array of shape (batch, steps, features).
    """
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, steps, features)).astype(dtype)


def keras_hidden_and_output(model, x):
    """Runs a `build_rnn` model and returns its hidden states and outputs.

    Args:
        model: Model from `build_rnn`.
        x: Inputs of shape (batch, steps, features).

    Returns:
        Tuple `(h, y)` of NumPy arrays, shapes (batch, steps, units) and
        (batch, steps, output_size).
    """
    h = model.get_layer("rnn")(x)
    y = model.get_layer("head")(h)
    return np.asarray(h), np.asarray(y)


def head_weights(model):
    """Reads the Dense head of a `build_rnn` model in the chapter's notation.

    Args:
        model: Model from `build_rnn`.

    Returns:
        Dict with `W_y` (outputs, units) = Dense.kernel^T and
        `b_y` (outputs,) = Dense.bias, so that `y_t = W_y h_t + b_y`.
    """
    kernel, bias = model.get_layer("head").get_weights()
    return {"W_y": kernel.T, "b_y": bias}


def max_abs_diff(a, b):
    """Largest elementwise `|a - b|` as a Python float.

    Args:
        a: Array-like.
        b: Array-like broadcastable to `a`.

    Returns:
        The maximum absolute difference.
    """
    return float(np.max(np.abs(np.asarray(a, "float64") - np.asarray(b, "float64"))))


def report(name, ours, theirs, tolerance=TOLERANCE):
    """Prints and returns the max abs difference between our result and Keras's.

    Args:
        name: Label for the printed line.
        ours: From-scratch result.
        theirs: Keras (or TensorFlow) result, same shape.
        tolerance: Threshold for the printed verdict. Defaults to `TOLERANCE`.

    Returns:
        The max abs difference.
    """
    diff = max_abs_diff(ours, theirs)
    verdict = "OK" if diff < tolerance else f"MISMATCH (> {tolerance:g})"
    print(f"  {name:<28s} max |ours - keras| = {diff:.2e}  {verdict}")
    return diff


def matching_orders(letters, hidden_for_order, reference, tolerance=TOLERANCE):
    """Finds the gate orders under which a from-scratch cell reproduces Keras.

    Keras stacks the gates side by side in column blocks. Instead of trusting
    documentation about the block order, try every assignment of gate letters
    to blocks and keep those that reproduce the Keras hidden states. With
    random weights exactly one order should survive.

    Args:
        letters: Gate letters, e.g. `"ifco"` for LSTM or `"zrh"` for GRU.
        hidden_for_order: Function mapping an order (tuple of letters, one per
            block) to from-scratch hidden states.
        reference: Keras hidden states, same shape.
        tolerance: Max abs difference counted as a match.

    Returns:
        List of matching orders, e.g. `[("i", "f", "c", "o")]`.
    """
    return [
        order
        for order in itertools.permutations(letters)
        if max_abs_diff(hidden_for_order(order), reference) < tolerance
    ]


def print_tasks(tasks):
    """Prints the student tasks that close an exercise.

    Args:
        tasks: List of task strings.
    """
    print("\nTasks for you:")
    for number, task in enumerate(tasks, 1):
        print(f"  {number}. {task}")


def positive_int(text):
    """argparse `type=` that accepts only integers >= 1.

    Args:
        text: The command-line string.

    Returns:
        The integer.
    """
    value = int(text)
    if value < 1:
        raise ValueError(f"expected an integer >= 1, got {value}")
    return value


def size_parser(description, units=4, features=3, steps=5, batch=2):
    """Argument parser with the size flags every forward-pass exercise shares.

    Args:
        description: Shown by `--help`.
        units: Default hidden size.
        features: Default input features.
        steps: Default sequence length.
        batch: Default number of sequences.

    Returns:
        An `argparse.ArgumentParser`; callers may add flags.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--units",
        type=positive_int,
        default=units,
        help=f"hidden units of the recurrent layer (default {units})",
    )
    parser.add_argument(
        "--features",
        type=positive_int,
        default=features,
        help=f"input features per time step (default {features})",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=steps,
        help=f"time steps per sequence (default {steps})",
    )
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=batch,
        help=f"number of random sequences (default {batch})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and inputs (default 0)")
    return parser
