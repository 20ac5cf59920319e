"""`rnn_zoo_synthetic`: this project's own TFDS builder, generated from a seed.

Two configs, no download:

* `timeseries`: univariate series of `SERIES_LENGTH` steps, each the sum of
  a level, a linear trend, two seasonal sinusoids and Gaussian noise:

      x_t = level + slope * t / L
            + a1 * sin(2 pi t / p1 + phi1) + a2 * sin(2 pi t / p2 + phi2)
            + eps_t,  eps_t ~ N(0, sigma^2)

  with level ~ U(-0.5, 0.5), slope ~ U(-0.5, 0.5), a1 ~ U(0.2, 0.5),
  p1 ~ U(8, 20), a2 ~ U(0.05, 0.2), p2 ~ U(25, 60), phases ~ U(0, 2 pi),
  sigma ~ U(0.02, 0.06). The task windows each series into
  (past window -> next value(s)).
* `waveforms`: `WAVE_LENGTH`-step signals of one of four shapes (sine,
  square, sawtooth, triangle) with a random number of cycles ~ U(1.5, 6),
  phase ~ U(0, 1) cycle, amplitude ~ U(0.5, 1.5), offset ~ U(-0.3, 0.3) and
  Gaussian noise with sigma ~ U(0, 0.25); the label is the shape.

Each split draws from `numpy.random.default_rng([SEED, split index])`, so the
same version always generates the same examples.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

SEED = 20261126
SERIES_LENGTH = 120
WAVE_LENGTH = 100
WAVE_CLASSES = ("sine", "square", "sawtooth", "triangle")
# Examples per split: enough to beat the baselines clearly, small enough to
# generate in seconds.
SPLIT_SIZES = {
    "timeseries": {"train": 2000, "validation": 400, "test": 400},
    # 4,000 training signals left a GRU at 0.85 test accuracy (sine and
    # triangle look alike under noise); 16,000 give it enough to separate them.
    "waveforms": {"train": 16000, "validation": 2000, "test": 2000},
}
_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}


def draw_series(rng: np.random.Generator, length: int = SERIES_LENGTH) -> np.ndarray:
    """One series: level + trend + two seasonalities + noise. Shape (length,)."""
    t = np.arange(length, dtype=np.float64)
    level, slope = rng.uniform(-0.5, 0.5, size=2)
    a1, p1, a2, p2 = rng.uniform(0.2, 0.5), rng.uniform(8, 20), rng.uniform(0.05, 0.2), rng.uniform(25, 60)
    phi1, phi2 = rng.uniform(0, 2 * np.pi, size=2)
    sigma = rng.uniform(0.02, 0.06)
    x = (
        level
        + slope * t / length
        + a1 * np.sin(2 * np.pi * t / p1 + phi1)
        + a2 * np.sin(2 * np.pi * t / p2 + phi2)
        + rng.normal(0.0, sigma, size=length)
    )
    return x.astype(np.float32)


def draw_wave(rng: np.random.Generator, label: int, length: int = WAVE_LENGTH) -> np.ndarray:
    """One noisy waveform of class `label` (index into WAVE_CLASSES). Shape (length,)."""
    cycles, phase = rng.uniform(1.5, 6), rng.uniform(0, 1)
    amplitude, offset, sigma = rng.uniform(0.5, 1.5), rng.uniform(-0.3, 0.3), rng.uniform(0, 0.25)
    u = (np.arange(length) / length * cycles + phase) % 1.0  # position in the cycle, [0, 1)
    shape = WAVE_CLASSES[label]
    if shape == "sine":
        y = np.sin(2 * np.pi * u)
    elif shape == "square":
        y = np.where(u < 0.5, 1.0, -1.0)
    elif shape == "sawtooth":
        y = 2 * u - 1
    else:  # triangle
        y = 1 - 4 * np.abs(u - 0.5)
    y = offset + amplitude * y + rng.normal(0.0, sigma, size=length)
    return y.astype(np.float32)


class RnnZooSynthetic(tfds.core.GeneratorBasedBuilder):
    """Synthetic sequence tasks for the RNN zoo (see the module docstring)."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.", "1.1.0": "waveforms: 16,000 / 2,000 / 2,000 examples."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="timeseries", description="Trend + seasonality + noise series."),
        tfds.core.BuilderConfig(name="waveforms", description="Four noisy waveform classes."),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        if self.builder_config.name == "timeseries":
            features = {"series": tfds.features.Tensor(shape=(SERIES_LENGTH,), dtype=np.float32)}
            supervised = None
        else:
            features = {
                "signal": tfds.features.Tensor(shape=(WAVE_LENGTH,), dtype=np.float32),
                "label": tfds.features.ClassLabel(names=list(WAVE_CLASSES)),
            }
            supervised = ("signal", "label")
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features), supervised_keys=supervised
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        sizes = SPLIT_SIZES[self.builder_config.name]
        return {split: self._generate_examples(split, n) for split, n in sizes.items()}

    def _generate_examples(self, split: str, n: int):
        rng = np.random.default_rng([SEED, _SPLIT_INDEX[split]])
        for i in range(n):
            if self.builder_config.name == "timeseries":
                yield i, {"series": draw_series(rng)}
            else:
                label = int(rng.integers(len(WAVE_CLASSES)))
                yield i, {"signal": draw_wave(rng, label), "label": label}


def load_builder(config: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
    """Returns the prepared `rnn_zoo_synthetic/<config>` builder.

    A copy already prepared in `data_dir` is used as it is; otherwise the
    data is generated (seconds) into the writable `generated_data_dir()`.
    """
    from datasets.tfds_source import default_data_dir, generated_data_dir

    # Only where a copy of this version exists: a TFDS builder over a
    # directory without one logs "Variant folder ... has no dataset_info.json"
    # (once per look), naming the user's data directory, which only confuses.
    directory = default_data_dir(data_dir)
    copy = tfds.core.Path(directory) / RnnZooSynthetic.name / config / str(RnnZooSynthetic.VERSION)
    if copy.is_dir():  # local or remote (gs://...), as TFDS reads
        builder = RnnZooSynthetic(config=config, data_dir=directory)
        if builder.is_prepared():
            return builder
    builder = RnnZooSynthetic(config=config, data_dir=generated_data_dir())
    if not builder.is_prepared():
        builder.download_and_prepare()
    return builder
