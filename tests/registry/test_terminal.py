"""The terminal: tables that never cut a dataset name, tag or timestamp at 80 or 120 columns; a download bar on a
terminal and nothing in a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry import VENV_BIN, Released, cli_env, local_registry, push_main, run_dreg

LONG = "opencloudhub-readmes-rag-evaluation"
LONGER = "opencloudhub-readmes-rag-evaluation-hard-questions"  # shares its first 35 characters with LONG
QUESTIONS = ('question,expected_answer,key_concepts\n'
             '"How is a dataset released?","dreg run reproduces the pipeline and tags it","dvc; git tag; release"\n')


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory, source_server) -> Iterator[Released]:
    """Two curated datasets whose long names share a prefix (beside the registry's opencloudhub-readmes-*
    pipelines), released and pushed; the longer one promoted to staging."""
    base = tmp_path_factory.mktemp("terminal")
    out = Released(local_registry(base, source_server), cli_env(DREG_CACHE_DIR=str(base / "dreg-cache")))
    questions = base / "questions.csv"
    questions.write_text(QUESTIONS)
    for name in (LONG, LONGER):
        out.dreg("add", name, str(questions), "--new", "--push")
    push_main(out.reg.root)
    out.dreg("promote", f"{LONGER}@1.0.0", "--to", "staging", "--push")
    yield out


def at_width(released: Released, columns: int, *args: str) -> list[str]:
    """The lines `dreg ARGS` prints with COLUMNS=`columns`."""
    env = {**released.env, "COLUMNS": str(columns)}
    return Released(released.reg, env).dreg(*args).stdout.splitlines()


@pytest.mark.parametrize("columns", [80, 120])
def test_list_shows_every_dataset_name_and_tag_whole(curated, columns):
    lines = at_width(curated, columns, "list")
    names = ["opencloudhub-readmes-download", "opencloudhub-readmes-embeddings", LONG, LONGER]
    for name in names:
        assert len([line for line in lines if f" {name} " in line]) == 1, (name, "\n".join(lines))
    assert any(f" {LONG}-v1.0.0 " in line for line in lines)
    assert any(f" {LONGER}-v1.0.0 " in line and " 1.0.0 " in line for line in lines)
    assert "…" not in "\n".join(lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_history_shows_whole_tags_and_timestamps(curated, columns):
    lines = at_width(curated, columns, "history", LONGER)
    release = next(line for line in lines if f" {LONGER}-v1.0.0 " in line)
    promotion = next(line for line in lines if f" {LONGER}#staging#1 " in line)
    for line in (release, promotion):
        stamp = line.split("│")[1].strip()
        assert len(stamp) == len("2026-01-01 00:00:00") and stamp[4] == "-" and stamp[13] == ":", line
    assert "→ staging" in promotion


def test_show_keeps_field_names_whole_and_folds_values(curated):
    lines = at_width(curated, 80, "show", LONGER)
    assert any(line.startswith(f"{LONGER}-v1.0.0  commit") for line in lines)
    assert any(" metric questions.expected_answer_length_chars " in line for line in lines)
    code_commit = "".join(line.split()[-1] for line in lines if line.split()[:1] == ["code_commit"] or
                          (line.startswith(" " * 20) and line.strip()))
    assert len(code_commit) == 40 and "…" not in code_commit


def on_terminal(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `dreg ARGS` with stdout and stderr on a pseudo-terminal: (exit status, everything it printed)."""
    leader, follower = pty.openpty()
    with subprocess.Popen([str(Path(VENV_BIN) / "dreg"), *args], cwd=cwd, env={**env, "COLUMNS": "100"},
                          stdin=subprocess.DEVNULL, stdout=follower, stderr=follower) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's last writer exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=60)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_get_shows_a_progress_bar_on_a_terminal_and_nothing_in_a_pipe(curated, tmp_path):
    piped = run_dreg(curated.reg.root, "get", f"{LONG}@1.0.0", "-o", str(tmp_path / "piped"), env=curated.env)
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.strip() == f"{LONG}-v1.0.0: wrote {tmp_path / 'piped' / LONG}"

    code, shown = on_terminal(curated.reg.root, curated.env, "get", f"{LONG}@1.0.0", "-o", str(tmp_path / "tty"))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # without colours and cursor moves
    assert code == 0, text
    assert re.search(r"downloading ━+ (\d+\.\d) ?/\1 kB", text), text  # the full bar: all of the 4.7 kB arrived
    assert (tmp_path / "tty" / LONG / "questions.csv").read_text() == QUESTIONS


def test_the_client_reports_download_progress_to_a_callback(curated, tmp_path):
    from dreg_client import Registry

    calls: list[tuple[int, int | None]] = []
    with Registry.open(curated.reg.root) as reg:
        release = reg.resolve(f"{LONG}@1.0.0")
        folder = reg.download(release, "", tmp_path, progress=lambda done, total: calls.append((done, total)))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_diff_refuses_two_datasets_in_one_line(curated):
    refused = run_dreg(curated.reg.root, "diff", f"{LONG}@1.0.0", f"{LONGER}@1.0.0", env=curated.env)
    assert refused.returncode == 1 and refused.stdout == ""
    line = (f"error: cannot compare {LONG}-v1.0.0 with {LONGER}-v1.0.0: they are releases of two datasets (hint: "
            f"compare two versions of one dataset, e.g. `dreg diff {LONG}@A {LONG}@B`)")
    assert refused.stderr.strip().splitlines() == [line]


def test_list_shows_the_newest_versions_and_how_many_more():
    """A dataset released nightly for years: its row names the newest eight and counts the rest."""
    from steps.cli.release import newest_versions

    many = [f"1.0.{n}" for n in range(500, 0, -1)]
    assert newest_versions(many) == " ".join(many[:8]) + " … 492 more (--json lists all)"
    assert newest_versions(["1.1.0", "1.0.0"]) == "1.1.0 1.0.0" and newest_versions([]) == "-"
