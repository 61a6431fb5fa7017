"""One output module: the CLI, the release core and the tools print through steps/output.py; stage code through
the stage console of steps/kit/stage.py (no new file in the stages' deps)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNERS = {"steps/output.py", "steps/kit/stage.py"}


def test_no_module_makes_its_own_console() -> None:
    found = {str(p.relative_to(ROOT)) for folder in ("steps", "workflows") for p in (ROOT / folder).rglob("*.py")
             if re.search(r"\bConsole\(", p.read_text())}
    assert found == OWNERS


def rule_widths(**env: str) -> list[int]:
    """Widths of a section rule printed through steps.output, stdout piped."""
    script = "from steps.output import console, rule; rule('section'); console.print('x' * 300)"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, **env}).stdout
    return [len(line) for line in out.splitlines()]


def test_piped_rules_are_80_columns_and_piped_text_is_never_cut() -> None:
    assert rule_widths() == [80, 300]
    assert rule_widths(COLUMNS="50")[0] == 50
