"""One owner per concern. Output: the CLI, the release core and the tools print through steps/output.py, stage
code through the stage console of steps/kit/stage.py (no new file in the stages' deps). git runs only in the
client's runner (steps/git.py's helpers over it); dvc.lock is parsed only in steps/refs/lock.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNERS = {"steps/output.py", "steps/kit/stage.py"}


def modules_matching(pattern: str) -> set[str]:
    """The modules of steps/ and workflows/ whose source matches `pattern`."""
    return {str(p.relative_to(ROOT)) for folder in ("steps", "workflows") for p in (ROOT / folder).rglob("*.py")
            if re.search(pattern, p.read_text())}


def test_no_module_makes_its_own_console() -> None:
    assert modules_matching(r"\bConsole\(") == OWNERS


def test_git_runs_through_git_py_and_dvc_lock_is_read_in_one_module() -> None:
    assert modules_matching(r"\[\s*[\"']git[\"']\s*,") == set()
    assert modules_matching(r"(load_yaml|safe_load)\([^)]*lock") == set()
    assert modules_matching(r"def (parse_lock|read_lock|lock_outputs)\(") == {"steps/refs/lock.py"}


def rule_widths(**env: str) -> list[int]:
    """Widths of a section rule printed through steps.output, stdout piped."""
    script = "from steps.output import console, rule; rule('section'); console.print('x' * 300)"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, **env}).stdout
    return [len(line) for line in out.splitlines()]


def test_piped_rules_are_80_columns_and_piped_text_is_never_cut() -> None:
    assert rule_widths() == [80, 300]
    assert rule_widths(COLUMNS="50")[0] == 50
