"""The layout holds: no import circle between the package's modules, and the product never needs
the lab (SimTip, training, benchmark, calibration) — only the command line's ``lab`` group calls it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_se3afm"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every napari_se3afm module that ``path`` imports, at module level or inside a function."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith("napari_se3afm") and c in MODULES}
    return found - {name}


MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _strip_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges to a package's own ``__init__`` from inside it are how Python loads a module, not a design choice."""
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}


def test_no_import_circle():
    graph = _strip_parents(GRAPH)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path[path.index(t) :], t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_product_never_imports_the_lab():
    allowed = {"napari_se3afm.cli": {"napari_se3afm.lab.cli"}}  # the `se3afm lab` command group
    for module, targets in GRAPH.items():
        if module.startswith("napari_se3afm.lab"):
            continue
        lab = {t for t in targets if t.startswith("napari_se3afm.lab")} - allowed.get(module, set())
        assert not lab, f"{module} imports {sorted(lab)}"


def test_the_public_api_names_no_lab_module():
    """The package's lazily imported names (strings, which the import graph above cannot see)."""
    import napari_se3afm

    lab = {name: target for name, target in napari_se3afm._API.items() if target.split(".")[0] == "lab"}
    assert not lab, lab
    for name in napari_se3afm.__all__:
        getattr(napari_se3afm, name)  # every public name resolves
