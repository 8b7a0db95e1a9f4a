"""The one jinja2 environment etcdops renders with: sandboxed, StrictUndefined.

Two modes:
- shell mode: every ``{{ expression }}`` is shell-quoted as it is written into the
  command (``finalize``), so a value can never become shell syntax. ``| raw`` opts
  out for values the runbook author built from trusted pieces.
- text mode (files): values are written as they are.

Secrets are ``Secret`` objects: they print as ``***`` unless rendering runs inside
``revealed()``; a command is rendered twice, once for display and once to run.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import shlex
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from etcdops.errors import RenderError

MASK = "***"
_reveal: contextvars.ContextVar[bool] = contextvars.ContextVar("reveal", default=False)


class Secret:
    """A value that prints as *** everywhere except inside ``revealed()``."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return self._value if _reveal.get() else MASK

    def __repr__(self) -> str:
        return "Secret(***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)


_LAZY_LOCK = threading.RLock()


class LazySecret(Secret):
    """A secret fetched only when revealed (the inventory's password, rendered by Ansible on
    use)."""

    __slots__ = ("_fetch",)

    def __init__(self, fetch: Any) -> None:
        self._fetch = fetch
        self._value = ""

    def reveal(self) -> str:
        with _LAZY_LOCK:
            if self._fetch is not None:
                self._value = str(self._fetch())
                self._fetch = None
        return self._value

    def __str__(self) -> str:
        return self.reveal() if _reveal.get() else MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return id(self)


class Raw(str):
    """A string the author marked as already shell-safe (``| raw``)."""


class ShellFragment:
    """Shell text built from quoted parts, rendered when printed (so Secrets stay masked).

    `prefix` (shell assignments such as `ETCDCTL_USER="$_etcdops_ETCDCTL_USER"`) is part of the
    text that runs only: `shell()`, and `quote()` while secrets are revealed (the text that runs
    is rendered so). Printed, a fragment reads as an operator would type it."""

    def __init__(self, *parts: object, prefix: tuple[Raw, ...] = ()) -> None:
        self.parts = parts
        self.prefix = prefix

    def __str__(self) -> str:
        return " ".join(p if isinstance(p, Raw) else quote(p) for p in self.parts)

    def shell(self) -> str:
        """The text that runs: the prefix, then the parts."""
        return " ".join([*self.prefix, str(self)])

    def __repr__(self) -> str:
        return f"ShellFragment({self})"

    def plus(self, *parts: object) -> ShellFragment:
        return ShellFragment(*self.parts, *parts, prefix=self.prefix)


@contextlib.contextmanager
def revealed() -> Iterator[None]:
    token = _reveal.set(True)
    try:
        yield
    finally:
        _reveal.reset(token)


def quote(value: object) -> str:
    """Shell-quote one value; Secrets stay masked unless revealed."""
    if isinstance(value, ShellFragment):
        return value.shell() if _reveal.get() else str(value)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, Secret) and not _reveal.get():
        return MASK
    return shlex.quote(str(value))


