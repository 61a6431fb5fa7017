"""Every run ends, and every pod holds only what it uses: deadlines on each template, the fan-out and the
steps that talk to remotes; service-account tokens only where the Kubernetes API is called."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.cluster.support import CHART, load_rendered, templates_by_name
from workflows.fanout import CRON, FANOUT

DOCS = load_rendered()
TEMPLATES = {name: doc for name, doc in DOCS.items() if doc["kind"] == "WorkflowTemplate"}
DATASETS = sorted(name for name in TEMPLATES if name != FANOUT)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_workflow_template_has_a_deadline(name: str) -> None:
    assert TEMPLATES[name]["spec"]["activeDeadlineSeconds"] > 0


def test_the_nightly_fanout_ends_before_the_next_night_and_outlives_its_children() -> None:
    """With `Forbid`, a fan-out still running at the next schedule skips it: it must end within the interval."""
    assert DOCS[CRON]["spec"]["concurrencyPolicy"] == "Forbid"
    minute, hour, *days = yaml.safe_load((CHART / "values.yaml").read_text())["cron"]["schedule"].split()
    assert days == ["*", "*", "*"] and minute.isdigit() and hour.isdigit(), "the default schedule is nightly"
    deadline = TEMPLATES[FANOUT]["spec"]["activeDeadlineSeconds"]
    assert deadline < 24 * 3600
    assert deadline > max(TEMPLATES[name]["spec"]["activeDeadlineSeconds"] for name in DATASETS)


@pytest.mark.parametrize("name", DATASETS)
def test_remote_steps_have_a_deadline_per_attempt(name: str) -> None:
    templates = templates_by_name(TEMPLATES[name])
    remote = [t for t in templates if t in ("checkout", "publish", "handoff-check", "handoff-import")]
    assert {"checkout", "publish"} <= set(remote)
    for template in remote:
        deadline = templates[template]["activeDeadlineSeconds"]
        assert 0 < deadline < TEMPLATES[name]["spec"]["activeDeadlineSeconds"], template


def container_templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in doc["spec"]["templates"] if "container" in t]


@pytest.mark.parametrize("name", DATASETS)
def test_only_argos_executor_gets_a_token_in_container_steps(name: str) -> None:
    """The steps never call the Kubernetes API; the executor (wait container) reports their results."""
    for template in container_templates(TEMPLATES[name]):
        assert template["automountServiceAccountToken"] is False, template["name"]
        assert template["executor"]["serviceAccountName"] == TEMPLATES[name]["spec"]["serviceAccountName"]


def test_ray_pods_get_no_token_and_no_key() -> None:
    doc = TEMPLATES["opencloudhub-readmes-embeddings"]
    manifest = templates_by_name(doc)["ray-stage"]["resource"]["manifest"]
    job = yaml.safe_load(manifest.replace("{{", "<<").replace("}}", ">>"))
    cluster = job["spec"]["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        spec = group["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert "volumes" not in spec and all("volumeMounts" not in c for c in spec["containers"])
