"""opencloudhub-readmes-download: the README of every public repository of a GitHub organisation.

The download stage always re-checks GitHub (`always_changed`), but its outputs only change, and a
release is only made, when some README changed. Offline, a local `DREG_MIRROR` serves
`<mirror>/opencloudhub-readmes-download/repos.json` (GitHub's repo listing) and `<repo>_README.md` files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field, HttpUrl

from steps import layout
from steps.errors import DregError
from steps.kit.download import local_mirror
from steps.kit.files import write_bytes, write_json
from steps.kit.metadata import build_lineage, write_metadata
from steps.kit.params import Params, load_params
from steps.kit.stage import run_stage_main
from steps.kit.tables import numeric_stats
from steps.sources.github import GitHubClient

DATASET = "opencloudhub-readmes-download"
RAW = Path(layout.data_file(DATASET, "raw"))
MANIFEST = RAW / "manifest.json"


class Download(Params):
    org_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
    api_url: HttpUrl
    include_archived: bool = False
    include_forks: bool = False
    per_page: int = Field(100, ge=1, le=100)
    max_rate_limit_wait_s: float = Field(60, ge=0)


class ReadmesParams(Params):
    download: Download


def params() -> ReadmesParams:
    return load_params(DATASET, ReadmesParams)


def git_blob_sha(data: bytes) -> str:
    """The sha git (and GitHub) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def wanted(repo: dict[str, Any], d: Download) -> bool:
    return (d.include_archived or not repo.get("archived")) and (d.include_forks or not repo.get("fork"))


def fetch_from_github(d: Download) -> tuple[list[dict[str, Any]], dict[str, bytes], str]:
    """Manifest entries and README bytes for every wanted repo, from the GitHub API."""
    client = GitHubClient(str(d.api_url), d.max_rate_limit_wait_s)
    entries, contents = [], {}
    for repo in client.org_repos(d.org_name, d.per_page):
        if not wanted(repo, d):
            continue
        found = client.readme(d.org_name, repo["name"])
        if found is None:
            continue
        record, data = found
        branch = repo.get("default_branch") or "main"
        entries.append({
            "repo": repo["name"], "default_branch": branch, "readme_path": record["path"],
            "readme_sha": record["sha"],
            "commit_sha": client.last_commit(d.org_name, repo["name"], record["path"], branch),
            "url": record.get("html_url") or repo.get("html_url"),
        })
        contents[repo["name"]] = data
    return entries, contents, "url"


def fetch_from_mirror(d: Download, folder: Path, kind: str) -> tuple[list[dict[str, Any]], dict[str, bytes], str]:
    """Manifest entries and README bytes from a local mirror folder (repos.json + <repo>_README.md)."""
    listing = folder / "repos.json"
    if not listing.is_file():
        raise DregError(f"mirror has no {listing}", "put GitHub's /orgs/{org}/repos JSON there or unset DREG_MIRROR")
    entries, contents = [], {}
    for repo in json.loads(listing.read_text()):
        path = folder / f"{repo['name']}_README.md"
        if not wanted(repo, d) or not path.is_file():
            continue
        data = path.read_bytes()
        entries.append({
            "repo": repo["name"], "default_branch": repo.get("default_branch") or "main", "readme_path": "README.md",
            "readme_sha": git_blob_sha(data), "commit_sha": None,
            "url": repo.get("html_url") or f"https://github.com/{d.org_name}/{repo['name']}",
        })
        contents[repo["name"]] = data
    return entries, contents, kind


def download() -> None:
    """Fetch every README and write raw/<repo>_README.md plus raw/manifest.json (sorted, no timestamps)."""
    d = params().download
    mirror = local_mirror(DATASET)
    entries, contents, kind = fetch_from_mirror(d, *mirror) if mirror else fetch_from_github(d)
    if not entries:
        raise DregError(f"no READMEs found for organisation '{d.org_name}'", "check org_name and the filters in params")
    for entry in entries:
        entry["file"] = f"{entry['repo']}_README.md"
        entry["sha256"] = hashlib.sha256(contents[entry["repo"]]).hexdigest()
        write_bytes(RAW / entry["file"], contents[entry["repo"]])
    write_json(MANIFEST, {"org": d.org_name, "kind": kind, "files": sorted(entries, key=lambda e: e["repo"])})


def analyze() -> None:
    """Document counts, sizes and per-repo checksums into metadata.json."""
    manifest = json.loads(MANIFEST.read_text())
    files = manifest["files"]
    sizes = [len((RAW / f["file"]).read_bytes()) for f in files]
    sources = [{"url": f["url"], "file": f["file"], "kind": manifest["kind"], "sha256": f["sha256"],
                "commit_sha": f["commit_sha"], "readme_sha": f["readme_sha"]} for f in files]
    write_metadata(
        DATASET,
        schema={"features": {"content": {"dtype": "markdown"}, "repo": {"dtype": "string"}},
                "files": {"manifest": "raw/manifest.json", "documents": "raw/<repo>_README.md"}},
        splits={"all": {"num_samples": len(files)}},
        metrics={"all": {"bytes": numeric_stats(sizes), "total_bytes": sum(sizes),
                         "repos": [f["repo"] for f in files]}},
        lineage=build_lineage(sources, params().model_dump(mode="json")),
    )


if __name__ == "__main__":
    run_stage_main(DATASET, download, analyze)
