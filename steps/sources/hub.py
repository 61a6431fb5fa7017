"""Hugging Face Hub sources: a file of a dataset repo, read at the commit its pin records.

Like DVC's `rev` / `rev_lock`: `download.revision` in params.yaml names what to follow (a branch, a tag or a
commit); the download stage resolves it once through the Hub API (`GET {endpoint}/api/datasets/{repo}/revision/
{revision}` → `sha`) and records the commit in `pipelines/<dataset>/hub-pin.json`, a git-tracked output of that
stage kept across runs. Reruns and `dreg verify` read the recorded commit (no API call); `dreg update DATASET`
resolves the revision again and moves the pin, so the next `dreg run` downloads the new commit and releases it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.git import check_ref_name
from steps.kit.files import load_yaml, write_json
from steps.kit.params import Params, read_params_file

COMMIT = re.compile(r"^[0-9a-f]{40}$")
REPO_PATTERN = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class HubFile(Params):
    """`download` params of a file in a Hub dataset repo, followed at `revision` (a branch, tag or commit)."""

    endpoint: HttpUrl = HttpUrl("https://huggingface.co")
    repo: str = Field(pattern=REPO_PATTERN)
    revision: str = Field(description="a branch, tag or commit of the repo")
    path: str = Field(min_length=1)

    @field_validator("revision")
    @classmethod
    def _ref_name(cls, value: str) -> str:
        """A branch, tag or commit: a safe git name (no spaces, no leading '-', no '..')."""
        try:
            return check_ref_name(value, "revision")
        except DregError:
            raise ValueError("name a branch, tag or commit (letters, digits, '.', '_', '-', '/')") from None

    @property
    def base(self) -> str:
        """The endpoint without a trailing slash."""
        return str(self.endpoint).rstrip("/")

    def url(self, commit: str) -> str:
        """The file's `resolve` URL at `commit`."""
        return f"{self.base}/datasets/{self.repo}/resolve/{commit}/{self.path}"


class Pin(BaseModel):
    """What `revision` of `repo` at `endpoint` resolved to; `commit` is None when it was read from a mirror."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    repo: str
    revision: str
    commit: str | None = Field(pattern=COMMIT.pattern)

    @property
    def followed(self) -> tuple[str, str, str]:
        """What the pin resolved: (endpoint, repo, revision)."""
        return self.endpoint, self.repo, self.revision

    def follows(self, source: HubFile) -> bool:
        """True if this pin records `source`'s revision (same endpoint, repo and revision)."""
        return self.followed == (source.base, source.repo, source.revision)


