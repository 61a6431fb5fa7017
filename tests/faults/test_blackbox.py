"""Faults found outside the suite (black-box runs of the real `dreg`): each is refused in one plain line, leaves
nothing behind, and reports only what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreg_client import Registry as Client
from dreg_client import RemoteNotConfigured
from steps.catalog.source import parse_metadata
from steps.dev.scaffold import Registry
from tests.faults.support import git, ref_map
from tests.support.registry import VENV_BIN, cli_env, run_dreg, tags

CURATED = "notes"
MARKUP_NAME = "[link=click]click.txt"


def dreg(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_dreg(root, *args, env=cli_env(**env), timeout=300)


def one_line(stderr: str) -> str:
    """The only line of a refusal: bounded, no traceback, no 'unexpected' error."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and len(stderr) < 600 and "unexpected" not in stderr and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture
def released(registry: Registry, tmp_path: Path) -> Registry:
    """A registry whose curated dataset `notes` v1.0.0 (a CSV and a file named like Rich markup) is on origin."""
    files = tmp_path / "files"
    files.mkdir()
    (files / "table.csv").write_text("a,b\n1,2\n3,4\n")
    (files / MARKUP_NAME).write_text("plain\n")
    added = dreg(registry.root, "add", CURATED, str(files / "table.csv"), str(files / MARKUP_NAME), "--new", "--push")
    assert added.returncode == 0, added.stderr
    return registry


def staging_left(folder: Path) -> list[str]:
    return [p.name for p in folder.glob(".dreg-get-*")]


def test_mirror_password_never_printed(registry, fault):
    """A password in DREG_MIRROR printed in a failed download's error line."""
    proc = dreg(registry.root, "run", "wine-quality", DREG_MIRROR="http://user:S3CRETpw@127.0.0.1:9/")
    assert proc.returncode != 0
    assert "S3CRETpw" not in proc.stdout + proc.stderr
    assert "cannot download http://127.0.0.1:9/wine-quality/" in proc.stderr


@pytest.mark.parametrize("path", ["../../pipelines", "processed/..", "..", "/", "/etc"])
def test_get_path_is_confined_to_the_dataset(released, tmp_path, fault, path):
    """`dreg get DATASET@V PATH` leaving the dataset's folder."""
    fault.name = f"dreg get PATH {path!r} leaving the dataset"
    out = tmp_path / "out"
    out.mkdir()
    proc = dreg(released.root, "get", f"{CURATED}@1.0.0", path, "-o", str(out), "--force")
    assert proc.returncode == 1
    assert "leaves the dataset's folder" in one_line(proc.stderr)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("path", ["..", "/", "../notes", "/etc"])
def test_ls_path_is_confined_to_the_dataset(released, fault, path):
    """`dreg ls DATASET@V PATH` leaving the dataset's folder."""
    fault.name = f"dreg ls PATH {path!r} leaving the dataset"
    proc = dreg(released.root, "ls", f"{CURATED}@1.0.0", path)
    assert proc.returncode == 1 and "leaves the dataset's folder" in one_line(proc.stderr)


def test_dot_path_is_the_whole_dataset(released, tmp_path, fault):
    """`.` as PATH of `dreg get`/`dreg ls`: the whole dataset, as with no PATH."""
    out = tmp_path / "out"
    proc = dreg(released.root, "get", f"{CURATED}@1.0.0", ".", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / CURATED / "table.csv").read_text() == "a,b\n1,2\n3,4\n" and staging_left(out) == []
    listed = dreg(released.root, "ls", f"{CURATED}@1.0.0", ".")
    assert listed.returncode == 0 and listed.stdout == dreg(released.root, "ls", f"{CURATED}@1.0.0").stdout


