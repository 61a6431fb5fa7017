"""`dreg prompts register|alias`: prompt templates as code, versioned in the MLflow Prompt Registry."""

from __future__ import annotations

from typing import Annotated

import typer

from steps.cli.output import make_console

console = make_console()
prompts_app = typer.Typer(help="Versioned prompt templates in the MLflow Prompt Registry.", no_args_is_help=True)


@prompts_app.command("register")
def register_command(
    names: Annotated[list[str] | None, typer.Argument(help="Prompt names (default: every prompts/*.yaml).")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Also point this alias at the version.")] = None,
) -> None:
    """Register prompts/<name>.yaml in MLflow; a new version only when the text changed."""
    from steps.cli.release import in_registry
    from steps.sources.prompts import prompt_files, read_prompt_file, redact, register, tracking_uri

    in_registry()
    uri = tracking_uri()
    for path in prompt_files(names):
        prompt = read_prompt_file(path)
        version, created = register(prompt, alias)
        state = "registered" if created else "unchanged"
        suffix = f", alias {alias}" if alias else ""
        console.print(f"{prompt.name}: version {version} ({state}{suffix}) in {redact(uri)}", soft_wrap=True)


@prompts_app.command("alias")
def alias_command(name: str, alias: str, version: int) -> None:
    """Point ALIAS of prompt NAME at VERSION."""
    from steps.config import get_settings
    from steps.sources.prompts import set_alias

    if not get_settings().mlflow_tracking_uri:
        from steps.cli.release import in_registry

        in_registry()  # the embedded store lives in the registry's .dreg/
    set_alias(name, alias, version)
    console.print(f"{name}@{alias} -> version {version}")
