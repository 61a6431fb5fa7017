"""`make demo`'s log (steps.dev.runlog): every line stamped with the time, long lines cut with a note, a "still
working" line through a silence, the command's exit status kept; the demo's `dreg` calls go through it."""

from __future__ import annotations

import re
import sys

import pytest

from steps.dev import demo, runlog
from steps.dev.scaffold import create_registry

STAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def test_lines_are_stamped_capped_and_silence_gets_a_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREG_HEARTBEAT_S", "0.5")
    script = ("import sys, time; print('Collecting torch'); print('Successfully installed ' + 'pkg-1.0 ' * 600); "
              "sys.stdout.flush(); time.sleep(1.6); print('50%\\r100%'); print('noise'); sys.exit(3)")
    logged: list[str] = []
    code = runlog.run_logged([sys.executable, "-c", script], label="pip install", emit=logged.append,
                             keep="^(Collecting|Successfully|[0-9])")
    assert code == 3
    assert all(STAMP.match(line) for line in logged), logged
    texts = [line[9:] for line in logged]
    assert texts[0] == "Collecting torch"
    assert texts[1].startswith("Successfully installed pkg-1.0") and texts[1].endswith("… (+4622 characters)")
    assert max(len(line) for line in logged) <= 9 + runlog.LINE_CAP + len("… (+4622 characters)")
    beats = [t for t in texts if t.startswith("… still working on pip install: ")]
    assert 2 <= len(beats) <= 4, texts  # 1.6 s of silence, a line every 0.5 s
    assert texts.index(beats[0]) == 2 and texts[-1] == "100%"  # then the progress line's last state
    assert "noise" not in texts  # not kept by the filter


def test_a_chatty_command_gets_no_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREG_HEARTBEAT_S", "0.5")
    script = "import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.2)"
    logged: list[str] = []
    assert runlog.run_logged([sys.executable, "-c", script], label="chatty", emit=logged.append) == 0
    assert [line[9:] for line in logged] == [str(i) for i in range(8)]


def test_the_demo_runs_dreg_through_the_log(tmp_path, capfd) -> None:
    reg = create_registry(tmp_path)
    demo.dreg(reg, "list")
    demo.step("a step")
    out = capfd.readouterr().out.splitlines()
    assert STAMP.match(out[0]) and out[0].endswith("$ dreg list"), out
    table = out[1:-1]
    assert table and all(STAMP.match(line) for line in table) and any("fashion-mnist" in line for line in table)
    assert max(len(line) for line in table) <= 9 + runlog.LINE_CAP  # drawn to fit, never cut
    assert re.search(r"a step  \[\d\d:\d\d:\d\d, \+\d+s\]", out[-1]), out[-1]
