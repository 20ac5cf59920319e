"""What the source -> target text tasks share (addition, dates): ids, pipelines, decoding, scores.

A pair `("535+61", "596")` becomes two inputs and a per-step target:

    source          "535+61"       -> source ids (1.. over the source characters, 0 pads)
    decoder_inputs  START "596"    -> the target shifted right (teacher forcing)
    labels          "596" END      -> the next target id at every decoder step

Target ids: 0 pads, 1 is START, 2 is END, the characters follow. Both
inputs are zero-padded and masked, so the padding counts in neither the
loss nor the metrics. The vocabularies are saved in task_state.json.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from datasets.base import Task, TaskData, export_archive, finish, read_texts, task_data
from zoo import files, plots
from zoo.spec import NEXT_TOKEN, TOKENS, InputSpec, Setting, TaskSpec

SPLITS = {"train": "train", "val": "validation", "test": "test"}
PAD, START, END = 0, 1, 2  # the decoder's reserved ids (models/seq2seq.py reads the same)
RESERVED = 3
INPUT_NAMES = ("source", "decoder_inputs")
# Sources decoded at once by evaluate.py.
DECODE_BATCH = 1024
MISTAKES_SHOWN = 5
HEATMAPS = 4  # test examples in attention.png

EVAL_SETTINGS = (
    Setting("text", str, None, "a source text to decode (repeatable)", many=True),
    Setting("text_file", str, None, "a UTF-8 file with one source text to decode per line"),
    Setting("beam", int, 1, "beam width of the decoder (1: greedy)", positive=True),
)


def tokens(state, text: str) -> list[str]:
    """A text's tokens: its characters, or its whitespace-separated words where the state says so."""
    return text.split() if state.get("words") else list(text)


def join(state, pieces) -> str:
    return (" " if state.get("words") else "").join(pieces)


def encode_source(state, texts) -> np.ndarray:
    """Source texts -> zero-padded ids (n, longest); a token outside the vocabulary is refused."""
    index = {c: i + 1 for i, c in enumerate(state["source_chars"])}
    split = [tokens(state, t) for t in texts]
    ids = np.zeros((len(texts), max((len(t) for t in split), default=1) or 1), dtype=np.int32)
    for row, (text, pieces) in enumerate(zip(texts, split)):
        unknown = sorted(set(pieces) - set(index))
        if unknown:
            what = "words" if state.get("words") else "characters"
            raise ValueError(
                f"--text {text!r} holds {what} the model was not trained on: {join(state, unknown)!r}"
            )
        ids[row, : len(pieces)] = [index[c] for c in pieces]
    return ids


