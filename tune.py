"""Search a task's settings with KerasTuner: `python tune.py --task imdb --model gru --trials 12`."""

from __future__ import annotations

import os
import shlex
import sys

from zoo import cli


def parse_args(argv):
    parser = cli.ArgumentParser(
        description="Search the settings of a model on a task with KerasTuner, scored on the validation "
        "split; every trial is a train.py run. Rerunning the same command continues the search "
        "(after a kill, or with more --trials). Training flags given are fixed for every trial.",
        epilog="Example: python tune.py --task series --data sales.csv --target units --model gru --trials 10",
    )
    import datasets
    import models
    from zoo import config, tuning

    config.add_flags(parser, datasets.TASKS, models.MODELS)
    parser.add_argument("--trials", type=int, default=10, help="trials in all, counting those already run")
    parser.add_argument(
        "--out", metavar="DIR", help="the search's directory (default: runs/tune/<task>/<model>)"
    )
    parser.add_argument(
        "--space", metavar="FILE", help="a JSON file of search-space entries, over the default space's"
    )
    parser.add_argument(
        "--oracle",
        choices=tuning.ORACLES,
        default="bayesian",
        help="how trials are chosen (default: bayesian)",
    )
    parser.add_argument(
        "--settings", metavar="FILE", help="a JSON file of settings, as train.py takes, fixed for every trial"
    )
    parser.add_argument("--overwrite", action="store_true", help="start over, removing the search in --out")
    return parser.parse_args(argv)


OWN = ("trials", "out", "space", "oracle", "settings", "overwrite")


def main(argv=None) -> None:
    args = parse_args(argv)
    import datasets
    import models
    from zoo import config, runlock, tuning

    if args.run_dir is not None:
        raise ValueError("tune.py writes each trial's run into --out DIR (trial_NNN); it takes no --run-dir")
    flags = {k: v for k, v in vars(args).items() if v is not None and k not in OWN}
    settings = config.read_settings(args.settings, datasets.TASKS, models.MODELS)
    if "run_dir" in settings:
        raise ValueError(
            f"settings file {args.settings}: tune.py takes no 'run_dir' (the trials go into --out)"
        )
    base = config.resolve(
        flags, settings, args.settings
    )  # refuses a bad flag or setting before anything runs
    out = args.out or os.path.join("runs", "tune", base.task, base.model)
    with runlock.hold(out):  # one search per directory
        result = tuning.search(
            settings | flags, args.trials, out, args.space, args.oracle, overwrite=args.overwrite
        )
    print(f"\nTrials ({result['monitor']} on the validation split, lower is better; * the best):")
    print(tuning.format_table(result))
    best = result["best"]
    if best is None:
        print(f"No trial finished; see the runs in {out}.")
        return
    print(f"Best: trial {best['trial']} ({result['best_dir']}).")
    print(f"Its settings are in {result['best_file']}; train them with:")
    print(f"  python train.py --settings {shlex.quote(result['best_file'])}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
