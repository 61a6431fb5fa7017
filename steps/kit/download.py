"""Download a source file once, verified: retries with backoff, checksums, mirror, atomic rename."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from tenacity import RetryError, retry, retry_if_exception, stop_after_attempt, wait_exponential

from steps import layout
from steps.config import get_settings
from steps.errors import DregError
from steps.kit.digests import file_digests
from steps.kit.files import atomic_path, redact_url

SAMPLE_MARKER = ".sample"
CHUNK = 1 << 20


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _stream_url(url: str, dest: Path, headers: dict[str, str] | None = None) -> None:
    settings = get_settings()

    @retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(settings.download_retries),
        wait=wait_exponential(multiplier=settings.download_backoff_s, max=30),
        reraise=True,
    )
    def attempt() -> None:
        with requests.get(url, stream=True, timeout=(10, 60), headers=headers) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("Content-Length") or 0) or None
            with open(dest, "wb") as out, _progress() as progress:
                task = progress.add_task(Path(urlparse(url).path).name, total=total)
                for block in resp.iter_content(CHUNK):
                    out.write(block)
                    progress.advance(task, len(block))

    try:
        attempt()
    except (requests.RequestException, RetryError) as exc:
        raise DregError(
            f"cannot download {redact_url(url)}: {_reason(exc)}",
            "check the URL in params.yaml and your network, or set DREG_MIRROR to a local mirror",
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        transient=True,
    )


def local_mirror(dataset: str) -> tuple[Path, str] | None:
    """The dataset's folder in a local `DREG_MIRROR` and its kind (`mirror`, or `sample` for a demo mirror)."""
    mirror = get_settings().mirror
    if not mirror or "://" in mirror:
        return None
    root = Path(mirror)
    return root / dataset, "sample" if (root / SAMPLE_MARKER).exists() else "mirror"


def resolve_source(url: str, dataset: str) -> tuple[str, str]:
    """Where to fetch `url` from and its kind: `url`, `mirror` or `sample` (a demo mirror)."""
    mirror = get_settings().mirror
    if not mirror:
        return url, "url"
    name = Path(urlparse(url).path).name
    if "://" in mirror:
        return f"{mirror.rstrip('/')}/{dataset}/{name}", "mirror"
    folder, kind = local_mirror(dataset)  # type: ignore[misc]
    return str(folder / name), kind


def remote_validators(url: str, headers: dict[str, str] | None = None) -> dict[str, str | int]:
    """What a server says identifies its current file (HEAD): size, ETag, Last-Modified; {} if it says nothing."""
    try:
        resp = requests.head(url, timeout=(10, 30), headers=headers, allow_redirects=True)
        resp.raise_for_status()
    except requests.RequestException:
        return {}
    seen = {"etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified"),
            "remote_bytes": int(length) if (length := resp.headers.get("Content-Length", "")).isdigit() else None}
    return {k: v for k, v in seen.items() if v is not None}


def previous_record(dataset: str, url: str, dest: Path) -> dict[str, Any] | None:
    """The source record of `url` from the last download (sources.json), if `dest` still holds that file."""
    path = Path(layout.sources_json(dataset))
    try:
        records = json.loads(path.read_text()) if path.is_file() else []
    except ValueError:
        return None
    records = records.get("sources", []) if isinstance(records, dict) else []
    found = next((r for r in records if isinstance(r, dict) and r.get("url") == url), None)
    if not found or not dest.is_file() or file_digests(dest).get("sha256") != found.get("sha256"):
        return None
    return found


def unchanged_source(url: str, location: str, dataset: str, dest: Path, headers: dict[str, str] | None,
                     ) -> tuple[dict[str, Any] | None, dict[str, str | int]]:
    """For an unpinned source (no checksum): (the previous record when the server's size and ETag/Last-Modified
    still match it, else None; what the server reports now) — a change is noticed and downloaded again."""
    seen = remote_validators(location, headers)
    previous = previous_record(dataset, url, dest)
    if seen and previous and all(previous.get(k) == v for k, v in seen.items()):
        return previous, seen
    return None, seen


def fetch(
    url: str,
    dest: Path | str,
    *,
    dataset: str,
    md5: str | None = None,
    sha256: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str | int]:
    """Fetch `url` (or its mirror copy) to `dest`, verify checksums, and return its source record. An unpinned
    URL (no checksum) is re-checked on every run: its record keeps the server's validators, so a changed file
    is downloaded again and shows in `dreg diff`."""
    dest = Path(dest)
    location, kind = resolve_source(url, dataset)
    seen: dict[str, str | int] = {}
    if "://" in location and not (md5 or sha256):
        previous, seen = unchanged_source(url, location, dataset, dest, headers)
        if previous is not None:
            return previous
    with atomic_path(dest) as tmp:
        if "://" in location:
            _stream_url(location, tmp, headers)
        else:
            if not Path(location).is_file():
                raise DregError(f"mirror has no file {location}",
                                f"put {Path(location).name} there or unset DREG_MIRROR")
            shutil.copyfile(location, tmp)
        digests = file_digests(tmp)
        for algo, expected in (("md5", md5), ("sha256", sha256)):
            if expected and digests[algo] != expected.lower():
                raise DregError(
                    f"checksum mismatch for {url}: {algo} {digests[algo]} != expected {expected}",
                    "the source changed or is corrupt; "
                    "update the checksum in params.yaml only if the change is intended",
                )
        size = tmp.stat().st_size
    return {"url": url, "file": dest.name, "kind": kind, "bytes": size, **digests, **seen}
