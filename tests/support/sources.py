"""Sample sources for the local source server, and the params that point a registry's pipelines at them."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from steps.dev.samples import fashion_md5_params, write_sample_files
from steps.dev.scaffold import update_params
from tests.support.servers import SourceServer

EMOTION_FILE = "emotions_dataset.parquet"
ROCO_FILE = "train-00000-of-00001.parquet"
HUB_FILES = {"emotion": ("boltuix/emotions-dataset", EMOTION_FILE),
             "roco-radiology": ("unsloth/Radiology_mini", f"data/{ROCO_FILE}")}  # dataset → (Hub repo, path in it)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_core_sources(root: Path) -> dict[str, dict[str, str]]:
    """wine-quality and fashion-mnist samples under `root/<dataset>/`; {dataset: {file: md5}}."""
    return {d: write_sample_files(root, d) for d in ("wine-quality", "fashion-mnist")}


def point_sources(reg_root: Path, server: SourceServer) -> None:
    """Aim the core pipelines' params at the local source server, with that data's checksums."""
    wine = server.root / "wine-quality"
    update_params(reg_root, "wine-quality", {"download": {"sources": {
        color: {"url": server.file_url("wine-quality", f"winequality-{color}.csv"),
                "sha256": sha256_of(wine / f"winequality-{color}.csv")}
        for color in ("red", "white")}}})
    update_params(reg_root, "fashion-mnist", fashion_md5_params(server.md5["fashion-mnist"]))
    update_params(reg_root, "fashion-mnist", {"download": {"base_url": f"{server.url}/fashion-mnist/"}})


def emotion_variant(good: bytes, kind: str) -> bytes:
    """A broken copy of the emotion source: an empty text, an unknown label, or a class with one row."""
    frame = pq.read_table(io.BytesIO(good)).to_pandas()
    if kind == "empty":
        frame.loc[3, "Sentence"] = "   "
    elif kind == "unknown":
        frame.loc[5, "Label"] = "boredom"
    elif kind == "rare":
        rare = frame.index[frame["Label"] == "desire"]
        frame = frame.drop(rare[1:]).reset_index(drop=True)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def hub_revision(root: Path, folder: str, dataset: str) -> str:
    """The fake Hub commit of the copy of `dataset`'s file in `root/folder` (the sha1 of its bytes)."""
    return hashlib.sha1((root / folder / Path(HUB_FILES[dataset][1]).name).read_bytes()).hexdigest()


def publish_on_hub(root: Path, folder: str, dataset: str) -> None:
    """Serve `root/folder/<file>` at the Hub's `datasets/<repo>/resolve/<commit>/<path>` under `root`."""
    repo, path = HUB_FILES[dataset]
    dest = root / "datasets" / repo / "resolve" / hub_revision(root, folder, dataset) / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((root / folder / Path(path).name).read_bytes())


def hub_ref_path(dataset: str, ref: str, quoted: bool = True) -> str:
    """The Hub API's revision endpoint of `dataset`'s repo for `ref` (a branch, tag or commit), as a URL path
    (`ref` quoted as clients send it, `/` too) or, not quoted, as a path under the server's root."""
    return f"/api/datasets/{HUB_FILES[dataset][0]}/revision/{quote(ref, safe='') if quoted else ref}"


def move_hub_ref(root: Path, folder: str, dataset: str, ref: str) -> str:
    """Publish `root/folder/<file>` on the stand-in Hub and point `ref` at its commit (the revision endpoint answers
    `{"id": repo, "sha": commit}`, as the Hub API does); the commit."""
    publish_on_hub(root, folder, dataset)
    commit = hub_revision(root, folder, dataset)
    answer = root / hub_ref_path(dataset, ref, quoted=False).lstrip("/")
    answer.parent.mkdir(parents=True, exist_ok=True)
    answer.write_text(json.dumps({"id": HUB_FILES[dataset][0], "sha": commit}))
    return commit


def hub_download(server: SourceServer, folder: str, dataset: str) -> dict[str, str]:
    """`download` params that read `dataset`'s copy in `folder` from the local server as a pinned Hub commit."""
    repo, path = HUB_FILES[dataset]
    return {"endpoint": server.url, "repo": repo, "revision": hub_revision(server.root, folder, dataset), "path": path}


def write_dataset_sources(root: Path) -> dict[str, dict[str, str]]:
    """emotion (good, and broken variants in `emotion-<kind>/`) and roco-radiology samples under `root`, each also
    at its Hub path and commit; md5s."""
    md5 = {"emotion": write_sample_files(root, "emotion", size=400, seed=1),
           "roco-radiology": write_sample_files(root, "roco-radiology", size=40, seed=1)}
    good = (root / "emotion" / EMOTION_FILE).read_bytes()
    for kind in ("empty", "unknown", "rare"):
        (root / f"emotion-{kind}").mkdir()
        (root / f"emotion-{kind}" / EMOTION_FILE).write_bytes(emotion_variant(good, kind))
        publish_on_hub(root, f"emotion-{kind}", "emotion")
    for dataset in HUB_FILES:
        move_hub_ref(root, dataset, dataset, "main")
    return md5


def point_dataset_sources(reg_root: Path, server: SourceServer) -> None:
    """Aim emotion and roco-radiology at `main` of the stand-in Hub on the local server (roco at a small size)."""
    update_params(reg_root, "emotion", {"download": {
        **hub_download(server, "emotion", "emotion"), "revision": "main",
        "sha256": sha256_of(server.root / "emotion" / EMOTION_FILE)}})
    update_params(reg_root, "roco-radiology", {
        "download": {**hub_download(server, "roco-radiology", "roco-radiology"), "revision": "main"},
        "process": {"num_samples": 30, "test_fraction": 0.2}})
