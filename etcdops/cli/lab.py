"""`etcdops lab up | down | status`: the local lab of real etcd + sshd on loopback."""

from __future__ import annotations

from typing import Annotated

import typer

from etcdops import paths, units
from etcdops.cli.common import boundary
from etcdops.lab import lab_net

app = typer.Typer(
    help=f"The local lab: real etcd and sshd on {lab_net()}N (ETCDOPS_LAB_NET).",
    no_args_is_help=True,
)


@app.command()
@boundary
def up(
    members: Annotated[int, typer.Option(help="etcd members")] = 3,
    spares: Annotated[int, typer.Option(help="hosts with sshd only")] = 2,
    plaintext: Annotated[
        bool, typer.Option("--plaintext", help="plain http instead of TLS everywhere")
    ] = False,
    tls: Annotated[
        bool, typer.Option("--tls", help="TLS with client certs, kubespray's layout (default)")
    ] = False,
) -> None:
    """Start the lab (stopping a stale one first): TLS on client and peer URLs by default."""
    from etcdops.errors import BadInput
    from etcdops.lab.lab import Lab

    if plaintext and tls:
        raise BadInput("lab up: --tls and --plaintext do not go together")
    Lab(paths.project_root()).up(members, spares, progress=typer.echo, tls=not plaintext)


@app.command()
@boundary
def down() -> None:
    """Stop exactly the processes the lab started, by pid."""
    from etcdops.lab.lab import Lab

    stopped = Lab(paths.project_root()).down(progress=typer.echo)
    typer.echo(f"lab: {stopped} processes stopped" if stopped else "lab: nothing running")


@app.command()
@boundary
def prune() -> None:
    """Remove the previous labs kept in .lab/previous/ (lab up keeps the last 2)."""
    from etcdops.lab.lab import Lab

    freed = Lab(paths.project_root()).prune(progress=typer.echo)
    typer.echo(f"lab: {units.size(freed)} freed" if freed else "lab: no previous lab kept")


@app.command()
@boundary
def status() -> None:
    """Which lab hosts run sshd and etcd."""
    from etcdops.lab.lab import Lab

    states = Lab(paths.project_root()).status()
    if not states:
        typer.echo("lab: not set up (etcdops lab up)")
        return
    for s in states:
        sshd = f"up (pid {s.sshd_pid})" if s.sshd_pid else "down"
        etcd = f"up (pid {s.etcd_pid})" if s.etcd_pid else "down"
        typer.echo(f"{s.name:<8} {s.address:<11} sshd {sshd:<16} etcd {etcd}")
