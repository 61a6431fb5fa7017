"""values-opencloudhub.yaml against the platform it is for: every Secret name and key, endpoint, bucket and
GPU selector of the rendered chart is one of the facts in docs/platforms/opencloudhub.yaml (read from
OpenCloudHub/gitops and OpenCloudHub/data-registry at the commits it names)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tests.cluster.support import CHART, ROOT, helm_binary, helm_template, templates_by_name
from workflows import gitssh
from workflows.deployment import GIT_SSH_DIR

FACTS = yaml.safe_load((ROOT / "docs" / "platforms" / "opencloudhub.yaml").read_text())
VALUES = CHART / "values-opencloudhub.yaml"


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return helm_template(helm_binary(), "-f", str(VALUES))


def parsed(manifest: str) -> dict[str, Any]:
    """A resource template's manifest, its `{{...}}` tags made plain text."""
    return yaml.safe_load(manifest.replace("{{", "<<").replace("}}", ">>"))


def walk(obj: Any) -> Any:
    """Every dict in `obj`, resource manifests included."""
    if isinstance(obj, dict):
        yield obj
        for key, value in obj.items():
            yield from walk(parsed(value) if key == "manifest" else value)
    elif isinstance(obj, list):
        for value in obj:
            yield from walk(value)


def secret_refs(docs: list[dict[str, Any]]) -> list[tuple[str, str, bool, str]]:
    """(Secret, key, optional, env variable or 'volume') of every env reference and secret volume source."""
    refs = []
    for node in walk(docs):
        if "secretKeyRef" in node.get("valueFrom", {}):
            ref = node["valueFrom"]["secretKeyRef"]
            refs.append((ref["name"], ref["key"], bool(ref.get("optional")), node["name"]))
        secret = node.get("secret")
        if isinstance(secret, dict) and ("name" in secret or "secretName" in secret):
            name = secret.get("name") or secret["secretName"]
            keys = [item["key"] for item in secret.get("items") or []] or ["*"]
            refs += [(name, key, bool(secret.get("optional")), "volume") for key in keys]
    return refs


def config(docs: list[dict[str, Any]]) -> dict[str, str]:
    return next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "data-registry-env")["data"]


def test_every_secret_reference_names_a_platform_secret_and_key(docs: list[dict[str, Any]]) -> None:
    """Optional only where the platform has no such Secret, or (the database password) where most datasets
    never use it; the key volume and the object store's keys must exist, or the pod does not start."""
    refs = secret_refs(docs)
    assert {name for name, *_ in refs} >= set(FACTS["secrets"]), "each platform Secret is used"
    for name, key, optional, use in refs:
        if name in FACTS["absent_secrets"]:
            assert optional, f"{name} does not exist on the platform: its reference must be optional"
            continue
        assert name in FACTS["secrets"], f"{name}: not a Secret the platform distributes to {FACTS['namespace']}"
        assert key in FACTS["secrets"][name]["keys"], f"{name} has no key {key!r}"
        if use != "PGVECTOR_PASSWORD":
            assert not optional, f"{name}/{key} ({use}) is configured: a missing one must stop the pod"


def test_endpoints_buckets_and_database_are_the_platforms(docs: list[dict[str, Any]]) -> None:
    data = config(docs)
    store = FACTS["object_store"]
    assert data["DVC_S3_ENDPOINT_URL"] == store["endpoint"]
    bucket = urlparse(data["DVC_S3_URL"]).netloc
    assert bucket == store["dvc_bucket"] and bucket in store["buckets"]
    pg = FACTS["postgres"]
    assert (data["PGVECTOR_HOST"], int(data["PGVECTOR_PORT"])) == (pg["host"], pg["port"])
    assert (data["PGVECTOR_USER"], data["PGVECTOR_DATABASE"]) == (pg["user"], pg["database"])
    assert data["MLFLOW_TRACKING_URI"] == FACTS["mlflow"]["tracking_uri"]
    assert data["GIT_REPO_URL"] == FACTS["git"]["read_url"]
    password = {name for name, _, _, use in secret_refs([*docs]) if use == "PGVECTOR_PASSWORD"}
    assert password == {pg["password_secret"]}


def test_everything_lands_in_the_platform_namespace(docs: list[dict[str, Any]]) -> None:
    assert {d["metadata"]["namespace"] for d in docs} == {FACTS["namespace"]["name"]}


def test_gpu_workers_schedule_on_the_platforms_nodes(docs: list[dict[str, Any]]) -> None:
    """No selector or toleration for a label or taint no node has; the GPU comes from the resource limit."""
    embeddings = next(d for d in docs if d["metadata"]["name"] == "opencloudhub-readmes-embeddings")
    rayjob = parsed(templates_by_name(embeddings)["ray-stage"]["resource"]["manifest"])
    (group,) = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    spec = group["template"]["spec"]
    assert set(spec.get("nodeSelector") or {}) <= set(FACTS["gpu"]["node_labels"])
    assert {t["key"] for t in spec.get("tolerations") or []} <= set(FACTS["gpu"]["node_taints"])
    assert FACTS["gpu"]["resource"] in spec["containers"][0]["resources"]["limits"]


def test_the_write_key_reaches_the_publish_step_only(docs: list[dict[str, Any]]) -> None:
    key_secret = "data-registry-repo"
    for doc in docs:
        if doc["kind"] != "WorkflowTemplate" or doc["metadata"]["name"] == "data-pipelines":
            continue
        holders = {t["name"] for t in doc["spec"]["templates"] if key_secret in yaml.safe_dump(t)}
        assert holders == {"publish"}, doc["metadata"]["name"]
        assert key_secret not in yaml.safe_dump(doc["spec"].get("volumes") or [])
    push_urls = {node["value"] for node in walk(docs) if node.get("name") == "GIT_CONFIG_VALUE_0"}
    assert {urlparse("ssh://" + url.replace(":", "/", 1)).hostname for url in push_urls} == {FACTS["git"]["write_host"]}
    hosts = next(d for d in docs if d["metadata"]["name"] == "data-registry-known-hosts")["data"]["known_hosts"]
    assert {line.split()[0] for line in hosts.splitlines()} == {FACTS["git"]["write_host"]}


def test_the_publish_step_reads_the_platforms_key_without_its_trailing_newline(tmp_path: Path) -> None:
    """data-registry-repo's key has no final newline, which OpenSSH refuses; the publish script's copy works."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    secret_dir = tmp_path / "git-ssh"
    secret_dir.mkdir()
    (secret_dir / "id").write_text((tmp_path / "key").read_text().rstrip("\n"))
    copy = tmp_path / "copy"
    refused = subprocess.run(["ssh-keygen", "-y", "-f", str(secret_dir / "id")], capture_output=True, check=False)
    assert refused.returncode != 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dreg").write_text('#!/bin/sh\necho "dreg $*"\n')
    (bin_dir / "dreg").chmod(0o755)
    script = gitssh.PUBLISH_SCRIPT.replace(GIT_SSH_DIR, str(secret_dir)).replace(gitssh.KEY_COPY, str(copy))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    command = ["sh", "-c", script, "publish", "publish", "x"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "dreg publish x"
    assert copy.stat().st_mode & 0o077 == 0
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(copy)], capture_output=True, text=True, check=True)
    assert public.stdout.split()[1] == (tmp_path / "key.pub").read_text().split()[1]