def hub_source(dataset: str, root: Path | str = ".") -> HubFile:
    """The Hub file a dataset's params follow (its `download` section), or a clear error if it has none."""
    rel = layout.params_yaml(dataset)
    download = read_params_file(Path(root) / rel).get("download")
    if not isinstance(download, dict) or not {"repo", "revision"} <= set(download):
        raise DregError(f"{dataset} reads no Hugging Face Hub repo (no download.repo / download.revision in {rel})",
                        f"`dreg update` moves Hub pins: {', '.join(hub_datasets(root)) or 'no dataset has one'}")
    try:
        return HubFile.model_validate({k: v for k, v in download.items() if k in HubFile.model_fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "download." + ".".join(str(p) for p in err["loc"])
        raise DregError(f"{rel}: {where}: {err['msg'][:200]}", f"fix {where} in {rel}") from None


def hub_datasets(root: Path | str = ".") -> list[str]:
    """Pipelines whose download stage records a Hub pin (declares `pipelines/<dataset>/hub-pin.json` as an output)."""
    found = []
    for dataset in layout.pipeline_datasets(root):
        doc = load_yaml((Path(root) / layout.dvc_yaml(dataset)).read_text()) or {}
        outs = [o for stage in (doc.get("stages") or {}).values() for o in stage.get("outs") or []]
        if any(layout.hub_pin(dataset) in (o if isinstance(o, dict) else {o: None}) for o in outs):
            found.append(dataset)
    return found


def read_pin(dataset: str, root: Path | str = ".") -> Pin | None:
    """The recorded pin of `dataset`, or None when there is none (or it is unreadable: it is resolved again)."""
    path = Path(root) / layout.hub_pin(dataset)
    try:
        return Pin.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def write_pin(dataset: str, pin: Pin, root: Path | str = ".") -> None:
    """Record `pin` in `pipelines/<dataset>/hub-pin.json` (stable JSON, atomic)."""
    write_json(Path(root) / layout.hub_pin(dataset), pin.model_dump())


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: a network failure or a server error, never a 4xx answer."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, HfHubHTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    return not isinstance(exc, (DregError, ValueError, OfflineModeIsEnabled))


def resolve_revision(source: HubFile) -> str:
    """The commit `source.revision` names now, asked of the Hub API (retried on network and server errors)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    settings = get_settings()
    api = HfApi(endpoint=source.base)

    @retry(retry=retry_if_exception(_is_transient), stop=stop_after_attempt(settings.download_retries),
           wait=wait_exponential(multiplier=settings.download_backoff_s, max=30), reraise=True)
    def ask() -> str | None:
        return api.dataset_info(source.repo, revision=source.revision, timeout=settings.hub_timeout_s).sha

    what = f"revision {source.revision!r} of Hub dataset {source.repo} at {source.base}"
    try:
        sha = ask()
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DregError(f"cannot resolve {what}: HTTP {status}",
                        "check download.repo and download.revision (a branch, tag or commit) in params.yaml; "
                        "a private or gated repo needs HF_TOKEN") from None
    except Exception as exc:  # noqa: BLE001 - any network failure (httpx, TLS, offline mode) is one clear error
        raise DregError(f"cannot resolve {what}: {type(exc).__name__}",
                        "check the network or download.endpoint (or set DREG_MIRROR to read a local copy)") from None
    if not sha or not COMMIT.match(sha):
        raise DregError(f"cannot resolve {what}: the API answered no commit sha", "check download.endpoint")
    return sha


def resolve_pin(source: HubFile, offline: bool = False) -> Pin:
    """A fresh pin of `source`: its revision if that is a commit, else the commit the API names (None `offline`)."""
    if COMMIT.match(source.revision):
        commit: str | None = source.revision
    else:
        commit = None if offline else resolve_revision(source)
    return Pin(endpoint=source.base, repo=source.repo, revision=source.revision, commit=commit)


def pinned(dataset: str, source: HubFile) -> Pin:
    """The download stage's pin: the recorded one while it follows `source` (no API call), else resolved now and
    recorded. With `DREG_MIRROR` set nothing is asked of the Hub: an unrecorded branch or tag stays unresolved."""
    pin = read_pin(dataset)
    if pin is not None and pin.follows(source) and pin.commit:
        return pin
    pin = resolve_pin(source, offline=bool(get_settings().mirror))
    write_pin(dataset, pin)
    return pin


def update_pin(dataset: str, root: Path | str = ".") -> tuple[Pin | None, Pin]:
    """`dreg update`: resolve the dataset's revision through the Hub API now and record it; (old pin, new pin)."""
    source = hub_source(dataset, root)
    if dataset not in hub_datasets(root):
        raise DregError(f"{dataset}'s download stage records no Hub pin ({layout.hub_pin(dataset)} is not an output)",
                        "declare it as an output of the download stage (cache: false, persist: true)")
    old = read_pin(dataset, root)
    new = resolve_pin(source)
    if new != old:
        write_pin(dataset, new, root)
    return old, new


def hub_lineage(source: HubFile, record: dict[str, Any]) -> dict[str, Any]:
    """The `lineage.hub` block: repo, path, the commit read (`revision`) and the branch or tag followed (`ref`)."""
    return {"repo": source.repo, "revision": record.get("revision"), "path": source.path, "ref": source.revision}
