"""The shape of the imports: no circles in the run machinery, TensorFlow only where it is needed.

Read from the source with `ast`, imports inside functions included: a lazy
import hides a circle from Python until the day the order of imports
changes, not from this test.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

# The first-party packages the run machinery is made of; a circle through
# models/ or datasets/ would still be a circle in zoo/.
PACKAGES = ("zoo", "models", "datasets")


def module_files() -> dict[str, object]:
    """Module name -> path, for every module of PACKAGES ("zoo" for zoo/__init__.py)."""
    files = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            files[name] = path
    return files


def imported(tree: ast.AST, modules) -> set[str]:
    """The modules of `modules` that `tree` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from zoo import rundir` imports the module zoo.rundir; `from zoo.spec import X`, zoo.spec.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:  # `import zoo.x.y` or `from zoo.x import f`: zoo.x
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the first-party modules it imports (the edge to its own package left out)."""
    files = module_files()
    return {
        name: imported(ast.parse(path.read_text(), str(path)), files) - {name, name.partition(".")[0]}
        for name, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` (its modules, the first one repeated at the end), or None."""
    done, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        path.append(name)
        for target in sorted(graph.get(name, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def imports_tensorflow(name: str) -> bool:
    """Whether module `name` (a first-party module) imports TensorFlow anywhere, even in a function."""
    tree = ast.parse(module_files()[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        if any(n == "tensorflow" or n.startswith("tensorflow.") for n in names):
            return True
    return False


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_imports_inside_functions():
    files = {"zoo": None, "zoo.rundir": None, "zoo.spec": None}
    tree = ast.parse("def f():\n    from zoo import rundir\n    import zoo.spec\n")
    assert imported(tree, files) == {"zoo", "zoo.rundir", "zoo.spec"}


def test_no_import_circles():
    graph = import_graph()
    assert "zoo.config" in graph and "zoo.training" in graph, sorted(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_modules_train_py_reads_before_tensorflow_import_none():
    """The modules train.py reads before it resolves its config import no TensorFlow (nor does TF_CONFIG parsing)."""
    early = ("zoo.cli", "zoo.cluster", "zoo.config", "zoo.rundir", "zoo.spec")
    code = f"import sys, {', '.join(early)}; assert 'tensorflow' not in sys.modules, sorted(sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_builders_and_the_spec_import_no_tensorflow():
    """The model builders run under any Keras backend (JAX on a GPU machine); so does zoo/spec.py."""
    graph = import_graph()
    for start in ("models", "models.compile", "zoo.spec", "zoo.cluster"):
        users = sorted(name for name in reachable(graph, start) if imports_tensorflow(name))
        assert not users, f"{start} imports TensorFlow through {users}"
