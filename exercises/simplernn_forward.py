"""SimpleRNN forward pass from the chapter's equations, checked against Keras.

The chapter's equations, column vectors:

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h),   h_0 = 0
    y_t = W_y h_t + b_y

Which Keras weight is which (Keras multiplies row vectors from the right, so
its matrices are the chapter's transposed):

    SimpleRNN.kernel            (features, units) = W_xh^T
    SimpleRNN.recurrent_kernel  (units, units)    = W_hh^T
    SimpleRNN.bias              (units,)          = b_h
    Dense.kernel                (units, outputs)  = W_y^T
    Dense.bias                  (outputs,)        = b_y

Run: `python -m exercises.simplernn_forward`
"""

import numpy as np

from exercises.common import (
    build_rnn,
    head_weights,
    keras_hidden_and_output,
    print_tasks,
    random_inputs,
    report,
    size_parser,
)

TASKS = [
    (
        "Build the model with build_rnn('simplernn', activation='relu') and "
        "replace np.tanh in simplernn_forward by np.maximum(0, ...): does the "
        "match hold? Rerun with --steps 100 and compare the size of h_t under "
        "ReLU and tanh."
    ),
    (
        "Feed a sequence of all zeros: why are h_t and y_t not zero, and after how "
        "many steps does h_t change by less than 1e-6 per step?"
    ),
]


def chapter_weights(model):
    """Reads the chapter's matrices out of a SimpleRNN + Dense Keras model.

    Args:
        model: Model from `build_rnn("simplernn", ...)`.

    Returns:
        Dict with `W_xh` (units, features), `W_hh` (units, units),
        `b_h` (units,), `W_y` (outputs, units), `b_y` (outputs,).
    """
    kernel, recurrent_kernel, bias = model.get_layer("rnn").get_weights()
    return {
        "W_xh": kernel.T,
        "W_hh": recurrent_kernel.T,
        "b_h": bias,
        **head_weights(model),
    }


def simplernn_forward(x, weights):
    """SimpleRNN + Dense forward pass, one equation per line of the chapter.

    Args:
        x: Inputs in Keras layout, shape (batch, steps, features).
        weights: Dict from `chapter_weights`.

    Returns:
        Tuple `(h, y)` in Keras layout: h (batch, steps, units),
        y (batch, steps, outputs). Computed in float64.

    Example:

    >>> model = build_rnn("simplernn", units=4, features=3)
    >>> h, y = simplernn_forward(random_inputs(2, 5, 3), chapter_weights(model))
    >>> h.shape, y.shape
    ((2, 5, 4), (2, 5, 2))
    """
    w = {name: np.asarray(value, "float64") for name, value in weights.items()}
    batch, steps, _ = x.shape
    # Column vectors, one column per sequence in the batch.
    h_t = np.zeros((w["W_hh"].shape[0], batch))  # h_0 = 0, (units, batch)
    hs, ys = [], []
    for t in range(steps):
        x_t = np.asarray(x[:, t, :], "float64").T  # (features, batch)
        h_t = np.tanh(w["W_hh"] @ h_t + w["W_xh"] @ x_t + w["b_h"][:, None])
        y_t = w["W_y"] @ h_t + w["b_y"][:, None]  # (outputs, batch)
        hs.append(h_t.T)
        ys.append(y_t.T)
    # Back to Keras layout: stack along the time axis.
    return np.stack(hs, axis=1), np.stack(ys, axis=1)


def compare_with_keras(units=4, features=3, steps=5, batch=2, seed=0):
    """Runs the from-scratch pass and the Keras model on the same inputs.

    Args:
        units: Hidden size. Defaults to 4.
        features: Input features. Defaults to 3.
        steps: Sequence length. Defaults to 5.
        batch: Number of sequences. Defaults to 2.
        seed: Seed for weights and inputs. Defaults to 0.

    Returns:
        Dict with the max abs differences for `"h"` and `"y"`.
    """
    model = build_rnn("simplernn", units, features, seed=seed)
    x = random_inputs(batch, steps, features, seed=seed)
    weights = chapter_weights(model)
    for name, value in weights.items():
        print(f"  {name:<5s} shape {value.shape!s:<8s}")
    h, y = simplernn_forward(x, weights)
    h_keras, y_keras = keras_hidden_and_output(model, x)
    return {
        "h": report("hidden states h_t", h, h_keras),
        "y": report("outputs y_t", y, y_keras),
    }


def main(argv=None):
    """Command-line entry point; `argv` defaults to `sys.argv[1:]`."""
    args = size_parser(__doc__.splitlines()[0]).parse_args(argv)
    print("Keras weight -> chapter symbol:")
    print("  SimpleRNN.kernel           (features, units) = W_xh^T")
    print("  SimpleRNN.recurrent_kernel (units, units)    = W_hh^T")
    print("  SimpleRNN.bias             (units,)          = b_h")
    print("  Dense.kernel               (units, outputs)  = W_y^T")
    print("  Dense.bias                 (outputs,)        = b_y")
    print("Chapter matrices (column-vector convention):")
    compare_with_keras(args.units, args.features, args.steps, args.batch, args.seed)
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
