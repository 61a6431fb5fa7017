"""A small registry with real releases on generated sample sources: wine-quality twice (1.0.0 in prod, 1.1.0 in
staging), fashion-mnist and roco-radiology (images, a prompt from the embedded MLflow) once, and a curated dataset."""

from __future__ import annotations

import pytest

from steps.dev.demo import QUESTIONS
from steps.dev.samples import sample_checksum_params, write_sample_mirror
from steps.dev.scaffold import commit_all, create_registry, update_params
from tests.support.registry import Released, cli_env

CURATED = "opencloudhub-readmes-rag-evaluation"


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Released:
    """wine-quality-v1.0.0 (prod) and v1.1.0 (val_fraction changed; staging), fashion-mnist-v1.0.0,
    roco-radiology-v1.0.0 and the curated CURATED-v1.0.0, pushed to origin."""
    base = tmp_path_factory.mktemp("catalog")
    reg = create_registry(base, allow_sample_data=True)
    digests = write_sample_mirror(base / "mirror", ["wine-quality", "fashion-mnist", "roco-radiology"])
    for dataset, update in sample_checksum_params(base / "mirror", digests).items():
        update_params(reg.root, dataset, update)
    commit_all(reg.root, "checksums of the sample sources")
    out = Released(reg, cli_env(DREG_MIRROR=str(base / "mirror")))
    out.dreg("run", "wine-quality", "--push")
    out.dreg("run", "fashion-mnist", "--push")
    update_params(reg.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    commit_all(reg.root, "wine-quality: hold out 25%")
    out.dreg("run", "wine-quality", "--bump", "minor", "--push")
    out.dreg("prompts", "register", "--alias", "production")
    out.dreg("run", "roco-radiology", "--push")
    (base / "questions.csv").write_text(QUESTIONS)
    out.dreg("add", CURATED, str(base / "questions.csv"), "--push", "--new")
    out.dreg("promote", "wine-quality@1.0.0", "--to", "prod")
    out.dreg("promote", "wine-quality@1.1.0", "--to", "staging")
    return out
