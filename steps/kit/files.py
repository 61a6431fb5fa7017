"""Files the registry writes and reads: atomic writes (a reader sees the old file or the complete new one) and YAML."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C loader: dvc.lock parsing is on the no-op path
MAX_YAML_BYTES = 4 << 20  # a params/dvc file is kilobytes; a 22 MB one would be parsed for minutes
MAX_YAML_NODES = 100_000  # what a document may expand to through aliases (an 800-byte alias bomb is billions)


class YamlTooLarge(yaml.YAMLError):
    """A YAML document larger than MAX_YAML_BYTES or whose aliases expand beyond MAX_YAML_NODES nodes."""


def redact_url(url: str) -> str:
    """A URL safe to print: user info (a password) and query removed; anything else unchanged."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?", 1)[0]
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment=""))


def file_mode() -> int:
    """The mode `open()` gives a new file under the current umask (0o666 & ~umask, e.g. 0644 under umask 022)."""
    umask = os.umask(0o022)  # reading the umask means setting it: set it straight back
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = file_mode()  # once per process (the umask is process-wide and set before anything is written)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds, with the mode a
    plain `open()` would give it (mkstemp's 0600 would hide the site, cards and data from a web server)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def dumps_json(obj: Any) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path | str, obj: Any) -> None:
    """Write `obj` as stable JSON to `path` atomically."""
    write_bytes(path, dumps_json(obj).encode())


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (the one YAML reader of the project); huge documents and alias bombs are refused
    before parsing."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlTooLarge(f"document of {len(text):,} characters is over the {MAX_YAML_BYTES >> 20} MiB limit")
    if "*" in text:
        check_expansion(text)
    return yaml.load(text, Loader=Loader)


def check_expansion(text: str, limit: int = MAX_YAML_NODES) -> None:
    """Raise YamlTooLarge when the document's aliases would expand it beyond `limit` nodes (one event pass)."""
    sizes: dict[str, int] = {}
    starts: list[tuple[str | None, int]] = []
    total = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            total += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            total += 1
            starts.append((event.anchor, total))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start = starts.pop()
            if anchor:
                sizes[anchor] = total - start + 1
        if total > limit:
            raise YamlTooLarge(f"aliases expand beyond {limit} nodes (an alias bomb?)")
