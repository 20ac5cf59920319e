"""Train any zoo model on any task: `python train.py --model simplernn --task imdb`."""

from __future__ import annotations

import contextlib
import os
import sys

from zoo import cli


def parse_args(argv):
    parser = cli.ArgumentParser(
        description="Train a recurrent model from the zoo on a TFDS task. "
        "Rerunning the command of an unfinished (killed) run resumes it from its last checkpoint.",
        epilog="Example: python train.py --model lstm --task timeseries",
    )
    import datasets  # the tasks' and the models' own settings are flags too
    import models
    from zoo import config

    config.add_flags(parser, datasets.TASKS, models.MODELS)
    parser.add_argument(
        "--settings",
        metavar="FILE",
        help='a JSON file of settings by flag name, with underscores ({"units": 128}), '
        "as tune.py writes one; flags given override it",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a finished or unfinished run in the run directory"
    )
    parser.add_argument("--list", action="store_true", help="list the models and tasks, then exit")
    return parser.parse_args(argv)


def given_flags(args) -> dict:
    """The training flags given on the command line (not --overwrite or --list)."""
    return {k: v for k, v in vars(args).items() if v is not None and k not in ("overwrite", "list")}


def print_list() -> None:
    import datasets
    import models

    print("models (--model):")
    for name, entry in models.MODELS.items():
        print(f"  {name:<20} {entry.description}")
        fits = [
            t.name
            for t in datasets.TASKS.values()
            if not entry.refusal(t.heads, t.input_kinds, len(t.input_names))
        ]
        apis = "" if len(entry.apis) > 1 else f"; --api {entry.apis[0]} only"
        print(f"  {'':<20} tasks: {', '.join(fits)}{apis}")
        own = ", ".join(f"{s.flag} {'|'.join(s.choices) if s.choices else s.default}" for s in entry.settings)
        if own:
            print(
                f"  {'':<20} its settings: {own} (default: {', '.join(str(s.default) for s in entry.settings)})"
            )
    print("tasks (--task):")
    for name, task in datasets.TASKS.items():
        print(f"  {name:<20} {task.description}")
        own = ", ".join(f"{s.flag} {s.default}" for s in task.settings)
        if own:
            print(f"  {'':<20} its settings: {own}")
        defaults = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in task.defaults.items())
        print(f"  {'':<20} defaults: {defaults}")
        for model, recipe in task.recipes.items():
            settings = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in recipe.items())
            print(f"  {'':<20} with {model}: {settings}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.list:
        print_list()
        return
    import datasets
    import models
    from zoo import cluster, config, rundir, runlock

    flags = given_flags(args)
    settings = config.read_settings(args.settings, datasets.TASKS, models.MODELS)
    # The names are exact (no aliases): this is the run directory that
    # config.resolve() gives, known before anything is resolved or loaded.
    named = settings | {k: v for k, v in flags.items() if k in ("task", "model", "run_dir")}
    guess = named.get("run_dir") or os.path.join(
        "runs", named.get("task", config.TrainConfig.task), named.get("model", config.TrainConfig.model)
    )
    # Of the workers of a multi-worker run, only the chief (TF_CONFIG) writes the run.
    role = cluster.worker_role(args.distribute or settings.get("distribute") or config.TrainConfig.distribute)
    # One training per run directory, --overwrite too: a second command is
    # refused at once, before it writes anything.
    with runlock.hold(guess) if role.chief else contextlib.nullcontext():
        # Announce a resume first, before the data and the model load (seconds):
        # the same command as the unfinished run's, read from its config.json.
        note = None if args.overwrite or not role.chief else rundir.peek_resume(guess, flags)
        if note:
            print(note, flush=True)

        from zoo import training

        cfg = config.resolve(vars(args), settings, args.settings)
        run_dir = training.train(cfg, overwrite=args.overwrite, flags=flags, announced=note is not None)
    if role.chief:
        print(f"Run saved in {run_dir}; evaluate it with: python evaluate.py {run_dir}")
    else:
        print(f"Worker {role.index} of {role.workers} done; the chief (worker 0) saved the run in {run_dir}.")


if __name__ == "__main__":
    sys.exit(cli.run(main))
