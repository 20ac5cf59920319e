"""`text-classes`: the user's labelled texts, one folder per class or a CSV, classified by words.

    python train.py --task text-classes --data reviews/          # reviews/pos/*.txt, reviews/neg/*.txt
    python train.py --task text-classes --data tickets.csv --text-column body --label-column team

A folder holds one subfolder per class of `.txt` files (the layout of
`keras.utils.text_dataset_from_directory` and of the IMDB archive's
`aclImdb/train`); the class names are the subfolders' (or the label cells')
names in sorted order, saved with the run. Two classes take the sigmoid head,
more the softmax head. The test texts are `--test-data` (the same layout),
else a stratified `--test-fraction` of each class; the validation texts a
stratified, seeded `--val-fraction` of the rest; the vocabulary comes from
the training texts only. Words are read as `imdb` reads them, with
non-ASCII letters kept and lower-cased (Keras's own lower-casing is
ASCII-only).
"""

from __future__ import annotations

import csv
import os

import numpy as np
import tensorflow as tf

from datasets.base import TEXT_INPUTS, Task, TaskData, finish_by_length, read_texts, task_data
from datasets.imdb import IMDB, export_words, last_words, make_vectorizer
from datasets.registry import register_task
from zoo import metrics, plots
from zoo.spec import BINARY, MULTICLASS, TOKENS, InputSpec, Setting, TaskSpec


