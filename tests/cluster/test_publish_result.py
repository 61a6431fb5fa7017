"""The publish step's output `tag` (`dreg publish --result`): the release it made, and on a retry of a publish
that already pushed (a pod killed after its push) the same tag again, never a second release."""

from __future__ import annotations

from pathlib import Path

from tests.support.registry import tags


def test_a_repeated_publish_reports_the_tag_the_first_one_made(registry, dreg, tmp_path: Path) -> None:
    assert dreg("run", "wine-quality", "--no-publish").returncode == 0
    first, again = tmp_path / "first", tmp_path / "again"
    made = dreg("publish", "wine-quality", "--push", "--result", str(first))
    assert made.returncode == 0, made.stderr
    assert first.read_text() == "wine-quality-v1.0.0" and tags(registry.root) == ["wine-quality-v1.0.0"]
    retried = dreg("publish", "wine-quality", "--push", "--result", str(again))
    assert retried.returncode == 0, retried.stderr
    assert again.read_text() == first.read_text()
    assert tags(registry.root) == ["wine-quality-v1.0.0"]
