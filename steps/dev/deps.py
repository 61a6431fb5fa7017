"""`make deps`: each stage's code deps in `dvc.yaml`, computed from the real import graph.

A stage `python -m steps.datasets.<module> <stage>` depends on the module, on what the module imports at
top level and in the stage's function (and the module's functions it calls), and on everything those
modules import in turn. `--check` lists stages whose `deps` differ; without it the files are rewritten.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from functools import cache
from pathlib import Path

from steps import layout
from steps.kit.files import load_yaml

PACKAGES = {"steps": ".", "dreg_client": "clients/python"}  # first-party packages and their source roots
CMD = re.compile(r"^python -m (?P<module>steps\.[\w.]+) (?P<stage>\w+)$")


def module_file(name: str, root: Path) -> Path | None:
    """The source file of a `steps...` module (package `__init__.py` or module `.py`), if it exists."""
    package = name.split(".")[0]
    if package not in PACKAGES:
        return None
    base = root / PACKAGES[package] / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(nodes: list[ast.AST], root: Path) -> set[str]:
    """`steps...` modules imported anywhere inside `nodes` (`from steps.x import y` counts `steps.x.y` if a module)."""
    found: set[str] = set()
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}", root)}
    return {m for m in found if module_file(m, root)}


@cache
def closure(name: str, root: Path) -> frozenset[str]:
    """`name` and every first-party module it imports, directly or not, at any depth of its code (cycles too)."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = ast.parse(module_file(current, root).read_text())  # type: ignore[union-attr]
        todo += imported_modules([tree], root)
    return frozenset(seen)


def stage_closure(module: str, function: str, root: Path) -> set[str]:
    """Modules a stage runs: the dataset module's top level, its stage function and the functions it calls."""
    tree = ast.parse(module_file(module, root).read_text())  # type: ignore[union-attr]
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    reached, todo = set(), [function]
    while todo:
        name = todo.pop()
        if name in reached or name not in functions:
            continue
        reached.add(name)
        todo += [n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)]
    modules = imported_modules(top + [n for n in tree.body if isinstance(n, ast.ClassDef)], root)
    modules |= imported_modules([functions[f] for f in reached], root)
    return {module} | {m for dep in modules - {module} for m in closure(dep, root)}


def has_code(path: Path) -> bool:
    """False for a file that is only a docstring (package markers import nothing and run nothing)."""
    body = ast.parse(path.read_text()).body
    return bool(body[1:] if body and isinstance(body[0], ast.Expr) else body)


def code_deps(cmd: str, root: Path) -> list[str] | None:
    """Sorted source files a stage command runs, or None when it is not a `python -m steps...` stage."""
    match = CMD.match(cmd.strip())
    if not match:
        return None
    files = (module_file(m, root) for m in stage_closure(match["module"], match["stage"], root))
    return sorted(f.relative_to(root).as_posix() for f in files if f and has_code(f))


def stage_deps(dataset: str, root: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per stage: (deps in dvc.yaml, deps they should be: data deps as written, then code deps)."""
    doc = load_yaml((root / layout.dvc_yaml(dataset)).read_text()) or {}
    out = {}
    for name, stage in (doc.get("stages") or {}).items():
        code = code_deps(str(stage.get("cmd", "")), root)
        if code is None:
            continue
        current = [str(d) for d in stage.get("deps") or []]
        out[name] = (current, [d for d in current if not d.endswith(".py")] + code)
    return out


def rewrite_deps(text: str, stage: str, deps: list[str]) -> str:
    """dvc.yaml text with the `deps:` list of `stage` replaced (everything else kept byte for byte)."""
    lines, out, i = text.splitlines(keepends=True), [], 0
    in_stage = False
    while i < len(lines):
        line = lines[i]
        if re.match(r"^  \S.*:\s*$", line):
            in_stage = line.strip() == f"{stage}:"
        if in_stage and line.rstrip() == "    deps:":
            out.append(line)
            out += [f"      - {d}\n" for d in deps]
            i += 1
            while i < len(lines) and lines[i].startswith("      - "):
                i += 1
            continue
        out.append(line)
        i += 1
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steps.dev.deps", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a stage's deps are incomplete or stale")
    parser.add_argument("--root", type=Path, default=layout.CODE_ROOT, help="registry checkout (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    stale = 0
    for dataset in layout.pipeline_datasets(root):
        path = root / layout.dvc_yaml(dataset)
        text = path.read_text()
        for stage, (current, wanted) in stage_deps(dataset, root).items():
            if current == wanted:
                continue
            stale += 1
            missing, extra = sorted(set(wanted) - set(current)), sorted(set(current) - set(wanted))
            print(f"{layout.dvc_yaml(dataset)}:{stage}: missing {missing or '-'}, not imported {extra or '-'}")
            text = rewrite_deps(text, stage, wanted)
        if not args.check:
            path.write_text(text)
    if stale and args.check:
        print("dvc.yaml deps differ from the import graph: run `make deps` and commit", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
