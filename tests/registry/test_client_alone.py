"""The consumer client installs alone (`clients/python`, the `dreg-client` distribution): a fresh venv gets dvc,
pandas and pyarrow but none of the pipeline stack, and `load()` reads a release by stage from a bare origin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pandas as pd
import pytest

from steps import layout
from steps.client import load
from tests.registry.test_versions_grammar import V1, release_two
from tests.support.registry import Released
from tests.support.servers import SourceServer

CLIENT = layout.CODE_ROOT / "clients/python"
PIPELINE_STACK = ("torch", "ray", "mlflow", "matplotlib")  # what a training job must not get from the client
SHIPPED = {m.removesuffix(".__init__") for m in tomllib.loads((CLIENT / "pyproject.toml").read_text())
           ["tool"]["setuptools"]["py-modules"]}

CONSUMER = """
import importlib.util, json, sys
import steps
from steps.client import download, get_url, load, read_metadata, resolve_tag
repo, out = sys.argv[1], sys.argv[2]
train = load("wine-quality@prod", split="train", repo=repo)
train.to_parquet(out + "/train.parquet")
val = load("wine-quality@prod", split="val", repo=repo, format="arrow")
print(json.dumps({
    "steps": steps.__file__, "tag": resolve_tag("wine-quality", "prod", repo), "val_rows": val.num_rows,
    "splits": sorted(load("wine-quality@1.0.0", repo=repo)), "meta": read_metadata("wine-quality", "prod", repo),
    "url": get_url("wine-quality", "processed/val/val.parquet", "prod", repo),
    "downloaded": str(download("wine-quality", "raw", out + "/raw", "prod", repo)),
    "modules": sorted(m for m in sys.modules if m == "steps" or m.startswith("steps.")),
    "stack": [n for n in sys.argv[3:] if importlib.util.find_spec(n) is not None],
}))
"""


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer) -> Released:
    released = release_two(tmp_path_factory.mktemp("client-alone"), source_server)
    released.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    return released


def test_the_client_closure_is_exactly_what_the_distribution_ships(promoted, tmp_path):
    """Every `steps` module the client imports (all entry points, lazy imports included) is in py-modules, and
    nothing else is: an import added to a client module fails here before it fails in a training job."""
    proc = subprocess.run([sys.executable, "-c", CONSUMER, str(promoted.reg.origin), str(tmp_path)], cwd=tmp_path,
                          env=promoted.env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout.splitlines()[-1])["modules"]) == SHIPPED


def test_a_fresh_venv_installs_the_client_alone_and_loads_a_stage(promoted, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin/pip"), "install", "-q", str(CLIENT)], capture_output=True, text=True,
                         check=False, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = subprocess.run([str(venv / "bin/pip"), "list", "--format=json"], capture_output=True, text=True,
                            check=True).stdout
    installed = {p["name"].lower() for p in json.loads(listed)}
    assert {"dreg-client", "dvc", "pandas", "pyarrow"} <= installed
    assert not installed & {"torch", "ray", "mlflow", "mlflow-skinny", "matplotlib", "sentence-transformers",
                            "psycopg", "hera", "data-registry"}

    consumer = tmp_path / "consumer"
    consumer.mkdir()
    env = {k: v for k, v in promoted.env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run([str(venv / "bin/python"), "-c", CONSUMER, str(promoted.reg.origin), str(consumer),
                           *PIPELINE_STACK], cwd=consumer, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["steps"].startswith(str(venv)) and got["stack"] == []
    assert got["tag"] == V1 and got["splits"] == ["train", "val"]
    assert got["meta"]["splits"]["val"]["num_samples"] == got["val_rows"]
    assert got["url"].startswith(str(promoted.reg.remote))
    assert (consumer / "raw/red.csv").is_file()
    expected = load("wine-quality@1.0.0", split="train", repo=str(promoted.reg.origin))
    pd.testing.assert_frame_equal(pd.read_parquet(consumer / "train.parquet"), expected)
    assert set(got["modules"]) <= SHIPPED
