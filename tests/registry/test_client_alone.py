"""The consumer client installs alone (`clients/python`, the `dreg-client` distribution): a fresh venv gets dvc,
pandas and pyarrow but none of the pipeline stack, and `load()` reads a release by stage from a bare origin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from dreg_client import load
from steps import layout
from tests.registry.test_versions_grammar import V1, release_two
from tests.support.registry import Released
from tests.support.servers import SourceServer

CLIENT = layout.CODE_ROOT / "clients/python"
PIPELINE_STACK = ("torch", "ray", "mlflow", "matplotlib")  # what a training job must not get from the client

CONSUMER = """
import importlib.util, json, sys
import dreg_client
from dreg_client import download, get_url, load, read_metadata, resolve_tag
repo, out = sys.argv[1], sys.argv[2]
train = load("wine-quality@prod", split="train", repo=repo)
train.to_parquet(out + "/train.parquet")
val = load("wine-quality@prod", split="val", repo=repo, format="arrow")
print(json.dumps({
    "client": dreg_client.__file__, "tag": resolve_tag("wine-quality@prod", repo=repo), "val_rows": val.num_rows,
    "splits": sorted(load("wine-quality@1.0.0", repo=repo)), "meta": read_metadata("wine-quality@prod", repo=repo),
    "old_form": read_metadata("wine-quality", "prod", repo)["splits"]["val"]["num_samples"],
    "url": get_url("wine-quality@prod", "processed/val/val.parquet", repo=repo),
    "downloaded": str(download("wine-quality@prod", "raw", out + "/raw", repo=repo)),
    "steps": sorted(m for m in sys.modules if m == "steps" or m.startswith("steps.")),
    "stack": [n for n in sys.argv[3:] if importlib.util.find_spec(n) is not None],
}))
"""


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer) -> Released:
    released = release_two(tmp_path_factory.mktemp("client-alone"), source_server)
    released.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    return released


def test_the_client_imports_nothing_of_the_producer(promoted, tmp_path):
    """Every entry point of the client, lazy imports included, runs without one `steps` module: the client is a
    library of its own, configured by its arguments, not by the producer's settings."""
    proc = subprocess.run([sys.executable, "-c", CONSUMER, str(promoted.reg.origin), str(tmp_path)], cwd=tmp_path,
                          env=promoted.env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["steps"] == [] and got["tag"] == V1 and got["old_form"] == got["val_rows"]


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
    assert got["client"].startswith(str(venv)) and got["stack"] == [] and got["steps"] == []
    assert got["tag"] == V1 and got["splits"] == ["train", "val"]
    assert got["meta"]["splits"]["val"]["num_samples"] == got["val_rows"]
    assert got["url"].startswith(str(promoted.reg.remote))
    assert (consumer / "raw/red.csv").is_file()
    expected = load("wine-quality@1.0.0", split="train", repo=str(promoted.reg.origin))
    pd.testing.assert_frame_equal(pd.read_parquet(consumer / "train.parquet"), expected)

    full = subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-deps", str(layout.CODE_ROOT)],
                          capture_output=True, text=True, check=False,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert full.returncode == 0, full.stderr[-2000:]
    shown = subprocess.run([str(venv / "bin/pip"), "show", "-f", "dreg-client", "data-registry"], capture_output=True,
                           text=True, check=True).stdout
    owned = [{ln.strip() for ln in block.split("Files:", 1)[1].splitlines() if ln.strip()}
             for block in shown.split("\n---\n")]
    code = [{f for f in files if f.endswith(".py")} for files in owned]
    assert code[0] and code[1] and not code[0] & code[1]  # beside the full package: no file owned twice
    again = subprocess.run([str(venv / "bin/python"), "-c", "import dreg_client, steps; print(dreg_client.__file__)"],
                           cwd=consumer, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and again.stdout.startswith(str(venv)), again.stderr