def mask_secrets(text: str, secrets: list[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def env_update(current: str | None, updates: Mapping[str, object]) -> str:
    """Set KEY=value lines in an env file, keeping every other line as it was; a value of None
    removes the key's lines (`{"ETCD_FORCE_NEW_CLUSTER": none}`)."""
    lines = (current or "").splitlines()
    pending = dict(updates)
    removed = {k for k, v in pending.items() if v is None}
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        setting = "=" in line and not line.lstrip().startswith("#")
        if setting and key in removed:
            pending.pop(key, None)
        elif setting and key in pending:
            out.append(_env_line(key, pending.pop(key)))
        else:
            out.append(line)
    out.extend(_env_line(k, v) for k, v in pending.items() if v is not None)
    return "\n".join(out)  # the template's own final newline ends the file


def env_parse(text: str | None) -> dict[str, str]:
    """Parse KEY=value lines (the subset systemd and sh agree on)."""
    result = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value]
        result[key.strip()] = parts[0] if len(parts) == 1 else value
    return result


def _env_line(key: str, value: object) -> str:
    text = str(value)
    return f"{key}={text}" if text and shlex.quote(text) == text else f"{key}={shlex.quote(text)}"


def _finalize_shell(value: Any) -> str:
    return quote(value)


def _finalize_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _raw(value: object) -> Raw:
    if isinstance(value, ShellFragment):  # `host.etcdctl | raw` keeps what it runs with
        return Raw(quote(value))
    return Raw(str(value))  # a Secret still prints masked unless revealed


def _quote_filter(value: object) -> Raw:
    return Raw(quote(value))


def _secret(value: object) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def _make_env(finalize: Any) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters.update(
        raw=_raw,
        quote=_quote_filter,
        q=_quote_filter,
        secret=_secret,
        env_update=env_update,
        env_parse=env_parse,
    )
    return env


SHELL = _make_env(_finalize_shell)
TEXT = _make_env(_finalize_text)


# a runbook renders the same sources per host, per step and per re-check: compile each once
@functools.lru_cache(maxsize=1024)
def _template(source: str, shell: bool) -> jinja2.Template:
    return (SHELL if shell else TEXT).from_string(source)


@functools.lru_cache(maxsize=1024)
def _expression(expression: str) -> Any:
    return TEXT.compile_expression(expression, undefined_to_none=False)


def render_text(source: str, context: Mapping[str, Any]) -> str:
    """Text mode, letting jinja2's own errors through (for callers with errors of their own)."""
    return _template(source, False).render(context)


def render(
    source: str,
    context: Mapping[str, Any],
    *,
    shell: bool,
    where: str = "<template>",
    line: int | None = None,
) -> str:
    try:
        return _template(source, shell).render(context)
    except jinja2.UndefinedError as exc:
        raise RenderError(where, line, f"undefined value: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            where,
            (line or 0) + exc.lineno - 1 if line else exc.lineno,
            f"template syntax: {exc.message}",
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(where, line, f"refused by the sandbox: {exc}") from None
    except (TypeError, ValueError, jinja2.TemplateError) as exc:
        raise RenderError(where, line, f"cannot render: {exc}") from None


def evaluate(
    expression: str,
    context: Mapping[str, Any],
    *,
    where: str = "<expression>",
    line: int | None = None,
) -> Any:
    """Evaluate a jinja2 expression (``when``, ``until``, pre-flight checks)."""
    try:
        value = _expression(expression)(**context)
        if isinstance(value, jinja2.Undefined):  # a bare unknown name: fail here, not when used
            value._fail_with_undefined_error()
        return value
    except jinja2.UndefinedError as exc:
        raise RenderError(where, line, f"undefined value: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(where, line, f"expression syntax: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(where, line, f"refused by the sandbox: {exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError, jinja2.TemplateError) as exc:
        raise RenderError(where, line, f"cannot evaluate: {exc}") from None


_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def native(
    source: str, context: Mapping[str, Any], *, where: str = "<template>", line: int | None = None
) -> Any:
    """A value as its own type: a source that is one ``{{ expression }}`` gives the expression's
    value (an int stays an int, a list a list, None None); anything else renders as text. No
    literal_eval of rendered text (jinja2's NativeEnvironment would turn a file named ``[1]``
    into a list)."""
    match = _SINGLE_EXPRESSION.match(source)
    if match and "{{" not in match.group(1) and "}}" not in match.group(1) and "{%" not in source:
        value = evaluate(match.group(1), context, where=where, line=line)
        if isinstance(value, jinja2.Undefined):
            raise RenderError(where, line, f"undefined value: {match.group(1).strip()}")
        return value
    return render(source, context, shell=False, where=where, line=line)


def check_syntax(source: str, where: str, line: int | None) -> None:
    try:
        SHELL.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(where, line, f"template syntax: {exc.message}") from None
