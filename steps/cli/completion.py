"""Shell completion for bash and zsh: the scripts `--show-completion` prints and `--install-completion` installs,
and the completion protocol behind them (bash splits `fashion-mnist@1.0` at `@`: candidates come back cut to match)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from typer._click.shell_completion import add_completion_class, split_arg_string
from typer._completion_classes import BashComplete, FishComplete, ZshComplete

SHELLS = ("bash", "zsh")
PROG = "dreg"
COMPLETE_VAR = "_DREG_COMPLETE"

BASH_SCRIPT = f"""\
_dreg_completion() {{
    local IFS=$'\\n'
    COMPREPLY=( $( env COMP_WORDS="${{COMP_WORDS[*]}}" COMP_CWORD="$COMP_CWORD" COMP_LINE="$COMP_LINE" \\
                   COMP_POINT="$COMP_POINT" COMP_WORDBREAKS="$COMP_WORDBREAKS" {COMPLETE_VAR}=complete_bash $1 ) )
    return 0
}}
complete -o default -F _dreg_completion {PROG}
"""

# An autoloadable completion function (`#compdef`, found on fpath by compinit) that also works when sourced.
ZSH_SCRIPT = f"""\
#compdef {PROG}
_dreg_completion() {{
  eval $(env _TYPER_COMPLETE_ARGS="${{words[1,$CURRENT]}}" {COMPLETE_VAR}=complete_zsh {PROG})
}}
if [[ "${{funcstack[1]}}" == "_{PROG}" ]]; then
  _dreg_completion "$@"
else
  compdef _dreg_completion {PROG}
fi
"""


class BashCompletion(BashComplete):
    """Bash: the words come from COMP_LINE up to the cursor (bash's own COMP_WORDS split `ds@1.0` into `ds`, `@`,
    `1.0`); each candidate loses what precedes the current word's last word-break character, as bash replaces
    only the text from there."""

    def get_completion_args(self) -> tuple[list[str], str]:
        """(arguments before the current word, the current word) as the user typed them."""
        if "COMP_LINE" not in os.environ:
            return super().get_completion_args()
        line = os.environ["COMP_LINE"][: int(os.environ.get("COMP_POINT") or len(os.environ["COMP_LINE"]))]
        words = split_arg_string(line)
        incomplete = "" if not line or line[-1].isspace() or len(words) < 2 else words.pop()
        return words[1:], incomplete

    def complete(self) -> str:
        """Candidates, one a line, cut where bash's word to replace starts."""
        args, incomplete = self.get_completion_args()
        values = [item.value for item in self.get_completions(args, incomplete)]
        return "\n".join(after_word_break(values, incomplete, os.environ.get("COMP_WORDBREAKS", "")))


def after_word_break(values: list[str], incomplete: str, breaks: str) -> list[str]:
    """`values` without the part of `incomplete` before its last character from `breaks` (bash's COMP_WORDBREAKS)
    and that character too, except `@` and `$`: readline keeps those in the word it replaces (rl_special_prefixes)."""
    at = max((incomplete.rfind(c) for c in set(breaks) - set(" \t\n\"'")), default=-1)
    cut = at if at >= 0 and incomplete[at] in "@$" else at + 1
    return [v[cut:] for v in values if v.startswith(incomplete[:cut])]


def register() -> None:
    """Make `_DREG_COMPLETE=complete_<shell>` answer through these classes (fish: Typer's own)."""
    add_completion_class(BashCompletion, "bash")
    add_completion_class(ZshComplete, "zsh")
    add_completion_class(FishComplete, "fish")


def completion_script(shell: str) -> str:
    """The completion script for `shell` (bash or zsh)."""
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell[:20]!r} is not supported: choose bash or zsh")
    return BASH_SCRIPT if shell == "bash" else ZSH_SCRIPT


def append_once(rc: Path, line: str) -> None:
    """Append `line` to the shell rc file `rc` unless it is already there."""
    text = rc.read_text() if rc.is_file() else ""
    if line not in text.splitlines():
        rc.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")


def install_completion(shell: str, home: Path) -> Path:
    """Write the script for `shell` under `home` and load it from the shell's rc file; return the script's path."""
    script = completion_script(shell)
    if shell == "bash":
        path = home / ".bash_completions" / f"{PROG}.sh"
        rc, line = home / ".bashrc", f"source '{path}'"
    else:
        path = home / ".zfunc" / f"_{PROG}"
        rc, line = home / ".zshrc", "fpath+=~/.zfunc; autoload -Uz compinit; compinit"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    append_once(rc, line)
    return path


def show_completion(value: str | None) -> None:
    """`--show-completion bash|zsh`: print the script."""
    if value is not None:
        typer.echo(completion_script(value), nl=False)
        raise typer.Exit()


def install_completion_option(value: str | None) -> None:
    """`--install-completion bash|zsh`: install the script for that shell."""
    if value is not None:
        path = install_completion(value, Path.home())
        typer.echo(f"{value} completion installed in {path}; it takes effect in a new shell")
        raise typer.Exit()