def test_sigterm_during_get_removes_its_staging_folder(released, tmp_path, fault):
    """SIGTERM during `dreg get` leaving a `.dreg-get-*` folder with partial data."""
    out = tmp_path / "out"
    script = (  # the CLI's own handlers; the process signals itself after the first file is written
        "import os, signal, sys\n"
        "from steps.cli import Terminated, install_signal_handlers\n"
        "from steps.refs.handle import open_registry\n"
        "install_signal_handlers()\n"
        f"with open_registry(None, {str(released.root)!r}) as reg:\n"
        f"    release = reg.resolve('{CURATED}@1.0.0')\n"
        "    try:\n"
        f"        reg.download(release, '', {str(out)!r}, on_file=lambda f: os.kill(os.getpid(), signal.SIGTERM))\n"
        "    except Terminated:\n"
        "        sys.exit(143)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=released.root, env=cli_env(), capture_output=True,
                          check=False,
                          text=True, timeout=300)
    assert proc.returncode == 143, proc.stderr
    assert list(out.iterdir()) == []


def test_stale_staging_folder_is_removed_by_the_next_get(released, tmp_path, fault):
    """A `.dreg-get-*` folder left by a killed download never removed."""
    out = tmp_path / "out"
    stale, fresh = out / ".dreg-get-notes-dead", out / ".dreg-get-notes-running"
    for folder in (stale, fresh):
        (folder / "notes").mkdir(parents=True)
        (folder / "notes" / "partial.csv").write_text("a,b\n")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    proc = dreg(released.root, "get", f"{CURATED}@1.0.0", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert staging_left(out) == [fresh.name]  # a recent one may be a download still running
    assert (out / CURATED / "table.csv").read_text() == "a,b\n1,2\n3,4\n"


BAD_NAME = os.fsdecode(b"bad\xff\xfename.txt")  # not UTF-8: read back from git with surrogate escapes


def test_get_of_a_non_utf8_file_name_does_not_hang(released, tmp_path, fault):
    """`dreg get` of a non-UTF-8 file name hanging (DVC's git reader thread dies on it)."""
    (released.root / "data" / CURATED / BAD_NAME).write_bytes(b"raw\n")
    git(released.root, "add", "-f", "--", f"data/{CURATED}")
    git(released.root, "commit", "-q", "-m", "a file whose name is not UTF-8")
    git(released.root, "tag", "-a", f"{CURATED}-v1.0.1", "-m", "hand-made release")
    out = tmp_path / "out"
    whole = dreg(released.root, "get", f"{CURATED}@1.0.1", "-o", str(out))  # the hang guard: 300 s
    assert whole.returncode == 0, whole.stderr
    assert (out / CURATED / BAD_NAME).read_bytes() == b"raw\n" and staging_left(out) == []
    one = dreg(released.root, "get", f"{CURATED}@1.0.1", BAD_NAME, "-o", str(out))
    assert one.returncode == 0, one.stderr
    assert (out / BAD_NAME).read_bytes() == b"raw\n" and staging_left(out) == []
    assert "bad\\xff\\xfename.txt" in one.stdout  # printed escaped, never as raw bytes
    assert "bad\\xff\\xfename.txt" in dreg(released.root, "ls", f"{CURATED}@1.0.1").stdout


@pytest.mark.parametrize(("kind", "config"), [
    ("syntax", b"[core\n"), ("schema", b"[core]\n    remote = local\n    bogus = 1\n"), ("binary", b"\xff\xfe\n"),
], ids=["syntax", "schema", "binary"])
def test_invalid_dvc_config_at_a_tag_is_named(released, tmp_path, fault, kind, config):
    """An invalid `.dvc/config` at a tag read as 'unexpected ConfigError'."""
    fault.name = f"invalid .dvc/config at a tag ({kind}) read as an unexpected error"
    (released.root / ".dvc" / "config").write_bytes(config)
    git(released.root, "commit", "-q", "-am", "a broken DVC config")
    git(released.root, "tag", "-a", f"{CURATED}-v1.0.1", "-m", "hand-made release")
    git(released.root, "push", "-q", "origin", f"{CURATED}-v1.0.1")
    out = tmp_path / "out"
    for args in (("get", f"{CURATED}@1.0.1", "-o", str(out)), ("ls", f"{CURATED}@1.0.1"),
                 ("ls", f"{CURATED}@1.0.1", "--repo", str(released.origin))):
        proc = dreg(released.root, *args)
        assert proc.returncode == 1 and ".dvc/config is invalid" in one_line(proc.stderr), args
    assert not out.exists() or list(out.iterdir()) == []
    with Client.open(released.root) as reg, pytest.raises(RemoteNotConfigured, match=r"\.dvc/config is invalid"):
        reg.read_data(reg.resolve(f"{CURATED}@1.0.1"), "table.csv")


@pytest.mark.parametrize(("content", "message"), [
    (b"a,b,c\n1,2,3\n4,5\n", "row 3 has 2 fields, the header has 3"),
    (b'a,b\n"1,2\n3,4\n5,6\n', "a quoted field is never closed"),
    (b"a,b\n1,\xff\xfe\n", "not a UTF-8 CSV file"),
], ids=["short-row", "unterminated-quote", "not-utf8"])
def test_add_refuses_a_csv_the_client_could_not_read(registry, tmp_path, fault, content, message):
    """`dreg add` releasing a broken CSV."""
    fault.name = f"dreg add of a broken CSV: {message}"
    bad = tmp_path / "broken.csv"
    bad.write_bytes(content)
    proc = dreg(registry.root, "add", "broken", str(bad), "--new")
    assert message in one_line(proc.stderr) and proc.returncode == 1
    assert tags(registry.root) == [] and not (registry.root / "data/broken").exists()


def test_name_ending_in_newline_is_refused_before_anything(registry, tmp_path, fault):
    """A dataset name ending in a newline passing validation."""
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    head = git(registry.root, "rev-parse", "HEAD")
    proc = dreg(registry.root, "add", "newds\n", str(data), "--new")
    assert proc.returncode == 1 and "invalid dataset name" in proc.stderr
    assert git(registry.root, "rev-parse", "HEAD") == head and tags(registry.root) == []
    assert not list((registry.root / "data").glob("newds*"))


@pytest.mark.parametrize("name", ["notes:v1", "a b", "a~1", "a^b", "a..b", "Notes", "a_b", "a/b", "x" * 65])
def test_name_invalid_for_a_tag_is_refused_before_anything(registry, tmp_path, fault, name):
    """A dataset name that is not a valid tag component (`:`, `~`, space, ...) reaching git."""
    fault.name = f"dreg add of a dataset named {name[:12]!r}"
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    heads = git(registry.root, "rev-parse", "HEAD"), git(registry.origin, "rev-parse", "main")
    proc = dreg(registry.root, "add", name, str(data), "--new", "--push")
    assert proc.returncode == 1 and "invalid dataset name" in one_line(proc.stderr)
    assert (git(registry.root, "rev-parse", "HEAD"), git(registry.origin, "rev-parse", "main")) == heads
    assert tags(registry.root) == tags(registry.origin) == [] and sorted(registry.remote.iterdir()) == []


@pytest.mark.parametrize("args", [
    ("add", "x", "/no/such/[/x]/a.csv", "--new"),
    ("ls", "wine-quality@1", "--repo", "/no/such/[/bold]repo"),
    ("get", "wine-quality@1", "[/x]", "--repo", "[red]"),
], ids=["path", "repo", "get-path"])
def test_markup_in_user_input_is_printed_as_text(registry, fault, args):
    """User input with Rich markup (`[/x]`) turning an error into a traceback."""
    fault.name = f"Rich markup in {args[0]} input"
    line = one_line(dreg(registry.root, *args).stderr)
    assert line.startswith("error:") and any(a in line for a in args if "[" in a)  # the markup, literally


def test_ls_prints_file_names_as_text(released, fault):
    """`dreg ls` rendering file names as Rich markup."""
    proc = dreg(released.root, "ls", f"{CURATED}@1.0.0")
    assert proc.returncode == 0, proc.stderr
    assert MARKUP_NAME in proc.stdout and "\x1b]8;" not in proc.stdout


def test_catalog_repo_option_is_never_an_option(registry, tmp_path, fault):
    """`dreg catalog build --repo` passing an option-like value to git."""
    proc = dreg(registry.root, "catalog", "build", "-o", str(tmp_path / "site"), "--repo=--upload-pack=touch pwned")
    assert proc.returncode == 1 and one_line(proc.stderr)
    assert not (registry.root / "pwned").exists() and not (tmp_path / "site" / "index.html").exists()


def test_search_does_not_echo_a_huge_table_name(registry, fault):
    """`dreg search --table` echoing a 100 KB name."""
    line = one_line(dreg(registry.root, "search", "query", "--table", "T" * 100_000).stderr)
    assert "invalid table name" in line


def test_huge_params_file_is_refused_before_parsing(registry, fault):
    """A 22 MB params.yaml parsed for minutes."""
    params = registry.root / "pipelines/wine-quality/params.yaml"
    params.write_text(params.read_text() + "".join(f"k{n}: {n}\n" for n in range(2_000_000)))
    line = one_line(dreg(registry.root, "run", "wine-quality").stderr)
    assert "pipelines/wine-quality/params.yaml" in line and "MiB limit" in line
    assert tags(registry.root) == []


def test_binary_env_file_is_named(released, tmp_path, fault):
    """A binary `.env.local` giving 'unexpected UnicodeDecodeError'."""
    before = tags(released.root)
    (released.root / ".env.local").write_bytes(b"DREG_MIRROR=\xff\xfe\x00\n")
    listed = dreg(released.root, "list", "--json")  # reads git refs only: the settings are never loaded
    assert listed.returncode == 0 and CURATED in listed.stdout, listed.stderr
    for args in (("get", f"{CURATED}@1.0.0", "-o", str(tmp_path / "out")), ("run", "wine-quality"),
                 ("promote", f"{CURATED}@1.0.0", "--to", "prod")):
        proc = dreg(released.root, *args)
        line = one_line(proc.stderr)
        assert proc.returncode == 1 and ".env.local" in line and "not UTF-8" in line, args
    assert tags(released.root) == before and not (tmp_path / "out").exists()


def refusing_hook(origin: Path, marker: Path, seconds: int = 0) -> None:
    """A pre-receive hook on origin that touches `marker`, waits `seconds` and refuses the push."""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep {seconds}\necho 'refused by policy' >&2\nexit 1\n")
    hook.chmod(0o755)


def test_tag_is_reported_only_after_origin_holds_it(registry, tmp_path, fault):
    """`--push` printing 'tagged … at …' before the push to origin."""
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    refusing_hook(registry.origin, tmp_path / "pushed")
    refused = dreg(registry.root, "add", "late", str(data), "--new", "--push")
    assert refused.returncode == 1 and "refused by policy" in refused.stderr
    assert "tagged" not in refused.stdout and tags(registry.origin) == []
    (registry.origin / "hooks" / "pre-receive").unlink()
    done = dreg(registry.root, "add", "late", str(data), "--new", "--push")
    assert done.returncode == 0, done.stderr
    assert "tagged late-v1.0.0" in done.stdout and "pushed it to origin" in done.stdout
    assert tags(registry.origin) == ["late-v1.0.0"]


def interrupt_during_push(root: Path, origin: Path, marker: Path, sig: int, *args: str) -> tuple[int, str]:
    """Run `dreg args`, send `sig` while origin's hook holds its push; (exit status, stderr)."""
    refusing_hook(origin, marker, seconds=20)
    proc = subprocess.Popen([str(Path(VENV_BIN) / "dreg"), *args], cwd=root, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    (origin / "hooks" / "pre-receive").unlink()
    return proc.returncode, err


def test_sigint_during_release_push_says_so(registry, tmp_path, fault):
    """SIGINT during the release push exiting 130 with no error line."""
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n")
    code, err = interrupt_during_push(registry.root, registry.origin, tmp_path / "pushing", signal.SIGINT,
                                      "add", "held", str(data), "--new", "--push")
    assert code == 130 and "interrupted" in err, (code, err)
    assert tags(registry.origin) == []


def test_promotion_killed_during_its_push_is_not_kept_here(released, tmp_path, fault):
    """SIGTERM between a promotion's local tag and its push."""
    code, err = interrupt_during_push(released.root, released.origin, tmp_path / "pushing", signal.SIGTERM,
                                      "promote", f"{CURATED}@1.0.0", "--to", "prod")
    assert code == 128 + signal.SIGTERM and "terminated by SIGTERM" in err, err
    assert not [t for t in ref_map(released.root) if "#" in t] and not [t for t in ref_map(released.origin) if "#" in t]
    stage = dreg(released.root, "get", f"{CURATED}@prod", "-o", str(tmp_path / "out"))
    assert stage.returncode == 1


def promotions_seen(root: Path, tmp_path: Path) -> tuple[list[str], str, int]:
    """What this clone reports of `notes`'s promotions: (its promotion tags, `dreg history`, `get @prod` status)."""
    history = dreg(root, "history", CURATED).stdout
    stage = dreg(root, "get", f"{CURATED}@prod", "-o", str(tmp_path / "stage"), "--force").returncode
    return sorted(t for t in ref_map(root) if "#" in t), history, stage


def test_promotion_killed_during_its_push_leaves_no_local_promotion(released, tmp_path, fault):
    """kill -9 between a promotion's local tag and its push (list, history and @stage reported it)."""
    code, _ = interrupt_during_push(released.root, released.origin, tmp_path / "pushing", signal.SIGKILL,
                                    "promote", f"{CURATED}@1.0.0", "--to", "prod")
    assert code == -signal.SIGKILL
    tags_here, history, stage = promotions_seen(released.root, tmp_path)
    assert tags_here == [] and "prod" not in history and stage == 1
    assert "prod" not in dreg(released.root, "list").stdout
    assert not [t for t in ref_map(released.origin) if "#" in t]


def test_promotion_killed_after_its_push_is_fetched_by_the_next(released, tmp_path, fault):
    """kill -9 after a promotion's push, before this clone records it: the next promotion sees it."""
    killed = dreg(released.root, "promote", f"{CURATED}@1.0.0", "--to", "prod", DREG_FAULT_POINT="promotion-pushed")
    assert killed.returncode == -signal.SIGKILL
    assert [t for t in ref_map(released.origin) if "#" in t] == [f"{CURATED}#prod#1"]
    assert not [t for t in ref_map(released.root) if "#" in t]  # nothing origin lacks, only what it has not fetched
    again = dreg(released.root, "promote", f"{CURATED}@1.0.0", "--to", "prod")
    assert again.returncode == 0, again.stderr
    here = {t: o for t, o in ref_map(released.root).items() if "#" in t}
    assert here == {t: o for t, o in ref_map(released.origin).items() if "#" in t} and len(here) == 2
    _, history, stage = promotions_seen(released.root, tmp_path)
    assert "prod" in history and stage == 0


def test_promote_to_a_missing_git_remote_is_refused(released, fault):
    """`DREG_GIT_REMOTE` naming a missing remote: `dreg promote` succeeding locally."""
    proc = dreg(released.root, "promote", f"{CURATED}@1.0.0", "--to", "prod", DREG_GIT_REMOTE="upstream")
    assert proc.returncode == 1 and "no git remote 'upstream'" in one_line(proc.stderr)
    assert not [t for t in ref_map(released.root) if "#" in t]


def test_deeply_nested_metadata_does_not_fail_the_catalogue(fault):
    """A deeply nested metadata.json failing the whole catalogue (RecursionError)."""
    assert parse_metadata("[" * 200_000 + "]" * 200_000) == {}
    assert parse_metadata('{"a": ' * 100_000 + "1" + "}" * 100_000) == {}
    assert parse_metadata('{"num_samples": 3}') == {"num_samples": 3}
