"""Every release carries a Croissant 1.0 description that mlcroissant validates and loads back offline: record
counts of metadata.json, sha256 of the released (md5-checked) files, the label classes as enumerations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mlcroissant as mlc
import pytest

from dreg_client import Registry
from steps import layout
from tests.contracts.conftest import RELEASED
from tests.support.registry import Released, run_dreg

pytestmark = pytest.mark.xdist_group("contracts")  # one released registry per worker


@pytest.mark.parametrize("dataset", RELEASED)
def test_croissant_validates_and_loads_the_release_offline(released_all: Released, dataset: str,
                                                           tmp_path: Path) -> None:
    with Registry.open(released_all.reg.origin) as reg:
        release = reg.resolve(f"{dataset}@1.0.0")
        doc = json.loads(reg.read_text(release, layout.croissant_json(dataset)) or "{}")
        meta = json.loads(reg.read_text(release, layout.metadata_json(dataset)) or "{}")
        folder = reg.download(release, "", tmp_path)  # the release's files, md5-checked against its dvc.lock
        sha256 = {f["contentUrl"]: hashlib.sha256(reg.read_data(release, f["contentUrl"]))
                  .hexdigest() for f in doc["distribution"] if f["@type"] == "cr:FileObject"}
    assert doc["version"] == "1.0.0" and doc["@id"] == release.tag
    assert {f["contentUrl"]: f["sha256"] for f in doc["distribution"] if "sha256" in f} == sha256
    assert set(sha256) == set(meta["schema"]["files"].values())
    assert all(doc[key] for key in ("license", "citeAs", "rai:dataLimitations", "rai:dataBiases",
                                    "rai:dataUseCases", "rai:dataCollection"))

    (folder / "croissant.json").write_text(json.dumps(doc))
    loaded = mlc.Dataset(jsonld=folder / "croissant.json")  # validates; raises on any error
    for split, info in meta["splits"].items():
        records = list(loaded.records(record_set=split))  # each file's sha256 is checked as it is read
        assert len(records) == info["num_samples"]
        plain = [name for name, spec in meta["schema"]["features"].items() if spec.get("dtype") != "list"]
        assert {key.split("/", 1)[1] for key in records[0]} >= {n.replace(" ", "_") for n in plain}  # ids: no spaces
    for name, spec in meta["schema"]["features"].items():
        if spec.get("classes"):
            values = [r[f"{name}-classes/name"] for r in loaded.records(record_set=f"{name}-classes")]
            assert [v.decode() if isinstance(v, bytes) else v for v in values] == spec["classes"]


def test_dreg_croissant_rebuilds_a_release_description_equal_to_the_committed_one(released_all: Released,
                                                                                    tmp_path: Path) -> None:
    out = released_all.dreg("croissant", "emotion@1.0.0", "--repo", str(released_all.reg.origin),
                            "-o", str(tmp_path / "c.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with Registry.open(released_all.reg.origin) as reg:
        committed = reg.read_text(reg.resolve("emotion@1.0.0"), layout.croissant_json("emotion"))
    assert (tmp_path / "c.json").read_text() == committed
    bad = run_dreg(tmp_path, "croissant", "emotion@9.9.9", "--repo", str(released_all.reg.origin),
                   env=released_all.env)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
