"""Files written through the atomic-write helper get the mode a plain `open()` would (0666 less the umask), so a
web server running as another user can read the catalogue, cards and metadata."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from steps.kit.files import atomic_path, write_bytes

WRITE = ("import sys; from steps.kit.files import write_bytes, write_json, atomic_path; "
         "write_bytes(sys.argv[1] + '/page.html', b'<p>hi</p>'); write_json(sys.argv[1] + '/meta/m.json', {'a': 1}); "
         "cm = atomic_path(sys.argv[1] + '/table.csv'); tmp = cm.__enter__(); tmp.write_text('a\\n1\\n'); "
         "cm.__exit__(None, None, None)")


def modes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize(("umask", "mode"), [("022", 0o644), ("077", 0o600), ("002", 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path: Path, umask: str, mode: int) -> None:
    subprocess.run(["sh", "-c", f'umask {umask} && exec "$0" -c "$1" "$2"', sys.executable, WRITE, str(tmp_path)],
                   check=True, cwd=Path(__file__).parents[2])
    assert modes(tmp_path) == {"page.html": mode, "meta/m.json": mode, "table.csv": mode}


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), atomic_path(tmp_path / "x") as tmp:
        tmp.write_bytes(b"half")
        raise ZeroDivisionError
    assert list(tmp_path.iterdir()) == []
    write_bytes(tmp_path / "x", b"whole")
    assert (tmp_path / "x").read_bytes() == b"whole"
