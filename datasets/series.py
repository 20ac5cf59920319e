"""`series`: forecasting from the user's own CSV, one series or many in long format.

    python train.py --task series --data sales.csv --target units --id store --time date

The rows of each series (one per `--id` value, or the whole file) are sorted
by `--time`, then split by time: the last `--test-fraction` of each series is
test, the `--val-fraction` before it validation, the rest training; no window
crosses a boundary. Inputs are the target and the `--features` columns,
scaled with the training part's mean and standard deviation (saved in the
run's state). Windows of `--window` steps predict the next `--horizon` values
of the target at once; they are cut batch by batch from the series, never
all held in memory.
"""

from __future__ import annotations

import array
import calendar
import csv
import datetime
import io
import math
import os

import numpy as np
import tensorflow as tf

from datasets.base import Task, TaskData, export_archive, task_data
from datasets.registry import register_task
from datasets.timeseries import last_window_graph
from zoo import files, metrics, plots
from zoo.spec import FEATURES, REGRESSION, InputSpec, Setting, TaskSpec

FILLS = ("none", "ffill", "interpolate", "zero")
ANCHORS = ("last", "mean", "linear")
MISSING = {"", "nan", "na", "n/a", "null", "none"}  # cells read as missing (lower-cased)
FORECAST_FILE = "forecast.csv"


class Table:
    """The columns of a CSV that a run reads, sorted into series.

    Attributes:
        values: (rows, columns) float64, the target first, then the features,
            rows grouped by series and sorted by time within each.
        lines: (rows,) the CSV line of each row (the header is line 1).
        bounds: (series + 1,) where each series starts in `values`, then the end.
        ids: Each series' id (its `--id` value; "" for a single series).
        times: (rows,) float time stamps (numbers, or POSIX seconds of dates).
        time_kind: "row" (no `--time`), "number", "date" or "datetime".
    """

    def __init__(self, values, lines, bounds, ids, times, time_kind):
        self.values, self.lines, self.bounds, self.ids = values, lines, bounds, ids
        self.times, self.time_kind = times, time_kind

    def series(self):
        """(index, start, stop) of every series."""
        return [(i, int(a), int(b)) for i, (a, b) in enumerate(zip(self.bounds[:-1], self.bounds[1:]))]


def columns_of(settings) -> list[str]:
    """The value columns a run reads: the target, then the features (the target once)."""
    features = [c.strip() for c in settings["features"].split(",") if c.strip()]
    return [settings["target"], *(c for c in features if c != settings["target"])]


def parse_time(text: str):
    """('number', value) or ('date' / 'datetime', POSIX seconds) of one time cell; None if neither."""
    try:
        return "number", float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    kind = "date" if len(text) <= 10 else "datetime"
    return kind, stamp.timestamp()


