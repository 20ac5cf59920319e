"""Evaluate a trained run on its task's test split: `python evaluate.py runs/imdb/simplernn`."""

from __future__ import annotations

import sys

from zoo import cli


def parse_args(argv):
    import datasets
    from zoo import config

    parser = cli.ArgumentParser(
        description="Evaluate a run directory written by train.py: metrics.json, plots, samples. "
        "The flags of each task apply to that task's runs only.",
        epilog="Example: python evaluate.py runs/imdb/simplernn --text 'A wonderful film.'",
    )
    parser.add_argument("run_dir", help="run directory, e.g. runs/imdb/simplernn")
    parser.add_argument(
        "--limit", type=config.positive(int), help="evaluate on the first N test examples only"
    )
    config.add_setting_flags(
        parser,
        [(t.name, t.eval_settings) for t in datasets.TASKS.values()],
        "evaluation",
        parse_positive=True,
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from zoo import evaluation

    options = {k: v for k, v in vars(args).items() if k != "run_dir"}
    evaluation.check_inputs(options)  # a bad text or series is refused before anything loads
    metrics = evaluation.evaluate(args.run_dir, options)
    print(evaluation.format_table(metrics))
    print(f"metrics written to {args.run_dir}/metrics.json")


if __name__ == "__main__":
    sys.exit(cli.run(main))
