"""The guides in docs/guides, followed as written: their `<!-- guide: run -->` bash blocks run in order in a fresh
registry (S3: against the real SeaweedFS server), the `<!-- guide: values -->` block replaced by the test's own."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from steps.dev.scaffold import PROJECT_ROOT, Registry
from tests.support.registry import cli_env, tags
from tests.support.servers import S3Endpoint

GUIDES = PROJECT_ROOT / "docs" / "guides"
BLOCK = re.compile(r"<!-- guide: (run|values) -->\n```bash\n(.*?)```", re.DOTALL)


def blocks(guide: str, kind: str) -> list[str]:
    """The bash blocks of docs/guides/`guide` marked `kind`, in order."""
    return [body for marked, body in BLOCK.findall((GUIDES / guide).read_text()) if marked == kind]


def exported(block: str) -> set[str]:
    """The names a values block exports."""
    return {word.split("=", 1)[0] for line in block.splitlines() if line.startswith("export ")
            for word in shlex.split(line)[1:]}


def follow(guide: str, cwd: Path, **values: str) -> subprocess.CompletedProcess[str]:
    """Run the guide's `run` blocks as one bash script (stop at the first failing command) in `cwd`."""
    script = "set -euo pipefail\n" + "\n".join(blocks(guide, "run"))
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=cli_env(**values), capture_output=True, text=True,
                          check=False, timeout=600)


def test_add_dataset_guide(registry: Registry) -> None:
    assert len(blocks("add-dataset.md", "run")) == 3
    done = follow("add-dataset.md", registry.root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "What does dreg publish?,A git tag per dataset version" in done.stdout  # the file read back by get
    assert {"my-faq-v1.0.0", "my-faq-v1.1.0", "my-wine-v1.0.0"} <= set(tags(registry.origin))
    assert "my-wine-v1.0.0" in done.stdout  # dreg show


def test_s3_guide(registry: Registry, s3_endpoint: S3Endpoint) -> None:
    values = {"S3_ENDPOINT": s3_endpoint.url, "S3_BUCKET": s3_endpoint.bucket, "AWS_ACCESS_KEY_ID": "testing",
              "AWS_SECRET_ACCESS_KEY": "testing"}
    [given] = blocks("s3.md", "values")
    assert exported(given) == set(values)  # the guide asks for exactly what the test supplies
    done = follow("s3.md", registry.root, **values)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "wine-quality-v1.0.0" in tags(registry.origin)
    assert not any(p.is_file() for p in registry.remote.rglob("*"))  # nothing went to the local folder remote
    reader = registry.root.parent / "reader"
    assert any((reader / "downloads" / "wine-quality" / "processed").iterdir())  # the clone's data came from S3
    assert "remote holds every object" in done.stdout
