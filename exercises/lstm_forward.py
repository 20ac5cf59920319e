"""LSTM forward pass from the chapter's equations, checked against Keras.

The chapter's equations, column vectors, `[h_{t-1}, x_t]` stacked into one
column of length units + features:

    f_t  = sigmoid(W_f [h_{t-1}, x_t] + b_f)      forget gate
    i_t  = sigmoid(W_i [h_{t-1}, x_t] + b_i)      input gate
    o_t  = sigmoid(W_o [h_{t-1}, x_t] + b_o)      output gate
    c~_t = tanh(W_c [h_{t-1}, x_t] + b_c)         candidate cell state
    c_t  = f_t * c_{t-1} + i_t * c~_t             (* is elementwise)
    h_t  = o_t * tanh(c_t),                       h_0 = c_0 = 0

Which Keras weight is which: Keras keeps the four gates side by side in
column blocks of width `units`, in the order i, f, c, o (`find_gate_order`
checks this against Keras instead of assuming it), and splits each W_g into
its h part and its x part:

    LSTM.kernel            (features, 4*units): block g = (x part of W_g)^T
    LSTM.recurrent_kernel  (units, 4*units):    block g = (h part of W_g)^T
    LSTM.bias              (4*units,):          block g = b_g

    so W_f = [recurrent_kernel[:, u:2u]^T, kernel[:, u:2u]^T], b_f = bias[u:2u]

Run: `python -m exercises.lstm_forward`
"""

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

# Keras's gate order in the kernel columns; `find_gate_order` verifies it.
KERAS_GATE_ORDER = ("i", "f", "c", "o")

TASKS = [
    (
        "Set the forget-gate bias b_f to -10 (bias[u:2u] in Keras) and feed a long "
        "sequence: how quickly does the cell state forget its first input?"
    ),
    (
        "Keras's default unit_forget_bias=True adds 1 to b_f at initialisation: "
        "print sigmoid(1) and explain why that helps long-range memory early in "
        "training."
    ),
]


def chapter_weights(model, order=KERAS_GATE_ORDER):
    """Assembles the chapter's W_g and b_g for each gate from Keras weights.

    Args:
        model: Model from `build_rnn("lstm", ...)`.
        order: Gate letter of each column block of the Keras kernel. Defaults
            to `KERAS_GATE_ORDER`; other orders exist to test that claim.

    Returns:
        Dict with `W_i, W_f, W_c, W_o` (units, units + features) acting on
        `[h_{t-1}, x_t]`, `b_i, b_f, b_c, b_o` (units,), and the Dense head's
        `W_y` (outputs, units), `b_y` (outputs,).
    """
    if sorted(order) != ["c", "f", "i", "o"]:
        raise ValueError(f"order must be a permutation of i, f, c, o; got {order}")
    kernel, recurrent_kernel, bias = model.get_layer("rnn").get_weights()
    units = recurrent_kernel.shape[0]
    weights = head_weights(model)
    for block, gate in enumerate(order):
        cols = slice(block * units, (block + 1) * units)
        # h part first, x part second, because the chapter stacks [h_{t-1}, x_t].
        weights[f"W_{gate}"] = np.concatenate([recurrent_kernel[:, cols].T, kernel[:, cols].T], axis=1)
        weights[f"b_{gate}"] = bias[cols]
    return weights


