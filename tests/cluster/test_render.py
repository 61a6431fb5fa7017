"""`make render` is deterministic and `render-check` catches stale, missing and stray files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.support import ROOT
from workflows import render


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
    assert len(here) == 2 * len(list((ROOT / "workflows" / "rendered").glob("*.yaml")))


def test_check_reports_stale_missing_and_stray_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, chart = tmp_path / "rendered", tmp_path / "generated"
    monkeypatch.setattr(render, "ROOT", tmp_path)
    monkeypatch.setattr(render, "RENDERED", plain)
    monkeypatch.setattr(render, "CHART_GENERATED", chart)
    version = render.ray_version(ROOT / "pyproject.toml")
    monkeypatch.setattr(render, "ray_version", lambda: version)

    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    (plain / "wine-quality.yaml").write_text(
        (plain / "wine-quality.yaml").read_text().replace("main", "mian", 1)
    )
    (chart / "emotion.yaml").unlink()
    (plain / "old-dataset.yaml").write_text("kind: WorkflowTemplate\n")
    capsys.readouterr()
    assert render.main(["--check"]) == 1
    err = capsys.readouterr().err
    for name in ("rendered/wine-quality.yaml", "generated/emotion.yaml", "rendered/old-dataset.yaml"):
        assert f"stale: {name}" in err
    assert "run `make render`" in err
    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    assert not (plain / "old-dataset.yaml").exists()


def test_chart_copy_escapes_every_argo_expression() -> None:
    version = render.ray_version()
    for path, text in render.chart_files(version).items():
        body = text.replace('{{ "{{" }}', "").replace('{{ "}}" }}', "")
        helm_actions = [line for line in body.splitlines() if "{{" in line]
        assert all(
            "{{ include" in line or "{{ .Values" in line or "{{ toJson" in line or "{{- " in line
            for line in helm_actions
        ), path.name


def test_ray_version_is_read_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project.optional-dependencies]\nembeddings = ["torch==2.13.0", "ray[data] == 9.8.7"]\n'
    )
    assert render.ray_version(pyproject) == "9.8.7"
    pyproject.write_text('[project.optional-dependencies]\nembeddings = ["ray[data]>=2"]\n')
    with pytest.raises(SystemExit):
        render.ray_version(pyproject)
