"""The Ray stage's hand-off through the DVC remote, with real git, real DVC and a local-folder remote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo
from typer.testing import CliRunner

from steps.cli.handoff import handoff_app
from steps.cluster.handoff import export_stage, import_stage
from steps.errors import DregError

DATASET = "demo-embeddings"

# `embed` only succeeds where EMBED_ALLOWED is set (the "Ray head"); re-running it in the
# publish workspace would fail, which is how the tests see that the hand-off avoided a re-run.
EMBED = (
    "import json, os, pathlib; assert os.environ.get('EMBED_ALLOWED'), 'embed must not re-run here'; "
    "p = pathlib.Path('data/demo-embeddings'); (p / 'vectors').mkdir(parents=True, exist_ok=True); "
    "(p / 'vectors' / 'part-0.bin').write_bytes(bytes(range(256)) * 4); "
    "(p / 'embed.json').write_text(json.dumps({'chunks': 3, 'model': 'm'}, sort_keys=True))"
)
ANALYZE = (
    "import json, pathlib; p = pathlib.Path('data/demo-embeddings'); "
    "s = json.loads((p / 'embed.json').read_text()); s['bytes'] = (p / 'vectors' / 'part-0.bin').stat().st_size; "
    "(p / 'metadata.json').write_text(json.dumps(s, sort_keys=True))"
)
DVC_YAML = {
    "stages": {
        "embed": {
            "wdir": "../..",
            "cmd": f'{sys.executable} -c "{EMBED}"',
            "params": [{f"pipelines/{DATASET}/params.yaml": ["embed"]}],
            "outs": ["data/demo-embeddings/vectors", {"data/demo-embeddings/embed.json": {"cache": False}}],
        },
        "analyze": {
            "wdir": "../..",
            "cmd": f'{sys.executable} -c "{ANALYZE}"',
            "deps": ["data/demo-embeddings/vectors", "data/demo-embeddings/embed.json"],
            "outs": [{"data/demo-embeddings/metadata.json": {"cache": False}}],
        },
    }
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def dvc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def origin_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare origin holding a DVC project with a two-stage pipeline; its remote is `../../dvc-remote`."""
    tmp = tmp_path_factory.mktemp("template")
    seed, origin = tmp / "seed", tmp / "origin.git"
    seed.mkdir()
    git(tmp, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(seed, "init", "--quiet", "-b", "main")
    git(seed, "config", "user.email", "t@example.com")
    git(seed, "config", "user.name", "t")
    assert dvc(seed, "init", "--quiet").returncode == 0
    # Relative to .dvc/: every clone made beside `dvc-remote` shares that folder as its remote.
    (seed / ".dvc" / "config").write_text(
        "[core]\n    remote = local\n    analytics = false\n['remote \"local\"']\n    url = ../../dvc-remote\n"
    )
    pipeline = seed / "pipelines" / DATASET
    pipeline.mkdir(parents=True)
    (pipeline / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (pipeline / "params.yaml").write_text("embed:\n  model: m\n")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "init")
    git(seed, "push", "--quiet", str(origin), "main")
    return origin


@pytest.fixture()
def registry(tmp_path: Path, origin_template: Path) -> dict[str, Path]:
    """A fresh copy of the origin and an empty local-folder DVC remote."""
    origin = tmp_path / "origin.git"
    shutil.copytree(origin_template, origin)
    return {"origin": origin, "remote": tmp_path / "dvc-remote", "tmp": tmp_path}


def clone(registry: dict[str, Path], name: str) -> Path:
    path = registry["tmp"] / name
    git(registry["tmp"], "clone", "--quiet", str(registry["origin"]), str(path))
    return path


def ray_head_run(registry: dict[str, Path], key: str) -> tuple[Path, dict]:
    """What the Ray head does: its own clone, the stage, then export."""
    head = clone(registry, "ray-head")
    result = dvc(head, "repro", f"pipelines/{DATASET}/dvc.yaml:embed", env={"EMBED_ALLOWED": "1"})
    assert result.returncode == 0, result.stderr
    with Repo(str(head)) as repo:
        bundle = export_stage(repo, DATASET, "embed", key)
    return head, bundle


def test_export_then_import_restores_the_stage_without_rerunning_it(registry: dict[str, Path]) -> None:
    head, bundle = ray_head_run(registry, "uid-1234")
    workspace = clone(registry, "workspace")

    imported = import_stage(workspace, DATASET, "embed", "uid-1234")

    assert imported == bundle
    head_lock = yaml.safe_load((head / f"pipelines/{DATASET}/dvc.lock").read_text())
    ws_lock = yaml.safe_load((workspace / f"pipelines/{DATASET}/dvc.lock").read_text())
    assert ws_lock["stages"]["embed"] == head_lock["stages"]["embed"]
    for rel in ("data/demo-embeddings/embed.json", "data/demo-embeddings/vectors/part-0.bin"):
        assert (workspace / rel).read_bytes() == (head / rel).read_bytes()
    # The next stage runs in the workspace; embed is not re-run (it would fail here).
    result = dvc(workspace, "repro", f"pipelines/{DATASET}/dvc.yaml")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Stage 'pipelines/demo-embeddings/dvc.yaml:embed' didn't change" in result.stdout
    assert json.loads((workspace / "data/demo-embeddings/metadata.json").read_text())["bytes"] == 1024
    status = dvc(workspace, "status", "--json", f"pipelines/{DATASET}/dvc.yaml")
    assert json.loads(status.stdout) == {}


def test_bundle_lives_in_the_remote_keyed_by_uid_and_data_is_pushed(registry: dict[str, Path]) -> None:
    _, bundle = ray_head_run(registry, "uid-abc")
    stored = registry["remote"] / "handoff" / "uid-abc" / f"{DATASET}--embed.json"
    assert json.loads(stored.read_text()) == bundle
    assert set(bundle["files"]) == {"data/demo-embeddings/embed.json"}
    out_hashes = [o["md5"] for o in bundle["lock"]["outs"] if o["path"] == "data/demo-embeddings/vectors"]
    assert out_hashes and out_hashes[0].endswith(".dir")
    oid = out_hashes[0]
    assert (registry["remote"] / "files" / "md5" / oid[:2] / oid[2:]).is_file()


def test_import_with_unknown_key_fails_and_leaves_workspace_untouched(registry: dict[str, Path]) -> None:
    ray_head_run(registry, "uid-good")
    workspace = clone(registry, "workspace")
    with pytest.raises(DregError, match="no hand-off for stage 'embed' under key uid-other"):
        import_stage(workspace, DATASET, "embed", "uid-other")
    assert not (workspace / f"pipelines/{DATASET}/dvc.lock").exists()
    assert git(workspace, "status", "--porcelain") == ""


def test_import_refuses_a_stage_run_at_another_commit(registry: dict[str, Path]) -> None:
    ray_head_run(registry, "uid-1")
    workspace = clone(registry, "workspace")
    (workspace / "README").write_text("moved on\n")
    git(workspace, "add", "README")
    git(workspace, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "-m", "other")
    with pytest.raises(DregError, match="ran at commit"):
        import_stage(workspace, DATASET, "embed", "uid-1")


def test_export_refuses_a_stage_that_has_not_run(registry: dict[str, Path]) -> None:
    head = clone(registry, "ray-head")
    with Repo(str(head)) as repo, pytest.raises(DregError, match="no entry for stage 'embed'"):
        export_stage(repo, DATASET, "embed", "uid-x")


def test_cli_commands_move_the_stage(registry: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """`dreg handoff export/import` as the Argo step and the Ray head call them (remote from DVC_REMOTE)."""
    from steps.config import get_settings

    head = clone(registry, "ray-head")
    assert (
        dvc(head, "repro", f"pipelines/{DATASET}/dvc.yaml:embed", env={"EMBED_ALLOWED": "1"}).returncode == 0
    )
    workspace = clone(registry, "workspace")
    monkeypatch.setenv("DVC_REMOTE", "local")
    monkeypatch.setenv("DVC_LOCAL_REMOTE_URL", str(registry["remote"]))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        monkeypatch.chdir(head)
        result = runner.invoke(handoff_app, ["export", DATASET, "embed", "--key", "wf-1"])
        assert result.exit_code == 0, result.output
        monkeypatch.chdir(workspace)
        result = runner.invoke(handoff_app, ["import", DATASET, "embed", "--key", "wf-1"])
        assert result.exit_code == 0, result.output
        assert "imported demo-embeddings:embed (2 outputs) from wf-1" in result.output
    finally:
        get_settings.cache_clear()
    assert (workspace / "data/demo-embeddings/vectors/part-0.bin").is_file()


def test_import_git_ignores_cached_outputs_as_repro_does(registry: dict[str, Path]) -> None:
    """A release published after the hand-off commits the same files as one after a local `dvc repro`: the cached
    output is git-ignored (`data/<dataset>/.gitignore`), not left as untracked data beside the publish."""
    head, _ = ray_head_run(registry, "uid-ignore")
    workspace = clone(registry, "workspace")
    import_stage(workspace, DATASET, "embed", "uid-ignore")
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/demo-embeddings/vectors"], cwd=workspace, check=False)
    assert ignored.returncode == 0
    assert git(workspace, "status", "--porcelain") == git(head, "status", "--porcelain")
