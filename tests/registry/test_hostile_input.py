"""Hostile input is refused in one bounded line before anything runs: alias bombs, bad params files, option
injection through settings and refs, junk settings."""

from __future__ import annotations

import pytest

from steps.dev.scaffold import Registry
from steps.kit.files import YamlTooLarge, load_yaml
from tests.support.registry import cli_env, local_registry, run_dreg, tags

pytestmark = pytest.mark.xdist_group("hostile-input")  # one worker: the tests share one registry (none changes it)

PARAMS = "pipelines/wine-quality/params.yaml"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, source_server) -> Registry:
    """One registry for the module: every case is refused before it changes anything (params are restored)."""
    return local_registry(tmp_path_factory.mktemp("hostile"), source_server)


@pytest.fixture
def registry(shared: Registry):
    params = shared.root / PARAMS
    original = params.read_bytes()
    yield shared
    params.write_bytes(original)
    (shared.root / "pipelines/wine-quality/dvc.lock").unlink(missing_ok=True)


@pytest.fixture
def dreg(registry: Registry):
    return lambda *args, **env: run_dreg(registry.root, *args, env=cli_env(**env))


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and len(stderr) < 500 and "unexpected" not in stderr and "Traceback" not in stderr, stderr
    return lines[0]


def test_alias_bomb_is_refused_before_it_expands():
    assert len(BOMB) < 1000
    with pytest.raises(YamlTooLarge):
        load_yaml(BOMB)
    assert load_yaml("base: &b {x: 1}\nuse: *b\n") == {"base": {"x": 1}, "use": {"x": 1}}


@pytest.mark.parametrize("lock", [False, True], ids=["no-lock", "with-lock"])
@pytest.mark.parametrize(("text", "message"), [
    (BOMB, "aliases expand beyond"),
    ("download:\n  sources: {}\nprocess: {seed: 1, val_fraction: 0.2}\n" + BOMB, "aliases expand beyond"),
    ("- a\n- b\n", "must be a mapping"),
    ("process: [unclosed\n", "is not valid YAML"),
    ("process: !!python/object/apply:os.system ['true']\n", "is not valid YAML"),
], ids=["bomb", "bomb-in-unused-key", "list", "invalid", "python-tag"])
def test_bad_params_file_is_one_line_naming_the_file(registry, dreg, text, message, lock):
    (registry.root / PARAMS).write_text(text)
    if lock:
        (registry.root / "pipelines/wine-quality/dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    line = one_line(dreg("run", "wine-quality").stderr)
    assert PARAMS in line and message in line
    assert tags(registry.root) == [] and not (registry.root / "data/wine-quality/raw").exists()


@pytest.mark.parametrize(("old", "new", "message"), [
    ("\nartifacts:\n", "\nx-artifacts:\n", "declares no artifact `wine-quality`"),
    ("schedule: weekly", "schedule: hourly", "schedule 'hourly' is not one of"),
], ids=["no-artifact", "bad-schedule"])
def test_a_pipeline_without_its_facts_is_refused_before_it_runs(registry, dreg, old, new, message):
    """The card needs the description and licence of dvc.yaml's `artifacts:` entry: checked before any stage."""
    dvc_yaml = registry.root / "pipelines/wine-quality/dvc.yaml"
    original = dvc_yaml.read_text()
    try:
        dvc_yaml.write_text(original.replace(old, new, 1))
        line = one_line(dreg("run", "wine-quality").stderr)
    finally:
        dvc_yaml.write_text(original)
    assert "pipelines/wine-quality/dvc.yaml" in line and message in line
    assert tags(registry.root) == [] and not (registry.root / "data/wine-quality/raw").exists()


@pytest.mark.parametrize(("var", "value"), [
    ("DREG_GIT_REMOTE", "--upload-pack=touch pwned;false"),
    ("DREG_RELEASE_BRANCH", "--delete"),
    ("DVC_REMOTE", "x; touch pwned"),
    ("PGVECTOR_PORT", "junk" * 1000),
])
def test_settings_reaching_commands_are_validated(registry, dreg, var, value):
    line = one_line(dreg("run", "wine-quality", "--push", **{var: value}).stderr)
    assert f"invalid setting {var}" in line and value[:200] not in line
    assert not (registry.root / "pwned").exists() and tags(registry.origin) == []


@pytest.mark.parametrize(("args", "message"), [
    (("show", "@1.0.0"), "bad reference"), (("show", "--", "--output=pwned@1"), "bad reference"),
    (("show", "a" * 5000), "bad reference"), (("run", "a" * 5000), "invalid dataset name"),
    (("diff", "wine-quality@--output=pwned", "wine-quality@1"), "bad reference"),
    (("diff", "--", "-x@1", "wine-quality@1"), "bad reference"),
], ids=["no-dataset", "option-ref", "huge-ref", "huge-name", "option-version", "dash-dataset"])
def test_names_and_refs_are_validated_before_git_sees_them(registry, dreg, args, message):
    line = one_line(dreg(*args).stderr)
    assert message in line
    assert not (registry.root / "pwned").exists()


def test_mlflow_answering_503_fails_fast_naming_it():
    """A tracking server that answers 503 is reported at once, not after minutes of MLflow retries."""
    import http.server
    import threading
    import time

    from steps.errors import DregError
    from steps.sources.prompts import check_reachable

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        with pytest.raises(DregError, match="answered HTTP 503"):
            check_reachable(f"http://127.0.0.1:{server.server_address[1]}")
        assert time.monotonic() - start < 5
    finally:
        server.shutdown()
