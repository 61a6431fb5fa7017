"""A comment in shared code reruns nothing; a changed function a stage runs reruns that stage (real `dreg run`)."""

from __future__ import annotations

import subprocess

from steps.dev.scaffold import commit_all
from steps.refs.code_identity import code_yaml
from tests.support.registry import tags


def status(root) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                          check=True).stdout


def test_comment_in_shared_code_runs_no_stage_and_a_changed_body_reruns_process(registry, dreg):
    first = dreg("run", "wine-quality")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "reproduced download, process, analyze" in first.stdout

    config = registry.root / "steps" / "config.py"
    config.write_text(config.read_text().replace(
        '    ray_address: str | None = Field(None, alias="RAY_ADDRESS",\n',
        '    # Ray: the cluster to join (none: start one in-process)\n'
        '    ray_address: str | None = Field(None,  alias="RAY_ADDRESS",\n'))
    commit_all(registry.root, "Comment the Ray settings")
    quiet = dreg("run", "wine-quality")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "pipeline up to date" in quiet.stdout and "nothing changed" in quiet.stdout
    assert status(registry.root) == ""  # code.yaml needed no refresh

    module = registry.root / "steps" / "datasets" / "wine_quality.py"
    module.write_text(module.read_text().replace('pd.read_csv(path, sep=";")',
                                                 'pd.read_csv(path, sep=";", engine="c")'))
    commit_all(registry.root, "Name the CSV engine")
    rerun = dreg("run", "wine-quality")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ran = next(line for line in rerun.stdout.splitlines() if "reproduced" in line)
    assert "process" in ran and "download" not in ran
    assert tags(registry.root) == ["wine-quality-v1.0.0"]  # same outputs: no new release
    assert code_yaml("wine-quality") in status(registry.root)  # refreshed for the changed module
