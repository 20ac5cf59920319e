"""`addition`: "535+61" -> "596", generated from a seed by this project's TFDS builder."""

from __future__ import annotations

from datasets import synthetic
from datasets.registry import register_task
from datasets.translation import SYNTHETIC_DEFAULTS, TranslationTask
from zoo.spec import Setting


@register_task
class Addition(TranslationTask):
    name = "addition"
    description = "synthetic sums '535+61' -> '596': a sequence to a sequence, exact match"
    settings = (
        Setting(
            "digits",
            int,
            3,
            f"the most digits of each operand (1 to {synthetic.MAX_DIGITS})",
            choices=tuple(range(1, synthetic.MAX_DIGITS + 1)),
        ),
    )
    source_chars = "0123456789+"
    target_chars = "0123456789"
    # How each default was chosen: docs/tuning.md#addition.
    defaults = dict(epochs=30, batch_size=128) | SYNTHETIC_DEFAULTS

    def builder(self, config):
        return synthetic.load_builder(f"addition_{config.task_settings['digits']}", config.data_dir)

    def lengths(self, config) -> tuple[int, int]:
        digits = config.task_settings["digits"]
        return 2 * digits + 1, digits + 1  # "999+999" -> "1998"
