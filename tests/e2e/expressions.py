"""Argo's three small languages, as the rendered templates use them: `{{...}}` tags with `{{=expr}}`
expressions (expr-lang), `when`/`depends` conditions, and resource success/failure conditions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
NAME = re.compile(r"(?<![\w.'\"])((?:inputs|workflow|tasks|steps|item|outputs)(?:\.[\w-]+)*)")


class ExpressionError(ValueError):
    """A tag or condition this interpreter cannot resolve (names the expression)."""


STRING = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def _code(part: str) -> str:
    """expr-lang → Python outside string literals: names, `&&`/`||`/`!`, true/false."""
    out = NAME.sub(lambda m: f"V[{m.group(1)!r}]", part)
    out = out.replace("&&", " and ").replace("||", " or ")
    out = re.sub(r"!(?!=)", " not ", out)
    return re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", out))


def _python(expr: str, scope: Mapping[str, str]) -> str:
    """expr-lang → a Python expression over `V` (the scope), with `a ? b : c` as a conditional expression."""
    pieces = STRING.split(expr.strip())
    out = "".join(piece if i % 2 else _code(piece) for i, piece in enumerate(pieces))
    ternary = re.fullmatch(r"(.+?)\s\?\s(.+?)\s:\s(.+)", out, re.DOTALL)
    if ternary:
        out = f"({ternary.group(2)}) if ({ternary.group(1)}) else ({ternary.group(3)})"
    return out


def evaluate(expr: str, scope: Mapping[str, str]) -> Any:
    """The value of an `{{= ...}}` expression."""
    code = _python(expr, scope)
    try:
        return eval(code, {"__builtins__": {}, "int": int, "float": float}, {"V": scope})
    except KeyError as exc:
        raise ExpressionError(f"{expr!r}: unknown name {exc}") from None
    except Exception as exc:  # noqa: BLE001
        raise ExpressionError(f"{expr!r}: {exc}") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(text: str, scope: Mapping[str, str]) -> str:
    """Replace every `{{tag}}` / `{{=expr}}` in `text` from `scope` (flat names as Argo spells them)."""

    def one(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag.startswith("="):
            return _text(evaluate(tag[1:], scope))
        if tag not in scope:
            raise ExpressionError(f"unresolved {{{{{tag}}}}}")
        return scope[tag]

    return TAG.sub(one, text)


def substitute_obj(obj: Any, scope: Mapping[str, str]) -> Any:
    if isinstance(obj, str):
        return substitute(obj, scope)
    if isinstance(obj, dict):
        return {k: substitute_obj(v, scope) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute_obj(v, scope) for v in obj]
    return obj


GOVALUATE = re.compile(
    r"\s*(?:(?P<string>'[^']*'|\"[^\"]*\")|(?P<number>[0-9][0-9.]*)|(?P<word>[A-Za-z_][\w.]*)"
    r"|(?P<op>==|!=|>=|<=|=~|!~|&&|\|\||\*\*|<<|>>|\?\?|[-+*/%<>!()&|^~?:,]))"
)
ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "**": "**"}
UNSUPPORTED = ("=~", "!~", "<<", ">>", "??", "&", "|", "^", "~", "?", ":", ",")


class Word(str):
    """A govaluate string operand: only `+` (concatenation) and comparisons; arithmetic on it is an error."""

    def _refuse(self, *_: object) -> Any:
        raise TypeError(f"value {str(self)!r} cannot be used with an arithmetic operator, it is not a number")

    __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = _refuse


def govaluate_tokens(condition: str) -> list[tuple[str, str]]:
    """(kind, text) tokens as govaluate lexes them; a `-` is the minus operator, never part of a word."""
    tokens, pos = [], 0
    while pos < len(condition.rstrip()):
        m = GOVALUATE.match(condition, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"Invalid 'when' expression {condition!r}: invalid token at {condition[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def when(condition: str) -> bool:
    """A substituted `when` as Argo evaluates it with govaluate: bare words become strings (Argo turns variables
    into strings), `-`/`+`/`*`... are arithmetic (so `a-b` is a subtraction, an error on words), comparisons,
    `&&`, `||`, `!`, parens; the result must be a boolean."""
    parts = []
    for kind, token in govaluate_tokens(condition):
        if kind == "string":
            parts.append(f"Word({token[1:-1]!r})")
        elif kind == "number":
            try:
                parts.append(repr(float(token)))
            except ValueError:
                raise ExpressionError(f"Invalid 'when' expression {condition!r}: bad number {token!r}") from None
        elif kind == "word":
            parts.append({"true": "True", "false": "False"}.get(token, f"Word({token!r})"))
        elif token in UNSUPPORTED:
            raise ExpressionError(f"Invalid 'when' expression {condition!r}: operator {token!r} is not supported here")
        else:
            parts.append({"&&": " and ", "||": " or ", "!": " not "}.get(token, ARITHMETIC.get(token, token)))
    try:
        result = eval(" ".join(parts), {"__builtins__": {}}, {"Word": Word})
    except Exception as exc:  # noqa: BLE001
        raise ExpressionError(f"cannot evaluate when: {condition!r} ({exc})") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for {condition!r}. Got {result!r}")
    return result


PHASES = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned")


def depends(expression: str, phases: Mapping[str, str]) -> bool:
    """Argo's `depends`: `a`, `a.Succeeded`, `a.Failed`, `(a || b.Skipped) && !c.Failed`..."""

    def task(match: re.Match[str]) -> str:
        name, result = match.group(1), match.group(2)
        if name not in phases:
            raise ExpressionError(f"depends names unknown task {name!r}")
        phase = phases[name]
        if result is None:
            return repr(phase in ("Succeeded", "Skipped", "Daemoned"))
        if result == "AnySucceeded":
            return repr(phase == "Succeeded")
        if result == "AllFailed":
            return repr(phase in ("Failed", "Errored"))
        return repr(phase == result)

    code = re.sub(r"([A-Za-z0-9_-]+)(?:\.(\w+))?", task, expression)
    code = code.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    return bool(eval(code, {"__builtins__": {}}, {}))


REQUIREMENT = re.compile(r"^\s*([\w.\[\]-]+)\s*(==|=|!=|>|<|\s+in\s+|\s+notin\s+)\s*(.+?)\s*$")


def _field(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def resource_condition(condition: str, obj: Mapping[str, Any], any_of: bool = False) -> bool:
    """Argo's resource condition (label-selector syntax) against the object's fields: a success condition needs every
    comma-separated requirement; Argo's executor fails the step on ANY failure requirement (`any_of=True`)."""
    requirements = re.split(r",(?![^()]*\))", condition)
    if any_of:
        return any(resource_condition(requirement, obj) for requirement in requirements)
    for requirement in requirements:
        m = REQUIREMENT.match(requirement)
        if not m:
            raise ExpressionError(f"cannot parse resource condition {requirement!r}")
        key, op, raw = m.group(1), m.group(2).strip(), m.group(3)
        value = _field(obj, key)
        actual = None if value is None else _text(value)
        if op in ("in", "notin"):
            options = [v.strip() for v in raw.strip("()").split(",")]
            ok = (actual in options) if op == "in" else (actual not in options)
        elif op in ("==", "="):
            ok = actual == raw
        elif op == "!=":
            ok = actual != raw
        else:
            try:
                ok = float(actual or "nan") > float(raw) if op == ">" else float(actual or "nan") < float(raw)
            except ValueError:
                ok = False
        if not ok:
            return False
    return True
