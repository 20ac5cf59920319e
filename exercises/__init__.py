"""The textbook chapter's RNN mathematics as short runnable exercises.

Each module is importable (functions) and runnable (`python -m exercises.NAME`):

- `simplernn_forward`: SimpleRNN + Dense forward pass from the equations.
- `lstm_forward`: LSTM gates in the chapter's `[h_{t-1}, x_t]` notation.
- `gru_forward`: GRU, both `reset_after=True` (Keras default) and `False`.
- `bptt`: backpropagation through time by hand vs `tf.GradientTape`.
- `vanishing_gradient`: gradient norms vs distance, exploding case, clipping.

Shared helpers live in `common`. See `exercises/README.md`.
"""
