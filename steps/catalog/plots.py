"""Plots as SVG text (matplotlib's SVG backend, fixed hash salt and no date: same metadata → same bytes)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from steps.inspect.diff import class_distributions, flatten_dicts, shares

SALT = "data-registry-catalog"
MAX_ROWS = 40
COLOURS = ["#1f6feb", "#e36209", "#2da44e", "#8250df", "#cf222e", "#6e7781"]


def svg(draw: Callable[[Any], None], rows: int) -> str:
    """Draw on one axes of a figure sized for `rows` bars and return the SVG text."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": SALT, "svg.fonttype": "path", "font.size": 9}):
        fig = Figure(figsize=(7.5, 1.2 + 0.28 * rows))
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        draw(ax)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def class_balance(meta: dict[str, Any]) -> str | None:
    """Share of each class per split (grouped horizontal bars), from `metrics.<split>.class_distribution`."""
    splits = {s: shares(d) for s, d in sorted(class_distributions(meta).items()) if d}
    if not splits:
        return None
    classes = sorted({c for d in splits.values() for c in d}, key=sort_key)[:MAX_ROWS]
    height = 0.8 / len(splits)

    def draw(ax: Any) -> None:
        for i, (split, share) in enumerate(splits.items()):
            ys = [row + i * height for row in range(len(classes))]
            ax.barh(ys, [share.get(c, 0) for c in classes], height, label=split, color=COLOURS[i % len(COLOURS)])
        ax.set_yticks([row + 0.4 - height / 2 for row in range(len(classes))], classes)
        ax.invert_yaxis()
        ax.set_xlabel("share of the split")
        legend(ax)

    return svg(draw, len(classes) * max(1, len(splits) // 2))


def legend(ax: Any) -> None:
    """The legend above the plot, so that it never hides a bar."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=3, frameon=False)


def sort_key(label: str) -> tuple[int, float, str]:
    """Numeric class labels in numeric order, then the rest alphabetically."""
    try:
        return 0, float(label), ""
    except ValueError:
        return 1, 0.0, label


def stat_rows(meta: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """Summary statistics in the metrics: dicts with a `mean`, and `<x>_mean`/`<x>_std` pairs (e.g. pixels)."""
    rows = [(path, stats) for path, stats in sorted(flatten_dicts(meta.get("metrics", {})).items())
            if isinstance(stats.get("mean"), (int, float))]
    for path, block in sorted(flatten_dicts(meta.get("metrics", {})).items()):
        for key, value in sorted(block.items()):
            if key.endswith("_mean") and isinstance(value, (int, float)):
                rows.append((f"{path}.{key.removesuffix('_mean')}",
                             {"mean": value, "std": block.get(key.removesuffix("_mean") + "_std", 0)}))
    return rows[:MAX_ROWS]


def statistics(meta: dict[str, Any]) -> str | None:
    """Mean ± std with the min-max range of every feature, pixel or text-length statistic."""
    rows = stat_rows(meta)
    if not rows:
        return None
    lows = [s.get("min", s["mean"] - (s.get("std") or 0)) for _, s in rows]
    highs = [s.get("max", s["mean"] + (s.get("std") or 0)) for _, s in rows]

    def draw(ax: Any) -> None:
        ys = list(range(len(rows)))
        ax.hlines(ys, lows, highs, color="#c8d1dc", linewidth=4, label="min – max")
        ax.errorbar([s["mean"] for _, s in rows], ys, xerr=[s.get("std") or 0 for _, s in rows], fmt="o",
                    color=COLOURS[0], markersize=4, capsize=2, label="mean ± std")
        ax.set_yticks(ys, [label for label, _ in rows])
        ax.invert_yaxis()
        if max(highs) - min(lows) > 100 * max(1e-9, min(abs(s["mean"]) or 1 for _, s in rows)):
            ax.set_xscale("symlog", linthresh=1)
        if min(lows) >= 0:
            ax.set_xlim(left=0)
        legend(ax)

    return svg(draw, len(rows))
