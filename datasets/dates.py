"""`dates`: "September 20, 7075" -> "7075-09-20", generated from a seed by this project's TFDS builder."""

from __future__ import annotations

from datasets import synthetic
from datasets.registry import register_task
from datasets.translation import SYNTHETIC_DEFAULTS, TranslationTask


@register_task
class Dates(TranslationTask):
    name = "dates"
    description = (
        "synthetic dates 'September 20, 7075' -> '7075-09-20': a sequence to a sequence, exact match"
    )
    source_chars = "".join(sorted(set("".join(synthetic.MONTHS)) | set("0123456789, ")))
    target_chars = "0123456789-"
    # How each default was chosen: docs/tuning.md#dates.
    defaults = dict(epochs=3, batch_size=64) | SYNTHETIC_DEFAULTS

    def builder(self, config):
        return synthetic.load_builder("dates", config.data_dir)

    def lengths(self, config) -> tuple[int, int]:
        longest = max(len(m) for m in synthetic.MONTHS)
        return longest + len(" 30, 9999"), len("9999-12-31")
