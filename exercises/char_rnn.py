"""A character-level SimpleRNN trained from scratch in NumPy, with BPTT (in the spirit of min-char-rnn).

Model (column vectors, one-hot characters x_t, as in `simplernn_forward`):

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)
    y_t = W_hy h_t + b_y,   p_t = softmax(y_t)
    L   = - sum_t log p_t[next character]          (nats, summed over the window)

Backward pass through the window, t = T, ..., 1, with dh_next = 0:

    dy_t   = p_t - onehot(next_t)
    dW_hy += dy_t h_t^T         db_y += dy_t
    dh     = W_hy^T dy_t + dh_next
    da     = (1 - h_t^2) * dh
    dW_xh += da x_t^T           dW_hh += da h_{t-1}^T     db_h += da
    dh_next = W_hh^T da

Training reads the text in windows of `seq_len` characters, carries h from
one window to the next (truncated BPTT), clips each gradient to [-5, 5] and
updates with Adagrad, as Karpathy's min-char-rnn does.

Run: `python -m exercises.char_rnn --steps 2000`
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from exercises.common import positive_int, print_tasks

TASKS = [
    "Set --hidden 8 and then 256: how do the loss after 2,000 steps and the time per step change?",
    (
        "Remove the clipping in `train` (np.clip): with --learning-rate 0.5, what happens to the "
        "loss, and which gradient grows first?"
    ),
]


@dataclasses.dataclass
class CharRNN:
    """The weights of a character SimpleRNN and its vocabulary.

    Args:
        chars: The characters, in id order.
        hidden: Hidden units.
        seed: Seed of the N(0, 0.01^2) initialisation.
    """

    chars: str
    hidden: int = 64
    seed: int = 0

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        v, h = len(self.chars), self.hidden
        self.params = {
            "W_xh": rng.normal(0, 0.01, (h, v)),
            "W_hh": rng.normal(0, 0.01, (h, h)),
            "W_hy": rng.normal(0, 0.01, (v, h)),
            "b_h": np.zeros((h, 1)),
            "b_y": np.zeros((v, 1)),
        }
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=int)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def loss_and_gradients(model: CharRNN, inputs, targets, h_prev):
    """Forward and backward pass over one window.

    Args:
        model: The network.
        inputs, targets: Character ids, the targets one step ahead (length T each).
        h_prev: The hidden state before the window, shape (hidden, 1).

    Returns:
        `(loss, gradients, h_last)`: the window's summed nats, a dict of
        gradients shaped like `model.params`, and the last hidden state.
    """
    p = model.params
    xs, hs, ps = {}, {-1: np.copy(h_prev)}, {}
    loss = 0.0
    for t, (i, j) in enumerate(zip(inputs, targets)):
        xs[t] = np.zeros((len(model.chars), 1))
        xs[t][i] = 1
        hs[t] = np.tanh(p["W_xh"] @ xs[t] + p["W_hh"] @ hs[t - 1] + p["b_h"])
        y = p["W_hy"] @ hs[t] + p["b_y"]
        ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))  # softmax, shifted for stability
        loss -= float(np.log(ps[t][j, 0]))
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # softmax + cross-entropy: p - onehot
        grads["W_hy"] += dy @ hs[t].T
        grads["b_y"] += dy
        dh = p["W_hy"].T @ dy + dh_next
        da = (1 - hs[t] ** 2) * dh  # tanh' = 1 - tanh^2
        grads["b_h"] += da
        grads["W_xh"] += da @ xs[t].T
        grads["W_hh"] += da @ hs[t - 1].T
        dh_next = p["W_hh"].T @ da
    return loss, grads, hs[len(inputs) - 1]


def sample(model: CharRNN, h, seed_id: int, length: int, rng: np.random.Generator, temperature: float = 1.0):
    """`length` character ids sampled one at a time after `seed_id`, from state `h`."""
    p = model.params
    x = np.zeros((len(model.chars), 1))
    x[seed_id] = 1
    ids = []
    for _ in range(length):
        h = np.tanh(p["W_xh"] @ x + p["W_hh"] @ h + p["b_h"])
        y = (p["W_hy"] @ h + p["b_y"]) / temperature
        probs = np.exp(y - y.max()).ravel()
        i = int(rng.choice(len(probs), p=probs / probs.sum()))
        x = np.zeros_like(x)
        x[i] = 1
        ids.append(i)
    return ids


def train(
    model: CharRNN, text: str, steps: int, seq_len: int = 25, learning_rate: float = 0.1, every: int = 0
):
    """Adagrad over windows of the text, the state carried between windows.

    Args:
        model: The network (its weights are updated in place).
        text: The training text (only characters of `model.chars`).
        steps: Windows to train on (the text wraps around).
        seq_len: Characters per window (the BPTT length).
        learning_rate: Adagrad's rate.
        every: Also record a 200-character sample every N steps (0: none).

    Returns:
        `(losses, samples)`: the smoothed loss in nats per character after
        each step, and `(step, text)` pairs.
    """
    ids = model.encode(text)
    memory = {name: np.zeros_like(value) for name, value in model.params.items()}
    smooth = np.log(len(model.chars))  # the loss of a uniform guess
    losses, samples = [], []
    rng = np.random.default_rng(model.seed)
    h, position = np.zeros((model.hidden, 1)), 0
    for step in range(steps):
        if position + seq_len + 1 > len(ids):
            h, position = np.zeros_like(h), 0  # back to the start, state reset
        inputs, targets = ids[position : position + seq_len], ids[position + 1 : position + seq_len + 1]
        loss, grads, h = loss_and_gradients(model, inputs, targets, h)
        for name, grad in grads.items():
            np.clip(grad, -5, 5, out=grad)  # against exploding gradients
            memory[name] += grad * grad
            model.params[name] -= learning_rate * grad / np.sqrt(memory[name] + 1e-8)
        smooth = 0.99 * smooth + 0.01 * loss / seq_len
        losses.append(smooth)
        if every and (step + 1) % every == 0:
            samples.append((step + 1, model.decode(sample(model, h, inputs[0], 200, rng))))
        position += seq_len
    return np.array(losses), samples


def numerical_gradient(model: CharRNN, inputs, targets, name: str, index, eps: float = 1e-5) -> float:
    """The central difference of the loss in one weight: the check of the backward pass."""
    h = np.zeros((model.hidden, 1))
    old = model.params[name][index]
    model.params[name][index] = old + eps
    up = loss_and_gradients(model, inputs, targets, h)[0]
    model.params[name][index] = old - eps
    down = loss_and_gradients(model, inputs, targets, h)[0]
    model.params[name][index] = old
    return (up - down) / (2 * eps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=2000, help="windows to train on")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden units")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="Adagrad's learning rate")
    args = parser.parse_args(argv)
    text = "To be, or not to be, that is the question. " * 40
    model = CharRNN("".join(sorted(set(text))), hidden=args.hidden)
    losses, samples = train(model, text, args.steps, learning_rate=args.learning_rate, every=args.steps)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} nats/char after {args.steps} steps")
    print("sample:", samples[-1][1])
    print_tasks(TASKS)


if __name__ == "__main__":
    main()
