"""Completion in a real bash and a real zsh (under tmux), installed by `dreg --install-completion`: `DATASET@<Tab>`
offers versions, `latest` and promotion stages (bash splits the word at `@`), `dreg stage DATASET <Tab>` the
pipeline's stages."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from steps.dev.scaffold import create_registry
from steps.git import git
from tests.support.registry import VENV_BIN, cli_env, run_dreg

SHELL_ARGV = {"bash": ["bash", "-i"], "zsh": ["zsh", "-i"]}
PROMPTS = {"bash": "PS1='ready> '", "zsh": "PROMPT='ready> '"}


@dataclass(frozen=True)
class Terminal:
    """One tmux session running an interactive shell in a registry."""

    socket: Path
    name: str

    def tmux(self, *args: str) -> str:
        """Run a tmux command against this session's server; its stdout."""
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                              check=True).stdout

    def screen(self) -> str:
        """The visible pane, as text."""
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The screen once it shows `text` (AssertionError with the screen after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while (shown := self.screen()).count(text) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert text in shown, f"{text!r} never appeared:\n{shown}"
        return shown

    def type(self, text: str, *keys: str) -> None:
        """Type `text` literally, then press `keys` (tmux key names, e.g. Tab)."""
        self.tmux("send-keys", "-t", self.name, "-l", text)
        for key in keys:
            time.sleep(0.3)
            self.tmux("send-keys", "-t", self.name, key)

    def clear(self) -> None:
        """Drop the typed line and the listed candidates, back to an empty prompt."""
        self.tmux("send-keys", "-t", self.name, "C-c")
        self.tmux("send-keys", "-t", self.name, "clear", "Enter")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with fashion-mnist 1.0.0 (prod) and 1.1.0 (staging), a `dreg` wrapper on PATH, and a HOME where
    `dreg --install-completion` installed completion for bash and for zsh."""
    base = tmp_path_factory.mktemp("completion")
    reg = create_registry(base)
    for version in ("1.0.0", "1.1.0"):
        git("tag", f"fashion-mnist-v{version}", cwd=reg.root)
    git("tag", "-a", "fashion-mnist#prod#1", "-m", "version: 1.0.0", cwd=reg.root)
    git("tag", "-a", "fashion-mnist#staging#2", "-m", "version: 1.1.0", cwd=reg.root)
    bin_dir, home = base / "bin", base / "home"
    bin_dir.mkdir()
    home.mkdir()
    (bin_dir / "dreg").write_text(f"#!/bin/sh\nexec '{VENV_BIN}/dreg' \"$@\"\n")
    (bin_dir / "dreg").chmod(0o755)
    (home / ".bashrc").write_text(PROMPTS["bash"] + "\n")
    (home / ".zshrc").write_text(PROMPTS["zsh"] + "\n")
    for shell in SHELL_ARGV:
        installed = run_dreg(base, "--install-completion", shell, env=cli_env(HOME=str(home)))
        assert installed.returncode == 0 and f"{shell} completion installed" in installed.stdout, installed.stderr
    return base


@pytest.fixture(params=list(SHELL_ARGV))
def terminal(request: pytest.FixtureRequest, home: Path) -> Iterator[Terminal]:
    """bash or zsh, interactive, in the registry, under a tmux server of its own."""
    shell: str = request.param
    term = Terminal(home / f"tmux-{shell}.sock", shell)
    env = {"HOME": str(home / "home"), "PATH": f"{home / 'bin'}:/usr/local/bin:/usr/bin:/bin", "TERM": "xterm",
           "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "DVC_NO_ANALYTICS": "1", "SHELL": shell}
    command = " ".join(["env", "-i", *(f"{k}='{v}'" for k, v in env.items()), *SHELL_ARGV[shell]])
    term.tmux("new-session", "-d", "-s", shell, "-x", "200", "-y", "50", "-c", str(home / "registry"), command)
    try:
        term.wait_for("ready>")
        yield term
    finally:
        term.tmux("kill-server")


def test_versions_and_stages_after_at(terminal: Terminal) -> None:
    terminal.type("dreg show fashion-mnist@", "Tab", "Tab")
    shown = terminal.wait_for("staging")
    for candidate in ("1.0.0", "1.1.0", "latest", "prod"):
        assert candidate in shown, shown
    terminal.clear()
    terminal.type("dreg show fashion-mnist@pr", "Tab")
    terminal.wait_for("dreg show fashion-mnist@prod")


def test_pipeline_stages_where_a_stage_is_expected(terminal: Terminal) -> None:
    terminal.type("dreg stage fashion-mnist ", "Tab", "Tab")
    shown = terminal.wait_for("analyze")
    assert "download" in shown and "process" in shown, shown
    terminal.clear()
    terminal.type("dreg stage fashion-mnist pro", "Tab")
    terminal.wait_for("dreg stage fashion-mnist process")


def test_candidates_are_cut_where_bash_replaces_the_word() -> None:
    from steps.cli.completion import after_word_break

    breaks = " \t\n\"'@><=;|&(:"
    values = ["fashion-mnist@1.0.0", "fashion-mnist@prod", "wine-quality@prod"]
    assert after_word_break(values, "fashion-mnist@", breaks) == ["@1.0.0", "@prod"]  # readline keeps the `@`
    assert after_word_break(["fashion-mnist@prod"], "fashion-mnist@pr", breaks) == ["@prod"]
    assert after_word_break(["a:b:c", "a:b:d"], "a:b:", breaks) == ["c", "d"]  # `:` is not kept
    assert after_word_break(values, "fash", breaks) == values  # no word break in the word: candidates unchanged
    assert after_word_break(values, "fashion-mnist@", "") == values  # no word breaks: whole words
