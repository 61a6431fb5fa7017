"""`make deps`: each stage's code identity (`pipelines/<dataset>/code.yaml`) and its place in `dvc.yaml`.

A stage `python -m steps.datasets.<module> <stage>` runs the module's top level, its stage function (and the
module's functions it calls) and every first-party module those import, at any depth (`steps.refs.code_identity`).
Its dvc.yaml entry lists its data deps and, as a DVC param, its key of code.yaml: the digests of that code
without docstrings, comments or formatting. `--check` lists what differs; without it the files are rewritten.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from steps import layout
from steps.kit.files import load_yaml
from steps.refs.code_identity import code_yaml, pipeline_identity, render


def code_param(dataset: str, stage: str) -> dict[str, list[str]]:
    """The params entry that makes a stage depend on its code identity."""
    return {code_yaml(dataset): [stage]}


def stage_problems(dataset: str, stage: str, entry: dict) -> list[str]:
    """What a stage's dvc.yaml entry lacks or has too much for code identity (empty when right)."""
    sources = [d for d in entry.get("deps") or [] if str(d).endswith(".py")]
    problems = [f"{len(sources)} source-file deps (code.yaml covers them)"] if sources else []
    if code_param(dataset, stage) not in (entry.get("params") or []):
        problems.append(f"no param {code_yaml(dataset)}: [{stage}]")
    return problems


def stage_block(lines: list[str], stage: str) -> tuple[int, int]:
    """[start, end) of the lines of `stage`'s entry under `stages:` (two-space indented name)."""
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"  {stage}:")
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^ {0,2}\S", lines[i])), len(lines))
    return start, end


def rewrite_stage(text: str, dataset: str, stage: str) -> str:
    """dvc.yaml text with `stage`'s `.py` deps dropped and its code.yaml param added (the rest byte for byte)."""
    lines = text.splitlines(keepends=True)
    start, end = stage_block(lines, stage)
    block = [line for line in lines[start:end] if not re.match(r"^      - \S+\.py\s*$", line)]
    block = [line for i, line in enumerate(block)  # a `deps:` left without items goes
             if not (line.rstrip() == "    deps:" and (i + 1 == len(block) or not block[i + 1].startswith("      ")))]
    entry = [f"      - {code_yaml(dataset)}:\n", f"          - {stage}\n"]
    if f"      - {code_yaml(dataset)}:\n" not in block:
        keys = [i for i, line in enumerate(block) if re.match(r"^    \S", line)]
        if "    params:\n" in block:
            at = block.index("    params:\n")
            after = next((k for k in keys if k > at), len(block))
            block[after:after] = entry
        else:
            outs = next((k for k in keys if block[k].rstrip() == "    outs:"), len(block))
            block[outs:outs] = ["    params:\n", *entry]
    return "".join(lines[:start] + block + lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steps.dev.deps", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a code.yaml or dvc.yaml entry is stale")
    parser.add_argument("--root", type=Path, default=layout.CODE_ROOT, help="registry checkout (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    stale = 0
    for dataset in layout.pipeline_datasets(root):
        identity = pipeline_identity(dataset, root)
        path, ident_path = root / layout.dvc_yaml(dataset), root / code_yaml(dataset)
        text = path.read_text()
        stages = (load_yaml(text) or {}).get("stages") or {}
        for stage in identity:
            problems = stage_problems(dataset, stage, stages[stage])
            if problems:
                stale += 1
                print(f"{layout.dvc_yaml(dataset)}:{stage}: {'; '.join(problems)}")
                text = rewrite_stage(text, dataset, stage)
        wanted = render(identity)
        current = ident_path.read_text() if ident_path.exists() else ""
        if current != wanted:
            stale += 1
            old = (load_yaml(current) or {}) if current else None
            changed = sorted(f"{s}:{m}" for s, mods in identity.items() for m in {*mods, *(old or {}).get(s, {})}
                             if ((old or {}).get(s) or {}).get(m) != mods.get(m))
            state = "missing" if old is None else "stale for " + (", ".join(changed) or "its layout")
            print(f"{code_yaml(dataset)}: {state}")
        if not args.check:
            path.write_text(text)
            ident_path.write_text(wanted)
    if stale and args.check:
        print("code identity or dvc.yaml entries are stale: run `make deps` and commit", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
