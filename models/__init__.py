"""Model builders and the model registry: pure Keras, no I/O."""

from models import rnn, seq2seq, snippets  # noqa: F401  (registers the presets, the encoder-decoders, the snippets)
from models.registry import MODELS, ModelEntry, get_model, register_model

__all__ = ["MODELS", "ModelEntry", "get_model", "register_model"]
