"""The catalogue's HTML pages: plain HTML with inline CSS, every text escaped, no scripts."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from steps.catalog.source import DatasetInfo, ReleaseInfo
from steps.inspect.diff import DEFAULT_THRESHOLD_PCT, SECTIONS, Change, diff_metadata
from steps.release.card import about

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
header{background:#24292f;color:#fff;padding:12px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa;white-space:nowrap}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;max-width:100%}
code{font-size:13px}
img,svg{max-width:100%;height:auto}
.card{border:1px solid #d0d7de;border-radius:6px;padding:0 16px;margin:8px 0 16px;overflow-wrap:anywhere}
.flag td{background:#ffebe9}.flag td:last-child{color:#cf222e;font-weight:600}
.muted{color:#59636e}.plots figure{margin:8px 0 16px}
.tag{font-family:ui-monospace,monospace;white-space:nowrap}.nw{white-space:nowrap}
"""


def page(title: str, body: str, home: str) -> str:
    """A complete HTML document; `home` is the relative link to the index."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f'<body><header><a href="{home}">Data registry catalogue</a></header><main>{body}</main></body></html>\n')


def human_size(size: int | None) -> str:
    """Bytes as B/KB/MB/GB (1000-based); `-` when unknown."""
    if size is None:
        return "-"
    units = ["B", "KB", "MB", "GB", "TB"]
    power = min(int(math.log(size, 1000)) if size > 0 else 0, len(units) - 1)
    return f"{size / 1000 ** power:.1f} {units[power]}" if power else f"{size} B"


def rows_html(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """A table from already-escaped cells; `classes` gives each row's class attribute."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(f'<tr class="{(classes or [""] * len(rows))[i]}">' + "".join(f"<td>{c}</td>" for c in row)
                   + "</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def nowrap(text: str) -> str:
    """Escaped text kept on one line."""
    return f'<span class="nw">{escape(text)}</span>'


def dataset_link(name: str) -> str:
    """Relative path of a dataset's page from the index."""
    return f"datasets/{name}.html"


def index_page(datasets: list[DatasetInfo]) -> str:
    """Every dataset with its latest version, size, last release date and all versions."""
    rows = []
    for ds in datasets:
        latest = ds.latest
        versions = " ".join(f'<span class="tag">{escape(r.version.semver)}</span>' for r in ds.releases)
        rows.append([f'<a href="{dataset_link(ds.name)}">{escape(ds.name)}</a>',
                     f'<span class="tag" title="{escape(latest.version.tag)}">{escape(latest.version.semver)}</span>',
                     nowrap(human_size(latest.size)), nowrap(latest.date), versions,
                     escape(about(ds.name)["description"])])
    table = rows_html(["dataset", "latest", "size", "last release", "versions", "about"], rows)
    return page("Data registry catalogue", f"<h1>Datasets</h1><p class=\"muted\">{len(datasets)} dataset(s), "
                f"{sum(len(d.releases) for d in datasets)} release(s).</p>{table}", "index.html")


def history_table(ds: DatasetInfo) -> str:
    """Every release: tag, date, bump kind, automated or not, size and sample counts."""
    rows = [[f'<span class="tag">{escape(r.version.tag)}</span>', nowrap(r.date), escape(r.bump),
             "yes" if r.version.automated else "no", nowrap(human_size(r.size)), escape(samples(r))]
            for r in ds.releases]
    return rows_html(["tag", "date", "bump", "automated", "size", "samples"], rows)


def samples(release: ReleaseInfo) -> str:
    """`split=count` of a release's splits."""
    splits = release.metadata.get("splits", {})
    return ", ".join(f"{s}={info.get('num_samples', '?')}" for s, info in sorted(splits.items())) or "-"


def value(v: Any) -> str:
    """A compared value, compact and escaped; long values shortened with the full text as a tooltip."""
    if v is None:
        return "-"
    if isinstance(v, float):
        text = f"{v:.6g}"
    else:
        text = json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else str(v)
    return escape(text) if len(text) <= 60 else f'<span title="{escape(text)}">{escape(text[:57])}…</span>'


def change_text(c: Change) -> str:
    """Relative change of numbers, `new` for a value that appeared from zero."""
    if c.rel is None:
        return ""
    return "new" if math.isinf(c.rel) else f"{c.rel * 100:+.2f}%"


def drift_section(new: ReleaseInfo, old: ReleaseInfo) -> str:
    """The changes from `old` to `new` (diff_metadata), flagged rows highlighted."""
    changes = [c for c in diff_metadata(old.metadata, new.metadata, DEFAULT_THRESHOLD_PCT / 100)
               if c.flagged or c.old != c.new]
    title = f"<h3>{escape(old.version.semver)} → {escape(new.version.semver)}</h3>"
    if not changes:
        return f"{title}<p>No change in schema, params, sources, samples, classes or statistics.</p>"
    rows = [[escape(SECTIONS[c.section]), escape(c.key), value(c.old), value(c.new), escape(change_text(c)),
             "FLAG" if c.flagged else ""] for c in changes]
    flagged = sum(c.flagged for c in changes)
    return (f"{title}<p>{len(changes)} change(s), {flagged} above {DEFAULT_THRESHOLD_PCT:g}% (flagged).</p>"
            + rows_html(["section", "key", escape(old.version.semver), escape(new.version.semver), "change", "flag"],
                        rows, ["flag" if c.flagged else "" for c in changes]))


def dataset_page(ds: DatasetInfo, card_html: str, lineage: str, plots: dict[str, str]) -> str:
    """A dataset: version history, card, lineage graph, plots and drift between consecutive versions."""
    latest = ds.latest
    figures = "".join(f'<figure><img src="{escape(src)}" alt="{escape(caption)}"><figcaption>{escape(caption)}'
                      f"</figcaption></figure>" for caption, src in plots.items())
    drift = "".join(drift_section(new, old) for new, old in zip(ds.releases, ds.releases[1:], strict=False))
    body = [
        f"<h1>{escape(ds.name)}</h1><p>{escape(about(ds.name)['description'])}</p>",
        f"<h2>Versions</h2>{history_table(ds)}",
        f"<h2>Lineage of {escape(latest.version.tag)}</h2>{lineage}",
        f'<h2>Plots</h2><div class="plots">{figures or "<p>No plottable statistics.</p>"}</div>',
        f"<h2>Drift between versions</h2>{drift or '<p>Only one version so far.</p>'}",
        f'<h2>Dataset card ({escape(latest.version.tag)})</h2><div class="card">{card_html}</div>',
    ]
    return page(f"{ds.name} – data registry", "".join(body), "../index.html")
