"""The docs show only flags that exist: every `--flag` of a train.py, evaluate.py or export.py command in them."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

import evaluate
import export
import train
import tune
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCRIPTS = {
    "train.py": train.parse_args,
    "evaluate.py": evaluate.parse_args,
    "export.py": export.parse_args,
    "tune.py": tune.parse_args,
}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"`([^`]+)`")
COMMAND = re.compile(r"\bpython (train\.py|evaluate\.py|export\.py|tune\.py)\b")
FLAG = re.compile(r"--[A-Za-z][\w-]*")
ENDS = {"|", "||", "&", "&&", ";", ">", ">>", "<"}  # a shell operator ends the command
# An option line of argparse's help: "  --model MODEL   help", "  -h, --help", "  --x, --no-x".
# Wrapped help text is indented further, so a flag named in a help string is not an option.
OPTION_LINE = re.compile(r"^ {2,4}(-\S.*?)(?: {2,}|$)", re.MULTILINE)


def snippets(text: str) -> list[str]:
    """The code of `text`: each fenced block's lines (continuations joined), then each inline span."""
    found = []
    for block in FENCE.findall(text):
        found += block.replace("\\\n", " ").splitlines()
    outside = FENCE.sub("", text)
    found += [span.replace("\n", " ") for span in INLINE.findall(outside)]
    return found


def commands(text: str) -> list[tuple[str, list[str]]]:
    """(script, arguments) of every `python train.py ...` / `evaluate.py ...` / `export.py ...` in `text`."""
    found = []
    for code in snippets(text):
        for match in COMMAND.finditer(code):
            lexer = shlex.shlex(code[match.end() :], posix=True, punctuation_chars=True)
            lexer.whitespace_split = True  # words are split at spaces and shell operators only
            lexer.commenters = "#"
            args = []
            try:
                for token in lexer:
                    if token in ENDS:
                        break
                    args.append(token)
            except ValueError:  # an unclosed quote: keep what came before it
                pass
            found.append((match.group(1), args))
    return found


def flags(args: list[str]) -> set[str]:
    """The flag names among a command's arguments (`--a=1` -> `--a`; `--x/--no-x` -> both)."""
    return {name for arg in args if arg.startswith("--") for name in FLAG.findall(arg)}


def options(script: str) -> set[str]:
    """The option strings that `python <script> --help` lists, from the script's own parser."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        SCRIPTS[script](["--help"])
    return {flag for line in OPTION_LINE.findall(out.getvalue()) for flag in FLAG.findall(line)}


def unknown_flags(text: str, known: dict[str, set[str]]) -> list[str]:
    """`script --flag` for every flag of a command in `text` that the script's --help does not list."""
    return [
        f"{script} {flag}" for script, args in commands(text) for flag in sorted(flags(args) - known[script])
    ]


@pytest.fixture(scope="module")
def known():
    found = {script: options(script) for script in SCRIPTS}
    assert {"--model", "--task", "--help", "--jit-compile", "--no-jit-compile"} <= found["train.py"]
    assert {"--text", "--seed-text", "--limit"} <= found["evaluate.py"]
    assert {"--format", "--out", "--overwrite"} <= found["export.py"]
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_in_the_docs_exists(doc, known):
    text = doc.read_text(encoding="utf-8")
    if doc.name == "tuning.md":
        # Its tables give the flags added to a train.py command, each in its own span;
        # its section on tune.py names tune.py's flags.
        tuning, _, rest = text.partition("\n## Searching with tune.py\n")
        search, _, rest = rest.partition("\n## ")
        for script, part in (("train.py", tuning + rest), ("tune.py", search)):
            text += "".join(f"\n`python {script} {span}`" for span in snippets(part) if span.startswith("--"))
    missing = list(unknown_flags(text, known))
    assert not missing, f"{doc.relative_to(ROOT)} shows flags that do not exist: {', '.join(missing)}"


def test_the_docs_show_commands_to_check():
    """The parser finds the docs' commands (a parser that found none would pass everything)."""
    found = [c for doc in DOCS for c in commands(doc.read_text(encoding="utf-8"))]
    scripts = {script for script, _ in found}
    assert scripts == {"train.py", "evaluate.py", "export.py", "tune.py"} and len(found) >= 20
    shown = set().union(*(flags(args) for _, args in found))
    assert {"--model", "--task", "--text", "--distribute", "--list"} <= shown


def test_a_flag_that_does_not_exist_is_caught(known):
    text = """
```bash
python train.py --model lstm \\
    --task timeseries --colour red   # a comment --ignored
RNN_ZOO_CPU_DEVICES=2 python train.py --task imdb --jit-compile/--no-jit-kompile | tee log
```
Inline, across a line break: `python evaluate.py runs/imdb/gru --text "a -- b"
--epochs 3`; `python train.py --seed=3`, `python train.py --seeds 3`, `python train.py --seed-text x`.
"""
    assert unknown_flags(text, known) == [
        "train.py --colour",
        "train.py --no-jit-kompile",
        "evaluate.py --epochs",  # train.py's flag, not evaluate.py's
        "train.py --seeds",  # not --seed: whole names only
        "train.py --seed-text",  # evaluate.py's flag
    ]
    assert [args[:2] for _, args in commands(text)][0] == ["--model", "lstm"]


# Pages whose bare flag spans (`--units 128`) are train.py's, evaluate.py's or export.py's;
# the other pages also name the benchmark scripts' flags.
FLAG_PAGES = [ROOT / "README.md", ROOT / "docs" / "tasks.md", ROOT / "docs" / "reliability.md"]


@pytest.mark.parametrize("doc", FLAG_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bare_flag_span_exists(doc, known):
    """A span of flags outside a command (`--epochs 1 --steps-per-epoch 20`) names flags of one of the scripts."""
    spans = [span for span in snippets(doc.read_text(encoding="utf-8")) if span.startswith("--")]
    assert spans, f"{doc.name} shows no flag span: the test checks nothing there"
    either = known["train.py"] | known["evaluate.py"] | known["export.py"]
    missing = sorted({flag for span in spans for flag in FLAG.findall(span)} - either)
    assert not missing, f"{doc.relative_to(ROOT)} shows flags that do not exist: {', '.join(missing)}"


def test_a_task_flag_is_shown_only_with_its_task():
    """`python train.py --task T ... --flag`: a task's own flag appears only with a task that declares it."""
    import datasets
    from zoo import config

    readers = {
        "--" + name.replace("_", "-"): tasks
        for name, tasks in config.task_setting_names(datasets.TASKS).items()
    }
    wrong = []
    for doc in DOCS:
        for script, args in commands(doc.read_text(encoding="utf-8")):
            if script != "train.py" or "--task" not in args or args.index("--task") + 1 >= len(args):
                continue
            task = args[args.index("--task") + 1]
            wrong += [
                f"{doc.name}: --task {task} {f}"
                for f in flags(args)
                if f in readers and task not in readers[f]
            ]
    assert not wrong, wrong
    assert "imdb" in readers["--seq-len"] and "timeseries" not in readers["--seq-len"]
