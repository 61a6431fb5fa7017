"""The `dreg` surface outside and around a registry: "not a data registry", `--version`, shell completion."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from steps.dev.scaffold import create_registry
from tests.support.registry import cli_env, run_dreg

OUTSIDE_COMMANDS = [
    ("list",), ("show", "wine-quality"), ("diff", "wine-quality@1.0.0", "wine-quality@1.1.0"),
    ("verify", "wine-quality@1.0.0"), ("verify", "--remote-only", "--all"), ("run", "wine-quality"),
    ("stage", "wine-quality", "download"), ("publish", "wine-quality"), ("add", "questions", "q.csv", "--new"),
    ("search", "how do I publish"), ("catalog", "build", "-o", "site"), ("prompts", "register"),
    ("promote", "wine-quality@1.0.0", "--to", "prod"), ("history", "wine-quality"), ("ls", "wine-quality"),
    ("get", "wine-quality"), ("update", "emotion"), ("croissant", "wine-quality"),
]


@pytest.mark.parametrize("where", ["plain-folder", "git-without-pipelines"])
def test_every_command_outside_a_registry_says_so_and_creates_nothing(tmp_path, where):
    """No empty table with exit 0, no raw git error, no "known pipelines: none", no `.dreg/` left behind."""
    folder = tmp_path / where
    folder.mkdir()
    (folder / "q.csv").write_text("question\nwhy?\n")
    if where == "git-without-pipelines":
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
    before = sorted(p.name for p in folder.iterdir())
    for args in OUTSIDE_COMMANDS:
        result = run_dreg(folder, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"error: not a data registry: {folder}"), (args, lines)
        assert ("no git work tree" if where == "plain-folder" else "has no pipelines/ folder") in lines[0]
        assert result.stdout == "", args
    assert sorted(p.name for p in folder.iterdir()) == before  # search made no .dreg/pgdata, catalog no site/


def test_commands_run_from_a_subfolder_of_the_registry(tmp_path):
    reg = create_registry(tmp_path)
    listed = run_dreg(reg.root / "pipelines" / "wine-quality", "list")
    assert listed.returncode == 0, listed.stderr
    assert "wine-quality" in listed.stdout and "fashion-mnist" in listed.stdout


def test_version_flag_prints_the_installed_version(tmp_path):
    result = run_dreg(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"dreg {version('data-registry')}"


def complete(cwd: Path, words: str) -> list[str]:
    """Candidates the bash completion protocol offers for the last word of `words` (as bash would ask)."""
    parts = words.split(" ")
    env = cli_env(_DREG_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    proc = run_dreg(cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_shell_completion_script_and_candidates(tmp_path):
    script = run_dreg(tmp_path, "--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "_DREG_COMPLETE=complete_bash" in script.stdout and "complete -o default -F" in script.stdout
    assert "--install-completion" in run_dreg(tmp_path, "--help", env=cli_env(COLUMNS="200")).stdout
    reg = create_registry(tmp_path / "reg")
    assert complete(reg.root, "dreg sh") == ["show"]
    assert set(complete(reg.root, "dreg ve")) == {"verify"}
    assert complete(reg.root, "dreg show wine") == ["wine-quality"]
    assert complete(reg.root, "dreg run fashion") == ["fashion-mnist"]
    assert complete(tmp_path, "dreg show wine") == []  # outside a registry: no names, no error


def fake_venv(project: Path, pip_exit: int) -> None:
    """A project copy whose .venv/bin tools only print what the real ones print (no network, no install)."""
    from steps.dev.scaffold import PROJECT_ROOT

    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "setup-venv.sh").write_bytes((PROJECT_ROOT / "scripts" / "setup-venv.sh").read_bytes())
    (project / "scripts" / "setup-venv.sh").chmod(0o755)
    (project / "steps" / "dev").mkdir(parents=True)  # the log runner setup-venv.sh runs with the system Python
    for part in ("__init__.py", "dev/__init__.py", "dev/runlog.py"):
        (project / "steps" / part).write_bytes((PROJECT_ROOT / "steps" / part).read_bytes())
    bin_dir = project / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    tools = {"python": "exit 0",
             "pip": "echo 'Requirement already satisfied: pip'\necho 'Collecting torch==2.13.0'\n"
                    f"echo 'Installing collected packages: torch'\nexit {pip_exit}",
             "dreg": "echo 'dreg 0.1.0'", "helm": "exit 0"}
    for name, body in tools.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)


def test_setup_venv_shows_each_step_and_pips_progress(tmp_path):
    fake_venv(tmp_path / "ok", pip_exit=0)
    ok = subprocess.run(["bash", "scripts/setup-venv.sh"], cwd=tmp_path / "ok", capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in ok.stdout.splitlines()), ok.stdout  # each stamped
    lines = [line[9:] for line in ok.stdout.splitlines()]
    assert "==> installing data-registry with extras dev, prompts, embeddings" in ok.stdout
    assert "Collecting torch==2.13.0" in lines and "Installing collected packages: torch" in lines
    assert not any("already satisfied" in line for line in lines) and lines[-1] == "==> .venv ready: dreg 0.1.0"
    fake_venv(tmp_path / "failing", pip_exit=1)
    failed = subprocess.run(["bash", "scripts/setup-venv.sh"], cwd=tmp_path / "failing", capture_output=True,
                            text=True, check=False)
    assert failed.returncode != 0 and ".venv ready" not in failed.stdout
    assert "Installing collected packages: torch" in failed.stdout  # pip's lines before it failed still shown