def lstm_forward(x, weights):
    """LSTM + Dense forward pass, one equation per line of the chapter.

    Args:
        x: Inputs in Keras layout, shape (batch, steps, features).
        weights: Dict from `chapter_weights`.

    Returns:
        Tuple `(h, y)` in Keras layout: h (batch, steps, units),
        y (batch, steps, outputs). Computed in float64.

    Example:

    >>> model = build_rnn("lstm", units=4, features=3)
    >>> h, y = lstm_forward(random_inputs(2, 5, 3), chapter_weights(model))
    >>> h.shape, y.shape
    ((2, 5, 4), (2, 5, 2))
    """
    w = {name: np.asarray(value, "float64") for name, value in weights.items()}
    batch, steps, _ = x.shape
    units = w["W_f"].shape[0]
    h_t = np.zeros((units, batch))  # h_0, (units, batch): one column per sequence
    c_t = np.zeros((units, batch))  # c_0
    hs, ys = [], []
    for t in range(steps):
        x_t = np.asarray(x[:, t, :], "float64").T  # (features, batch)
        hx = np.concatenate([h_t, x_t], axis=0)  # [h_{t-1}, x_t], (units + features, batch)
        f_t = sigmoid(w["W_f"] @ hx + w["b_f"][:, None])
        i_t = sigmoid(w["W_i"] @ hx + w["b_i"][:, None])
        o_t = sigmoid(w["W_o"] @ hx + w["b_o"][:, None])
        c_tilde = np.tanh(w["W_c"] @ hx + w["b_c"][:, None])
        c_t = f_t * c_t + i_t * c_tilde
        h_t = o_t * np.tanh(c_t)
        hs.append(h_t.T)
        ys.append((w["W_y"] @ h_t + w["b_y"][:, None]).T)
    return np.stack(hs, axis=1), np.stack(ys, axis=1)


def find_gate_order(model, x):
    """Finds which gate orders of the Keras kernel reproduce Keras's output.

    Args:
        model: Model from `build_rnn("lstm", ...)` with random weights.
        x: Inputs of shape (batch, steps, features).

    Returns:
        List of the orders (of all 24) that match, each a tuple such as
        `("i", "f", "c", "o")`; Keras's should be the only one.
    """
    h_keras, _ = keras_hidden_and_output(model, x)
    return matching_orders("ifco", lambda order: lstm_forward(x, chapter_weights(model, order))[0], h_keras)


def compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0):
    """Runs the from-scratch pass and the Keras model on the same inputs.

    Args:
        units: Hidden size. Defaults to 4.
        features: Input features. Defaults to 3.
        steps: Sequence length. Defaults to 5.
        batch: Number of sequences. Defaults to 2.
        seed: Seed for weights and inputs. Defaults to 0.

    Returns:
        Dict with the max abs differences for `"h"` and `"y"`, and the list
        of gate orders that match Keras under `"orders"`.
    """
    model = build_rnn("lstm", units, features, seed=seed)
    x = random_inputs(batch, steps, features, seed=seed)
    h, y = lstm_forward(x, chapter_weights(model))
    h_keras, y_keras = keras_hidden_and_output(model, x)
    orders = find_gate_order(model, x)
    print(f"  gate orders that reproduce Keras (of 24 tried): {orders}")
    return {
        "h": report("hidden states h_t", h, h_keras),
        "y": report("outputs y_t", y, y_keras),
        "orders": orders,
    }


def main(argv=None):
    """Command-line entry point; `argv` defaults to `sys.argv[1:]`."""
    args = size_parser(__doc__.splitlines()[0]).parse_args(argv)
    u = args.units
    print(f"Keras weight -> chapter symbol (units u = {u}, blocks i, f, c, o):")
    # Each W_g is (u, u + features): its h part and its x part live apart.
    print(f"  LSTM.kernel           ({args.features}, 4u): x parts of W_i|W_f|W_c|W_o, ^T")
    print(f"  LSTM.recurrent_kernel ({u}, 4u): h parts of W_i|W_f|W_c|W_o, ^T")
    print("  LSTM.bias             (4u,):  b_i | b_f | b_c | b_o")
    print("  Dense.kernel = W_y^T, Dense.bias = b_y")
    print("Assembling the forget gate from slices u:2u:")
    print("  W_f = concat([recurrent_kernel[:, u:2u].T, kernel[:, u:2u].T], axis=1)")
    print(f"      shape ({u}, {u} + {args.features}), acts on [h_{{t-1}}, x_t]")
    print("  b_f = bias[u:2u]")
    compare_with_keras(u, args.features, args.steps, args.batch, args.seed)
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
