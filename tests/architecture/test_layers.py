"""The rooms and their order: imports only point down the layers (or stay within one), derived from the code's
own import statements (top level and inside functions alike), so an arrow up fails here before it tangles."""

from __future__ import annotations

import ast
from pathlib import Path

from steps import layout

ROOT = layout.CODE_ROOT
# Top to bottom. A module may import its own layer and every layer below it, never one above.
LAYERS: list[tuple[str, ...]] = [
    ("steps.cli",),
    ("steps.catalog",),
    ("steps.release", "steps.inspect", "steps.cluster"),
    ("steps.datasets", "steps.embeddings", "steps.sources"),
    ("steps.refs",),
    ("steps.kit",),
    ("steps.config", "steps.layout", "steps.git", "steps.errors", "steps.output", "steps.client", "steps"),
    ("dreg_client",),
]
SOURCES = {"steps": ROOT / "steps", "dreg_client": ROOT / "clients/python/dreg_client"}
TOOLING = ("steps.dev",)  # developer tooling (demo, scratch registries) may use every room


def layer_of(module: str) -> int | None:
    """Index of the layer `module` belongs to (the longest matching room prefix), None outside the project."""
    best: tuple[int, int] | None = None
    for index, rooms in enumerate(LAYERS):
        for room in rooms:
            inside = module == room or module.startswith(room + ".")
            if inside and (best is None or len(room) > best[1]):
                best = (index, len(room))
    return None if best is None else best[0]


def modules() -> dict[str, Path]:
    """Every first-party module name and its file."""
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path) -> set[str]:
    """First-party modules imported anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in SOURCES}


def upward_arrows() -> list[str]:
    """`importer -> imported` for every import that points up the layers."""
    arrows = []
    for name, path in sorted(modules().items()):
        if name.startswith(TOOLING):
            continue
        here = layer_of(name)
        assert here is not None, f"{name} is in no layer: add its room to LAYERS"
        for imported in sorted(imports_of(path)):
            there = layer_of(imported)
            if there is not None and there < here:
                arrows.append(f"{name} -> {imported}")
    return arrows


def test_every_import_points_down_the_layers():
    assert upward_arrows() == []


def test_the_client_never_imports_the_producer():
    client = [f"{n} -> {i}" for n, p in modules().items() if n.startswith("dreg_client")
              for i in imports_of(p) if i.split(".")[0] == "steps"]
    assert client == []


def test_the_check_sees_an_upward_arrow(tmp_path, monkeypatch):
    """The derivation is live: a stage module importing the CLI is reported."""
    fake = tmp_path / "steps"
    (fake / "kit").mkdir(parents=True)
    (fake / "kit" / "bad.py").write_text("from steps.cli.release import run_cmd\n")
    monkeypatch.setitem(SOURCES, "steps", fake)
    assert upward_arrows() == ["steps.kit.bad -> steps.cli.release"]
