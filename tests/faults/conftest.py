"""Fault suite plumbing: a `fault` fixture that records each case's row, and the table printed at the end."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import RECORD_ENV, record


class Case:
    """One fault case: its name and how many reruns it took to converge."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tries = 0


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> Iterator[Case]:
    """Name the fault of this test (its docstring's first line); its row says whether every invariant held."""
    case = Case((request.function.__doc__ or request.node.name).strip().splitlines()[0].rstrip("."))
    yield case
    failed = getattr(request.node, "rep_call", None)
    record(case.name, case.tries, held=bool(failed) and not failed.failed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and RECORD_ENV not in os.environ:
        os.environ[RECORD_ENV] = tempfile.mkdtemp(prefix="dreg-faults-")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """`make faults`: the table of fault, tries (reruns to converge) and held."""
    if hasattr(config, "workerinput"):
        return
    rows = [json.loads(line) for f in sorted(Path(os.environ[RECORD_ENV]).glob("*.jsonl"))
            for line in f.read_text().splitlines()]
    if not rows:
        return
    width = max(len(r["fault"]) for r in rows)
    terminalreporter.section("faults")
    terminalreporter.write_line(f"{'fault':<{width}}  tries  held")
    for r in sorted(rows, key=lambda r: r["fault"]):
        terminalreporter.write_line(f"{r['fault']:<{width}}  {r['tries']:>5}  {'yes' if r['held'] else 'NO'}")
