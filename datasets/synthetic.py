"""`rnn_zoo_synthetic`: this project's own TFDS builder, generated from a seed.

Four kinds of config, no download:

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
* `addition_<N>` (N = 1 to `MAX_DIGITS`): `"535+61"` -> `"596"`, each
  operand of 1 to N digits (the number of digits uniform, then each
  digit), as keras-io's addition_rnn draws them. No sum appears in two
  splits, or twice in one, where the N-digit operands allow that many
  distinct pairs (N >= 3).
* `dates`: `"September 20, 7075"` -> `"7075-09-20"`, days uniform over the
  years 1000-9999 (Hands-On ML 3, chapter 16, exercise 9); month names
  are this module's, not the locale's.

Each split draws from `numpy.random.default_rng([SEED, split index])`, so the
same version always generates the same examples.
"""

from __future__ import annotations

import datetime

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
    # keras-io's addition_rnn trains on 45,000 of 50,000 pairs.
    "addition": {"train": 50000, "validation": 5000, "test": 5000},
    # Hands-On ML's exercise has 10,000 / 2,000 / 2,000; twice the training
    # dates reach the exact-match target in fewer epochs (docs/tuning.md).
    "dates": {"train": 20000, "validation": 2000, "test": 2000},
}
MAX_DIGITS = 10
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
FIRST_DAY, LAST_DAY = datetime.date(1000, 1, 1).toordinal(), datetime.date(9999, 12, 31).toordinal()
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


def draw_operands(rng: np.random.Generator, digits: int, n: int) -> np.ndarray:
    """`n` numbers of 1 to `digits` digits: the length uniform, then each digit (leading zeros drop).

    Digits drawn one by one make a number uniform in [0, 10**length), drawn so here.
    """
    lengths = rng.integers(1, digits + 1, size=n)
    return rng.integers(0, 10**lengths, dtype=np.int64)


def format_date(day: datetime.date) -> tuple[str, str]:
    """`("September 20, 7075", "7075-09-20")`."""
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}", f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def draw_date(rng: np.random.Generator) -> tuple[str, str]:
    """One day, uniform over the years 1000-9999, as a source and a target text."""
    return format_date(datetime.date.fromordinal(int(rng.integers(FIRST_DAY, LAST_DAY + 1))))


def addition_pairs(digits: int, split: str) -> list[tuple[str, str]]:
    """The pairs `("535+61", "596")` of one split of `addition_<digits>`.

    All splits come from one stream (seed `[SEED, digits]`), in the order
    train, validation, test, so that a sum already drawn can be skipped
    where there are enough distinct ones (digits >= 3).
    """
    sizes = SPLIT_SIZES["addition"]
    total = sum(sizes.values())
    distinct = 10 ** (2 * digits) >= 4 * total
    rng = np.random.default_rng([SEED, digits])
    sources: list[str] = []
    seen: set[str] = set()
    while len(sources) < total:
        a, b = draw_operands(rng, digits, total), draw_operands(rng, digits, total)
        for x, y in zip(a.tolist(), b.tolist()):
            source = f"{x}+{y}"
            if distinct and source in seen:
                continue
            seen.add(source)
            sources.append(source)
    start = 0
    for name, n in sizes.items():
        if name == split:
            chosen = sources[start : start + n]
            return [(source, str(sum(map(int, source.split("+"))))) for source in chosen]
        start += n
    raise ValueError(f"unknown split {split!r}")


class RnnZooSynthetic(tfds.core.GeneratorBasedBuilder):
    """Synthetic sequence tasks for the RNN zoo (see the module docstring)."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.", "1.1.0": "waveforms: 16,000 / 2,000 / 2,000 examples."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="timeseries", description="Trend + seasonality + noise series."),
        tfds.core.BuilderConfig(name="waveforms", description="Four noisy waveform classes."),
        *(
            tfds.core.BuilderConfig(name=f"addition_{n}", description=f"Sums of two 1-{n} digit numbers.")
            for n in range(1, MAX_DIGITS + 1)
        ),
        tfds.core.BuilderConfig(name="dates", description="Dates in words -> ISO 8601."),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        if self.builder_config.name.startswith("addition") or self.builder_config.name == "dates":
            text = tfds.features.Text()
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({"source": text, "target": text}),
                supervised_keys=("source", "target"),
            )
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
        sizes = SPLIT_SIZES[self.builder_config.name.split("_")[0]]
        return {split: self._generate_examples(split, n) for split, n in sizes.items()}

    def _generate_examples(self, split: str, n: int):
        name = self.builder_config.name
        if name.startswith("addition_"):
            for i, (source, target) in enumerate(addition_pairs(int(name.split("_")[1]), split)):
                yield i, {"source": source, "target": target}
            return
        rng = np.random.default_rng([SEED, _SPLIT_INDEX[split]])
        for i in range(n):
            if name == "dates":
                source, target = draw_date(rng)
                yield i, {"source": source, "target": target}
                continue
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
