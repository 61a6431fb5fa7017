"""The lineage graph of a release as inline SVG: sources, upstream releases and the prompt → stages → release."""

from __future__ import annotations

from html import escape
from typing import Any

from steps.catalog.source import ReleaseInfo

COLUMN_X = (10, 300, 590)
NODE_W, NODE_H, GAP = 240, 30, 12
MAX_SOURCES = 12
FILL = {"source": "#ddf4ff", "upstream": "#fbefff", "prompt": "#fff8c5", "stage": "#f6f8fa", "release": "#dafbe1"}


def inputs(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, label) of what the release was built from: source files, upstream tags, the prompt version."""
    lineage = meta.get("lineage", {})
    sources = lineage.get("source", {}).get("files", [])
    files = [("source", str(f.get("file") or f.get("url") or "source")) for f in sources]
    if len(files) > MAX_SOURCES:
        files = files[:MAX_SOURCES - 1] + [("source", f"… {len(files) - MAX_SOURCES + 1} more files")]
    upstream = [("upstream", tag) for _, tag in sorted((lineage.get("upstream") or {}).items())]
    prompt = meta.get("prompt")
    return files + upstream + ([("prompt", prompt_label(prompt))] if isinstance(prompt, dict) and prompt else [])


def prompt_label(prompt: dict[str, Any]) -> str:
    """`prompt <name> v<version>` from metadata.json's `prompt_name`/`prompt_version` (with the alias if any)."""
    name, version = prompt.get("prompt_name") or "?", prompt.get("prompt_version")
    alias = f" @{prompt['alias']}" if prompt.get("alias") else ""
    return f"prompt {name} v{version if version is not None else '?'}{alias}"


def node(x: int, y: int, kind: str, label: str) -> str:
    """One box with its (shortened) label; the full label in a tooltip."""
    short = label if len(label) <= 31 else label[:30] + "…"
    return (f'<g><title>{escape(label)}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="{FILL[kind]}" stroke="#8c959f"/><text x="{x + 10}" y="{y + 20}" font-size="13">'
            f"{escape(short)}</text></g>")


def edge(x1: int, y1: int, x2: int, y2: int) -> str:
    """An arrow from the right edge of one box to the left edge of another."""
    mid = (x1 + x2) // 2
    return (f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 4},{y2}" fill="none" stroke="#57606a" '
            f'marker-end="url(#arrow)"/>')


def lineage_svg(release: ReleaseInfo) -> str:
    """Sources → stages (in order, top to bottom) → release tag beside the last stage."""
    ins = inputs(release.metadata) or [("source", "no recorded sources")]
    stages = release.stages or ["build"]
    rows = max(len(ins), len(stages))
    height = rows * (NODE_H + GAP) + GAP
    y = [GAP + i * (NODE_H + GAP) for i in range(rows)]
    mid = [top + NODE_H // 2 for top in y]
    release_y = y[len(stages) - 1]
    parts = [node(COLUMN_X[0], y[i], kind, label) for i, (kind, label) in enumerate(ins)]
    parts += [node(COLUMN_X[1], y[i], "stage", f"stage: {s}") for i, s in enumerate(stages)]
    parts.append(node(COLUMN_X[2], release_y, "release", release.version.tag))
    parts += [edge(COLUMN_X[0] + NODE_W, mid[i], COLUMN_X[1], mid[0]) for i in range(len(ins))]
    parts += [f'<path d="M{COLUMN_X[1] + NODE_W // 2},{y[i] + NODE_H} V{y[i + 1] - 3}" stroke="#57606a" '
              f'marker-end="url(#arrow)"/>' for i in range(len(stages) - 1)]
    parts.append(edge(COLUMN_X[1] + NODE_W, mid[len(stages) - 1], COLUMN_X[2], release_y + NODE_H // 2))
    marker = ('<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" '
              'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#57606a"/></marker></defs>')
    width = COLUMN_X[2] + NODE_W + 10
    return (f'<svg class="lineage" role="img" aria-label="lineage of {escape(release.version.tag)}" '
            f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'font-family="sans-serif">{marker}{"".join(parts)}</svg>')
