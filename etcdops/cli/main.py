"""The etcdops command line. Heavy modules are imported inside commands (fast --help)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from etcdops.cli import lab as lab_cli
from etcdops.cli import run as run_cli
from etcdops.cli import runbooks as runbooks_cli
from etcdops.cli.common import (
    InventoryOpt,
    Output,
    ParamsOpt,
    RunbooksOpt,
    boundary,
    err,
    exit_on_failed_checks,
)

app = typer.Typer(
    name="etcdops",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="Declarative, reviewable maintenance for etcd clusters: plan first, then run.",
)
app.add_typer(runbooks_cli.app, name="runbooks")
app.add_typer(lab_cli.app, name="lab")
app.add_typer(run_cli.runs_app, name="runs")
app.command()(run_cli.run)


@app.command()
@boundary
def status(
    inventory: InventoryOpt,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.text,
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 unless the cluster is healthy")
    ] = False,
) -> None:
    """Members, endpoints, leader, quorum and alarms of the cluster (read-only)."""
    from etcdops.facts.gather import gather
    from etcdops.output import status_text
    from etcdops.serialize import status_dict
    from etcdops.session import get_inventory
    from etcdops.transport.pool import Pool

    inv = get_inventory(inventory)
    with Pool(inv) as pool:
        # a member whose host SSH cannot reach is read through another; other hosts' set-aside dirs
        facts = gather(inv, pool, around=True, elsewhere=True)
    typer.echo(
        json.dumps(status_dict(facts), indent=2) if output == Output.json else status_text(facts)
    )
    if check and not facts.healthy:
        raise typer.Exit(1)


@app.command()
@boundary
def plan(
    runbook: str,
    inventory: InventoryOpt,
    param: ParamsOpt = None,
    runbooks: RunbooksOpt = None,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.text,
    save: Annotated[
        Path | None, typer.Option(help="save the plan for review; run it with run --plan")
    ] = None,
) -> None:
    """Show exactly what RUNBOOK would do (a dry run: nothing is changed anywhere)."""
    from etcdops.output import plan_markdown, plan_text
    from etcdops.runs import record
    from etcdops.serialize import plan_json
    from etcdops.session import prepare

    prepared = prepare(runbook, inventory, param or [], runbooks)
    with prepared.pool:
        the_plan = prepared.plan()
    render = {Output.text: plan_text, Output.json: plan_json, Output.markdown: plan_markdown}[
        output
    ]
    typer.echo(render(the_plan))
    if save is not None:
        data = record(the_plan, prepared.inventory, prepared.params, prepared.assignments)
        save.write_text(json.dumps(data, indent=2) + "\n")
        err(
            f"saved the plan as {save} (run {the_plan.run_id}); run it with: etcdops run --plan "
            f"{save}"
        )
    exit_on_failed_checks(the_plan)


@app.command()
@boundary
def validate(
    runbook: Annotated[list[str] | None, typer.Argument()] = None,
    inventory: Annotated[str | None, typer.Option("--inventory", "-i")] = None,
    runbooks: RunbooksOpt = None,
) -> None:
    """Check runbooks and an inventory without connecting to anything."""
    from etcdops.session import validate_all

    for line in validate_all(inventory, runbook or [], runbooks):
        typer.echo(f"ok: {line}")


def main() -> None:
    try:
        app(prog_name="etcdops")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: object) -> None:
    """Exit as sys.exit(code) would, without the interpreter's finalization: with paramiko,
    cryptography
    and its transport threads loaded it takes 0.08-0.15 s (measured) and does nothing etcdops needs.
    By now every file etcdops writes is closed, its lock released and its connections closed;
    atexit handlers (ansible-runner's temporary folders, logging) still run."""
    import atexit
    import os
    import sys

    from etcdops.errors import ExitCode

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (etcdops ... | head): nothing left to say
            code = code or ExitCode.PIPE_CLOSED
    os._exit(code)


if __name__ == "__main__":
    main()
