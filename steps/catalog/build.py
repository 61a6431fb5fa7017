"""`dreg catalog build`: render the registry's releases into a static site (index, one page per dataset, SVGs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steps.catalog import plots
from steps.catalog.lineage import lineage_svg
from steps.catalog.pages import dataset_link, dataset_page, index_page
from steps.catalog.preview import complete, read_preview
from steps.catalog.source import DatasetInfo, read_datasets
from steps.errors import DregError
from steps.git import git
from steps.kit.files import redact_url, write_bytes
from steps.refs.handle import Registry, Release, open_registry
from steps.release.card import render_card, split_front_matter

KNOWN = ".releases.json"  # in the site folder: what was read at each release tag, so a rebuild reads only new ones
PLACEHOLDER = "https://github.com/<org>/data-registry.git"  # the card's registry URL, named by the site
PLOTS = {"class balance per split": plots.class_balance, "feature statistics": plots.statistics}


def card_html(ds: DatasetInfo, location: str | None = None) -> str:
    """The latest release's card as HTML (the committed card, or one rendered from its metadata) without its YAML
    front matter, its loading snippets naming the registry at `location`; raw HTML escaped."""
    from markdown_it import MarkdownIt

    latest = ds.latest
    text = latest.card if latest.card is not None else render_card(latest.metadata)
    if location is not None:
        text = text.replace(PLACEHOLDER, location)
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(split_front_matter(text)[1])


def registry_location(repo: str | None, root: Path) -> str:
    """What a reader passes as `repo=`: `--repo` as given, else the checkout's origin URL, else its path (user
    info and query removed)."""
    if repo is None:
        proc = git("remote", "get-url", "origin", cwd=root, check=False)
        repo = proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else str(root.resolve())
    return redact_url(repo)


def latest_preview(reg: Registry, ds: DatasetInfo, known: dict[str, dict[str, Any]], out: Path) -> dict[str, Any]:
    """The first rows of each split of the dataset's latest release: read once per release (kept in `known` when
    every split could be read and its thumbnails are still in the site)."""
    tag = ds.latest.version.tag
    entry = known.setdefault(tag, {})
    if complete(entry.get("preview"), out):
        return dict(entry["preview"])
    release = Release(ds.name, ds.latest.version.semver, tag, reg.refs[tag])
    got = read_preview(reg, release, ds.latest.metadata, out)
    entry.pop("preview", None)
    if complete(got, out):
        entry["preview"] = got
    return got


def write_plots(out: Path, ds: DatasetInfo) -> dict[str, str]:
    """Write the latest release's plots as SVG files; return {caption: link relative to the dataset page}."""
    links = {}
    for caption, draw in PLOTS.items():
        text = draw(ds.latest.metadata)
        if text is not None:
            name = f"{caption.replace(' ', '-')}.svg"
            write_bytes(out / "plots" / ds.name / name, text.encode())
            links[caption] = f"../plots/{ds.name}/{name}"
    return links


def known_releases(out: Path) -> dict[str, dict[str, Any]]:
    """{tag: contents} an earlier build into `out` read (empty when there is none or it cannot be read)."""
    try:
        known = json.loads((out / KNOWN).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def build_site(out: Path, repo: str | None = None, root: Path = Path(".")) -> tuple[Path, int]:
    """Render the catalogue of `repo` (a git URL or path; default the checkout at `root`) into `out`;
    return the index page and the number of datasets."""
    known, location = known_releases(out), registry_location(repo, root)
    with open_registry(repo, root) as reg:
        datasets = read_datasets(reg, known)
        if not datasets:
            raise DregError(f"no release tags in {repo or 'this registry'}",
                            "publish a dataset first (`dreg run DATASET`), or pass --repo with a registry that has "
                            "tags")
        previews = {ds.name: latest_preview(reg, ds, known, out) for ds in datasets}
    for ds in datasets:
        html = dataset_page(ds, card_html(ds, location), lineage_svg(ds.latest), write_plots(out, ds),
                            previews[ds.name], location)
        write_bytes(out / dataset_link(ds.name), html.encode())
    write_bytes(out / "index.html", index_page(datasets).encode())
    kept = {r.version.tag: known[r.version.tag] for ds in datasets for r in ds.releases}
    write_bytes(out / KNOWN, json.dumps(kept).encode())
    return out / "index.html", len(datasets)
