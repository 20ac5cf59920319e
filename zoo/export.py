"""Export of a finished run: a standalone artifact that takes raw inputs (export.py).

The task builds the pipeline (`Task.export_model`: its preprocessing, the
model and its answer in one graph); this module checks the request, writes
the format and moves the result into place whole: into a temporary path
beside `--out`, then renamed, so that a failure or a kill never leaves a
half-written export under that name.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from zoo import rundir

FORMATS = {
    "saved_model": "a TensorFlow SavedModel directory (TensorFlow Serving's format)",
    "litert": "a LiteRT (TFLite) file: batch 1, fixed shapes, LiteRT's built-in ops only",
    "onnx": "an ONNX file (tf2onnx, opset 17) of the serving_default signature",
}
ONNX_OPSET = 17


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why."""


def check_request(fmt: str, out: str, overwrite: bool) -> None:
    """Refuses an unknown format and an existing `out` (without `overwrite`), before anything loads."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    path = Path(out)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise ExportError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    if not path.parent.resolve().is_dir():
        raise ExportError(f"the directory of --out {out} does not exist")


def export(run_dir: str, fmt: str, out: str, overwrite: bool = False) -> str:
    """Exports the finished run in `run_dir` as `fmt` into `out`.

    Args:
        run_dir: A run directory written by train.py.
        fmt: One of `FORMATS`.
        out: The path to create: a directory for "saved_model", a file for "litert" and "onnx".
        overwrite: Replace an existing `out`.

    Returns:
        `out`.

    Raises:
        ExportError: an unknown format, `out` exists, the task cannot export,
            or the model does not convert to the format.
        RunError: the directory holds no finished run, or its model does not load.
    """
    check_request(fmt, out, overwrite)
    config, _ = rundir.load_finished(run_dir, "export")
    import datasets
    import models  # noqa: F401  (registers the zoo's layers, which model.keras names)

    task = datasets.get_task(config.task)
    state = rundir.read_json(os.path.join(run_dir, rundir.STATE_FILE))
    model = rundir.load_model(os.path.join(run_dir, rundir.MODEL_FILE))
    try:
        archive = task.export_model(model, config, state, fixed_shape=fmt == "litert")
    except NotImplementedError:
        raise ExportError(f"the {task.name!r} task has no export") from None
    out_path = Path(out)
    tmp = Path(tempfile.mkdtemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp"))
    try:
        archive.write_out(str(tmp / "saved_model"), verbose=False)
        what = f"the {config.model} model on {task.name}"
        if fmt == "litert":
            (tmp / "export").write_bytes(to_litert(str(tmp / "saved_model"), what))
        elif fmt == "onnx":
            (tmp / "export").write_bytes(to_onnx(str(tmp / "saved_model"), what))
        else:
            os.replace(tmp / "saved_model", tmp / "export")
        _replace(tmp / "export", out_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def to_litert(saved_model: str, what: str) -> bytes:
    """A SavedModel of fixed-shape signatures as a LiteRT flat buffer of built-in ops.

    Built-in ops only: the Python interpreters (`tf.lite.Interpreter`,
    `ai-edge-litert`) have no Flex delegate, so a file with Select TF ops
    would not run there. Keras RNNs become LiteRT WHILE loops of built-ins.

    Raises:
        ExportError: the graph needs ops that LiteRT has no built-in for
            (string ops, say), named in the message; or the file does not load.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        flat = converter.convert()
    except Exception as err:  # noqa: BLE001  (the converter raises its own kinds, with the ops in the text)
        ops = sorted(set(re.findall(r"\btf\.([A-Z]\w*)", str(err))))
        needs = f"TensorFlow ops that LiteRT has no built-in for: {', '.join(ops)}" if ops else str(err)
        needs = needs.splitlines()[0] if needs else err.__class__.__name__
        raise ExportError(f"{what} does not convert to LiteRT ({needs})") from None
    try:
        with warnings.catch_warnings():  # its deprecation notice: it only checks that the file loads
            warnings.simplefilter("ignore")
            tf.lite.Interpreter(model_content=flat).allocate_tensors()
    except Exception as err:  # noqa: BLE001
        first = (str(err).splitlines() or [err.__class__.__name__])[0]
        raise ExportError(f"{what} converts to LiteRT, but the file does not load: {first}") from None
    return flat


def _replace(new: Path, out: Path) -> None:
    """Moves `new` to `out`; an existing `out` is moved aside first and removed once `new` is in place."""
    old = None
    if out.exists() or out.is_symlink():
        old = new.parent / "replaced"
        os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        if old is not None:
            os.replace(old, out)  # the old export back in its place
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    try:
        fd = os.open(out.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)  # the rename is durable
    except OSError:
        pass
    finally:
        os.close(fd)


def to_onnx(saved_model: str, what: str) -> bytes:
    """The `serving_default` signature of a SavedModel as an ONNX model that onnxruntime loads.

    Raises:
        ExportError: tf2onnx is not installed, or the graph holds ops that
            ONNX has no counterpart for (string ops, say; named in the
            message), so the file would not load.
    """
    import logging

    try:
        import onnx
        import onnxruntime
        import tf2onnx
    except ImportError as err:
        raise ExportError(
            f"--format onnx needs tf2onnx, onnx and onnxruntime ({err.name} is missing): "
            "pip install -r requirements.txt"
        ) from None
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model)  # kept: the signature's variables live in it
    serve = loaded.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    names = list(inputs)
    # tf2onnx traces a tf.function with positional inputs; the signature takes names.
    function = tf.function(lambda *args: serve(**dict(zip(names, args))))
    quiet = logging.getLogger("tf2onnx")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs each unsupported op; the message below names them
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # and prints some of its errors
            proto, _ = tf2onnx.convert.from_function(
                function, input_signature=[inputs[n] for n in names], opset=ONNX_OPSET
            )
    except Exception as err:  # noqa: BLE001  (tf2onnx raises many kinds)
        first = (str(err).splitlines() or [err.__class__.__name__])[0]
        raise ExportError(f"{what} does not convert to ONNX ({first})") from None
    finally:
        quiet.setLevel(level)
    unknown = sorted({n.op_type for n in proto.graph.node if not onnx.defs.has(n.op_type, n.domain or "")})
    flat = proto.SerializeToString()
    try:
        onnxruntime.InferenceSession(flat, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001
        needs = f"TensorFlow ops that ONNX has no counterpart for: {', '.join(unknown)}" if unknown else ""
        needs = needs or (str(err).splitlines() or [err.__class__.__name__])[0]
        raise ExportError(f"{what} does not convert to ONNX ({needs})") from None
    return flat
