"""Export a trained run for use without the zoo: `python export.py runs/imdb/gru --out export/imdb`."""

from __future__ import annotations

import sys

from zoo import cli


def parse_args(argv):
    parser = cli.ArgumentParser(
        description="Export a run directory written by train.py as a standalone artifact that takes raw "
        "inputs (texts, series, seed texts) and gives the task's answer; no zoo code is needed to run it.",
        epilog="Example: python export.py runs/imdb/gru --format saved_model --out export/imdb",
    )
    parser.add_argument("run_dir", help="run directory, e.g. runs/imdb/gru")
    parser.add_argument(
        "--format",
        default="saved_model",
        help="saved_model (a TensorFlow SavedModel directory; the default), litert (a .tflite file: "
        "batch 1, LiteRT's built-in ops) or onnx (an .onnx file); litert and onnx: timeseries, series and waveforms",
    )
    parser.add_argument("--out", required=True, help="the path to write (refused if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from zoo import export

    export.check_request(args.format, args.out, args.overwrite)  # before TensorFlow starts
    export.export(args.run_dir, args.format, args.out, args.overwrite)
    print(f"{args.format} export written to {args.out}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
