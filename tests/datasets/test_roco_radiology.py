"""roco-radiology: prompts from a real MLflow (server and embedded SQLite), conversations and images read by tag."""

from __future__ import annotations

import hashlib
import json

import dvc.api
import pyarrow.parquet as pq
import pytest
import yaml

from steps.dev.samples import ROCO_ROW_GROUP
from steps.dev.scaffold import update_params
from tests.support.registry import commit_all, tags
from tests.support.servers import free_port
from tests.support.sources import ROCO_FILE, hub_revision

DATASET = "roco-radiology"
PROMPT = "radiology-caption"
pytestmark = pytest.mark.usefixtures("mlflow_boot")  # the server boots during the SQLite tests; its test runs last


def template_of(registry) -> str:
    return yaml.safe_load((registry.root / "prompts" / f"{PROMPT}.yaml").read_text())["template"]


def set_template(registry, text: str) -> None:
    path = registry.root / "prompts" / f"{PROMPT}.yaml"
    doc = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**doc, "template": text}, sort_keys=False))


def test_prompt_version_change_releases_and_unchanged_prompt_does_not(registry, dreg):
    assert dreg("prompts", "register", "--alias", "production").returncode == 0
    assert (registry.root / ".dreg" / "mlflow.db").is_file()  # the embedded default store
    assert dreg("run", DATASET).returncode == 0
    assert tags(registry.root) == [f"{DATASET}-v1.0.0"]

    set_template(registry, "Report the findings of radiology image {{ image_id }} in one sentence.")
    assert f"{PROMPT}: version 2 (registered" in dreg("prompts", "register").stdout
    assert dreg("prompts", "register").stdout.startswith(f"{PROMPT}: version 2 (unchanged")
    still = dreg("run", DATASET)
    assert still.returncode == 0 and "nothing changed" in still.stdout  # the alias still points at version 1

    assert dreg("prompts", "alias", PROMPT, "production", "2").returncode == 0
    moved = dreg("run", DATASET)
    assert moved.returncode == 0, moved.stderr
    assert tags(registry.root) == [f"{DATASET}-v1.0.0", f"{DATASET}-v1.0.1"]
    meta = json.loads((registry.root / f"data/{DATASET}/metadata.json").read_text())
    assert (meta["prompt"]["prompt_version"], meta["prompt"]["tracking_uri_kind"]) == (2, "sqlite")
    record = json.loads((registry.root / f"data/{DATASET}/processed/test/annotations.json").read_text())[0]
    image_id = record["image"].removesuffix(".jpg")
    assert record["conversations"][0] == {
        "from": "human", "value": f"<image>\nReport the findings of radiology image {image_id} in one sentence."}

    update_params(registry.root, DATASET, {"prompt": {"version": 1, "alias": None}})
    pinned = dreg("run", DATASET)
    assert pinned.returncode == 0, pinned.stderr
    assert tags(registry.root)[-1] == f"{DATASET}-v1.0.2"
    meta = json.loads((registry.root / f"data/{DATASET}/metadata.json").read_text())
    assert (meta["prompt"]["prompt_version"], meta["prompt"]["alias"]) == (1, None)


