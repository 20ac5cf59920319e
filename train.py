"""Train any zoo model on any task: `python train.py --model simplernn --task imdb`."""

from __future__ import annotations

import argparse
import sys

from zoo import cli


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Train a recurrent model from the zoo on a TFDS task.",
        epilog="Example: python train.py --model lstm --task timeseries",
    )
    from zoo import config

    config.add_flags(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a finished run in the run directory"
    )
    parser.add_argument("--list", action="store_true", help="list the models and tasks, then exit")
    return parser.parse_args(argv)


def print_list() -> None:
    import datasets
    import models

    print("models (--model):")
    for name, entry in models.MODELS.items():
        only = f" [tasks: {', '.join(entry.tasks)}]" if entry.tasks else ""
        print(f"  {name:<20} {entry.description}{only}")
    print("tasks (--task):")
    for name, task in datasets.TASKS.items():
        print(f"  {name:<20} {task.description}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.list:
        print_list()
        return
    from zoo import config, training

    cfg = config.resolve(vars(args))
    run_dir = training.train(cfg, overwrite=args.overwrite)
    print(f"Run saved in {run_dir}; evaluate it with: python evaluate.py {run_dir}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
