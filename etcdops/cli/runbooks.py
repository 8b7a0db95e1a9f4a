"""`etcdops runbooks list | show NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from etcdops.cli.common import RunbooksOpt, boundary

app = typer.Typer(help="List and describe runbooks.", no_args_is_help=True)


@app.command("list")
@boundary
def list_(runbooks: RunbooksOpt = None) -> None:
    """Every runbook found (built-in and --runbooks)."""
    from etcdops.runbook import find_runbooks, load_runbook
    from etcdops.session import runbook_dirs

    for name, path in sorted(find_runbooks(runbook_dirs(runbooks)).items()):
        rb = load_runbook(path)
        first = rb.description.splitlines()[0] if rb.description else ""
        typer.echo(f"{name:<16} {first}")


@app.command()
@boundary
def show(name: Annotated[str, typer.Argument()], runbooks: RunbooksOpt = None) -> None:
    """Description, params (types, defaults) and steps of one runbook."""
    from etcdops.session import get_runbook

    rb = get_runbook(name, runbooks)
    typer.echo(f"{rb.name}  ({Path(rb.file)})\n\n{rb.description}\n")
    typer.echo("PARAMS" if rb.params else "PARAMS: none")
    for p in rb.params:
        extra = f" one of {', '.join(p.choices)}" if p.choices else ""
        default = "required" if p.required else f"default {p.default!r}"
        typer.echo(
            f"  {p.name:<14} {p.type:<6} {default}{extra}{'  (secret)' if p.secret else ''}"
            + (f"\n      {p.description}" if p.description else "")
        )
    if rb.preflight:
        typer.echo("\nPRE-FLIGHT")
        for c in rb.preflight:
            typer.echo(f"  - {c.message}")
    typer.echo("\nSTEPS")
    for i, s in enumerate(rb.steps, 1):
        typer.echo(
            f"  {i:>2}. {s.name}  [{s.kind} on {s.target}{', parallel' if s.parallel else ''}]"
        )
