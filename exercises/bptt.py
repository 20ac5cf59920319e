"""Backpropagation through time by hand for SimpleRNN + Dense, checked by TF.

Model and loss (column vectors, as in `simplernn_forward`):

    a_t = W_hh h_{t-1} + W_xh x_t + b_h,   h_t = tanh(a_t),   h_0 = 0
    y_t = W_y h_t + b_y
    L   = 1/N sum_t sum_batch ||y_t - target_t||^2,  N = batch*steps*outputs

The loss is the mean squared error over *all* time steps, outputs and
sequences (what `keras.losses.MeanSquaredError()` returns for
(batch, steps, outputs) tensors), so every h_t gets gradient both from its
own output and from the future.

Backward pass, t = T, ..., 1, starting from dL/da_{T+1} = 0:

    dy_t  = 2 (y_t - target_t) / N                  dL/dy_t
    dh_t  = W_y^T dy_t + W_hh^T da_{t+1}            from y_t and from h_{t+1}
    da_t  = dh_t * (1 - h_t^2)                      tanh' = 1 - tanh^2
    dW_y += dy_t h_t^T          db_y += dy_t
    dW_xh += da_t x_t^T         dW_hh += da_t h_{t-1}^T     db_h += da_t
    dx_t  = W_xh^T da_t                             gradient w.r.t. the input

Keras stores kernels transposed, so TF's gradient for SimpleRNN.kernel is
dW_xh^T, for recurrent_kernel dW_hh^T and for Dense.kernel dW_y^T.

Run: `python -m exercises.bptt`
"""

import keras
import numpy as np
import tensorflow as tf

from exercises.common import build_rnn, print_tasks, random_inputs, report, size_parser
from exercises.simplernn_forward import chapter_weights, simplernn_forward

# Keras weight name -> (chapter gradient, whether Keras stores it transposed).
KERAS_TO_CHAPTER = {
    "rnn/kernel": ("dW_xh", True),
    "rnn/recurrent_kernel": ("dW_hh", True),
    "rnn/bias": ("db_h", False),
    "head/kernel": ("dW_y", True),
    "head/bias": ("db_y", False),
}

TASKS = [
    (
        "Change the loss to the MSE of the last output y_T only: which line of "
        "the backward pass changes, and which dy_t become zero?"
    ),
    (
        "Print the norm of dx_t for t = 1..T with --steps 50: where does it "
        "shrink, and how does that connect to the product of W_hh^T and "
        "diag(1 - h_t^2) in the backward pass?"
    ),
]


def bptt(x, target, weights):
    """Loss and all gradients of SimpleRNN + Dense by backpropagation through time.

    Args:
        x: Inputs in Keras layout, shape (batch, steps, features).
        target: Targets, shape (batch, steps, outputs).
        weights: Dict from `simplernn_forward.chapter_weights`.

    Returns:
        Tuple `(loss, grads)`: the float loss and a dict with `dW_xh`
        (units, features), `dW_hh` (units, units), `db_h` (units,),
        `dW_y` (outputs, units), `db_y` (outputs,) and `dx`
        (batch, steps, features). Computed in float64.

    Example:

    >>> model = build_rnn("simplernn", units=4, features=3)
    >>> x, target = random_inputs(2, 5, 3), random_inputs(2, 5, 2, seed=1)
    >>> loss, grads = bptt(x, target, chapter_weights(model))
    >>> grads["dW_hh"].shape, grads["dx"].shape
    ((4, 4), (2, 5, 3))
    """
    w = {name: np.asarray(value, "float64") for name, value in weights.items()}
    h, y = simplernn_forward(x, w)  # (batch, steps, units), (batch, steps, outputs)
    x = np.asarray(x, "float64")
    error = y - np.asarray(target, "float64")
    loss = float(np.mean(error**2))
    batch, steps, _ = x.shape
    grads = {name: np.zeros_like(w[name[1:]]) for name in ("dW_xh", "dW_hh", "db_h", "dW_y", "db_y")}
    dx = np.zeros_like(x)
    da_next = np.zeros((w["W_hh"].shape[0], batch))  # dL/da_{T+1} = 0, (units, batch)
    for t in reversed(range(steps)):
        # Columns = sequences, as in the forward pass.
        x_t, h_t = x[:, t, :].T, h[:, t, :].T
        h_prev = h[:, t - 1, :].T if t > 0 else np.zeros_like(h_t)
        dy_t = 2.0 * error[:, t, :].T / error.size  # (outputs, batch)
        grads["dW_y"] += dy_t @ h_t.T
        grads["db_y"] += dy_t.sum(axis=1)
        dh_t = w["W_y"].T @ dy_t + w["W_hh"].T @ da_next  # (units, batch)
        da_t = dh_t * (1.0 - h_t**2)
        grads["dW_xh"] += da_t @ x_t.T
        grads["dW_hh"] += da_t @ h_prev.T
        grads["db_h"] += da_t.sum(axis=1)
        dx[:, t, :] = (w["W_xh"].T @ da_t).T
        da_next = da_t
    grads["dx"] = dx
    return loss, grads


