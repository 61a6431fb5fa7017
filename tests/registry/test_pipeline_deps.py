"""Each stage's code identity (`pipelines/<dataset>/code.yaml`) covers every module it runs, and only that."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steps import layout
from steps.kit.files import load_yaml
from steps.refs.code_identity import code_yaml, pipeline_identity

ROOT = layout.CODE_ROOT


def deps_tool(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "steps.dev.deps", "--root", str(root), *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of this checkout's code and pipeline definitions."""
    for rel in ("steps", "pipelines"):
        shutil.copytree(ROOT / rel, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_committed_code_identity_and_dvc_yaml_entries_are_current() -> None:
    proc = deps_tool(ROOT, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_python_stage_depends_on_its_code_identity_and_lists_no_source_file() -> None:
    for dataset in layout.pipeline_datasets(ROOT):
        stages = load_yaml((ROOT / layout.dvc_yaml(dataset)).read_text())["stages"]
        for name, stage in stages.items():
            assert {code_yaml(dataset): [name]} in stage["params"], f"{dataset}:{name}"
            assert not [d for d in stage.get("deps") or [] if d.endswith(".py")], f"{dataset}:{name}"


def test_comments_docstrings_and_formatting_leave_every_identity_unchanged(tree: Path) -> None:
    before = {d: pipeline_identity(d, tree) for d in layout.pipeline_datasets(tree)}
    config = tree / "steps" / "config.py"
    edit(config, '    ray_address: str | None = Field(None, alias="RAY_ADDRESS",\n',
         '    # Ray: where the cluster is (none: an in-process one)\n'
         '    ray_address: str | None = Field(None,   alias = "RAY_ADDRESS",\n')
    edit(config, '"""Non-secret settings;', '"""Non-secret settings (reworded);')
    assert {d: pipeline_identity(d, tree) for d in layout.pipeline_datasets(tree)} == before


def test_a_changed_function_body_changes_only_the_stages_that_run_it(tree: Path) -> None:
    before = pipeline_identity("wine-quality", tree)
    module = tree / "steps" / "datasets" / "wine_quality.py"
    edit(module, 'frame = pd.read_csv(path, sep=";")', 'frame = pd.read_csv(path, sep=";", engine="c")')
    after = pipeline_identity("wine-quality", tree)
    changed = {stage for stage in before if before[stage] != after[stage]}
    assert changed == {"process", "analyze"}  # both read the CSVs through merged(); download does not
    assert {m for m in before["process"] if before["process"][m] != after["process"][m]} == {
        "steps.datasets.wine_quality"}


def test_a_second_first_party_package_is_followed_through_relative_imports(tree: Path) -> None:
    package = tree / "clients" / "python" / "dreg_client"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Client."""\n\nfrom .grammar import TAG\n')
    (package / "grammar.py").write_text('"""Tag grammar."""\n\nTAG = "v1"\n')
    edit(tree / "steps" / "kit" / "stage.py", "from __future__ import annotations\n",
         "from __future__ import annotations\n\nimport dreg_client  # noqa: F401\n")
    before = pipeline_identity("wine-quality", tree)["process"]
    assert {"dreg_client", "dreg_client.grammar"} <= set(before)
    (package / "grammar.py").write_text('"""Tag grammar."""\n\nTAG = "v2"\n')
    after = pipeline_identity("wine-quality", tree)["process"]
    assert {m for m in before if before[m] != after[m]} == {"dreg_client.grammar"}


def test_a_new_import_is_reported_stale_then_written_into_every_stage_that_runs_it(tree: Path) -> None:
    (tree / "steps" / "kit" / "extra.py").write_text('"""A helper."""\n\nVALUE = 1\n')
    edit(tree / "steps" / "datasets" / "wine_quality.py", "from steps import layout\n",
         "from steps import layout\nfrom steps.kit import extra  # noqa: F401\n")
    check = deps_tool(tree, "--check")
    assert check.returncode == 1
    assert [line.split(":")[0] for line in check.stdout.splitlines()] == [code_yaml("wine-quality")]
    assert "download:steps.kit.extra" in check.stdout and "analyze:steps.kit.extra" in check.stdout
    assert deps_tool(tree).returncode == 0
    assert deps_tool(tree, "--check").returncode == 0
    identity = load_yaml((tree / code_yaml("wine-quality")).read_text())
    assert all("steps.kit.extra" in modules for modules in identity.values())
    assert (tree / code_yaml("emotion")).read_text() == (ROOT / code_yaml("emotion")).read_text()


def test_an_old_style_entry_is_rewritten_to_data_deps_and_the_code_param(tree: Path) -> None:
    path = tree / layout.dvc_yaml("wine-quality")
    edit(path, "    deps:\n      - data/wine-quality/raw\n",
         "    deps:\n      - data/wine-quality/raw\n      - steps/config.py\n")
    edit(path, "      - pipelines/wine-quality/code.yaml:\n          - process\n", "")
    check = deps_tool(tree, "--check")
    assert check.returncode == 1 and "wine-quality/dvc.yaml:process" in check.stdout
    assert deps_tool(tree).returncode == 0
    assert path.read_text() == (ROOT / layout.dvc_yaml("wine-quality")).read_text()
