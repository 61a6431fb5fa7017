"""One reference grammar everywhere: every form resolves the same against local tags and, without a clone, against
a registry named by plain path or `file://` URL; bad references are one line naming what to do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from steps.errors import DregError
from steps.refs.handle import open_registry
from steps.refs.stages import current_stages
from steps.refs.versions import list_versions
from tests.support.registry import Released, cli_env, local_registry, run_dreg, tags
from tests.support.servers import SourceServer

V1, V2 = "wine-quality-v1.0.0", "wine-quality-v1.1.0"


def release_two(base: Path, server: SourceServer, **env: str) -> Released:
    """A registry whose origin has wine-quality v1.0.0 and v1.1.0 (params changed in between)."""
    released = Released(local_registry(base, server), cli_env(DREG_CACHE_DIR=str(base / "dreg-cache"), **env))
    released.dreg("run", "wine-quality", "--push")
    params = released.reg.root / "pipelines/wine-quality/params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 43"))
    released.dreg("run", "wine-quality", "--push", "--bump", "minor")
    assert tags(released.reg.origin) == [V1, V2]
    return released


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer) -> Released:
    """Two releases, v1.0.0 promoted to prod and v1.1.0 to staging (both pushed)."""
    released = release_two(tmp_path_factory.mktemp("grammar"), source_server)
    released.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    released.dreg("promote", "wine-quality@v1.1.0", "--to", "staging")
    return released


@pytest.fixture(params=["local", "plain-path", "file-url"])
def mode(request: pytest.FixtureRequest, staged: Released, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """Where references are resolved: the local registry's tags, or its bare origin by path or by URL."""
    monkeypatch.setenv("DREG_CACHE_DIR", str(staged.reg.root.parent / "dreg-cache"))
    origin = staged.reg.origin
    yield {"local": None, "plain-path": str(origin), "file-url": origin.as_uri()}[request.param]


RESOLVES = [
    ("wine-quality", V2),
    ("wine-quality@latest", V2),
    ("wine-quality@1.0.0", V1),
    ("wine-quality@v1.0.0", V1),
    ("wine-quality@1.1.0", V2),
    ("wine-quality-v1.0.0", V1),
    ("wine-quality@wine-quality-v1.0.0", V1),
    ("wine-quality@prod", V1),
    ("wine-quality@staging", V2),
]



def resolve_ref(ref: str, root: Path | str = ".", repo: str | None = None):
    """The release `ref` names, read through the one handle (this checkout, or `repo`)."""
    with open_registry(repo, root) as reg:
        return reg.resolve(ref)


def release_tags(root: Path | str = ".", repo: str | None = None) -> list[str]:
    with open_registry(repo, root) as reg:
        return reg.release_tags()


@pytest.mark.parametrize(("ref", "tag"), RESOLVES)
def test_every_form_resolves_the_same_in_each_mode(staged, mode, ref, tag):
    assert resolve_ref(ref, staged.reg.root, repo=mode).tag == tag


REFUSED = [
    ("wine-qualty", "unknown dataset 'wine-qualty'", "did you mean: wine-quality"),
    ("wine-quality@9.9.9", "wine-quality has no version 9.9.9", "published: 1.1.0, 1.0.0"),
    ("wine-quality@1.0", "wine-quality has no version 1.0", "published: 1.1.0, 1.0.0"),
    ("wine-quality@canary", "wine-quality has no version in stage 'canary'", "dreg promote wine-quality@VERSION"),
    ("wine-quality@Prod", "invalid stage name 'Prod'", "lower-case"),
    ("wine-quality@", "bad reference 'wine-quality@'", "DATASET@1.2.0"),
    ("wine-quality@@1.0.0", "bad reference", "DATASET@1.2.0"),
    ("Wine-Quality", "bad reference", "DATASET@1.2.0"),
    ("-rf", "bad reference '-rf'", "DATASET@1.2.0"),
    ("wine-quality@1.0.0;rm", "bad reference", "DATASET@1.2.0"),
    ("wine-quality#prod#1", "bad reference", "DATASET@prod"),
]


@pytest.mark.parametrize(("ref", "message", "hint"), REFUSED)
def test_bad_references_are_one_clear_line_in_each_mode(staged, mode, ref, message, hint):
    with pytest.raises(DregError) as caught:
        resolve_ref(ref, staged.reg.root, repo=mode)
    assert caught.value.message.startswith(message) and hint in (caught.value.hint or "")
    assert "\n" not in str(caught.value)


def test_an_unreleased_pipeline_is_known_locally_and_unknown_to_a_remote(staged):
    with pytest.raises(DregError, match="fashion-mnist has no published versions"):
        resolve_ref("fashion-mnist", staged.reg.root)
    with pytest.raises(DregError, match="unknown dataset 'fashion-mnist'"):
        resolve_ref("fashion-mnist", repo=str(staged.reg.origin))


def test_release_tags_and_stages_agree_between_local_and_remote(staged):
    root, origin = staged.reg.root, str(staged.reg.origin)
    assert release_tags(root) == release_tags(repo=origin) == release_tags(repo=staged.reg.origin.as_uri()) == [V1, V2]
    assert current_stages("wine-quality", root) == current_stages("wine-quality", repo=origin) == \
        {"prod": "1.0.0", "staging": "1.1.0"}


def test_stage_tags_are_never_read_as_releases(staged):
    root = staged.reg.root
    assert any("#" in t for t in tags(root))
    assert [v.tag for v in list_versions("wine-quality", root)] == [V2, V1]


def test_the_cli_resolves_the_grammar_and_refuses_bad_references_in_one_line(staged, tmp_path):
    env = staged.env
    listed = run_dreg(tmp_path, "ls", "wine-quality@prod", "--repo", str(staged.reg.origin), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert '"tag": "wine-quality-v1.0.0"' in listed.stdout
    for ref, message in (("wine-qualty@prod", "unknown dataset 'wine-qualty'"), ("wine-quality@Prod", "invalid stage")):
        bad = run_dreg(staged.reg.root, "ls", ref, env=env)
        assert bad.returncode == 1 and bad.stdout == ""
        assert bad.stderr.count("\n") == 1 and message in bad.stderr


def test_no_clone_is_made_to_resolve(staged, tmp_path):
    """Resolving by `repo` reads refs only: the cache of fetched tags stays empty."""
    cache = tmp_path / "fresh-cache"
    code = ("from dreg_client import resolve_tag; "
            f"print(resolve_tag('wine-quality@prod', repo={str(staged.reg.origin)!r}))")
    proc = subprocess.run(["python", "-c", code],
                          env={**staged.env, "DREG_CACHE_DIR": str(cache)}, capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert proc.stdout.strip() == V1, proc.stderr
    assert not cache.exists()