def read_table(settings) -> Table:
    """Reads and checks the CSV that `settings` name; ValueError with one line for each bad input."""
    path = settings["data"]
    if not path:
        raise ValueError("task 'series' needs --data FILE.csv (a CSV file with a header row)")
    if not settings["target"]:
        raise ValueError("task 'series' needs --target COLUMN, the column to forecast")
    if not os.path.exists(path):
        raise ValueError(f"--data {path} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"--data {path} is a directory; task 'series' reads one CSV file")
    names = columns_of(settings)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise ValueError(f"--data {path} is empty; it needs a header row and data rows")
            header = [h.strip() for h in header]
            index = {}
            for flag, column in (
                [("--target", names[0])]
                + [("--features", c) for c in names[1:]]
                + [
                    ("--id", settings["id"]),
                    ("--time", settings["time"]),
                ]
            ):
                if column and column not in header:
                    raise ValueError(
                        f"{flag} {column!r} is not a column of {path} (its columns: {', '.join(header)})"
                    )
                if column:
                    index[column] = header.index(column)
            return _read_rows(reader, path, names, index, settings)
    except UnicodeDecodeError as err:
        raise ValueError(f"--data {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except csv.Error as err:
        raise ValueError(f"--data {path} is not a readable CSV: {err}") from None


def _read_rows(reader, path, names, index, settings) -> Table:
    id_column, time_column = settings["id"], settings["time"]
    value_cols = [index[n] for n in names]
    columns = [array.array("d") for _ in names]
    lines, codes, times = array.array("q"), array.array("q"), array.array("d")
    ids: dict[str, int] = {}
    time_kind = "row" if not time_column else None
    nan = float("nan")
    for row in reader:
        line = reader.line_num
        if not row:
            continue  # an empty line
        if len(row) <= max(index.values()):
            raise ValueError(f"{path} line {line} has {len(row)} cells; the header names more columns")
        for name, col, out in zip(names, value_cols, columns):
            cell = row[col].strip()
            if cell.lower() in MISSING:
                out.append(nan)
                continue
            try:
                value = float(cell)
            except ValueError:
                flag = "--target" if name == names[0] else "--features"
                raise ValueError(
                    f"{flag} column {name!r} of {path} is not numeric (line {line} holds {cell!r})"
                ) from None
            if math.isinf(value):
                raise ValueError(
                    f"column {name!r} of {path} holds {cell!r} at line {line}: not a finite number"
                )
            out.append(value)
        if id_column:
            key = row[index[id_column]].strip()
            if not key:
                raise ValueError(f"{path} line {line} has no --id ({id_column!r}) value")
            codes.append(ids.setdefault(key, len(ids)))
        if time_column:
            cell = row[index[time_column]].strip()
            parsed = parse_time(cell) if cell else None
            if parsed is None:
                what = "no value" if not cell else f"{cell!r}, neither a number nor an ISO date (2024-01-31)"
                raise ValueError(f"--time column {time_column!r} of {path} holds {what} at line {line}")
            kind, stamp = parsed
            if time_kind is None or time_kind == kind or {time_kind, kind} == {"date", "datetime"}:
                time_kind = "datetime" if "datetime" in (time_kind, kind) else kind
            else:
                raise ValueError(
                    f"--time column {time_column!r} of {path} mixes numbers and dates (line {line}: {cell!r})"
                )
            times.append(stamp)
        lines.append(line)
    if not lines:
        raise ValueError(f"--data {path} has a header but no data rows")
    values = np.stack([np.frombuffer(c, dtype=np.float64) for c in columns], axis=1)
    lines_np = np.frombuffer(lines, dtype=np.int64)
    codes_np = np.frombuffer(codes, dtype=np.int64) if id_column else np.zeros(len(lines_np), np.int64)
    times_np = np.frombuffer(times, dtype=np.float64) if time_column else np.zeros(len(lines_np))
    # Grouped by series (in order of first appearance), sorted by time within each; stable.
    order = np.lexsort((times_np, codes_np)) if time_column else np.argsort(codes_np, kind="stable")
    values, lines_np, codes_np, times_np = values[order], lines_np[order], codes_np[order], times_np[order]
    bounds = np.searchsorted(codes_np, np.arange(len(ids) + 1 if id_column else 2))
    if not time_column:
        times_np = (np.arange(len(lines_np)) - bounds[:-1].repeat(np.diff(bounds))).astype(np.float64)
    names_of = sorted(ids, key=ids.get) if id_column else [""]
    return Table(values, lines_np, bounds, names_of, times_np, time_kind)


def fill_missing(table: Table, names: list[str], fill: str, path: str) -> None:
    """Fills empty cells in place per series (`--fill`), or refuses them with their count and first line."""
    missing = np.isnan(table.values)
    count = int(missing.sum())
    if not count:
        return
    if fill == "none":
        rows, cols = np.nonzero(missing)
        first = np.argmin(table.lines[rows])
        raise ValueError(
            f"{path} has {count} missing value{'s' if count > 1 else ''} (empty cells or NaN), the first "
            f"at line {table.lines[rows[first]]} in column {names[cols[first]]!r}; "
            "pass --fill ffill, interpolate or zero to fill them"
        )
    for _, start, stop in table.series():
        block = table.values[start:stop]  # a view: filled in place
        for c in range(block.shape[1]):
            column = block[:, c]
            gaps = np.isnan(column)
            if not gaps.any():
                continue
            known = np.nonzero(~gaps)[0]
            if fill == "zero" or not len(known):
                column[gaps] = 0.0
            elif fill == "ffill":  # the last value before each gap; a leading gap takes the first value
                last = np.maximum.accumulate(np.where(gaps, 0, np.arange(len(column))))
                last[: known[0]] = known[0]
                column[:] = column[last]
            else:  # interpolate: linear in the row position, the ends held
                column[gaps] = np.interp(np.nonzero(gaps)[0], known, column[known])


def report_time(table: Table, column: str) -> None:
    """Prints a note for duplicate time stamps and irregular gaps (the rows are kept as they are)."""
    duplicates = irregular = 0
    for _, start, stop in table.series():
        steps = np.diff(table.times[start:stop])
        if not len(steps):
            continue
        duplicates += int(np.sum(steps == 0))
        unit, usual = time_step(table.times[start:stop], table.time_kind)
        if unit == "months":  # 28 to 31 days a month
            off = np.abs(steps / 86400 / 30.44 - usual) > 0.15 * usual
        else:
            off = ~np.isclose(steps, usual, rtol=0.1)
        irregular += int(np.sum((steps != 0) & off))
    if duplicates:
        print(f"note: --time column {column!r} has {duplicates} duplicate time stamps within a series")
    if irregular:
        print(f"note: --time column {column!r} has {irregular} irregular gaps (steps unlike the usual one)")


def time_step(times: np.ndarray, kind: str) -> tuple[str, float]:
    """The usual step of one series' time stamps: ("months", n) for monthly dates, else ("seconds"/"units", d)."""
    steps = np.diff(times)
    steps = steps[steps > 0]
    if not len(steps):
        return "units", 1.0
    if kind in ("date", "datetime"):
        days = steps / 86400
        if np.all((days >= 28) & (days <= 31 * 12 + 1)) and len(steps):
            months = np.round(days / 30.44)
            values, counts = np.unique(months, return_counts=True)
            month = values[np.argmax(counts)]
            if month >= 1 and np.mean(np.abs(days / 30.44 - months)) < 0.1:
                return "months", float(month)
        values, counts = np.unique(steps, return_counts=True)
        return "seconds", float(values[np.argmax(counts)])
    values, counts = np.unique(steps, return_counts=True)
    return "units", float(values[np.argmax(counts)])


def continue_times(times: np.ndarray, kind: str, count: int) -> list[str]:
    """The next `count` time stamps after a series' last one, as text."""
    unit, step = time_step(times, kind)
    last = times[-1]
    if kind == "row":
        return [str(int(last) + k) for k in range(1, count + 1)]
    if kind == "number":
        out = [last + k * step for k in range(1, count + 1)]
        whole = float(step).is_integer() and float(last).is_integer()
        return [str(int(v)) if whole else f"{v:g}" for v in out]
    start = datetime.datetime.fromtimestamp(last, datetime.timezone.utc)
    dates = [datetime.datetime.fromtimestamp(t, datetime.timezone.utc) for t in times[-12:]]
    month_ends = all(d.day == calendar.monthrange(d.year, d.month)[1] for d in dates)
    stamps = []
    for k in range(1, count + 1):
        if unit == "months":
            months = start.month - 1 + int(step) * k
            year, month = start.year + months // 12, months % 12 + 1
            days_in_month = calendar.monthrange(year, month)[1]
            day = days_in_month if month_ends else min(start.day, days_in_month)  # Jan 31 -> Feb 29
            stamps.append(start.replace(year=year, month=month, day=day))
        else:
            stamps.append(start + datetime.timedelta(seconds=step * k))
    if kind == "date":
        return [s.date().isoformat() for s in stamps]
    return [s.replace(tzinfo=None).isoformat() for s in stamps]


def split_bounds(length: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Each split's (start, stop) rows of one series: training, then validation, then test."""
    test = round(length * test_fraction)
    val = round(length * val_fraction)
    train = length - val - test
    return {"train": (0, train), "val": (train, train + val), "test": (train + val, length)}


def window_starts(table: Table, split: str, settings) -> tuple[np.ndarray, list[int]]:
    """The first row of every window of `split` (in `table.values`), and the series each comes from."""
    span = settings["window"] + settings["horizon"]
    starts, owners = [], []
    for i, start, stop in table.series():
        a, b = split_bounds(stop - start, settings["val_fraction"], settings["test_fraction"])[split]
        if b - a >= span:
            starts.append(np.arange(start + a, start + b - span + 1))
            owners.append(i)
    return (np.concatenate(starts) if starts else np.zeros(0, np.int64)), owners


def check_settings(settings) -> None:
    for name in ("val_fraction", "test_fraction"):
        if not 0 < settings[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be in (0, 1), got {settings[name]}")
    if settings["val_fraction"] + settings["test_fraction"] >= 1:
        raise ValueError(
            f"--val-fraction {settings['val_fraction']} + --test-fraction {settings['test_fraction']} "
            "leave no training part: their sum must be below 1"
        )


def scaled(table: Table, state) -> np.ndarray:
    """The table's values scaled with the saved training statistics, float32."""
    return ((table.values - np.array(state["mean"])) / np.array(state["std"])).astype(np.float32)


def training_statistics(table: Table, settings) -> dict:
    """Mean and standard deviation of every column over the training parts of all series."""
    parts = []
    for _, start, stop in table.series():
        a, b = split_bounds(stop - start, settings["val_fraction"], settings["test_fraction"])["train"]
        parts.append(table.values[start + a : start + b])
    train = np.concatenate(parts)
    std = np.where(train.std(axis=0) > 0, train.std(axis=0), 1.0)
    # The spread of one step's change of the target, in the scaled units: what anchored windows divide by.
    changes = np.concatenate([np.diff(p[:, 0]) for p in parts]) / std[0]
    change = float(changes.std()) if len(changes) > 1 and changes.std() > 0 else 1.0
    return {"mean": train.mean(axis=0).tolist(), "std": std.tolist(), "change_std": change}


def anchored(x, y=None, scale=1.0, coef=None):
    """A window measured from its last target value: `x` (batch, window, columns), `y` (batch, horizon).

    The target column of `x` becomes changes from the window's last target
    value, in units of `scale` (the spread of one step's change: the
    state's `change_std`); the feature columns stay as they are. The
    targets `y` become distances from a base forecast, in the same units,
    which the model then predicts: the last value held (the naive
    forecast), or with `coef` ((window * columns + 1, horizon), from
    `linear_fit`) the linear fit's forecast from the window as it came. A
    forecast is `base + scale * output`. Works on NumPy arrays and tensors
    alike. Returns `(x, y, base)`, `base` (batch, 1) or (batch, horizon).
    """
    last = x[:, -1:, 0]  # (batch, 1)
    base = last if coef is None else _linear(x, coef)
    target = (x[:, :, :1] - last[:, :, None]) / scale
    x = target if x.shape[-1] == 1 else _concat([target, x[:, :, 1:]])
    return x, None if y is None else (y - base) / scale, base


def anchoring(settings, state) -> dict | None:
    """`anchored`'s arguments for the run's `--anchor`, or None where windows stay as they are (mean)."""
    if settings["anchor"] == "mean":
        return None
    coef = np.asarray(state["linear"], np.float32) if settings["anchor"] == "linear" else None
    return {"scale": np.float32(state["change_std"]), "coef": coef}


def _linear(x, coef: np.ndarray):
    """The linear forecast (batch, horizon) of windows `x` (batch, window, columns): [x, 1] @ coef."""
    if isinstance(x, np.ndarray):
        return x.reshape(len(x), -1) @ coef[:-1] + coef[-1]
    return tf.reshape(x, [-1, coef.shape[0] - 1]) @ tf.constant(coef[:-1]) + tf.constant(coef[-1])


def _concat(parts):
    return np.concatenate(parts, axis=-1) if isinstance(parts[0], np.ndarray) else tf.concat(parts, axis=-1)


def windows_dataset(
    values, starts, window, horizon, batch_size, training: bool, seed: int, anchor: dict | None = None
):
    """Batches (x (batch, window, columns), y (batch, horizon)) gathered from `values` at `starts`.

    Only the start rows are listed; each batch's windows are cut when it is
    read. Training starts are reshuffled every epoch, seeded. With `anchor`
    (`anchoring`'s arguments) both are measured as `anchored` measures them.
    """
    values = tf.constant(values)
    target = values[:, 0]
    starts = tf.constant(starts, tf.int64)
    count = int(starts.shape[0])
    if training:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        ds = seeds.flat_map(
            lambda s: tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(starts, seed=tf.stack([s, tf.cast(seed, tf.int64)]))
            )
        )
        ds = ds.apply(tf.data.experimental.assert_cardinality(count))
    else:
        ds = tf.data.Dataset.from_tensor_slices(starts)
    past = tf.range(window, dtype=tf.int64)
    future = tf.range(window, window + horizon, dtype=tf.int64)

    def cut(batch_starts):
        x = tf.gather(values, batch_starts[:, None] + past)  # (batch, window, columns)
        y = tf.gather(target, batch_starts[:, None] + future)  # (batch, horizon)
        return anchored(x, y, **anchor)[:2] if anchor else (x, y)

    return ds.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


@register_task
class Series(Task):
    name = "series"
    description = "your CSV: past window of the target (and --features) -> next --horizon values, MSE"
    heads = (REGRESSION,)
    input_kinds = (FEATURES,)
    settings = (
        Setting("data", str, "", "the CSV file (a header row, one row per time step)"),
        Setting("target", str, "", "the column to forecast"),
        Setting("id", str, "", "the column naming each series, for many series in one file (long format)"),
        Setting("time", str, "", "the time column (numbers or ISO dates); rows are sorted by it"),
        Setting(
            "features", str, "", "more numeric input columns, comma-separated (default: the target alone)"
        ),
        Setting("window", int, 50, "past steps the model reads", positive=True),
        Setting("horizon", int, 1, "future steps it predicts at once", positive=True),
        Setting("val_fraction", float, 0.1, "the part of each series before its test part that validates"),
        Setting("test_fraction", float, 0.1, "the last part of each series, kept for evaluate.py"),
        Setting(
            "fill",
            str,
            "none",
            "missing values: none (refuse them), ffill, interpolate or zero",
            choices=FILLS,
        ),
        Setting(
            "anchor",
            str,
            "last",
            "what the model's values are measured from: last (each window's last target value; the "
            "model predicts the change, so a trend needs no extrapolation), linear (the same inputs; the "
            "model predicts what the training part's least-squares forecast misses) or mean (the "
            "training mean)",
            choices=ANCHORS,
        ),
    )
    eval_settings = (
        Setting(
            "season", int, None, "the season length in steps, for the seasonal naive baseline", positive=True
        ),
        Setting(
            "forecast", bool, False, "print and write forecast.csv: the next --horizon values of each series"
        ),
    )
    # The timeseries task's defaults, fewer epochs: a user's file may be large.
    defaults = dict(epochs=20, batch_size=128, learning_rate=2e-3, lr_schedule="cosine", units=64, patience=5)
    recipes = {"snippet-forecaster": dict(window=10, horizon=1)}  # the chapter's model reads 10 steps
    # Both anchors' losses are ((truth - forecast) / change_std) ** 2: comparable. Mean's is in std units.
    search_space = {"anchor": {"values": ["last", "linear"]}}

    def table(self, config) -> Table:
        """The run's CSV, read, checked, sorted and filled."""
        settings = config.task_settings
        check_settings(settings)
        table = read_table(settings)
        fill_missing(table, columns_of(settings), settings["fill"], settings["data"])
        return table

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        settings = config.task_settings
        table = self.table(config)
        if settings["time"] and state is None:
            report_time(table, settings["time"])
        fresh = state is None
        if fresh:
            state = {"columns": columns_of(settings), "series": len(table.ids)} | training_statistics(
                table, settings
            )
        values = scaled(table, state)
        if fresh and settings["anchor"] == "linear":
            state["linear"] = linear_fit(values, table, settings).tolist()
        starts = {}
        for split in splits:
            starts[split], _ = window_starts(table, split, settings)
            if not len(starts[split]):
                longest = int(np.max(np.diff(table.bounds)))
                raise ValueError(
                    f"no {split} window fits: --window {settings['window']} + --horizon "
                    f"{settings['horizon']} rows are needed in each series' {split} part, and the longest "
                    f"series has {longest} rows in all; lower --window or use longer series"
                )

        def pipeline(split):
            return windows_dataset(
                values,
                starts[split],
                settings["window"],
                settings["horizon"],
                config.batch_size,
                training=split == "train",
                seed=config.seed,
                anchor=anchoring(settings, state),
            )

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        return TaskSpec(
            inputs=(
                InputSpec(FEATURES, timesteps=config.task_settings["window"], features=len(state["columns"])),
            ),
            head=REGRESSION,
            output_units=config.task_settings["horizon"],
        )

    def example_state(self, config) -> dict:
        columns = columns_of(config.task_settings | {"target": config.task_settings["target"] or "y"})
        return {
            "columns": columns,
            "series": 1,
            "mean": [0.0] * len(columns),
            "std": [1.0] * len(columns),
            "change_std": 1.0,
        } | self._example_linear(config.task_settings, len(columns))

    @staticmethod
    def _example_linear(settings, columns: int) -> dict:
        if settings["anchor"] != "linear":
            return {}
        return {"linear": np.zeros((settings["window"] * columns + 1, settings["horizon"])).tolist()}

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        settings, state = config.task_settings, data.state
        table = self.table(config)  # the series in the target's own units
        window, horizon, season = settings["window"], settings["horizon"], options.get("season")
        if season and season > window:
            raise ValueError(
                f"--season {season} is longer than the run's --window {window}: the baseline reads the window"
            )
        starts, _ = window_starts(table, "test", settings)
        if options.get("limit"):
            starts = starts[: options["limit"]]
        mean, std = state["mean"][0], state["std"][0]
        target = table.values[:, 0]
        truth = target[starts[:, None] + np.arange(window, window + horizon)]  # (n, horizon), own units
        values = scaled(table, state)
        forecasts = {"model": model_forecast(model, values, starts, settings, state) * std + mean}
        last = starts + window - 1
        forecasts["naive"] = np.repeat(target[last][:, None], horizon, axis=1)  # the last value, held
        if season:  # the value one (or more) seasons before each future step, inside the window
            h = np.arange(1, horizon + 1)
            back = season * np.ceil(h / season).astype(int)
            forecasts["seasonal_naive"] = target[last[:, None] + h - back]
        forecasts["linear"] = linear_forecast(values, table, settings, starts) * std + mean
        scale = naive_scale(table, settings, season or 1)
        result = {"test_windows": int(len(starts)), "series": len(table.ids)}
        for name, p in forecasts.items():
            result |= metrics.errors(name, p, truth)
            result[f"{name}_mase"] = result[f"{name}_mae"] / scale
        result["mase_scale"] = scale
        picks = np.linspace(0, len(starts) - 1, 3).astype(int)
        x = target[starts[picks, None] + np.arange(window)]
        plots.save_forecast(
            x,
            truth[picks],
            forecasts["model"][picks],
            forecasts["naive"][picks],
            os.path.join(run_dir, "forecast.png"),
        )
        if options.get("forecast"):
            rows = self.forecast(model, config, state, table)
            files.write_text(os.path.join(run_dir, FORECAST_FILE), forecast_csv(rows, settings))
            result["predictions"] = rows
        return result

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: raw rows (batch, length >= window, columns) -> `forecast` (batch, horizon).

        The columns are the run's, in its order (`state["columns"]`: the
        target, then the features), in their own units. The graph scales
        them with the training part's saved mean and standard deviation,
        reads the last `window` rows (measured as `--anchor` measures them,
        the base forecast added back to the output) and gives the forecast
        in the target's units, as `forecast` (evaluate.py --forecast) does.
        """
        settings = config.task_settings
        window, columns = settings["window"], len(state["columns"])
        # float32, as the model's inputs are (LiteRT has no float64 arithmetic).
        mean, std = np.array(state["mean"], np.float32), np.array(state["std"], np.float32)
        anchor = anchoring(settings, state)

        def serve(series):
            x = (last_window_graph(series, window, columns) - mean) / std
            if not anchor:
                return {"forecast": model(x, training=False) * std[0] + mean[0]}
            x, _, base = anchored(x, **anchor)
            return {"forecast": (model(x, training=False) * anchor["scale"] + base) * std[0] + mean[0]}

        shape = [1, window, columns] if fixed_shape else [None, None, columns]
        signature = [tf.TensorSpec(shape, tf.float32, name="series")]
        return export_archive([model], {"serving_default": (serve, signature)})

    def forecast(self, model, config, state, table) -> list[dict]:
        """The next `horizon` values after each series' end (its last `window` rows), time stamps continued."""
        settings = config.task_settings
        window, horizon = settings["window"], settings["horizon"]
        values = scaled(table, state)
        series = [(i, a, b) for i, a, b in table.series() if b - a >= window]
        if not series:
            raise ValueError(f"no series has the --window {window} rows that a forecast reads")
        starts = np.array([b - window for _, a, b in series])
        predicted = (
            model_forecast(model, values, starts, settings, state) * state["std"][0] + state["mean"][0]
        )
        rows = []
        for (i, a, b), values_ in zip(series, predicted):
            for stamp, value in zip(continue_times(table.times[a:b], table.time_kind, horizon), values_):
                named = {"id": table.ids[i]} if settings["id"] else {}  # a single series has no id
                rows.append(named | {"time": stamp, "forecast": round(float(value), 6)})
        return rows


def model_forecast(
    model, values: np.ndarray, starts: np.ndarray, settings, state, batch_size: int = 1024
) -> np.ndarray:
    """The model's forecasts (len(starts), horizon) from the windows of the scaled `values` at `starts`, scaled."""
    window, horizon = settings["window"], settings["horizon"]
    anchor = anchoring(settings, state)
    predicted = []
    for chunk in np.array_split(starts, max(1, -(-len(starts) // batch_size))):
        x = values[chunk[:, None] + np.arange(window)]  # (batch, window, columns)
        base, scale = np.float32(0.0), np.float32(1.0)
        if anchor:
            (x, _, base), scale = anchored(x, **anchor), anchor["scale"]
        output = np.asarray(model.predict_on_batch(x)).reshape(len(chunk), horizon)
        predicted.append(output * scale + base)
    return np.concatenate(predicted)


def forecast_csv(rows: list[dict], settings) -> str:
    """forecast.csv: the id (where the run has --id), the time (or step), the forecast of the target."""

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = ([settings["id"]] if settings["id"] else []) + [settings["time"] or "step", settings["target"]]
    writer.writerow(head)
    for row in rows:
        writer.writerow(([row["id"]] if settings["id"] else []) + [row["time"], row["forecast"]])
    return out.getvalue()


def linear_fit(values: np.ndarray, table: Table, settings) -> np.ndarray:
    """Least squares from each window (plus a bias) to its targets, over the training windows.

    `values` are the table's, scaled (`scaled`); the sums are in float64.
    The normal equations are summed over chunks of windows, so no split's
    windows are ever all in memory. Returns the coefficients
    (window * columns + 1, horizon), the bias last.
    """
    window, horizon = settings["window"], settings["horizon"]
    values = np.asarray(values, np.float64)
    target = values[:, 0]
    train, _ = window_starts(table, "train", settings)
    size = window * values.shape[1] + 1
    gram, moment = np.zeros((size, size)), np.zeros((size, horizon))
    for chunk in np.array_split(train, max(1, len(train) // 20000)):
        d = _design(values, chunk, window)
        gram += d.T @ d
        moment += d.T @ target[chunk[:, None] + np.arange(window, window + horizon)]
    return np.linalg.lstsq(gram + 1e-6 * np.eye(size), moment, rcond=None)[0]


def _design(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    x = values[starts[:, None] + np.arange(window)].reshape(len(starts), -1)
    return np.concatenate([x, np.ones((len(starts), 1))], axis=1)


def linear_forecast(values: np.ndarray, table: Table, settings, starts: np.ndarray) -> np.ndarray:
    """The linear baseline: `linear_fit`'s forecasts (len(starts), horizon) from the windows at `starts`, scaled."""
    values = np.asarray(values, np.float64)  # once, for the fit and the forecasts
    coef = linear_fit(values, table, settings)
    chunks = np.array_split(starts, max(1, len(starts) // 20000))
    return np.concatenate([_design(values, c, settings["window"]) @ coef for c in chunks])


def naive_scale(table: Table, settings, season: int) -> float:
    """MASE's scale: the mean absolute `season`-step change of the target over the training parts."""
    total, count = 0.0, 0
    target = table.values[:, 0]
    for _, start, stop in table.series():
        a, b = split_bounds(stop - start, settings["val_fraction"], settings["test_fraction"])["train"]
        part = target[start + a : start + b]
        if len(part) > season:
            total += float(np.sum(np.abs(part[season:] - part[:-season])))
            count += len(part) - season
    return total / count if count and total > 0 else float("nan")
