"""`dreg`: the data-registry command line (Typer + Rich), a thin layer over the rooms below it and the client."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Annotated

import typer

from steps.cli import release
from steps.cli.access import get_command, ls_command
from steps.cli.add import add_command
from steps.cli.attest import attest_app
from steps.cli.catalog import catalog_app
from steps.cli.completion import install_completion_option, register, show_completion
from steps.cli.diff import diff_command
from steps.cli.doctor import doctor_command
from steps.cli.gc import gc_command
from steps.cli.handoff import handoff_app
from steps.cli.prompts import prompts_app
from steps.cli.search import search_command
from steps.cli.stages import history_command, promote_command
from steps.cli.update import update_command
from steps.errors import DregError
from steps.kit.stage import report_error

app = typer.Typer(
    name="dreg",
    help="Versioned datasets as DVC pipelines, released as immutable git tags.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,  # steps.cli.completion: bash and zsh scripts that complete `DATASET@` in bash too
)
register()


def show_version(value: bool) -> None:
    """`dreg --version`: the installed data-registry version."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"dreg {version('data-registry')}")
        except PackageNotFoundError:
            typer.echo("dreg (not installed: run `make venv`)")
        raise typer.Exit()


@app.callback()
def root_options(
    _version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                           help="Print the version and exit.")] = False,
    _install: Annotated[str | None, typer.Option(
        "--install-completion", metavar="bash|zsh", callback=install_completion_option,
        is_eager=True, help="Install completion for bash or zsh (then open a new shell).")] = None,
    _show: Annotated[str | None, typer.Option(
        "--show-completion", metavar="bash|zsh", callback=show_completion,
        is_eager=True, help="Print the completion script for bash or zsh.")] = None,
) -> None:
    """Versioned datasets as DVC pipelines, released as immutable git tags."""

app.command("list")(release.list_cmd)
app.command("stage")(release.stage_cmd)
app.command("run")(release.run_cmd)
app.command("publish")(release.publish_cmd)
app.command("show")(release.show_cmd)
app.command("verify")(release.verify_cmd)
app.command("update")(update_command)
app.command("croissant")(release.croissant_cmd)
app.command("add")(add_command)
app.command("diff")(diff_command)
app.command("search")(search_command)
app.command("get")(get_command)
app.command("ls")(ls_command)
app.command("promote")(promote_command)
app.command("history")(history_command)
app.command("gc")(gc_command)
app.command("doctor")(doctor_command)
app.add_typer(attest_app, name="attest")
app.add_typer(prompts_app, name="prompts")
app.add_typer(catalog_app, name="catalog")
app.add_typer(handoff_app, name="handoff", hidden=True)  # cluster plumbing: the Ray hand-off, not a user command


class Terminated(BaseException):
    """SIGINT, SIGTERM or SIGHUP, raised where the process is so that cleanup (`finally`, staging folders)
    runs as for ^C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_terminated(signum: int, _frame: object) -> None:
    """Signal handler: turn SIGTERM/SIGHUP into the Terminated exception."""
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise Terminated in the main thread: cleanup runs (a killed `dreg get` removes
    its staging folder) and the error line is printed (Typer turns a KeyboardInterrupt into a silent exit 130)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_terminated)


def main() -> None:
    """Console entry point: DregError → one line on stderr, exit 1; SIGTERM/SIGHUP clean up like SIGINT; the
    client's warnings (an unpinned signing key) one line each."""
    install_signal_handlers()
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"
    try:
        app()
    except DregError as exc:
        report_error(exc)
        sys.exit(1)
    except KeyboardInterrupt:
        report_error(DregError("interrupted", "nothing was published unless a tag was printed"))
        sys.exit(130)
    except Terminated as exc:
        what = "interrupted" if exc.signum == signal.SIGINT else f"terminated by {exc}"
        report_error(DregError(what, "nothing was published unless a tag was printed"))
        sys.exit(128 + exc.signum)
    except Exception as exc:
        if os.environ.get("DREG_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        report_error(DregError(f"unexpected {type(exc).__name__}: {first}", "rerun with DREG_DEBUG=1 for a traceback"))
        sys.exit(1)