def tape_gradients(model, x, target):
    """Loss and gradients of the same model from `tf.GradientTape`.

    Args:
        model: Model from `build_rnn("simplernn", ...)`.
        x: Inputs, shape (batch, steps, features).
        target: Targets, shape (batch, steps, outputs).

    Returns:
        Tuple `(loss, grads)` with the keys of `bptt`, kernels transposed to
        the chapter's orientation.
    """
    dtype = model.inputs[0].dtype
    x = tf.convert_to_tensor(x, dtype)
    # Keras losses compute in keras.config.floatx() (float32) unless told.
    mse = keras.losses.MeanSquaredError(dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = mse(target, model(x))
    variables = {f"{v.path.split('/')[0]}/{v.name}": v for v in model.trainable_variables}
    tape_grads = tape.gradient(loss, [x] + [variables[name] for name in KERAS_TO_CHAPTER])
    grads = {"dx": tape_grads[0].numpy()}
    for (name, transposed), grad in zip(KERAS_TO_CHAPTER.values(), tape_grads[1:], strict=True):
        grads[name] = grad.numpy().T if transposed else grad.numpy()
    return float(loss), grads


def compare_with_tape(units=4, features=3, steps=5, batch=2, seed=0, dtype="float64"):
    """Runs hand-written BPTT and `tf.GradientTape` on the same model and data.

    Args:
        units: Hidden size. Defaults to 4.
        features: Input features. Defaults to 3.
        steps: Sequence length. Defaults to 5.
        batch: Number of sequences. Defaults to 2.
        seed: Seed for weights, inputs and targets. Defaults to 0.
        dtype: Keras layer dtype. Defaults to `"float64"`, so both sides
            compute in double precision and a difference means wrong maths,
            not float32 rounding (about 1e-7 relative).

    Returns:
        Dict of max abs differences keyed `"loss"`, `"dW_xh"`, `"dW_hh"`,
        `"db_h"`, `"dW_y"`, `"db_y"`, `"dx"`.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    model = build_rnn("simplernn", units, features, seed=seed, dtype=dtype)
    x = random_inputs(batch, steps, features, seed=seed, dtype=dtype)
    target = random_inputs(batch, steps, 2, seed=seed + 1, dtype=dtype)
    loss, grads = bptt(x, target, chapter_weights(model))
    tape_loss, tape_grads = tape_gradients(model, x, target)
    diffs = {"loss": report("loss", loss, tape_loss)}
    for name in ("dW_xh", "dW_hh", "db_h", "dW_y", "db_y", "dx"):
        diffs[name] = report(f"{name} {grads[name].shape}", grads[name], tape_grads[name])
    return diffs


def main(argv=None):
    """Command-line entry point; `argv` defaults to `sys.argv[1:]`."""
    parser = size_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default="float64",
        help="Keras layer dtype (default float64: compare maths, not rounding)",
    )
    args = parser.parse_args(argv)
    print("Loss: MSE over all time steps, outputs and sequences.")
    print("Keras variable -> hand-computed gradient:")
    for keras_name, (name, transposed) in KERAS_TO_CHAPTER.items():
        print(f"  {keras_name:<22s} {name}{'^T' if transposed else ''}")
    print(f"Hand BPTT (NumPy float64) vs tf.GradientTape (Keras {args.dtype}):")
    compare_with_tape(args.units, args.features, args.steps, args.batch, args.seed, args.dtype)
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
