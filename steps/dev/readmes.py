"""Hand-made releases of the readmes dataset in a scratch registry, with no GitHub involved: the source of the
embeddings pipeline in its tests and in `make bench-embeddings`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from steps import layout
from steps.dev.scaffold import Registry, create_registry
from steps.errors import DregError
from steps.git import git

SOURCE = "opencloudhub-readmes-download"
GITHUB_URL = "https://github.com/opencloudhub/{repo}"
DVC = str(Path(sys.executable).parent / "dvc")


def readmes_registry(base: Path) -> Registry:
    """A scratch registry (see `create_registry`) without the readmes download pipeline, whose outputs would
    overlap the hand-made releases; the removal is committed."""
    reg = create_registry(base)
    if (reg.root / layout.pipeline_dir(SOURCE)).exists():
        git("rm", "-rq", layout.pipeline_dir(SOURCE), cwd=reg.root)
        git("commit", "-q", "-m", f"Drop the {SOURCE} pipeline: its releases are made by hand", cwd=reg.root)
    return reg


def manifest_entry(repo: str, data: bytes | None, url: str) -> dict[str, Any]:
    """The manifest entry of one repo's README; `data` None lists it without a file."""
    return {"repo": repo, "file": f"{repo}_README.md", "default_branch": "main",
            "sha": "0" * 40 if data is None else hashlib.sha1(data + repo.encode()).hexdigest(),
            "url": url.format(repo=repo), "sha256": None if data is None else hashlib.sha256(data).hexdigest()}


def dvc(root: Path, *args: str) -> None:
    """Run this environment's DVC CLI in `root`; DregError with its last line if it fails."""
    proc = subprocess.run([DVC, *args], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise DregError(f"dvc {args[0]} failed: {lines[-1] if lines else proc.returncode}", f"run it in {root}")


def release_readmes(root: Path, docs: Mapping[str, bytes], tag: str, *, missing: Sequence[str] = (),
                    url: str = GITHUB_URL, push: bool = True) -> None:
    """Release `docs` ({repo: README bytes}) as `tag`: raw/<repo>_README.md + manifest.json, `dvc add`, push to the
    `local` DVC remote, commit, annotated tag and, with `push`, branch and tag to origin.

    `missing` repos are listed in the manifest without a file (a broken release the pipeline must survive);
    `url` is each entry's URL, with `{repo}` filled in."""
    raw_rel = layout.data_file(SOURCE, "raw")
    raw = root / raw_rel
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    for repo, data in docs.items():
        (raw / f"{repo}_README.md").write_bytes(data)
    entries = [manifest_entry(repo, data, url) for repo, data in docs.items()]
    entries += [manifest_entry(repo, None, url) for repo in missing]
    (raw / "manifest.json").write_text(json.dumps({"files": sorted(entries, key=lambda e: e["repo"])}, indent=2))
    dvc(root, "add", "-q", raw_rel)
    dvc(root, "push", "-q", "-r", "local")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", f"{SOURCE} {tag}", cwd=root)
    git("tag", "-a", tag, "-m", tag, cwd=root)
    if push:
        git("push", "-q", "origin", "main", tag, cwd=root)
