"""The layers of the package import one way only (see ARCHITECTURE.md).

Every import counts, at module level or inside a function, except those under ``if TYPE_CHECKING:``
(annotations only, never executed).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "caveclient_gen"
GENERATED = ROOT / "generated" / "caveclient_gen_api"

# Lower layers first: a module may import its own layer and the layers before it, never a later one.
CLIENT_LAYERS: tuple[tuple[str, ...], ...] = (
    ("caveclient_gen._version", "caveclient_gen._defaults", "caveclient_gen.errors"),
    ("caveclient_gen.records", "caveclient_gen._convert"),
    ("caveclient_gen._http",),
    ("caveclient_gen._core",),
    ("caveclient_gen._tables",),
    ("caveclient_gen.services",),
    ("caveclient_gen._client",),
    ("caveclient_gen",),  # the package itself: its public surface
    ("caveclient_gen.cli", "caveclient_gen.mock", "caveclient_gen.pytest_plugin"),
)

BRIDGES = {("caveclient_gen.testing", "caveclient_gen.mock")}
"""The only imports from LocalCAVE into the client layer: `caveclient_gen.testing.CAVEclientMock`
is where caveclient users look for the mock (caveclient.tools.testing), and it returns a client.
The package's `__getattr__` imports it on first use only; no LocalCAVE module imports it."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements outside `if TYPE_CHECKING:` blocks, at any depth."""
    for node in ast.iter_child_nodes(tree):
        if is_type_checking_block(node):
            assert isinstance(node, ast.If)
            for other in node.orelse:
                yield from runtime_imports(other)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from runtime_imports(node)


def imported_modules(path: Path, root: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the file imports when it runs."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` counts as importing the module, `from module import name`
            # as importing the module (a package's __init__ runs for any of its modules: not counted).
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [module if module in known else base for module in submodules]
        for target in targets:
            module = target
            while module and module not in known:
                module = module.rpartition(".")[0]
            if module and module != name:
                found.add(module)
    return found


def import_graph(root: Path, package: Path) -> dict[str, set[str]]:
    files = {module_name(path, root): path for path in package.rglob("*.py")}
    known = set(files)
    return {name: imported_modules(path, root, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the list of its modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching prefix, layer)
    for index, prefixes in enumerate(CLIENT_LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGE)


def test_no_import_cycle_in_the_package(graph: dict[str, set[str]]) -> None:
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_client_layers_import_downwards_only(graph: dict[str, set[str]]) -> None:
    upward = []
    for module, targets in graph.items():
        if module.startswith("caveclient_gen.testing"):
            continue
        source_layer = layer_of(module)
        assert source_layer is not None, f"{module} belongs to no layer: add it to CLIENT_LAYERS"
        for target in targets:
            if target.startswith("caveclient_gen.testing"):
                continue  # the CLI and the demo start a LocalCAVE
            target_layer = layer_of(target)
            if target_layer is not None and target_layer > source_layer:
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_localcave_does_not_share_code_with_the_client(graph: dict[str, set[str]]) -> None:
    """LocalCAVE must not agree with the client by sharing its code."""
    shared = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith("caveclient_gen.testing")
        for target in targets
        if not target.startswith("caveclient_gen.testing") and (module, target) not in BRIDGES
    ]
    assert shared == []


def test_importing_localcave_does_not_load_the_mock() -> None:
    """The bridge to CAVEclientMock is lazy: importing LocalCAVE does not load it (the package's own
    `__init__` loads the client, whichever subpackage is imported)."""
    import subprocess
    import sys

    code = (
        "import sys, caveclient_gen.testing as t\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('caveclient_gen.')"
        " and not m.startswith('caveclient_gen.testing'))\n"
        "print(loaded)\n"
        "assert t.CAVEclientMock.__module__ == 'caveclient_gen.mock'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = eval(result.stdout)  # a printed list of module names
    assert "caveclient_gen.mock" not in loaded


def test_generated_code_imports_nothing_of_ours() -> None:
    offenders = []
    for path in GENERATED.rglob("*.py"):
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            offenders += [f"{path}: {name}" for name in names if name.startswith("caveclient_gen")]
    assert offenders == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_under_type_checking_are_ignored_and_others_counted(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import X\n"
    )
    (package / "high.py").write_text("def f():\n    from . import low\n")
    assert import_graph(tmp_path, package) == {"pkg": set(), "pkg.low": set(), "pkg.high": {"pkg.low"}}


def test_every_path_architecture_md_names_exists() -> None:
    """ARCHITECTURE.md stays true when code moves: every file or folder it names is there."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    path = re.compile(r"[\w./<>-]+(\.py|\.yaml|/)")
    fenced = re.findall(r"```.*?```", text, flags=re.DOTALL)
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    words = re.findall(r"`([^`]+)`", prose) + [w for block in fenced for w in block.split()]
    named = {word.rstrip(",") for word in words if path.fullmatch(word.rstrip(","))}
    assert len(named) > 30
    here = {
        str(found.relative_to(ROOT))
        for top in ("caveclient_gen", "tests", "specs", "scripts", "generated")
        for found in (ROOT / top).rglob("*")
        if "__pycache__" not in found.parts
    }
    here |= {str(found.relative_to(ROOT)) for found in ROOT.iterdir()}

    def exists(named_path: str) -> bool:
        """True if a file or folder of the repository is this path, or ends with it."""
        bare = named_path.rstrip("/")
        return any(p == bare or p.endswith("/" + bare) for p in here)

    missing = [p for p in sorted(named) if "<" not in p and not exists(p)]
    assert missing == [], missing


def test_localcave_folders_stay_small() -> None:
    """One folder per service keeps LocalCAVE navigable: no folder grows past about ten entries."""
    testing = PACKAGE / "testing"
    crowded = {}
    for folder in [testing, *(p for p in testing.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        entries = [
            p.name
            for p in folder.iterdir()
            if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
        ]
        if len(entries) > 11:
            crowded[str(folder.relative_to(ROOT))] = len(entries)
    assert crowded == {}
