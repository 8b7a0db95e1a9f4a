"""The CLI's one error boundary, and shared options."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

try:  # typer 0.28 carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException  # type: ignore[assignment]

from etcdops import paths
from etcdops.errors import EtcdopsError, ExitCode

F = TypeVar("F", bound=Callable[..., Any])


class Output(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class StatusOutput(str, Enum):
    """status has no markdown: `-o markdown` is refused rather than printing text."""

    text = "text"
    json = "json"


class ListOutput(str, Enum):
    text = "text"
    json = "json"


InventoryOpt = Annotated[str, typer.Option("--inventory", "-i", help="inventories/NAME/ or a path")]
ParamsOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="key=value (repeatable)")
]
RunbooksOpt = Annotated[
    list[Path] | None, typer.Option("--runbooks", help="extra directory of runbooks")
]
CommandsOpt = Annotated[
    bool,
    typer.Option(
        "--commands",
        "-v",
        help="every command of the plan whole (on a terminal they are cut to its width)",
    ),
]


def show_plan(the_plan: Any, commands: bool, say: Callable[[str], None] | None = None) -> None:
    """The plan as text: on a terminal folded to its width (unless --commands) and coloured
    (unless NO_COLOR); elsewhere every line whole, as it is."""
    from etcdops.cli.progress import echo_painted, width_of
    from etcdops.output import plan_text

    if say is not None and say is not typer.echo:  # -o json: the plan goes to stderr, plain
        say(plan_text(the_plan))
        return
    fold = sys.stdout.isatty() and not commands
    echo_painted(plan_text(the_plan, width_of(sys.stdout) if fold else None))


def err(message: str) -> None:
    typer.echo(message, err=True)


class PlainErrors(TyperGroup):
    """The command group whose usage errors (a missing option, a bad choice) read as every other
    error: one `error:` line on stderr and exit 2, not typer's rich box."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (ClickException, typer.TyperException) as exc:
            if not standalone_mode:
                raise
            err(f"error: {usage_error(exc)}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            err("error: aborted; nothing was changed")
            sys.exit(ExitCode.UNSAFE)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def usage_error(exc: ClickException | typer.TyperException) -> str:
    """click's message, with the command it is about and where its help is."""
    message = exc.format_message().rstrip(".")
    message = message[:1].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    return f"{ctx.command_path}: {message} (see {ctx.command_path} --help)"


def boundary(fn: F) -> F:
    """A known error becomes one clear line and its exit code; anything else goes to a debug log."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EtcdopsError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("interrupted")
            raise typer.Exit(130) from None
        # the reader of stdout went away (`etcdops ... | head`): stop, as on SIGPIPE
        except BrokenPipeError:
            # no second error on the final flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitCode.PIPE_CLOSED) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception:  # noqa: BLE001 - the boundary
            log = _debug_log()
            err(f"internal error: {sys.exc_info()[1]!r}; traceback written to {log}")
            raise typer.Exit(ExitCode.INTERNAL) from None

    return wrapper  # type: ignore[return-value]


def _debug_log() -> Path:
    path = paths.debug_log()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path("/tmp/etcdops-debug.log")
    with open(path, "a") as fh:
        fh.write(f"--- {dt.datetime.now(dt.UTC).isoformat()}\n{traceback.format_exc()}\n")
    return path


def exit_on_failed_checks(the_plan) -> None:  # type: ignore[no-untyped-def]
    failed = the_plan.failed_checks
    if failed:
        for check in failed:
            err(f"refused: pre-flight check failed: {check.said()}")
        raise typer.Exit(max(c.exit_code for c in failed))