def encode_targets(state, texts, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets -> (decoder inputs, labels), each (n, length): START + target and target + END, zero-padded."""
    index = {c: i + RESERVED for i, c in enumerate(state["target_chars"])}
    inputs = np.zeros((len(texts), length), dtype=np.int32)
    labels = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [index[c] for c in tokens(state, text)]
        inputs[row, : len(ids) + 1] = [START, *ids]
        labels[row, : len(ids) + 1] = [*ids, END]
    return inputs, labels


def decode_target(state, ids) -> str:
    """Target ids -> text, up to the first END (PAD and START print nothing)."""
    chars = state["target_chars"]
    out = []
    for i in ids:
        if i == END:
            break
        if i >= RESERVED:
            out.append(chars[i - RESERVED])
    return join(state, out)


def char_accuracy(outputs, targets) -> float:
    """Characters right, position by position, over the longer of output and target (END counted)."""
    right = total = 0
    for out, target in zip(outputs, targets):
        out, target = out + "\0", target + "\0"  # the end counts as one character
        right += sum(a == b for a, b in zip(out, target))
        total += max(len(out), len(target))
    return right / max(total, 1)


# The synthetic tasks' shared training settings; each adds its epochs and batch size.
SYNTHETIC_DEFAULTS = dict(learning_rate=3e-3, lr_schedule="cosine", units=128, embedding_dim=32, patience=5)


class TranslationTask(Task):
    """A task of (source text, target text) pairs read from this project's TFDS builder.

    Subclasses set `source_chars` and `target_chars` (their fixed
    alphabets), and implement `builder(config)` and `lengths(config)`.
    """

    heads = (NEXT_TOKEN,)
    input_kinds = (TOKENS,)
    input_names = INPUT_NAMES
    eval_settings = EVAL_SETTINGS
    source_chars = ""
    target_chars = ""
    # Attention: on 6-digit sums it lifts exact match from 0.39 to 0.59 (docs/seq2seq.md).
    recipes = {"seq2seq-lstm": dict(attention="luong"), "seq2seq-gru": dict(attention="luong")}

    def builder(self, config):
        raise NotImplementedError

    def lengths(self, config) -> tuple[int, int]:
        """The longest source and target (characters) the settings allow."""
        raise NotImplementedError

    def pairs(self, config, split: str, state=None) -> tuple[list[str], list[str]]:
        """The (sources, targets) texts of one split ("train", "val" or "test"), for the run's `state`."""
        ds = self.builder(config).as_dataset(split=SPLITS[split], as_supervised=True, batch_size=-1)
        sources, targets = tfds.as_numpy(ds)  # the whole split at once: byte strings
        return [s.decode("utf-8") for s in sources], [t.decode("utf-8") for t in targets]

    def arrays(self, config, state, split: str, limit: int | None = None):
        """`({source, decoder_inputs}, labels)` NumPy arrays of one split, and its texts."""
        sources, targets = self.pairs(config, split, state)
        if limit:
            sources, targets = sources[:limit], targets[:limit]
        ids = encode_source(state, sources)
        source = np.zeros((len(sources), max(state["max_source"], ids.shape[1])), dtype=np.int32)
        source[:, : ids.shape[1]] = ids
        longest = max((len(tokens(state, t)) for t in targets), default=0)
        decoder_inputs, labels = encode_targets(state, targets, max(state["max_target"], longest) + 1)
        return {"source": source, "decoder_inputs": decoder_inputs}, labels, (sources, targets)

    def new_state(self, config) -> dict:
        max_source, max_target = self.lengths(config)
        return {
            "source_chars": self.source_chars,
            "target_chars": self.target_chars,
            "max_source": max_source,
            "max_target": max_target,
        }

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        state = state or self.new_state(config)

        def pipeline(split):
            x, y, _ = self.arrays(config, state, split)
            ds = tf.data.Dataset.from_tensor_slices((x, y))
            return finish(ds, config.batch_size, len(y) if split == "train" else 0, config.seed)

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        source = InputSpec(TOKENS, name="source", vocab_size=len(state["source_chars"]) + 1, mask_zero=True)
        target_vocab = len(state["target_chars"]) + RESERVED
        target = InputSpec(TOKENS, name="decoder_inputs", vocab_size=target_vocab, mask_zero=True)
        return TaskSpec(inputs=(source, target), head=NEXT_TOKEN, output_units=target_vocab, per_step=True)

    def example_state(self, config) -> dict:
        return self.new_state(config)

    def read_inputs(self, options) -> list[str]:
        # The run's vocabulary refuses unknown characters (`predict`): other
        # tasks' runs read these flags too, before any run is read.
        return read_texts(options)

    def decode(self, model, state, source_ids, options):
        """Decoded texts of zero-padded source ids (batches of DECODE_BATCH), and the attention of greedy decoding."""
        from models.decoding import Translator  # decoding is model code; the task only asks for it

        translator = Translator(model)
        beam, max_length = options.get("beam") or 1, state["max_target"] + 1
        texts, attention = [], []
        for start in range(0, len(source_ids), DECODE_BATCH):
            batch = source_ids[start : start + DECODE_BATCH]
            if beam == 1:
                ids, weights = translator.greedy(batch, max_length)
                attention.append(weights)
            else:
                ids = translator.beam_search(batch, beam, max_length)
            texts += [decode_target(state, row) for row in ids]
        return texts, (np.concatenate(attention) if attention else None), translator

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        outputs, _, _ = self.decode(model, state, encode_source(state, inputs), options)
        return [{"input": text, "output": out} for text, out in zip(inputs, outputs)]

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: source texts (batch,) -> `output`, their greedy decodings (batch,).

        The graph splits each text into the run's tokens (characters, or
        whitespace-separated words), looks them up in the saved source
        vocabulary, runs the encoder once and the decoder step by step
        (`Translator.greedy_ids`, at most `max_target` + 1 steps), and joins
        the target tokens up to the first END: what `predict` (evaluate.py
        --text) gives. An empty text, or one holding a token outside the
        vocabulary (which `predict` refuses), fails the call.
        """
        from models.decoding import Translator  # decoding is model code; the task only asks for it

        translator = Translator(model)
        words = bool(state.get("words"))
        what = "words" if words else "characters"
        # Id 0 for a token outside the vocabulary; the source tokens are 1..n, as in `encode_source`.
        lookup = keras.layers.StringLookup(
            vocabulary=list(state["source_chars"]), num_oov_indices=1, mask_token=None
        )
        lookup(tf.constant(["a"]))  # built: an archive tracks only built layers
        targets = tf.constant(["", "", "", *state["target_chars"]])  # PAD, START and END print nothing
        steps = state["max_target"] + 1

        def serve(texts):
            pieces = tf.strings.split(texts) if words else tf.strings.unicode_split(texts, "UTF-8")
            ids = tf.cast(lookup(pieces), tf.int32)  # ragged (batch, tokens)
            checks = [
                tf.debugging.assert_positive(ids.row_lengths(), message="a text is empty"),
                tf.debugging.assert_positive(
                    ids.flat_values, message=f"a text holds {what} the model was not trained on"
                ),
            ]
            with tf.control_dependencies(checks):
                source = tf.identity(ids.to_tensor())  # (batch, longest), zero-padded
            out = translator.greedy_ids(source, steps)  # (batch, steps)
            tokens = tf.ragged.boolean_mask(tf.gather(targets, out), out >= RESERVED)  # up to END
            return {"output": tf.strings.reduce_join(tokens, axis=1, separator=" " if words else "")}

        signature = [tf.TensorSpec([1 if fixed_shape else None], tf.string, name="texts")]
        return export_archive([model, lookup], {"serving_default": (serve, signature)})

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        texts = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, texts, options) if texts else []
        x, y, (sources, targets) = self.arrays(config, data.state, "test", options.get("limit"))
        tick = time.perf_counter()
        outputs, attention, translator = self.decode(model, data.state, x["source"], options)
        seconds = time.perf_counter() - tick  # the first batch includes tracing the decoder
        forced = model.evaluate(x, y, batch_size=DECODE_BATCH, verbose=0, return_dict=True)
        right = [o == t for o, t in zip(outputs, targets)]
        mistakes = [
            {"input": s, "output": o, "expected": t}
            for s, o, t, ok in zip(sources, outputs, targets, right)
            if not ok
        ][:MISTAKES_SHOWN]
        result = {
            "exact_match": float(np.mean(right)),
            "char_accuracy": char_accuracy(outputs, targets),
            "teacher_forced_char_accuracy": float(forced["accuracy"]),
            "test_loss": float(forced["loss"]),
            "beam": options.get("beam") or 1,
            "decoded_per_second": len(outputs) / seconds,
            "test_examples": len(outputs),
            "mistakes": mistakes,
        }
        if translator.has_attention and attention is not None:
            examples = [
                (sources[i], outputs[i], attention[i, : len(outputs[i]) + 1, : len(sources[i])])
                for i in range(min(HEATMAPS, len(sources)))
            ]
            path = os.path.join(run_dir, "attention.png")
            plots.save_attention(examples, path)
            result["attention_plot"] = path
        files.write_text(os.path.join(run_dir, "mistakes.txt"), format_mistakes(result["mistakes"]))
        return result | ({"predictions": predictions} if predictions else {})


def format_mistakes(mistakes) -> str:
    return "".join(f"{m['input']} -> {m['output']} (expected {m['expected']})\n" for m in mistakes)
