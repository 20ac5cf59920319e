"""GRU forward pass from the chapter's equations, both Keras variants.

The equations, column vectors (gate letters z = update, r = reset, h = the
candidate state h~, in the order Keras stores them):

    z_t  = sigmoid(W_xz x_t + b_xz + W_hz h_{t-1} + b_hz)
    r_t  = sigmoid(W_xr x_t + b_xr + W_hr h_{t-1} + b_hr)
    reset_after=False (Cho et al. 2014, reset before the recurrent matmul):
        h~_t = tanh(W_xh x_t + b_xh + W_hh (r_t * h_{t-1}))
    reset_after=True (Keras's default, the cuDNN-compatible variant, reset
    after the recurrent matmul):
        h~_t = tanh(W_xh x_t + b_xh + r_t * (W_hh h_{t-1} + b_hh))
    h_t  = z_t * h_{t-1} + (1 - z_t) * h~_t,       h_0 = 0

Keras's convention keeps the old state where z_t is 1; some books write the
last line with z_t and 1 - z_t swapped, which is the same model with z_t
replaced by 1 - z_t.

Which Keras weight is which (column blocks of width `units`, order z, r, h,
checked by `find_gate_order`):

    GRU.kernel            (features, 3*units) = [W_xz | W_xr | W_xh]^T blocks
    GRU.recurrent_kernel  (units, 3*units)    = [W_hz | W_hr | W_hh]^T blocks
    reset_after=True:  GRU.bias (2, 3*units), row 0 = [b_xz | b_xr | b_xh]
                       (input biases), row 1 = [b_hz | b_hr | b_hh]
                       (recurrent biases); for z and r the two simply add.
    reset_after=False: GRU.bias (3*units,) = [b_xz | b_xr | b_xh], no
                       recurrent biases (b_h* = 0 below).

Run: `python -m exercises.gru_forward`
"""

import keras
import numpy as np

from exercises.common import (
    build_rnn,
    head_weights,
    keras_hidden_and_output,
    matching_orders,
    print_tasks,
    random_inputs,
    report,
    sigmoid,
    size_parser,
)

KERAS_GATE_ORDER = ("z", "r", "h")

TASKS = [
    (
        "Load the weights of a reset_after=True model into a reset_after=False "
        "GRU (dropping the recurrent biases): how large is the difference in "
        "h_t? Keras runs GRU on cuDNN only when reset_after=True: look up which "
        "of the two equations cuDNN implements."
    ),
    (
        "Count the parameters of GRU(32) and LSTM(32) on 8 input features by "
        "hand, then check with model.count_params()."
    ),
]


def chapter_weights(model, order=KERAS_GATE_ORDER):
    """Reads the chapter's GRU matrices and biases from a Keras model.

    Args:
        model: Model from `build_rnn("gru", ...)`, either `reset_after`.
        order: Gate letter of each column block. Defaults to
            `KERAS_GATE_ORDER`; other orders exist to test that claim.

    Returns:
        Dict with `W_x{z,r,h}` (units, features), `W_h{z,r,h}` (units, units),
        input biases `b_x{z,r,h}` and recurrent biases `b_h{z,r,h}` (units,),
        zero when the layer has none, `reset_after` (bool), and the Dense
        head's `W_y`, `b_y`.
    """
    if sorted(order) != ["h", "r", "z"]:
        raise ValueError(f"order must be a permutation of z, r, h; got {order}")
    layer = model.get_layer("rnn")
    kernel, recurrent_kernel, bias = layer.get_weights()
    units = recurrent_kernel.shape[0]
    if layer.reset_after:
        input_bias, recurrent_bias = bias  # (2, 3*units) -> two (3*units,)
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    weights = {"reset_after": layer.reset_after, **head_weights(model)}
    for block, gate in enumerate(order):
        cols = slice(block * units, (block + 1) * units)
        weights[f"W_x{gate}"] = kernel[:, cols].T
        weights[f"W_h{gate}"] = recurrent_kernel[:, cols].T
        weights[f"b_x{gate}"] = input_bias[cols]
        weights[f"b_h{gate}"] = recurrent_bias[cols]
    return weights


