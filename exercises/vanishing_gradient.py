"""Vanishing and exploding gradients in SimpleRNN, LSTM and GRU, measured.

What is measured: for the last hidden state h_T of a Keras layer with its
default initialisers, the Frobenius norm of the Jacobian

    J(d) = d h_T / d x_{T-d+1}        (units x features)

against the distance d, the number of recurrent steps the gradient passes
through (x_T enters h_T through one cell, so it is at distance 1; x_1 is at
distance T). By the chain rule J(d) contains a product of d - 1 step
Jacobians d h_t / d h_{t-1}; if their norms stay below 1 the product
vanishes geometrically, above 1 it explodes.

The full Jacobian takes one backward pass per hidden unit. Instead of
`units` passes, each input sequence is repeated `units` times in the batch
and copy k back-propagates only unit k of h_T: one backward pass gives every
row of J for every sequence.

Averaging: the norms span tens of orders of magnitude, so the reported
value is the geometric mean (mean of log norms) over `--sequences` random
standard-normal sequences for each of `--trials` seeded initialisations.
Everything runs in float64 so that tiny gradients do not underflow to zero.

Exploding case: SimpleRNN with activation="relu" and
recurrent_initializer=Orthogonal(gain=--gain). Gradient clipping by global
norm (`tf.clip_by_global_norm`; in Keras, `optimizer(global_clipnorm=...)`,
while `clipnorm=...` clips each variable's gradient separately) rescales
the weight gradient to norm at most `--clipnorm` and keeps its direction.

Run: `python -m exercises.vanishing_gradient --steps 200 --out gradients.png`
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from exercises.common import RNN_LAYERS, positive_int, print_tasks

# Distances printed in the table (those up to --steps).
TABLE_DISTANCES = (1, 10, 50, 100, 200)

TASKS = [
    (
        "Switch the SimpleRNN's activation to 'relu' with the default "
        "recurrent initializer (orthogonal, gain 1) and rerun the gradient plot: "
        "does the gradient still vanish, and how fast?"
    ),
    (
        "Pass unit_forget_bias=False to the LSTM (forget-gate bias starts at 0 "
        "instead of 1, so f_t starts near 0.5 instead of 0.73) and remeasure: "
        "how does its decay per step change?"
    ),
]


def exploding_kwargs(gain):
    """Layer arguments of the exploding SimpleRNN.

    Args:
        gain: Gain of the orthogonal recurrent initializer; above about 1.5
            ReLU's gradient grows with distance.

    Returns:
        Dict of keyword arguments for `keras.layers.SimpleRNN`.
    """
    if gain <= 0:
        raise ValueError(f"gain must be positive, got {gain}")
    return {
        "activation": "relu",
        "recurrent_initializer": keras.initializers.Orthogonal(gain=gain),
    }


def jacobian_norms(layer, x):
    """Frobenius norms of d h_T / d x_t for every t, one backward pass.

    Args:
        layer: A Keras recurrent layer with `return_sequences=False`.
        x: float64 inputs, shape (sequences, steps, features).

    Returns:
        Array (sequences, steps); column d - 1 holds distance d, i.e.
        the input x_{T-d+1}.
    """
    sequences, steps, features = x.shape
    units = layer.units
    # Copy k of each sequence back-propagates only unit k of h_T.
    x_rep = tf.constant(np.repeat(x, units, axis=0))  # (sequences*units, steps, features)
    select = tf.constant(np.tile(np.eye(units), (sequences, 1)))  # (sequences*units, units)
    with tf.GradientTape() as tape:
        tape.watch(x_rep)
        picked = tf.reduce_sum(layer(x_rep) * select)
    rows = tape.gradient(picked, x_rep).numpy().reshape(sequences, units, steps, features)
    norms = np.sqrt(np.sum(rows**2, axis=(1, 3)))  # (sequences, steps), by time t
    return norms[:, ::-1]  # by distance: t = T first


def gradient_norms(cell, steps=200, trials=3, sequences=4, units=32, features=8, seed=0, **layer_kwargs):
    """Geometric-mean norm of d h_T / d x_{T-d+1} for d = 1..steps.

    Args:
        cell: One of `"simplernn"`, `"lstm"`, `"gru"`.
        steps: Sequence length T, the largest distance. Defaults to 200.
        trials: Seeded initialisations to average over. Defaults to 3.
        sequences: Random sequences per initialisation. Defaults to 4.
        units: Hidden units. Defaults to 32, a typical small layer.
        features: Input features. Defaults to 8.
        seed: Base seed; trial k uses `seed + k`. Defaults to 0.
        **layer_kwargs: Passed to the layer (e.g. `exploding_kwargs(2.0)`).

    Returns:
        Array of shape (steps,); entry d - 1 is the norm at distance d.

    Example:

    >>> gradient_norms("lstm", steps=20, trials=1, sequences=2).shape
    (20,)
    """
    if cell not in RNN_LAYERS:
        raise ValueError(f"Unknown cell {cell!r}; known cells: {sorted(RNN_LAYERS)}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    log_norms = []
    for trial in range(trials):
        keras.utils.set_random_seed(seed + trial)  # seeds the default initialisers
        layer = RNN_LAYERS[cell](units, dtype="float64", **layer_kwargs)
        x = np.random.default_rng(seed + trial).standard_normal((sequences, steps, features))
        # A ReLU unit can be dead on every path: floor at the smallest float64.
        log_norms.append(np.log(np.maximum(jacobian_norms(layer, x), np.finfo("float64").tiny)))
    return np.exp(np.mean(np.concatenate(log_norms), axis=0))


def clipping_demo(lengths, gain=2.0, clipnorm=1.0, sequences=4, units=32, features=8, seed=0):
    """Weight-gradient norm of the exploding SimpleRNN before and after clipping.

    The loss is the mean over sequences of sum(h_T); the gradient is taken
    with respect to all trainable weights and clipped with
    `tf.clip_by_global_norm`.

    Args:
        lengths: Sequence lengths to try.
        gain: Recurrent orthogonal gain. Defaults to 2.0.
        clipnorm: Global norm bound. Defaults to 1.0, a common choice.
        sequences: Random sequences per length. Defaults to 4.
        units: Hidden units. Defaults to 32.
        features: Input features. Defaults to 8.
        seed: Seed for the initialisation and inputs. Defaults to 0.

    Returns:
        List of dicts with `length`, `norm` (before), `clipped` (after) and
        `cosine` (between clipped and unclipped gradient; 1 = same direction).
    """
    if clipnorm <= 0:
        raise ValueError(f"clipnorm must be positive, got {clipnorm}")
    keras.utils.set_random_seed(seed)
    layer = keras.layers.SimpleRNN(units, dtype="float64", **exploding_kwargs(gain))
    rng = np.random.default_rng(seed)
    results = []
    for length in lengths:
        x = tf.constant(rng.standard_normal((sequences, length, features)))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(layer(x), axis=-1))
        grads = tape.gradient(loss, layer.trainable_variables)
        clipped, norm = tf.clip_by_global_norm(grads, clipnorm)
        flat = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
        flat_clipped = tf.concat([tf.reshape(g, [-1]) for g in clipped], axis=0)
        cosine = tf.reduce_sum(flat * flat_clipped) / (tf.norm(flat) * tf.norm(flat_clipped))
        results.append(
            {
                "length": length,
                "norm": float(norm),
                "clipped": float(tf.linalg.global_norm(clipped)),
                "cosine": float(cosine),
            }
        )
    return results


def measure_all(steps=200, trials=3, sequences=4, units=32, features=8, gain=2.0, seed=0):
    """Gradient norms by distance for the three cells and the exploding case.

    Args:
        steps: Sequence length. Defaults to 200.
        trials: Initialisations. Defaults to 3.
        sequences: Sequences per initialisation. Defaults to 4.
        units: Hidden units. Defaults to 32.
        features: Input features. Defaults to 8.
        gain: Recurrent gain of the exploding ReLU SimpleRNN. Defaults to 2.0.
        seed: Base seed. Defaults to 0.

    Returns:
        Dict label -> array of shape (steps,), entry d - 1 = distance d.
    """
    sizes = {
        "steps": steps,
        "trials": trials,
        "sequences": sequences,
        "units": units,
        "features": features,
        "seed": seed,
    }
    return {
        "SimpleRNN (tanh)": gradient_norms("simplernn", **sizes),
        "LSTM": gradient_norms("lstm", **sizes),
        "GRU": gradient_norms("gru", **sizes),
        f"SimpleRNN (relu, gain {gain:g})": gradient_norms("simplernn", **sizes, **exploding_kwargs(gain)),
    }


def print_table(norms):
    """Prints norms at `TABLE_DISTANCES` and the per-step decay factor.

    Args:
        norms: Dict from `measure_all`.
    """
    steps = len(next(iter(norms.values())))
    distances = [d for d in TABLE_DISTANCES if d <= steps]
    print("Geometric-mean ||d h_T / d x_{T-d+1}|| by distance d:")
    print(f"  {'cell':<26s}" + "".join(f"{'d=' + str(d):>11s}" for d in distances) + f"{'per step':>10s}")
    for label, values in norms.items():
        # Average factor per step between d = 1 and d = steps.
        per_step = (values[-1] / values[0]) ** (1.0 / (steps - 1))
        print(
            f"  {label:<26s}" + "".join(f"{values[d - 1]:>11.2e}" for d in distances) + f"{per_step:>10.3f}"
        )
    print(f"  per step = (norm at d={steps} / norm at d=1)^(1/{steps - 1})")
    far = distances[-1]
    simple = norms["SimpleRNN (tanh)"][far - 1]
    for label in ("LSTM", "GRU"):
        ratio = norms[label][far - 1] / simple
        verdict = "larger" if ratio > 1 else "smaller"
        print(f"  at d={far}: {label} / SimpleRNN(tanh) = {ratio:.2e} ({label} {verdict})")


def plot(norms, clipping, out):
    """Saves the gradient-norm curves and the clipping demo as a PNG.

    Args:
        norms: Dict from `measure_all`.
        clipping: List from `clipping_demo`.
        out: Output path of the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, values in norms.items():
        left.semilogy(np.arange(1, len(values) + 1), values, label=label)
    left.set(
        xlabel="distance d = T - t + 1",
        ylabel="||d h_T / d x_t||  (geometric mean)",
        title="Input-gradient norm vs distance",
    )
    left.legend()
    lengths = [row["length"] for row in clipping]
    right.semilogy(lengths, [row["norm"] for row in clipping], "o-", label="before clipping")
    right.semilogy(lengths, [row["clipped"] for row in clipping], "s--", label="after clipping")
    right.set(
        xlabel="sequence length T",
        ylabel="global weight-gradient norm",
        title="Exploding ReLU SimpleRNN: clipping by global norm",
    )
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Command-line entry point; `argv` defaults to `sys.argv[1:]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=200,
        help="sequence length T = largest distance measured (default 200)",
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=3,
        help="seeded initialisations to average over (default 3)",
    )
    parser.add_argument(
        "--sequences",
        type=positive_int,
        default=4,
        help="random input sequences per initialisation (default 4)",
    )
    parser.add_argument(
        "--units",
        type=positive_int,
        default=32,
        help="hidden units of every layer (default 32)",
    )
    parser.add_argument(
        "--features",
        type=positive_int,
        default=8,
        help="input features per step (default 8)",
    )
    parser.add_argument(
        "--gain",
        type=float,
        default=2.0,
        help="orthogonal recurrent gain of the exploding ReLU SimpleRNN (default 2.0)",
    )
    parser.add_argument(
        "--clipnorm",
        type=float,
        default=1.0,
        help="global-norm bound for the clipping demo (default 1.0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument(
        "--out",
        default="gradients.png",
        help="path of the PNG plot (default gradients.png)",
    )
    args = parser.parse_args(argv)
    if args.steps < 2:
        raise ValueError(f"--steps must be at least 2, got {args.steps}")

    norms = measure_all(
        args.steps,
        args.trials,
        args.sequences,
        args.units,
        args.features,
        args.gain,
        args.seed,
    )
    print(
        f"{args.units} units, {args.features} features, T = {args.steps}, "
        f"{args.trials} initialisations x {args.sequences} sequences, float64"
    )
    print_table(norms)

    lengths = sorted({d for d in TABLE_DISTANCES if d <= args.steps} | {args.steps})
    clipping = clipping_demo(
        lengths,
        args.gain,
        args.clipnorm,
        args.sequences,
        args.units,
        args.features,
        args.seed,
    )
    print(
        f"\nExploding ReLU SimpleRNN (gain {args.gain:g}), weight gradients of "
        f"mean(sum h_T), clipped to global norm {args.clipnorm:g}:"
    )
    print(f"  {'T':>5s}{'norm before':>14s}{'after':>10s}{'cosine':>9s}")
    for row in clipping:
        print(f"  {row['length']:>5d}{row['norm']:>14.3e}{row['clipped']:>10.3f}{row['cosine']:>9.4f}")

    plot(norms, clipping, args.out)
    print(f"\nSaved {args.out}")
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