def standardize(text: tf.Tensor) -> tf.Tensor:
    """Lower-cases any script (UTF-8), drops `<br />` tags and everything but letters, digits and apostrophes."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, "<br\\s*/?>", " ")
    return tf.strings.regex_replace(text, "[^\\p{L}\\p{N}' ]", " ")


class Texts:
    """Texts with their class ids, and what reading them skipped."""

    def __init__(self, texts: list[str], labels: list[str], skipped: int = 0):
        self.texts, self.labels, self.skipped = texts, labels, skipped


def read_file(path: str, encoding: str) -> str:
    try:
        with open(path, encoding=encoding) as f:
            return f.read()
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not {encoding} text ({err.reason} at byte {err.start}); "
            "pass --encoding to read another encoding (e.g. --encoding latin-1)"
        ) from None


def read_folder(root: str, flag: str, encoding: str) -> Texts:
    """One subfolder per class of .txt files (searched recursively); empty files are skipped and counted."""
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        where = root.rstrip("/")
        raise ValueError(
            f"{flag} {root} has no class folders: it needs one subfolder of .txt files per class "
            f"(e.g. {where}/pos/*.txt and {where}/neg/*.txt)"
        )
    texts, labels, skipped = [], [], 0
    for name in classes:
        found = 0
        for folder, subfolders, names in os.walk(os.path.join(root, name)):
            subfolders.sort()
            for file in sorted(n for n in names if n.endswith(".txt")):
                text = read_file(os.path.join(folder, file), encoding)
                if not text.strip():
                    skipped += 1
                    continue
                texts.append(text)
                labels.append(name)
                found += 1
        if not found:
            raise ValueError(f"class folder {os.path.join(root, name)} holds no non-empty .txt file")
    return Texts(texts, labels, skipped)


def read_csv(path: str, flag: str, settings) -> Texts:
    text_column, label_column = settings["text_column"], settings["label_column"]
    if not text_column or not label_column:
        raise ValueError(f"{flag} {path} is a file: name its columns with --text-column and --label-column")
    texts, labels, skipped = [], [], 0
    try:
        with open(path, newline="", encoding=settings["encoding"]) as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            for column, option in ((text_column, "--text-column"), (label_column, "--label-column")):
                if column not in header:
                    raise ValueError(
                        f"{option} {column!r} is not a column of {path} (its columns: {', '.join(header)})"
                    )
            t, lab = header.index(text_column), header.index(label_column)
            for row in reader:
                if not row:
                    continue
                label = row[lab].strip() if len(row) > lab else ""
                if not label:
                    raise ValueError(f"{path} line {reader.line_num} has no label in column {label_column!r}")
                text = row[t] if len(row) > t else ""
                if not text.strip():
                    skipped += 1
                    continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not {settings['encoding']} text ({err.reason} at byte {err.start}); "
            "pass --encoding to read another encoding (e.g. --encoding latin-1)"
        ) from None
    except csv.Error as err:
        raise ValueError(f"{flag} {path} is not a readable CSV: {err}") from None
    return Texts(texts, labels, skipped)


def read_labelled(path: str, flag: str, settings) -> Texts:
    """The texts of a class folder layout or of a CSV."""
    if not path:
        raise ValueError(
            "task 'text-classes' needs --data DIR (one subfolder of .txt files per class) "
            "or --data FILE.csv --text-column C --label-column L"
        )
    if not os.path.exists(path):
        raise ValueError(f"{flag} {path} does not exist")
    try:
        "".encode(settings["encoding"])
    except LookupError:
        raise ValueError(f"--encoding {settings['encoding']!r} is not an encoding Python knows") from None
    texts = (
        read_folder(path, flag, settings["encoding"])
        if os.path.isdir(path)
        else read_csv(path, flag, settings)
    )
    if not texts.texts:
        raise ValueError(f"{flag} {path} holds no text")
    if texts.skipped:
        print(f"note: {flag} {path}: skipped {texts.skipped} empty text{'s' if texts.skipped > 1 else ''}")
    return texts


def stratified(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """(kept, taken) indices: `fraction` of each class taken, chosen at random (seeded)."""
    kept, taken = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.nonzero(labels == c)[0])
        n = min(int(round(len(members) * fraction)), len(members) - 1)
        taken.append(members[:n])
        kept.append(members[n:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(taken))


@register_task
class TextClasses(Task):
    name = "text-classes"
    description = "your labelled texts (a folder per class, or a CSV): words -> class, accuracy"
    heads = (BINARY, MULTICLASS)
    input_kinds = (TOKENS,)
    settings = (
        Setting("data", str, "", "a folder with one subfolder of .txt files per class, or a CSV"),
        Setting(
            "test_data", str, "", "test texts in the same layout (default: a stratified --test-fraction)"
        ),
        Setting("text_column", str, "", "a CSV --data: the column of the texts"),
        Setting("label_column", str, "", "a CSV --data: the column of the class names"),
        Setting("encoding", str, "utf-8", "the text files' encoding"),
        Setting("val_fraction", float, 0.1, "the part of each class (of the training texts) that validates"),
        Setting(
            "test_fraction", float, 0.1, "the part of each class kept for evaluate.py, without --test-data"
        ),
        *(s for s in IMDB.settings if s.name in ("seq_len", "max_tokens", "pool")),
    )
    eval_settings = TEXT_INPUTS
    # The imdb task's defaults and recipes: IMDB in its folders trains as the imdb task does.
    defaults = IMDB.defaults
    recipes = IMDB.recipes
    search_space = IMDB.search_space

    def texts(self, config) -> tuple[dict[str, tuple[list[str], np.ndarray]], list[str]]:
        """Each split's texts and class ids; the class names in their fixed (sorted) order."""
        settings = config.task_settings
        for name in ("val_fraction", "test_fraction"):
            if not 0 < settings[name] < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be in (0, 1), got {settings[name]}")
        data = read_labelled(settings["data"], "--data", settings)
        names = sorted(set(data.labels))
        if len(names) < 2:
            raise ValueError(
                f"--data {settings['data']} holds one class ({names[0]!r}); a classifier needs two or more"
            )
        index = {n: i for i, n in enumerate(names)}
        texts, labels = np.array(data.texts, dtype=object), np.array([index[n] for n in data.labels])
        rng = np.random.default_rng(config.seed)
        if settings["test_data"]:
            test = read_labelled(settings["test_data"], "--test-data", settings)
            unknown = sorted(set(test.labels) - set(names))
            if unknown:
                raise ValueError(
                    f"--test-data {settings['test_data']} has class {unknown[0]!r}, which --data "
                    f"{settings['data']} has not (its classes: {', '.join(names)})"
                )
            splits = {"test": (list(test.texts), np.array([index[n] for n in test.labels]))}
        else:
            rest, held = stratified(labels, settings["test_fraction"], rng)
            splits = {"test": (list(texts[held]), labels[held])}
            texts, labels = texts[rest], labels[rest]
        train, val = stratified(labels, settings["val_fraction"], rng)
        splits |= {"train": (list(texts[train]), labels[train]), "val": (list(texts[val]), labels[val])}
        return splits, names

    def load(self, config, state=None, splits=("train", "val", "test")) -> TaskData:
        settings = config.task_settings
        parts, names = self.texts(config)
        if state is None:
            vectorizer = make_vectorizer(settings["max_tokens"], standardize=standardize)
            vectorizer.adapt(tf.data.Dataset.from_tensor_slices(parts["train"][0]).batch(1024))
            state = {"vocabulary": vectorizer.get_vocabulary(), "class_names": names}
        elif names != state["class_names"]:
            raise ValueError(
                f"--data {settings['data']} now holds the classes {', '.join(names)}; the run was trained "
                f"on {', '.join(state['class_names'])}"
            )
        vectorizer = self.vectorizer(config, state)
        seq_len = settings["seq_len"]

        def pipeline(split):
            texts, labels = parts[split]
            ds = tf.data.Dataset.from_tensor_slices((tf.constant(texts, tf.string), labels.astype(np.int64)))
            ds = ds.batch(1024).map(
                lambda x, y: (last_words(vectorizer, x, seq_len), y), num_parallel_calls=tf.data.AUTOTUNE
            )
            ds = ds.unbatch().map(lambda x, y: (tf.identity(x), y)).cache()
            ds = ds.apply(tf.data.experimental.assert_cardinality(len(texts)))
            training = split == "train"
            return finish_by_length(
                ds,
                config.batch_size,
                seq_len,
                shuffle=len(texts) if training else 0,  # the texts come class by class: shuffle them all
                seed=config.seed,
                few_shapes=config.jit_compile,
            )

        return task_data(pipeline, splits, self.spec(config, state), state)

    def spec(self, config, state) -> TaskSpec:
        names = tuple(state["class_names"])
        return TaskSpec(
            inputs=(InputSpec(TOKENS, timesteps=None, vocab_size=len(state["vocabulary"]), mask_zero=True),),
            pool=config.task_settings["pool"],
            head=BINARY if len(names) == 2 else MULTICLASS,
            output_units=1 if len(names) == 2 else len(names),
            class_names=names,
        )

    def example_state(self, config) -> dict:
        return {"vocabulary": ["", "[UNK]", *(f"word{i}" for i in range(28))], "class_names": ["a", "b", "c"]}

    def vectorizer(self, config, state):
        """The run's saved vocabulary as a `TextVectorization` layer."""
        return make_vectorizer(config.task_settings["max_tokens"], state["vocabulary"][2:], standardize)

    def encode_texts(self, config, state, texts: list[str]) -> np.ndarray:
        """Raw texts -> padded ids (len(texts), seq_len); refuses a text with no word left."""
        seq_len = config.task_settings["seq_len"]
        ids = last_words(self.vectorizer(config, state), tf.constant(texts), seq_len)
        empty = [t for t, n in zip(texts, ids.row_lengths().numpy()) if n == 0]
        if empty:
            raise ValueError(f"text {empty[0]!r} has no words (letters or digits): there is nothing to score")
        return ids.to_tensor(shape=[None, seq_len]).numpy()

    def read_inputs(self, options) -> list[str]:
        return read_texts(options)

    def probabilities(self, outputs: np.ndarray, classes: int) -> np.ndarray:
        """(n, classes) class probabilities from the head's outputs (one sigmoid, or a softmax)."""
        if classes == 2:
            return np.concatenate([1 - outputs[:, :1], outputs[:, :1]], axis=1)
        return outputs

    def predict(self, model, config, state, inputs, options) -> list[dict]:
        names = state["class_names"]
        outputs = np.asarray(model.predict_on_batch(self.encode_texts(config, state, inputs)))
        probs = self.probabilities(outputs, len(names))
        return [
            {"text": t} | {n: round(float(p), 4) for n, p in zip(names, row)} for t, row in zip(inputs, probs)
        ]

    def export_model(self, model, config, state, fixed_shape=False):
        """`serving_default`: texts (batch,) -> `probabilities` (batch, classes), `class` (batch,).

        The columns are the run's classes in their saved order
        (`state["class_names"]`); the words are read with this task's
        `standardize` (any script lower-cased), as `encode_texts` reads them.
        See `datasets.imdb.export_words`.
        """
        vectorizer, names = self.vectorizer(config, state), state["class_names"]
        return export_words(model, vectorizer, config.task_settings["seq_len"], names, fixed_shape)

    def evaluate(self, model, config, data, options, run_dir) -> dict:
        texts = self.read_inputs(options)
        predictions = self.predict(model, config, data.state, texts, options) if texts else []
        names = data.spec.class_names
        outputs, labels = metrics.collect(model, data.test, options.get("limit"), config.batch_size)
        predicted = self.probabilities(outputs, len(names)).argmax(axis=1)
        result = metrics.classes(labels.astype(int), predicted, names)
        plots.save_confusion(
            result["confusion_matrix"]["matrix"], names, os.path.join(run_dir, "confusion.png")
        )
        return result | ({"predictions": predictions} if predictions else {})
