"""The layering the house rules ask for, checked on the source: who may import whom.

Data flows registry -> models -> store -> CLI / API: registries never import
the store, the store imports no registry, models import nothing else of
trialfinder, the CLI and the web app never import each other, and nothing
imports in a circle, even inside a function. Every module under
``trialfinder/`` is parsed (not imported), so an import anywhere in it counts,
at module level or in a function; one under ``if TYPE_CHECKING:`` is for the
type checker only and does not.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "trialfinder"

# Edges that break a rule today, each allowed here until it is fixed, so that the
# test fails on any new one. Empty since issue 10 (part 6) removed the cycles of
# resolve <-> resolve_online and of the web modules; add an edge here only with
# the issue that will remove it, e.g. ("trialfinder.a", "trialfinder.b"),  # issue N
KNOWN: set[tuple[str, str]] = set()


def module_files() -> dict[str, tuple[Path, bool]]:
    """Every trialfinder module's dotted name -> (its file, whether it is a package)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(tree: ast.AST, package: str, modules: Collection[str]) -> set[str]:
    """The trialfinder modules a module imports anywhere but under ``if TYPE_CHECKING:``.

    ``from a.b import c`` is an import of the module ``a.b.c`` if there is one,
    else of ``a.b`` (whose name ``c`` is); a name is owned by its nearest module.
    Relative imports are resolved against ``package``, the importer's package.
    """
    found: set[str] = set()

    def owner(name: str) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                owner(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                owner(f"{base}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """trialfinder module -> the trialfinder modules it imports."""
    modules = module_files()
    graph = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        here = name if package else name.rpartition(".")[0]
        graph[name] = frozenset(imports_of(tree, here, modules) - {name})
    return graph


def edges() -> set[tuple[str, str]]:
    return {(a, b) for a, targets in import_graph().items() for b in targets}


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def broken(rule) -> list[tuple[str, str]]:
    """The import edges that break ``rule`` and are not a known violation."""
    return sorted(edge for edge in edges() if rule(*edge) and edge not in KNOWN)


def test_the_graph_sees_imports_in_functions_and_skips_type_checking_ones():
    graph = import_graph()
    assert "trialfinder.resolve_online" in graph["trialfinder.resolve"]  # inside resolve()
    assert "trialfinder.web.cors" in graph["trialfinder.web.pipeline"]  # from web import cors
    assert "trialfinder.web.service" not in graph["trialfinder.web.keys"]  # TYPE_CHECKING
    assert "trialfinder.clock" in graph["trialfinder.resolution"]


def test_the_graph_resolves_relative_imports_to_modules():
    modules = {
        "trialfinder",
        "trialfinder.a",
        "trialfinder.a.x",
        "trialfinder.b",
        "trialfinder.a.c",
    }
    tree = ast.parse(
        "from . import x\nfrom ..b import y\nfrom .c import z\n"
        "def f():\n    import trialfinder.a.c.q\n"
        "if TYPE_CHECKING:\n    from trialfinder import nope\n"
    )
    found = imports_of(tree, "trialfinder.a", modules)
    assert found == {"trialfinder.a.x", "trialfinder.b", "trialfinder.a.c"}


def test_cycles_are_found():
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_nothing_imports_in_a_circle():
    graph = {a: frozenset(t for t in ts if (a, t) not in KNOWN) for a, ts in import_graph().items()}
    found = cycles(graph)
    assert not found, "import cycles (even inside functions): " + "; ".join(
        " <-> ".join(group) for group in found
    )


def test_registries_never_import_the_store():
    assert not broken(
        lambda a, b: under(a, "trialfinder.registries") and under(b, "trialfinder.store")
    )


def test_the_store_imports_no_registry():
    assert not broken(
        lambda a, b: under(a, "trialfinder.store") and under(b, "trialfinder.registries")
    )


# What the store may import besides itself: models (what it stores), the errors it
# raises, and the one rule for a name's lookup key (terms.name_key). Nothing that
# decides: no diffing of trials, no cache policy, no ordering or merging rules.
STORE_MAY_IMPORT = ("trialfinder.store", "trialfinder.models", "trialfinder.errors")


def test_the_store_holds_no_domain_rules():
    assert not broken(
        lambda a, b: (
            under(a, "trialfinder.store")
            and not under(b, *STORE_MAY_IMPORT)
            and b != "trialfinder.terms"
        )
    )


def test_the_store_is_functions_over_a_handle_not_a_class_of_methods():
    """``Store`` opens, writes and closes; what is read and written lives in modules of
    functions (no mixin whose methods depend on attributes nobody declares)."""
    from trialfinder.store.store import Store

    own = {n for n, v in vars(Store).items() if callable(v) or isinstance(v, classmethod)}
    assert own <= {"__init__", "open", "open_configured", "write", "close", "__enter__", "__exit__"}
    assert Store.__bases__ == (object,)


def test_models_import_only_models():
    assert not broken(
        lambda a, b: under(a, "trialfinder.models") and not under(b, "trialfinder.models")
    )


def test_the_cli_and_the_web_app_never_import_each_other():
    assert not broken(lambda a, b: under(a, "trialfinder.cli") and under(b, "trialfinder.web"))
    assert not broken(lambda a, b: under(a, "trialfinder.web") and under(b, "trialfinder.cli"))


def test_every_known_violation_still_exists():
    """An allowance outlives its violation by no commit: remove it from KNOWN when fixed."""
    stale = sorted(KNOWN - edges())
    assert not stale, f"stale allowances (the violation is gone; remove them): {stale}"
