"""The package's shape: small modules, no import circle, and layers that only import downward.

Read from the source with ``ast`` (nothing is imported), so a violation is named by file and
line. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sparkify_assets"
MAX_LINES = 450
# Lower layers never import higher ones; a layer may import its own package and anything below.
LAYERS = {
    "core": 0,
    "contract": 1,
    "ingest": 2,
    "sql": 2,
    "synthetic": 2,
    "warehouse": 3,
    "ops": 3,
    "defs": 4,
    "cli": 5,
    "definitions": 5,
}
DAGSTER_FROM = LAYERS["defs"]
# The one module that may import Dagster's private API (``dagster._…``).
DAGSTER_INTERNALS = "sparkify_assets.defs.dagster_internals"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``, which never run."""
    return {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for statement in node.body
        for child in ast.walk(statement)
    }


def imports_of(path: Path, *, annotations: bool = True) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved.

    ``annotations=False`` leaves out imports under ``if TYPE_CHECKING:``: they name a type for
    the reader and the type checker, and never run, so they cannot make an import circle.
    """
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    tree = ast.parse(path.read_text(), str(path))
    skipped = set() if annotations else _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((target, node.lineno))
            # `from package import module` imports the module
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


def internal_graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {
            target
            for target, _ in imports_of(path, annotations=False)
            if target in known and target != name
        }
        for name, path in known.items()
    }


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_module_is_longer_than_450_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    too_long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    assert not too_long, f"split these modules (at most {MAX_LINES} lines): {too_long}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return stack[stack.index(child) :] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_there_is_no_import_circle():
    assert find_cycle(internal_graph()) is None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_subpackage_has_a_layer():
    unplaced = {name for name in modules() if name.count(".") and layer(name) is None}
    assert not unplaced, "add these to LAYERS (and to docs/architecture.md's Layout): " + ", ".join(
        unplaced
    )


@pytest.mark.parametrize("name", sorted(modules()))
def test_layers_only_import_downward(name):
    own = layer(name)
    if own is None:
        return  # the package's __init__, which imports nothing
    upward = [
        f"line {line}: {target}"
        for target, line in imports_of(modules()[name])
        if target.startswith("sparkify_assets.")
        and (layer(target) or 0) > own
        or (own < DAGSTER_FROM and target.split(".")[0].startswith("dagster"))
    ]
    assert not upward, f"{name} imports upward (or Dagster below defs): {upward}"


def private_dagster_imports(source: str) -> list[str]:
    """``line N: module`` for every import of ``dagster._…`` in the source, lazy ones too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.module or "", node.lineno))
    return [f"line {line}: {name}" for name, line in found if name.startswith("dagster._")]


@pytest.mark.parametrize("name", sorted(set(modules()) - {DAGSTER_INTERNALS}))
def test_private_dagster_api_is_imported_by_one_module_only(name):
    private = private_dagster_imports(modules()[name].read_text())
    assert not private, f"{name}: import these through {DAGSTER_INTERNALS}: {private}"


def test_the_private_import_finder_finds_them():
    probe = (
        "import dagster\nfrom dagster._core import tags\n\ndef f():\n    import dagster._serdes\n"
    )
    assert private_dagster_imports(probe) == ["line 2: dagster._core", "line 5: dagster._serdes"]
