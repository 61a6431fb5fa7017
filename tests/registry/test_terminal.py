"""The terminal: tables that never cut a dataset name, tag or timestamp at 80 or 120 columns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.registry import Released, cli_env, local_registry, push_main

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
