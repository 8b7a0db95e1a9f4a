"""`etcdops runbooks list | show NAME` (text, or JSON with -o json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from etcdops.cli.common import ListOutput, RunbooksOpt, boundary

app = typer.Typer(help="List and describe runbooks.", no_args_is_help=True)
OutputOpt = Annotated[ListOutput, typer.Option("--output", "-o")]


@app.command("list")
@boundary
def list_(runbooks: RunbooksOpt = None, output: OutputOpt = ListOutput.text) -> None:
    """Every runbook found (built-in and --runbooks)."""
    from etcdops.runbook import find_runbooks, load_runbook
    from etcdops.session import runbook_dirs

    rows = []
    for name, path in sorted(find_runbooks(runbook_dirs(runbooks)).items()):
        rb = load_runbook(path)
        first = rb.description.splitlines()[0] if rb.description else ""
        rows.append({"name": name, "file": str(path), "description": first})
    if output == ListOutput.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['name']:<16} {row['description']}")


@app.command()
@boundary
def show(
    name: Annotated[str, typer.Argument()],
    runbooks: RunbooksOpt = None,
    output: OutputOpt = ListOutput.text,
) -> None:
    """Description, params (types, defaults), pre-flight checks and steps of one runbook: as
    declared, each value it is given named (<host>) instead of the template that computes it."""
    from etcdops.runbook.describe import runbook_dict
    from etcdops.session import get_runbook

    rb = get_runbook(name, runbooks)
    data = runbook_dict(rb)
    if output == ListOutput.json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
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
        for c in data["preflight"]:
            typer.echo(
                f"  - {c['message']}"
                + ("" if c["exit_code"] == 3 else f" (else exit {c['exit_code']})")
            )
    typer.echo("\nSTEPS")
    for s in data["steps"]:
        typer.echo(
            f"  {s['index']:>2}. {s['name']}  [{s['kind']} on {s['target']}"
            f"{', parallel' if s['parallel'] else ''}]"
        )
