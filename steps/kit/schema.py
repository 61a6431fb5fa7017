"""The schema gate: which version bump a change of a release's schema (metadata.json `schema`) needs.

Consumers break on removed or renamed features/columns and files, changed dtypes, shapes or other typing attributes,
and changed class encodings or label sets: those need a major bump. Added features, files or classes (appended, the
old encoding kept) need a minor bump; the same schema a patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RANK = {"patch": 0, "minor": 1, "major": 2}
INFORMATIVE = frozenset({"description", "doc", "stats"})  # attributes that describe, never type, a feature
ADDITIVE = ("classes", "encoding")  # attributes where appending keeps the old meaning


@dataclass(frozen=True)
class SchemaChange:
    """One change of the schema: where, what, and the bump it needs."""

    where: str
    what: str
    bump: str
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what} → {self.bump}"


def grows(old: Any, new: Any) -> bool:
    """True when `new` keeps all of `old` unchanged and adds to it (a list extended at its end, a dict with more
    keys and the same values)."""
    if isinstance(old, list) and isinstance(new, list):
        return len(new) > len(old) and new[:len(old)] == old
    if isinstance(old, dict) and isinstance(new, dict):
        return len(new) > len(old) and all(k in new and new[k] == v for k, v in old.items())
    return False


def attribute_changes(feature: str, old: dict[str, Any], new: dict[str, Any]) -> list[SchemaChange]:
    """Changes of one feature's attributes (dtype, shape, classes, encoding, ...)."""
    changes = []
    for key in sorted((set(old) | set(new)) - INFORMATIVE):
        if old.get(key) == new.get(key):
            continue
        where = f"features.{feature}.{key}"
        if key not in new:
            changes.append(SchemaChange(where, f"removed (was {short(old[key])})", "major", old[key]))
        elif key not in old:
            changes.append(SchemaChange(where, f"added {short(new[key])}", "major", None, new[key]))
        elif key in ADDITIVE and grows(old[key], new[key]):
            changes.append(SchemaChange(where, f"extended {short(old[key])} → {short(new[key])}", "minor",
                                        old[key], new[key]))
        else:
            changes.append(SchemaChange(where, f"changed {short(old[key])} → {short(new[key])}", "major",
                                        old[key], new[key]))
    return changes


def keyed_changes(section: str, old: dict[str, Any], new: dict[str, Any], noun: str) -> list[SchemaChange]:
    """Removed (major), added (minor) and changed entries of a name → description mapping."""
    changes = [SchemaChange(f"{section}.{name}", f"{noun} removed or renamed", "major", old[name])
               for name in sorted(set(old) - set(new))]
    changes += [SchemaChange(f"{section}.{name}", f"{noun} added", "minor", None, new[name])
                for name in sorted(set(new) - set(old))]
    for name in sorted(set(old) & set(new)):
        if isinstance(old[name], dict) and isinstance(new[name], dict):
            changes += attribute_changes(name, old[name], new[name])
        elif old[name] != new[name]:
            changes.append(SchemaChange(f"{section}.{name}", f"changed {short(old[name])} → {short(new[name])}",
                                        "major", old[name], new[name]))
    return changes


def schema_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[SchemaChange]:
    """Every change from schema `old` to schema `new` (their `features` and `files`), each with the bump it needs."""
    old, new = old or {}, new or {}
    return [*keyed_changes("features", old.get("features") or {}, new.get("features") or {}, "feature"),
            *keyed_changes("files", old.get("files") or {}, new.get("files") or {}, "file")]


def needed_bump(changes: list[SchemaChange]) -> str:
    """The smallest bump that covers every change (`patch` when there is none)."""
    return max((c.bump for c in changes), key=RANK.__getitem__, default="patch")


def short(value: Any, limit: int = 60) -> str:
    """A value for a one-line message, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
