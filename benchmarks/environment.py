"""Date, machine and versions: the same header for every benchmark table."""

from __future__ import annotations

import os
import platform
import time


def describe() -> dict:
    """Date, cores, CPU model, Python and the versions of the libraries measured."""
    import keras
    import numpy as np
    import tensorflow as tf

    return dict(
        date=time.strftime("%Y-%m-%d"),
        cores=os.cpu_count(),
        cpu=cpu_model(),
        python=platform.python_version(),
        tensorflow=tf.__version__,
        keras=keras.__version__,
        numpy=np.__version__,
        torch=_version("torch"),
    )


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC ..."), where Linux tells it; else the architecture."""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def header(env: dict) -> str:
    """One line for the top of a table: date, machine, versions."""
    torch = f", PyTorch {env['torch']}" if env.get("torch") else ""
    return (
        f"{env['date']}, {env['cores']} CPU cores ({env['cpu']}), Python {env['python']}, "
        f"TensorFlow {env['tensorflow']}, Keras {env['keras']}{torch}"
    )


def _version(name):
    try:
        return __import__(name).__version__
    except ImportError:
        return None
