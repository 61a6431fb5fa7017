"""A signed release that loses a push race is re-versioned: its attestation is signed again for the new tag (one
release commit, no stale statement), and both releases verify."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from dreg_client import load
from steps.dev.scaffold import update_params
from steps.release.attest import generate_key
from tests.support.registry import cli_env, commit_all, git, run_dreg, tags


def test_concurrent_signed_publishers_each_sign_their_own_tag(registry, tmp_path, monkeypatch):
    generate_key(tmp_path / "key/signing.key", tmp_path / "key/signing.pub.pem")
    env = cli_env(DREG_SIGNING_KEY=str(tmp_path / "key/signing.key"))
    clones = []
    for name, seed in (("a", 11), ("b", 22)):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(registry.origin), str(clone)], check=True)
        git(clone, "config", "user.name", name)
        git(clone, "config", "user.email", f"{name}@localhost")
        update_params(clone, "wine-quality", {"process": {"seed": seed}})
        commit_all(clone, f"seed {seed}")
        assert run_dreg(clone, "run", "wine-quality", "--no-publish", env=env).returncode == 0
        clones.append(clone)
    results = {}

    def publish(clone: Path) -> None:
        results[clone.name] = run_dreg(clone, "publish", "wine-quality", "--push", env=env)

    threads = [threading.Thread(target=publish, args=(c,)) for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), {k: r.stderr for k, r in results.items()}
    assert tags(registry.origin) == ["wine-quality-v1.0.0", "wine-quality-v1.0.1"]
    assert git(registry.origin, "log", "--format=%s", "main").count("chore(wine-quality): release") == 2
    monkeypatch.setenv("DREG_CACHE_DIR", str(tmp_path / "cache"))
    for ref in ("wine-quality@1.0.0", "wine-quality@1.0.1"):
        frame = load(ref, split="train", repo=registry.origin, trusted_keys=str(tmp_path / "key/signing.pub.pem"),
                     require_signed=True)
        assert len(frame) > 0
