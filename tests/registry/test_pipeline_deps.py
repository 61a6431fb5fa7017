"""Each stage's `deps` in dvc.yaml list every source file the stage runs, so a change there re-runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from steps import layout

ROOT = layout.CODE_ROOT


def deps_tool(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "steps.dev.deps", "--root", str(root), *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_committed_dvc_yaml_deps_match_the_import_graph() -> None:
    proc = deps_tool(ROOT, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_new_import_is_reported_missing_then_written_into_every_stage_that_runs_it(tmp_path: Path) -> None:
    for rel in ("steps", "pipelines"):
        shutil.copytree(ROOT / rel, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "steps" / "kit" / "extra.py").write_text('"""A helper."""\n\nVALUE = 1\n')
    module = tmp_path / "steps" / "datasets" / "wine_quality.py"
    extra = "from steps import layout\nfrom steps.kit import extra  # noqa: F401\n"
    module.write_text(module.read_text().replace("from steps import layout\n", extra))
    check = deps_tool(tmp_path, "--check")
    assert check.returncode == 1
    stale = [line for line in check.stdout.splitlines() if "steps/kit/extra.py" in line]
    assert [line.split(":")[1] for line in stale] == ["download", "process", "analyze"]
    assert deps_tool(tmp_path).returncode == 0
    assert deps_tool(tmp_path, "--check").returncode == 0
    dvc_yaml = (tmp_path / layout.dvc_yaml("wine-quality")).read_text()
    assert dvc_yaml.count("- steps/kit/extra.py") == 3
    assert (tmp_path / layout.dvc_yaml("emotion")).read_text() == (ROOT / layout.dvc_yaml("emotion")).read_text()