def gru_forward(x, weights):
    """GRU + Dense forward pass, one equation per line of the module docstring.

    Args:
        x: Inputs in Keras layout, shape (batch, steps, features).
        weights: Dict from `chapter_weights`; its `reset_after` picks the
            variant.

    Returns:
        Tuple `(h, y)` in Keras layout: h (batch, steps, units),
        y (batch, steps, outputs). Computed in float64.

    Example:

    >>> model = build_rnn("gru", units=4, features=3)
    >>> h, y = gru_forward(random_inputs(2, 5, 3), chapter_weights(model))
    >>> h.shape, y.shape
    ((2, 5, 4), (2, 5, 2))
    """
    reset_after = weights["reset_after"]
    # Biases become (units, 1) columns so they broadcast over the batch columns.
    w = {
        name: np.asarray(value, "float64")[:, None] if name.startswith("b_") else np.asarray(value, "float64")
        for name, value in weights.items()
        if name != "reset_after"
    }
    batch, steps, _ = x.shape
    h_t = np.zeros((w["W_hh"].shape[0], batch))  # h_0, (units, batch)
    hs, ys = [], []
    for t in range(steps):
        x_t = np.asarray(x[:, t, :], "float64").T  # (features, batch)
        z_t = sigmoid(w["W_xz"] @ x_t + w["b_xz"] + w["W_hz"] @ h_t + w["b_hz"])
        r_t = sigmoid(w["W_xr"] @ x_t + w["b_xr"] + w["W_hr"] @ h_t + w["b_hr"])
        if reset_after:
            h_tilde = np.tanh(w["W_xh"] @ x_t + w["b_xh"] + r_t * (w["W_hh"] @ h_t + w["b_hh"]))
        else:
            h_tilde = np.tanh(w["W_xh"] @ x_t + w["b_xh"] + w["W_hh"] @ (r_t * h_t))
        h_t = z_t * h_t + (1.0 - z_t) * h_tilde
        hs.append(h_t.T)
        ys.append((w["W_y"] @ h_t + w["b_y"]).T)
    return np.stack(hs, axis=1), np.stack(ys, axis=1)


def find_gate_order(model, x):
    """Finds which gate orders of the Keras kernel reproduce Keras's output.

    Args:
        model: Model from `build_rnn("gru", ...)` with random weights.
        x: Inputs of shape (batch, steps, features).

    Returns:
        List of the orders (of all 6) that match; Keras's z, r, h should be
        the only one.
    """
    h_keras, _ = keras_hidden_and_output(model, x)
    return matching_orders("zrh", lambda order: gru_forward(x, chapter_weights(model, order))[0], h_keras)


def compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0):
    """Checks both GRU variants against Keras on the same inputs.

    Args:
        units: Hidden size. Defaults to 4.
        features: Input features. Defaults to 3.
        steps: Sequence length. Defaults to 5.
        batch: Number of sequences. Defaults to 2.
        seed: Seed for weights and inputs. Defaults to 0.

    Returns:
        Dict keyed by `reset_after` (True, False), each a dict with the max
        abs differences for `"h"` and `"y"`, the Keras bias shape under
        `"bias_shape"` and the matching gate orders under `"orders"`.
    """
    x = random_inputs(batch, steps, features, seed=seed)
    results = {}
    for reset_after in (True, False):
        model = build_rnn("gru", units, features, seed=seed, reset_after=reset_after)
        bias_shape = tuple(model.get_layer("rnn").cell.bias.shape)
        print(f"reset_after={reset_after}: GRU.bias shape {bias_shape}")
        h, y = gru_forward(x, chapter_weights(model))
        h_keras, y_keras = keras_hidden_and_output(model, x)
        orders = find_gate_order(model, x)
        print(f"  gate orders that reproduce Keras (of 6 tried): {orders}")
        results[reset_after] = {
            "h": report("hidden states h_t", h, h_keras),
            "y": report("outputs y_t", y, y_keras),
            "bias_shape": bias_shape,
            "orders": orders,
        }
    return results


def main(argv=None):
    """Command-line entry point; `argv` defaults to `sys.argv[1:]`."""
    args = size_parser(__doc__.splitlines()[0]).parse_args(argv)
    default = keras.layers.GRU(1).reset_after  # read it, do not assume it
    print(f"keras.layers.GRU() defaults to reset_after={default} (cuDNN-compatible).")
    print("Keras weight -> chapter symbol (blocks z, r, h of width units):")
    print("  GRU.kernel           = [W_xz | W_xr | W_xh]^T")
    print("  GRU.recurrent_kernel = [W_hz | W_hr | W_hh]^T")
    print("  GRU.bias, reset_after=True:  row 0 [b_xz|b_xr|b_xh], row 1 [b_hz|b_hr|b_hh]")
    print("  GRU.bias, reset_after=False: [b_xz|b_xr|b_xh]")
    print("  Dense.kernel = W_y^T, Dense.bias = b_y")
    compare_with_keras(args.units, args.features, args.steps, args.batch, args.seed)
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
