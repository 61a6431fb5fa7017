"""`make demo`'s parts: the demo registry keeps its own settings, ends clean, its summary is not interleaved with
subprocess progress, and it says what it removes before removing it."""

from __future__ import annotations

import json
import subprocess

from steps.dev import demo
from steps.dev.scaffold import create_registry
from tests.support.registry import cli_env, git, run_dreg


def test_demo_registry_remembers_its_mirror_so_commands_need_no_environment(tmp_path, capsys):
    reg = create_registry(tmp_path / "demo", allow_sample_data=True)
    demo.use_sample_mirror(reg, tmp_path / "demo" / "mirror")
    env = cli_env()  # no DREG_MIRROR: only what the registry itself holds
    assert "DREG_MIRROR" not in env
    assert "DREG_MIRROR=../mirror" in (reg.root / ".env.local").read_text()  # relative: the demo can move
    run = run_dreg(reg.root, "run", "wine-quality", "--push", env=env)
    assert run.returncode == 0, run.stderr
    meta = json.loads((reg.root / "data/wine-quality/metadata.json").read_text())
    assert meta["lineage"]["source"]["kind"] == "sample"
    verify = run_dreg(reg.root, "verify", "wine-quality-v1.0.0", env=env)  # the README's form, rebuilt offline
    assert verify.returncode == 0, verify.stderr
    assert "wine-quality-v1.0.0 is reproducible" in verify.stdout
    assert git(reg.root, "status", "--porcelain") == ""

    forced = run_dreg(reg.root, "run", "wine-quality", "--force", env=env)
    assert forced.returncode == 0 and "nothing changed" in forced.stdout, forced.stdout + forced.stderr
    assert git(reg.root, "status", "--porcelain") != ""  # the rerun rewrote volatile lineage (created_at)
    demo.restore_release(reg, "wine-quality")
    assert git(reg.root, "status", "--porcelain") == ""
    status = subprocess.run([str(demo.Path(demo.sys.executable).parent / "dvc"), "status", "-q",
                             "pipelines/wine-quality/dvc.yaml"], cwd=reg.root, env=env, check=False)
    assert status.returncode == 0  # workspace outputs match the released dvc.lock again

    capsys.readouterr()
    demo.where_next(reg)
    said = capsys.readouterr().out
    assert str(reg.root) in said and str(reg.root / ".env.local") in said and f"dreg list --repo {reg.origin}" in said


def test_silenced_swallows_subprocess_progress(capfd):
    with demo.silenced():
        subprocess.run(["sh", "-c", "echo 'Receiving objects: 100%'; echo 'Resolving deltas' >&2"], check=True)
        print("from python")
    print("after")
    out, err = capfd.readouterr()
    assert out == "after\n" and err == ""


def test_a_fresh_demo_says_what_it_removes_before_removing_it(tmp_path, monkeypatch, capsys):
    old = tmp_path / ".demo"
    (old / "registry").mkdir(parents=True)
    (old / "registry" / "notes.txt").write_text("mine")
    monkeypatch.setattr(demo, "DEMO", old)
    said_before: list[str] = []
    real_rmtree = demo.shutil.rmtree
    monkeypatch.setattr(demo.shutil, "rmtree", lambda path: (said_before.append(capsys.readouterr().out),
                                                             real_rmtree(path)))
    demo.fresh_demo_folder()
    assert said_before and f"removing the previous demo: {old}" in said_before[0]
    assert old.is_dir() and list(old.iterdir()) == []
