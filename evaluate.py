"""Evaluate a trained run on its task's test split: `python evaluate.py runs/imdb/simplernn`."""

from __future__ import annotations

import argparse
import math
import sys

from zoo import cli


def positive(kind):
    def parse(text):
        value = kind(text)
        if not (value > 0 and math.isfinite(value)):  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names it: "invalid int value: 'x'"
    return parse


def parse_args(argv):
    parser = cli.ArgumentParser(description="Evaluate a run directory written by train.py.")
    parser.add_argument("run_dir", help="run directory, e.g. runs/imdb/simplernn")
    parser.add_argument("--text", action="append", default=[], help="imdb: a text to score (repeatable)")
    parser.add_argument("--text-file", help="imdb: a UTF-8 file with one text to score per line")
    parser.add_argument("--seed-text", default="ROMEO:", help="shakespeare: start of the sample")
    parser.add_argument(
        "--length", type=positive(int), default=300, help="shakespeare: characters to generate"
    )
    parser.add_argument(
        "--temperature", type=positive(float), default=0.8, help="shakespeare: sampling temperature"
    )
    parser.add_argument("--limit", type=positive(int), help="evaluate on the first N test examples only")
    return parser.parse_args(argv)


def read_texts(args) -> list[str]:
    """--text values and the non-empty lines of --text-file; refuses empty ones."""
    texts = list(args.text)
    if any(not t.strip() for t in texts):
        raise ValueError("--text is empty")
    if args.text_file:
        try:
            with open(args.text_file, encoding="utf-8") as f:
                lines = [line.strip() for line in f if line.strip()]
        except FileNotFoundError:
            raise ValueError(f"--text-file {args.text_file} does not exist") from None
        except IsADirectoryError:
            raise ValueError(f"--text-file {args.text_file} is a directory, not a file") from None
        except UnicodeDecodeError:
            raise ValueError(f"--text-file {args.text_file} is not UTF-8 text; save it as UTF-8") from None
        except OSError as err:
            raise ValueError(f"--text-file {args.text_file} cannot be read: {err.strerror}") from None
        if not lines:
            raise ValueError(f"--text-file {args.text_file} holds no text")
        texts += lines
    return texts


def main(argv=None) -> None:
    args = parse_args(argv)
    texts = read_texts(args)  # bad input fails before TensorFlow starts
    if not args.seed_text:
        raise ValueError("--seed-text is empty")
    from zoo import evaluation

    options = evaluation.EvalOptions(
        texts=texts,
        seed_text=args.seed_text,
        length=args.length,
        temperature=args.temperature,
        limit=args.limit,
    )
    metrics = evaluation.evaluate(args.run_dir, options)
    print(evaluation.format_table(metrics))
    print(f"metrics written to {args.run_dir}/metrics.json")


if __name__ == "__main__":
    sys.exit(cli.run(main))