def test_unreachable_server_or_missing_prompt_fails_clearly_and_publishes_nothing(registry, dreg):
    down = dreg("run", DATASET, "--push", MLFLOW_TRACKING_URI=f"http://bob:pw@127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert "cannot use the MLflow tracking server at http://127.0.0.1:" in down.stderr
    assert "pw@" not in down.stderr and "Traceback" not in down.stderr

    missing = dreg("run", DATASET, "--push")
    assert missing.returncode == 1
    assert f"prompt {PROMPT}@production not found in the MLflow Prompt Registry" in missing.stderr
    assert dreg("prompts", "alias", PROMPT, "production", "3").returncode == 1
    assert tags(registry.root) == [] and tags(registry.origin) == []


def test_params_need_exactly_one_of_version_and_alias(registry, dreg):
    update_params(registry.root, DATASET, {"prompt": {"version": 2, "alias": "production"}})
    commit_all(registry.root, "ambiguous prompt")
    result = dreg("run", DATASET)
    assert result.returncode == 1
    assert "exactly one of prompt.version and prompt.alias" in result.stderr


def test_release_with_prompt_from_an_mlflow_server_is_readable_by_tag(registry, dreg, mlflow_server):
    uri = mlflow_server.url.replace("http://", "http://alice:s3cret@")
    registered = dreg("prompts", "register", "--alias", "production", MLFLOW_TRACKING_URI=uri)
    assert registered.returncode == 0, registered.stderr
    assert f"{PROMPT}: version 1 (registered, alias production)" in registered.stdout
    assert "s3cret" not in registered.stdout + registered.stderr

    result = dreg("run", DATASET, "--push", MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr
    tag = f"{DATASET}-v1.0.0"
    assert tags(registry.origin) == [tag]

    repo = str(registry.origin)
    meta_text = dvc.api.read(f"data/{DATASET}/metadata.json", repo=repo, rev=tag)
    assert "s3cret" not in meta_text and "alice" not in meta_text
    meta = json.loads(meta_text)
    template = template_of(registry)
    assert meta["prompt"] == {"prompt_name": PROMPT, "prompt_version": 1, "alias": "production", "template": template,
                              "sha256": hashlib.sha256(template.encode()).hexdigest(), "tracking_uri_kind": "http"}
    assert meta["splits"] == {"train": {"num_samples": 24}, "test": {"num_samples": 6}}
    assert meta["metrics"]["train"]["image_formats"] == {"jpeg": 24}

    records = json.loads(dvc.api.read(f"data/{DATASET}/processed/train/annotations.json", repo=repo, rev=tag))
    assert len(records) == 24
    record = records[0]
    assert set(record) == {"image", "conversations"} and record["image"].endswith(".jpg")
    human, gpt = record["conversations"]
    assert human == {"from": "human", "value": "<image>\n" + template}
    assert gpt["from"] == "gpt" and gpt["value"].strip() == gpt["value"] and gpt["value"]
    image = dvc.api.read(f"data/{DATASET}/processed/train/images/{record['image']}", repo=repo, rev=tag, mode="rb")
    assert image[:2] == b"\xff\xd8"


def test_download_reads_only_the_row_groups_it_needs_at_the_pinned_commit(registry, dreg, dataset_sources):
    revision = hub_revision(dataset_sources.root, DATASET, DATASET)
    url_path = f"/datasets/unsloth/Radiology_mini/resolve/{revision}/data/{ROCO_FILE}"
    before = dataset_sources.bytes_sent[url_path]  # the server serves the whole session
    update_params(registry.root, DATASET, {"process": {"num_samples": 4}})
    result = dreg("stage", DATASET, "download")
    assert result.returncode == 0, result.stderr
    sent = dataset_sources.bytes_sent[url_path] - before
    shard = pq.ParquetFile(dataset_sources.root / url_path.lstrip("/"))
    needed = -(-4 // ROCO_ROW_GROUP)
    group_bytes = sum(shard.metadata.row_group(i).total_byte_size for i in range(needed))
    assert shard.metadata.num_row_groups > 2 * needed
    assert group_bytes <= sent < (dataset_sources.root / url_path.lstrip("/")).stat().st_size / 2
    source = json.loads((registry.root / f"data/{DATASET}/raw/sources.json").read_text())["sources"][0]
    assert (source["revision"], source["row_groups"], source["rows"]) == (revision, list(range(needed)), 4)
    assert source["shard_rows"] == shard.metadata.num_rows
    rows = pq.read_table(registry.root / f"data/{DATASET}/raw/{source['file']}")
    first = shard.read_row_groups(range(needed)).column("image_id").to_pylist()[:4]
    assert rows.column("image_id").to_pylist() == first
