"""The etcdops command line. Heavy modules are imported inside commands (fast --help)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from etcdops.cli import hosts as hosts_cli
from etcdops.cli import inventory as inventory_cli
from etcdops.cli import lab as lab_cli
from etcdops.cli import run as run_cli
from etcdops.cli import runbooks as runbooks_cli
from etcdops.cli import runs as runs_cli
from etcdops.cli import snapshots as snapshots_cli
from etcdops.cli.common import (
    CommandsOpt,
    InventoryOpt,
    Output,
    ParamsOpt,
    PlainErrors,
    RunbooksOpt,
    StatusOutput,
    boundary,
    err,
    exit_on_failed_checks,
    show_plan,
)

if TYPE_CHECKING:
    from etcdops.inventory import Inventory

app = typer.Typer(
    name="etcdops",
    cls=PlainErrors,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    # typer's completion: `etcdops --install-completion` (bash, zsh, fish, PowerShell)
    add_completion=True,
    help="Declarative, reviewable maintenance for etcd clusters: plan first, then run.",
)
app.add_typer(runbooks_cli.app, name="runbooks")
app.add_typer(lab_cli.app, name="lab")
app.add_typer(runs_cli.app, name="runs")
app.add_typer(hosts_cli.app, name="hosts")
app.add_typer(inventory_cli.app, name="inventory")
app.add_typer(snapshots_cli.app, name="snapshots")
app.command()(run_cli.run)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("etcdops")
        except PackageNotFoundError:  # run from a source tree that was never installed
            found = "unknown (not installed)"
        typer.echo(f"etcdops {found}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Declarative, reviewable maintenance for etcd clusters: plan first, then run."""


@app.command()
@boundary
def status(
    inventory: InventoryOpt,
    output: Annotated[StatusOutput, typer.Option("--output", "-o")] = StatusOutput.text,
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 unless the cluster is healthy (why: on stderr)")
    ] = False,
    consistency: Annotated[
        bool,
        typer.Option(
            "--consistency",
            help="compare every member's keyspace hash at one revision; exit 1 naming a member "
            "whose data differs",
        ),
    ] = False,
    latency: Annotated[
        bool,
        typer.Option(
            "--latency",
            help="measure p50/p99 of 20 small puts and linearizable gets per member (keys of "
            "etcdops' own, deleted after)",
        ),
    ] = False,
    check_expiry: Annotated[
        int | None,
        typer.Option(
            "--check-expiry",
            min=0,
            metavar="DAYS",
            help="exit 1 when a member's server, peer or CA certificate expires within DAYS days "
            "(or cannot be read), naming each on stderr",
        ),
    ] = None,
) -> None:
    """Members, endpoints, leader, quorum and alarms of the cluster (read-only but for
    --latency's own keys).

    Exits 1 when no member's etcd could be read, saying why on stderr."""
    from etcdops.cli.progress import echo_painted
    from etcdops.facts import consistency as hashes
    from etcdops.facts import latency as probe
    from etcdops.facts.gather import gather
    from etcdops.output import status_text
    from etcdops.serialize import status_dict
    from etcdops.session import get_inventory
    from etcdops.transport.pool import Pool

    inv = get_inventory(inventory)
    with Pool(inv) as pool:
        facts = gather(inv, pool, around_ssh=True, elsewhere=True)
        compared = hashes.check(inv, pool, facts) if consistency and facts.read_any else None
        timed = None
        if latency and facts.read_any:
            timed = probe.measure(inv, pool, facts.healthy_voter_host() or facts.leader_host or "")
    if output == StatusOutput.json:
        data = status_dict(facts)
        if compared is not None:
            data["consistency"] = {
                "revision": compared.revision,
                "hashes": {h: f"{v:x}" for h, v in compared.hashes.items()},
                "differ": list(compared.differ),
                "error": compared.error or None,
            }
        if timed is not None:
            data["latency"] = {"members": timed.figures, "error": timed.error or None}
        typer.echo(json.dumps(data, indent=2))
    else:
        echo_painted(
            status_text(facts)
            + "".join(f"\n{line}" for line in (compared.lines() if compared else []))
            + "".join(f"\nLATENCY {line}" for line in (timed.lines() if timed else []))
        )
    if compared is not None and not compared.ok:
        err(compared.lines()[0])
        raise typer.Exit(1)
    if not facts.read_any:
        why = "; ".join(facts.problems()) or "the inventory's etcd group has no host with etcd"
        err(f"error: no member's etcd could be read: {why}")
        raise typer.Exit(1)
    if check and not facts.healthy:
        err("not healthy: " + "; ".join(facts.problems()))
        raise typer.Exit(1)
    if check_expiry is not None and facts.read_any:
        from etcdops.facts.certs import expiring

        members = {h.name for h in inv.members}
        tls = {h: hf.certs for h, hf in facts.hosts.items() if h in members and _tls(inv, h)}
        soon = expiring(tls, check_expiry)
        if soon:
            err(f"certificates expiring within {check_expiry} days: " + "; ".join(soon))
            raise typer.Exit(1)


def _tls(inv: Inventory, host: str) -> bool:
    """Whether the host's member speaks TLS (its client or peer URL is https)."""
    etcd = inv.hosts[host].etcd if host in inv.hosts else None
    return etcd is not None and "https" in (etcd.client_url[:5], etcd.peer_url[:5])


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
    commands: CommandsOpt = False,
) -> None:
    """Show exactly what RUNBOOK would do (a dry run: nothing is changed anywhere)."""
    from etcdops.output import plan_markdown
    from etcdops.runs import record
    from etcdops.serialize import plan_json
    from etcdops.session import prepare

    prepared = prepare(runbook, inventory, param or [], runbooks)
    with prepared.pool:
        the_plan = prepared.plan()
    if output == Output.text:
        show_plan(the_plan, commands)
    else:
        typer.echo({Output.json: plan_json, Output.markdown: plan_markdown}[output](the_plan))
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
    cryptography and its transport threads loaded it takes a tenth of a second and does nothing
    etcdops needs. By now every file etcdops writes is closed, its lock released and its
    connections closed; atexit handlers (ansible-runner's temporary folders, logging) still run."""
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
