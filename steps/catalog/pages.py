"""The catalogue's HTML pages: plain HTML with inline CSS, every text escaped; a few lines of script filter the index
(without JavaScript every row is shown)."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from steps.catalog.source import DatasetInfo, ReleaseInfo
from steps.inspect.diff import DEFAULT_THRESHOLD_PCT, SECTIONS, Change, diff_metadata
from steps.release.card import about

CSS = """
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
header{background:#24292f;color:#fff;padding:12px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h1,h2,h3{overflow-wrap:break-word}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;table-layout:auto}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word;
hyphens:auto}
th{background:#f6f8fa;white-space:nowrap}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;max-width:100%}
code{font-size:13px}
img,svg{max-width:100%;height:auto}
.card{border:1px solid #d0d7de;border-radius:6px;padding:0 16px;margin:8px 0 16px;overflow-wrap:break-word}
.card table,.scroll{display:block;overflow-x:auto;max-width:100%}.scroll table{margin:0}
.flag td{background:#ffebe9}.flag td:last-child{color:#cf222e;font-weight:600}
.muted{color:#59636e}.plots figure{margin:8px 0 16px}
.tag{font-family:ui-monospace,monospace;white-space:nowrap}.nw{white-space:nowrap}
.stage{display:inline-block;border-radius:10px;padding:0 8px;margin:1px 2px;font-size:13px;font-weight:600;
white-space:nowrap;background:#ddf4ff;color:#0550ae;border:1px solid #54aeff}
.stage-prod{background:#dafbe1;color:#116329;border-color:#4ac26b}
.stage-staging{background:#fff8c5;color:#7d4e00;border-color:#d4a72c}
.use{border:1px solid #d0d7de;border-radius:6px;padding:4px 16px;margin:8px 0 16px;background:#fbfcfd}
.use .tag{white-space:normal}
.preview td{max-width:320px;font-size:13px}.preview img.thumb{min-width:56px;max-width:96px;image-rendering:pixelated}
details{margin:8px 0 16px}summary{cursor:pointer;font-weight:600;font-size:1.2em}
#filter{width:100%;max-width:420px;padding:6px 10px;font:inherit;border:1px solid #d0d7de;border-radius:6px}
@media (max-width:640px){
main{padding:12px}header{padding:10px 12px}.use{padding:4px 10px}
table:not(.stack){display:block;overflow-x:auto}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
table.stack thead{display:none}
table.stack tr{border:1px solid #d0d7de;border-radius:6px;margin:0 0 10px;padding:6px 10px}
table.stack td{border:none;padding:1px 0}
table.stack td[data-label]::before{content:attr(data-label) ": ";color:#59636e;font-size:13px}
table.stack td.about{color:#59636e;font-size:14px}
}
"""
FILTER_JS = """
(function(){var f=document.getElementById("filter"),n=document.getElementById("shown");f.hidden=false;
f.addEventListener("input",function(){var q=f.value.trim().toLowerCase(),k=0;
document.querySelectorAll("#datasets tbody tr").forEach(function(r){
var on=r.textContent.toLowerCase().indexOf(q)>=0;r.hidden=!on;if(on)k++;});
n.textContent=q?k+" shown":"";});})();
"""


def page(title: str, body: str, home: str, tail: str = "") -> str:
    """A complete HTML document; `home` is the relative link to the index, `tail` scripts after the content."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f'<body><header><a href="{home}">Data registry catalogue</a></header><main>{body}</main>{tail}'
            f"</body></html>\n")


def human_size(size: int | None) -> str:
    """Bytes as B/KB/MB/GB (1000-based); `-` when unknown."""
    if size is None:
        return "-"
    units = ["B", "KB", "MB", "GB", "TB"]
    power = min(int(math.log(size, 1000)) if size > 0 else 0, len(units) - 1)
    return f"{size / 1000 ** power:.1f} {units[power]}" if power else f"{size} B"


def rows_html(header: list[str], rows: list[list[str]], classes: list[str] | None = None, attrs: str = "",
              stack: bool = False) -> str:
    """A table from already-escaped cells; `classes` gives each row's class attribute, `attrs` the table's; a
    `stack` table becomes one card per row on a phone (each cell labelled with its header)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    label = [f' data-label="{h}"' if stack and i else "" for i, h in enumerate(header)]
    body = "".join(f'<tr class="{(classes or [""] * len(rows))[i]}">'
                   + "".join(f"<td{label[j] if j < len(label) else ''}>{c}</td>" for j, c in enumerate(row))
                   + "</tr>" for i, row in enumerate(rows))
    stacked = ' class="stack"' if stack else ""
    return f"<table{attrs}{stacked}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def stage_badges(stages: list[tuple[str, str]]) -> str:
    """(stage, semver) pairs as coloured badges (`prod 1.0.0`); empty when none."""
    return " ".join(f'<span class="stage stage-{escape(stage)}" title="in stage {escape(stage)}">{escape(stage)}'
                    f"{' ' + escape(v) if v else ''}</span>" for stage, v in stages)


def nowrap(text: str) -> str:
    """Escaped text kept on one line."""
    return f'<span class="nw">{escape(text)}</span>'


def dataset_link(name: str) -> str:
    """Relative path of a dataset's page from the index."""
    return f"datasets/{name}.html"


def index_page(datasets: list[DatasetInfo]) -> str:
    """Every dataset with its latest version, stages, size, last release date and all versions; a text filter."""
    rows = []
    for ds in datasets:
        latest = ds.latest
        versions = " ".join(f'<span class="tag">{escape(r.version.semver)}</span>' for r in ds.releases)
        rows.append([f'<a href="{dataset_link(ds.name)}">{escape(ds.name)}</a>',
                     f'<span class="tag" title="{escape(latest.version.tag)}">{escape(latest.version.semver)}</span>',
                     stage_badges(sorted(ds.stages.items())) or '<span class="muted">-</span>',
                     nowrap(human_size(latest.size)), nowrap(latest.date), versions,
                     escape(about(ds.name)["description"])])
    table = rows_html(["dataset", "latest", "stages", "size", "last release", "versions", "about"], rows,
                      attrs=' id="datasets"', stack=True).replace("<td data-label=\"about\">", '<td class="about">')
    search = ('<p><input id="filter" type="search" placeholder="Filter datasets by name, stage, version or text…" '
              'aria-label="Filter datasets" hidden> <span id="shown" class="muted" aria-live="polite"></span></p>')
    return page("Data registry catalogue", f"<h1>Datasets</h1><p class=\"muted\">{len(datasets)} dataset(s), "
                f"{sum(len(d.releases) for d in datasets)} release(s).</p>{search}{table}", "index.html",
                f"<script>{FILTER_JS}</script>")


def history_table(ds: DatasetInfo) -> str:
    """Every release: tag, its stages, date, bump kind, automated or not, size and sample counts."""
    rows = [[f'<span class="tag">{escape(r.version.tag)}</span>',
             stage_badges([(s, "") for s in ds.stages_of(r.version.semver)]), nowrap(r.date), escape(r.bump),
             "yes" if r.version.automated else "no", nowrap(human_size(r.size)), escape(samples(r))]
            for r in ds.releases]
    return rows_html(["tag", "stages", "date", "bump", "automated", "size", "samples"], rows)


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


def preview_cell(cell: dict[str, str]) -> str:
    """One preview cell: a thumbnail (path under the site) or shortened text with the full text as tooltip."""
    if "image" in cell:
        return f'<img class="thumb" src="../{escape(cell["image"])}" alt="{escape(cell.get("alt", ""))}">'
    title = f' title="{escape(cell["title"])}"' if cell.get("title") else ""
    return f"<span{title}>{escape(cell.get('text', ''))}</span>"


def preview_section(preview: dict[str, Any], samples_of: dict[str, Any]) -> str:
    """The first rows of each split, one collapsible block per split (the first open)."""
    if not preview:
        return "<p>No split files to preview.</p>"
    parts = []
    for i, (split, got) in enumerate(preview.items()):
        total = (samples_of.get(split) or {}).get("num_samples")
        head = (f'<summary>{escape(split)} <span class="muted">({escape(got.get("file", ""))}'
                f"{f', {total} rows' if total is not None else ''})</span></summary>")
        if "error" in got:
            body = f'<p class="muted">Preview unavailable: {escape(got["error"])}</p>'
        else:
            rows = [[preview_cell(c) for c in row] for row in got["rows"]]
            shown = f'<p class="muted">First {len(rows)} row(s).</p>'
            body = shown + f'<div class="scroll">{rows_html([escape(c) for c in got["columns"]], rows)}</div>'
        parts.append(f'<details class="preview" data-split="{escape(split)}"{" open" if i == 0 else ""}>'
                     f"{head}{body}</details>")
    return "".join(parts)


def load_snippet(ds: DatasetInfo, location: str, preview: dict[str, Any]) -> str:
    """Python and shell lines that load the latest release from the registry at `location` (no placeholders)."""
    latest, repo = ds.latest, json.dumps(location)
    ref = f"{ds.name}@{latest.version.semver}"
    files = {split: got.get("file", "") for split, got in preview.items()}
    split, path = next(iter(files.items()), ("", ""))
    stage = next(iter(sorted(ds.stages)), None)
    pin = f"  # or {ds.name}@{stage}" if stage else ""
    folder = path
    if path.endswith(".parquet") and split != path:
        python = [f"df = dreg_client.load({json.dumps(ref)}, split={json.dumps(split)}, repo=REGISTRY){pin}"]
    else:
        folder = path.rsplit("/", 1)[0] if split != path and "/" in path else path  # a split's files and images
        dest = json.dumps(folder.rsplit("/", 1)[-1] or ds.name)
        python = [f"path = dreg_client.download({json.dumps(ref)}, {json.dumps(folder)}, {dest}, repo=REGISTRY){pin}"]
    lines = ["import dreg_client", "", f"REGISTRY = {repo}", *python]
    shell = f"dreg get {ref} {folder} --repo {location}" if folder else ""
    dvc = f"dvc get {location} data/{ds.name}/{path} --rev {latest.version.tag}"
    return (f'<pre><code class="language-python">{escape(chr(10).join(lines))}</code></pre>'
            f'<pre><code class="language-bash">{escape(chr(10).join(x for x in (shell, dvc) if x))}</code></pre>')


def use_section(ds: DatasetInfo, location: str, preview: dict[str, Any]) -> str:
    """Licence, homepage and how to load the latest release: what a reader needs first."""
    info, latest = about(ds.name), ds.latest
    home = (f' · <a href="{escape(info["homepage"])}">homepage</a>'
            if info["homepage"].startswith("https://") else "")
    return (f'<section class="use" id="use"><h2>Use this dataset</h2><p><strong>Licence:</strong> '
            f"{escape(info['license'])}{home} · <strong>latest:</strong> "
            f'<span class="tag">{escape(latest.version.tag)}</span> ({escape(latest.date)} UTC, '
            f"{escape(human_size(latest.size))})</p>{load_snippet(ds, location, preview)}</section>")


def json_ld(text: str | None) -> str:
    """The release's Croissant JSON-LD as a script element (`<` escaped so it cannot close the element)."""
    if not text:
        return ""
    try:
        doc = json.loads(text)
    except ValueError:
        return ""
    data = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    safe = data.replace("<", "\\u003c")
    return f'<script type="application/ld+json">{safe}</script>'


def dataset_page(ds: DatasetInfo, card_html: str, lineage: str, plots: dict[str, str],
                 preview: dict[str, Any] | None = None, location: str = ".") -> str:
    """A dataset: stages, how to use it, a preview of its rows, card, versions, lineage, plots and (collapsed) drift
    between consecutive versions."""
    latest, preview = ds.latest, preview or {}
    figures = "".join(f'<figure><img src="{escape(src)}" alt="{escape(caption)}"><figcaption>{escape(caption)}'
                      f"</figcaption></figure>" for caption, src in plots.items())
    drift = "".join(drift_section(new, old) for new, old in zip(ds.releases, ds.releases[1:], strict=False))
    flagged = drift.count('<tr class="flag">')
    summary = f"Drift between versions ({max(len(ds.releases) - 1, 0)} comparison(s), {flagged} flagged change(s))"
    preview_html = preview_section(preview, latest.metadata.get("splits") or {})
    stages = stage_badges(sorted(ds.stages.items()))
    body = [
        f"<h1>{escape(ds.name)}</h1><p>{escape(about(ds.name)['description'])}</p>",
        f'<p class="stages"><strong>Stages:</strong> {stages}</p>' if stages else
        '<p class="stages muted">Not promoted to any stage yet.</p>',
        use_section(ds, location, preview),
        f"<h2>Data preview ({escape(latest.version.tag)})</h2>{preview_html}",
        f'<h2>Dataset card ({escape(latest.version.tag)})</h2><div class="card">{card_html}</div>',
        f"<h2>Versions</h2>{history_table(ds)}",
        f"<h2>Lineage of {escape(latest.version.tag)}</h2>{lineage}",
        f'<h2>Plots</h2><div class="plots">{figures or "<p>No plottable statistics.</p>"}</div>',
        f'<details id="drift"><summary>{summary}</summary>{drift or "<p>Only one version so far.</p>"}</details>',
    ]
    return page(f"{ds.name} – data registry", "".join(body), "../index.html", json_ld(latest.croissant))
