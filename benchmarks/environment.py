"""Date, machine and versions: the same header for every benchmark table."""

from __future__ import annotations

import os
import platform
import time


def describe(torch: bool = True) -> dict:
    """Date, cores, CPU model, Python, the Keras backend, its accelerator and the library versions.

    TensorFlow is optional here: on a GPU machine the benchmarks run the
    same builders under `KERAS_BACKEND=jax` without it. `torch=False`, for
    benchmarks that do not run PyTorch: no "torch" entry, and no import of
    it (seconds) just to read its version.
    """
    import keras
    import numpy as np

    backend = keras.backend.backend()
    return dict(
        date=time.strftime("%Y-%m-%d"),
        cores=os.cpu_count(),
        cpu=cpu_model(),
        python=platform.python_version(),
        tensorflow=_version("tensorflow"),
        keras=keras.__version__,
        backend=backend,
        jax=_version("jax") if backend == "jax" else None,
        accelerator=accelerator(backend),
        numpy=np.__version__,
    ) | (dict(torch=_version("torch")) if torch else {})


def accelerator(backend: str) -> str | None:
    """The GPU that the Keras backend computes on ("NVIDIA H200"), or None on a CPU."""
    if backend != "jax":
        return None  # the zoo's TensorFlow runs are CPU-only (no GPU on our machines)
    import jax

    device = jax.devices()[0]
    return None if device.platform == "cpu" else device.device_kind


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU, where Linux tells it: "AMD EPYC, family 26 model 2, AVX-512"; else the architecture.

    A VM may name only the vendor's line ("AMD EPYC"); the family and model
    numbers and the widest vector instructions tell its generations apart.
    The same VM type has run 2.3-5.4x slower on some days than on others, which
    one CPU generation in place of another could explain.
    """
    if not os.path.exists(cpuinfo):
        return platform.processor() or platform.machine()
    fields = {}
    with open(cpuinfo) as f:
        for line in f:
            if not line.strip():
                break  # the first processor is enough
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    family = f"family {fields['cpu family']} model {fields['model']}" if "cpu family" in fields else None
    parts = [fields.get("model name") or platform.machine(), family, vector]
    return ", ".join(p for p in parts if p)


def header(env: dict) -> str:
    """One line for the top of a table: date, machine, versions."""
    gpu = f", GPU {env['accelerator']}" if env.get("accelerator") else ""
    tensorflow = f"TensorFlow {env['tensorflow']}, " if env.get("tensorflow") else ""
    backend = env.get("backend", "tensorflow")
    jax = f" (JAX {env['jax']} backend)" if backend == "jax" else ""
    torch = f", PyTorch {env['torch']}" if env.get("torch") else ""
    return (
        f"{env['date']}, {env['cores']} CPU cores ({env['cpu']}){gpu}, Python {env['python']}, "
        f"{tensorflow}Keras {env['keras']}{jax}{torch}"
    )


def _version(name):
    try:
        return __import__(name).__version__
    except ImportError:
        return None
