"""opencloudhub-readmes-download against a local GitHub API stand-in: pagination, filters, rate limits."""

from __future__ import annotations

import json

import dvc.api
import pytest

from steps.dev.scaffold import update_params
from tests.support.github_fake import FakeGitHub
from tests.support.registry import commit_all, tags

DATASET = "opencloudhub-readmes-download"


@pytest.fixture
def github(registry):
    fake = FakeGitHub()
    for i in range(5):
        fake.add_repo(f"repo-{i}", f"# Repo {i}\n\nService number {i}.\n")
    fake.add_repo("old-archived", "# archived\n", archived=True)
    fake.add_repo("a-fork", "# fork\n", fork=True)
    fake.add_repo("no-readme", None)
    url = fake.start()
    update_params(registry.root, DATASET, {"download": {"api_url": url, "per_page": 2, "max_rate_limit_wait_s": 5}})
    commit_all(registry.root, "Use the local GitHub API")
    yield fake
    fake.stop()


def test_every_page_is_read_filters_apply_and_release_is_readable_by_tag(registry, dreg, github):
    result = dreg("run", DATASET, GITHUB_TOKEN="ghp_test")
    assert result.returncode == 0, result.stderr
    assert tags(registry.root) == [f"{DATASET}-v1.0.0"]
    pages = [p for p in github.requests if p.startswith("/orgs/")]
    assert len(pages) == 4  # 8 repos, 2 per page
    assert set(github.auth_headers) == {"Bearer ghp_test"}
    manifest = json.loads(dvc.api.read(f"data/{DATASET}/raw/manifest.json", repo=str(registry.root),
                                       rev=f"{DATASET}-v1.0.0"))
    assert [f["repo"] for f in manifest["files"]] == [f"repo-{i}" for i in range(5)]
    entry = manifest["files"][2]
    assert entry["file"] == "repo-2_README.md" and entry["default_branch"] == "main" and len(entry["commit_sha"]) == 40
    text = dvc.api.read(f"data/{DATASET}/raw/repo-2_README.md", repo=str(registry.root), rev=f"{DATASET}-v1.0.0")
    assert text == "# Repo 2\n\nService number 2.\n"


def test_source_is_rechecked_but_released_only_when_a_readme_changed(registry, dreg, github):
    assert dreg("run", DATASET).returncode == 0
    before = len(github.requests)
    again = dreg("run", DATASET)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert len(github.requests) > before  # the API was asked again
    assert tags(registry.root) == [f"{DATASET}-v1.0.0"]
    github.readmes["repo-3"] = b"# Repo 3\n\nRewritten.\n"
    assert dreg("run", DATASET).returncode == 0
    assert tags(registry.root) == [f"{DATASET}-v1.0.0", f"{DATASET}-v1.0.1"]


def test_rate_limit_waits_for_reset_then_continues(registry, dreg, github):
    github.rate_limited_requests, github.rate_limit_reset_in = 1, 1
    result = dreg("run", DATASET)
    assert result.returncode == 0, result.stderr
    assert tags(registry.root) == [f"{DATASET}-v1.0.0"]


def test_rate_limit_beyond_wait_budget_fails_clearly_and_publishes_nothing(registry, dreg, github):
    github.rate_limited_requests, github.rate_limit_reset_in = 100, 3600
    result = dreg("run", DATASET)
    assert result.returncode == 1
    assert "rate limit exhausted" in result.stderr and "GITHUB_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert tags(registry.root) == []
