"""`make render` is deterministic and `render-check` catches stale, missing and stray files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cluster.support import CHART, ROOT
from workflows import render
from workflows.pipeline import pipeline_template
from workflows.profiles import PIPELINES, SCHEDULED, Pipeline


def test_committed_yaml_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workflows.render", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_render_is_deterministic_across_processes(tmp_path: Path) -> None:
    """Same bytes from another interpreter with another hash seed: no timestamps, no set ordering."""
    script = (
        "import json, sys; from workflows import render; "
        "print(json.dumps({str(p.relative_to(render.ROOT)): t for p, t in render.expected_files().items()}))"
    )
    outputs = []
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": "Pacific/Chatham" if seed == "1" else "UTC"}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    here = {str(p.relative_to(render.ROOT)): t for p, t in render.expected_files().items()}
    generated = [p for p in here if p.startswith("charts/data-registry/generated/")]
    assert len(generated) == len(list(render.CHART_GENERATED.glob("*.yaml"))) == len(PIPELINES) + 2
    assert set(here) - set(generated) == {"charts/data-registry/values.yaml"}


def test_render_writes_the_nightly_datasets_the_pipelines_declare_into_the_values() -> None:
    """values.yaml `cron.datasets` is the `schedule: nightly` pipelines; the rest of the file is left as it is."""
    text = render.CHART_VALUES.read_text()
    stale = text.replace("  datasets:\n", "  datasets:\n    - wine-quality\n", 1)
    assert stale != text and render.values_text(stale) == render.values_text(text) == text
    assert yaml.safe_load(text)["cron"]["datasets"] == list(SCHEDULED)
    with pytest.raises(SystemExit, match="no `cron:` block"):
        render.values_text(text.replace("cron:", "crontab:"))


def test_check_reports_stale_missing_and_stray_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "generated"
    monkeypatch.setattr(render, "ROOT", tmp_path)
    monkeypatch.setattr(render, "CHART_GENERATED", chart)
    version = render.ray_version(ROOT / "pyproject.toml")
    monkeypatch.setattr(render, "ray_version", lambda: version)

    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    (chart / "wine-quality.yaml").write_text(
        (chart / "wine-quality.yaml").read_text().replace("main", "mian", 1)
    )
    (chart / "emotion.yaml").unlink()
    (chart / "old-dataset.yaml").write_text("kind: WorkflowTemplate\n")
    capsys.readouterr()
    assert render.main(["--check"]) == 1
    err = capsys.readouterr().err
    for name in ("generated/wine-quality.yaml", "generated/emotion.yaml", "generated/old-dataset.yaml"):
        assert f"stale: {name}" in err
    assert "run `make render`" in err
    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    assert not (chart / "old-dataset.yaml").exists()


def test_chart_copy_is_argo_yaml_that_helm_reads_as_files() -> None:
    """Outside templates/, Helm never parses the files, so Argo's `{{...}}` needs no escaping there."""
    assert not render.CHART_GENERATED.is_relative_to(CHART / "templates")
    assert render.CHART_GENERATED.parent == CHART
    for path, text in render.chart_files(render.ray_version()).items():
        assert '{{ "{{" }}' not in text and "{{ " not in text and "{{-" not in text, path.name
        doc = yaml.safe_load(text)
        assert doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["metadata"]["name"] == path.stem


def test_each_step_template_holds_the_profile_table_once() -> None:
    """Tasks pass no sizing; each sized step template resolves `compute_profile` once per attribute."""
    lookup = "[workflow.parameters.compute_profile]}}"
    for name, doc in render.documents(render.Deployment(), render.ray_version()).items():
        for template in doc["spec"].get("templates", []):
            tasks = template.get("dag", {}).get("tasks", [])
            assert not any(lookup in str(task) or "compute_profile" in str(task) for task in tasks), name
            inputs = template.get("inputs", {}).get("parameters", [])
            sized = [p["name"] for p in inputs if lookup in p.get("default", "")]
            assert str(template).count(lookup) == len(sized) == len(set(sized)), (name, template["name"])
            if template["name"] in ("stage", "ray-stage"):
                assert {"cpu_request", "cpu_limit", "memory_request", "memory_limit"} <= set(sized)


def test_a_ray_stage_missing_from_dvc_yaml_is_an_error() -> None:
    broken = Pipeline("opencloudhub-readmes-embeddings", "gpu-small", ray_stage="embedd")
    with pytest.raises(ValueError, match="embedd"):
        pipeline_template(broken, render.Deployment(), "2.0.0")


def test_ray_version_is_read_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project.optional-dependencies]\nembeddings = ["torch==2.13.0", "ray[data] == 9.8.7"]\n'
    )
    assert render.ray_version(pyproject) == "9.8.7"
    pyproject.write_text('[project.optional-dependencies]\nembeddings = ["ray[data]>=2"]\n')
    with pytest.raises(SystemExit):
        render.ray_version(pyproject)
