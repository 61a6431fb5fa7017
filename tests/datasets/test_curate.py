"""`dreg add`: curated questions.csv tracked with DVC, pushed, tagged and read by tag; bad CSVs refused."""

from __future__ import annotations

import json
import subprocess

import dvc.api
import pytest

from tests.support.registry import tags

DATASET = "opencloudhub-readmes-rag-evaluation"
GOOD = (
    "question,expected_answer,key_concepts\n"
    '"How is a dataset released?","dreg run reproduces the pipeline and tags it","dvc; git tag; release"\n'
    '"Where does curated data live?","In data/<dataset>/ as .dvc files","dvc add, curated"\n'
)


def status(root) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                          check=True).stdout


def test_add_releases_questions_that_consumers_read_by_tag(registry, dreg, tmp_path):
    csv_file = tmp_path / "questions.csv"
    csv_file.write_text(GOOD)
    result = dreg("add", DATASET, str(csv_file), "--push", "--new")
    assert result.returncode == 0, result.stderr
    tag = f"{DATASET}-v1.0.0"
    assert tags(registry.origin) == [tag]
    assert status(registry.root) == ""

    repo = str(registry.origin)
    assert dvc.api.read(f"data/{DATASET}/questions.csv", repo=repo, rev=tag) == GOOD
    meta = json.loads(dvc.api.read(f"data/{DATASET}/metadata.json", repo=repo, rev=tag))
    assert meta["splits"] == {"questions": {"num_samples": 2}}
    assert meta["schema"]["files"]["questions.csv"]["columns"] == {
        c: {"dtype": "string"} for c in ("question", "expected_answer", "key_concepts")}
    assert meta["metrics"]["questions"]["key_concepts_per_question"] == 2.5
    assert meta["lineage"]["source"]["kind"] == "curated"

    again = dreg("add", DATASET, str(csv_file))
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert status(registry.root) == ""

    csv_file.write_text(GOOD + '"What does dreg diff show?","Changes between two versions","params, drift"\n')
    bumped = dreg("add", DATASET, str(csv_file), "--bump", "minor", "--push")
    assert bumped.returncode == 0, bumped.stderr
    assert tags(registry.origin) == [tag, f"{DATASET}-v1.1.0"]
    assert dreg("show", f"{DATASET}@1.1.0").returncode == 0
    listed = dreg("list").stdout
    assert DATASET[:20] in listed and "1.1.0" in listed


@pytest.mark.parametrize(("content", "message"), [
    ("question,answer,key_concepts\nq,a,k\n", "header is ['question', 'answer', 'key_concepts']"),
    ("question,expected_answer,key_concepts\n", "no rows below the header"),
    ("question,expected_answer,key_concepts\nq1,a1,k1\nq2,,k2\n", "row 3 has empty expected_answer"),
    ("", "header is empty"),
    ("question,expected_answer,key_concepts\nq1,a1,k1\nq2,a2,k2,x,y\n", "row 3 has 5 fields, the header has 3"),
    ("question,expected_answer,key_concepts\nq1,a\x001,k1\n", "row 2 contains a NUL byte"),
], ids=["wrong-header", "no-rows", "empty-field", "empty-file", "extra-fields", "nul-byte"])
def test_bad_questions_csv_is_refused_before_anything_changes(registry, dreg, tmp_path, content, message):
    csv_file = tmp_path / "questions.csv"
    csv_file.write_text(content)
    result = dreg("add", DATASET, str(csv_file), "--push", "--new")
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert tags(registry.root) == [] and status(registry.root) == ""
    assert not (registry.root / "data" / DATASET).exists()


def test_add_refuses_a_pipeline_dataset(registry, dreg, tmp_path):
    csv_file = tmp_path / "questions.csv"
    csv_file.write_text(GOOD)
    result = dreg("add", "emotion", str(csv_file))
    assert result.returncode == 1 and "emotion is produced by a pipeline" in result.stderr


def test_add_of_an_unknown_dataset_needs_new(registry, dreg, tmp_path):
    """A typo must not become a new dataset with a permanent tag."""
    csv_file = tmp_path / "questions.csv"
    csv_file.write_text(GOOD)
    result = dreg("add", DATASET, str(csv_file))
    assert result.returncode == 1
    assert f"no curated dataset '{DATASET}' yet" in result.stderr and "--new" in result.stderr
    assert tags(registry.root) == [] and status(registry.root) == ""


def test_add_rejects_a_huge_dataset_name_in_one_line(registry, dreg, tmp_path):
    csv_file = tmp_path / "questions.csv"
    csv_file.write_text(GOOD)
    result = dreg("add", "a" * 5000, str(csv_file), "--new")
    assert result.returncode == 1 and "invalid dataset name" in result.stderr
    assert len(result.stderr) < 400 and "unexpected" not in result.stderr
