"""`etcdops hosts trust`: review and record the SSH host keys of an inventory's hosts in one go.

etcdops always checks host keys (an unknown or changed key is exit 7). An inventory that never
had them checked (kubespray's ansible.cfg turns checking off) has no known_hosts to check
against: this reads every host's key once, shows its fingerprint and how it compares with what
the host's known_hosts file holds, and adds the keys the operator accepts. A key that differs
from the one on file is never replaced here (that is the attack host keys are checked for)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from etcdops.cli.common import InventoryOpt, boundary, err
from etcdops.errors import ExitCode

app = typer.Typer(no_args_is_help=True, help="SSH host keys of an inventory's hosts.")
HOME_KNOWN = str(Path("~/.ssh/known_hosts").expanduser())


@dataclass(frozen=True)
class Row:
    host: str
    file: str
    offered: Any  # transport.ssh.hostkeys.Offered
    state: str  # new | known | CHANGED | not read
    detail: str = ""


@app.command()
@boundary
def trust(
    inventory: InventoryOpt,
    list_only: Annotated[
        bool, typer.Option("--list", help="only show the keys and how they compare; write nothing")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="add every new key (after reviewing --list)")
    ] = False,
) -> None:
    """Read every host's SSH key once, show its fingerprint, and add the ones you accept to the
    known_hosts file the inventory uses (etcdops_known_hosts, UserKnownHostsFile in
    ansible_ssh_common_args/extra_args or ansible.cfg, else ~/.ssh/known_hosts). Exit 7 when a
    host offers another key than the one on file (never replaced here)."""
    from etcdops.errors import Refused
    from etcdops.session import get_inventory

    inv = get_inventory(inventory)
    for note in sorted({h.known_hosts_note for h in inv.hosts.values() if h.known_hosts_note}):
        typer.echo(f"note: {note}\n")
    members = set(inv.groups.get("etcd", ()))
    rows = _read(sorted(inv.hosts.values(), key=lambda h: (h.name not in members, h.name)))
    typer.echo(_table(rows))
    new = [r for r in rows if r.state == "new"]
    changed = [r for r in rows if r.state == "CHANGED"]
    if list_only or not new:
        _end(rows, changed, written=0)
        return
    if not yes and not typer.get_text_stream("stdin").isatty():
        raise Refused(
            "no terminal to confirm on: review the keys with --list, compare them with the hosts' "
            "own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on each), then pass --yes"
        )
    accepted = new if yes else [r for r in new if _confirm(r)]
    written = _write(accepted)
    _end(rows, changed, written)


def _read(hosts: list[Any]) -> list[Row]:
    """Every host's key (and every jump host's, first), read in parallel, compared with its
    file."""
    from concurrent.futures import ThreadPoolExecutor

    from etcdops.transport.ssh.hostkeys import jump_endpoint, offered_key

    jumps = {}
    for h in hosts:
        if h.jump:
            user, address, port = jump_endpoint(h.jump)
            jumps[(address, port)] = replace(
                h, name=f"(jump) {address}", address=address, port=port, user=user, jump=None
            )
    every = [*jumps.values(), *hosts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        offered = list(pool.map(offered_key, every))
    return [_compare(h, o) for h, o in zip(every, offered, strict=True)]


def _compare(host: Any, offered: Any) -> Row:
    from etcdops.transport.ssh.hostkeys import known_keys

    file = host.known_hosts or HOME_KNOWN
    if offered.error:
        return Row(host.name, file, offered, "not read", offered.error)
    known = known_keys(file, offered.name)
    also = ""
    if file != HOME_KNOWN:
        home = known_keys(HOME_KNOWN, offered.name).get(offered.key_type)
        if home is not None:
            also = f"; {HOME_KNOWN} {'matches' if home == offered.fingerprint else 'DIFFERS'}"
    if offered.key_type in known:
        if known[offered.key_type] == offered.fingerprint:
            return Row(host.name, file, offered, "known", f"matches {file}{also}")
        return Row(
            host.name,
            file,
            offered,
            "CHANGED",
            f"{file} has {known[offered.key_type]}: remove that line only if the host was "
            f"really rebuilt (ssh-keygen -R '{offered.name}' -f {file})",
        )
    others = f" ({file} has only {', '.join(known)})" if known else ""
    return Row(host.name, file, offered, "new", f"not in {file}{others}{also}")


def _table(rows: list[Row]) -> str:
    names = max([4, *(len(r.host) for r in rows)])
    where = max([7, *(len(r.offered.name) for r in rows)])
    width = max([3, *(len(r.offered.fingerprint) for r in rows)])
    lines = [f"{'HOST':<{names}}  {'ADDRESS':<{where}}  {'KEY':<{width}}  STATE"]
    for r in rows:
        key = r.offered.fingerprint or "-"
        lines.append(
            f"{r.host:<{names}}  {r.offered.name:<{where}}  {key:<{width}}  {r.state}: {r.detail}"
        )
    return "\n".join(lines)


def _confirm(row: Row) -> bool:
    return typer.confirm(
        f"trust {row.host} ({row.offered.name}) {row.offered.fingerprint}, into {row.file}?",
        default=False,
    )


def _write(rows: list[Row]) -> int:
    from etcdops.transport.ssh.hostkeys import add_known

    by_file: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.offered.line not in by_file[r.file]:
            by_file[r.file].append(r.offered.line)
    for file, lines in by_file.items():
        add_known(file, lines)
        typer.echo(f"added {len(lines)} key(s) to {file}")
    return sum(len(lines) for lines in by_file.values())


def _end(rows: list[Row], changed: list[Row], written: int) -> None:
    unread = [r for r in rows if r.state == "not read"]
    if changed:
        err(
            "error: HOST KEY CHANGED for "
            + ", ".join(f"{r.host} ({r.offered.name})" for r in changed)
            + ": not replaced. This can be an attack; check with the hosts' owners"
        )
        raise typer.Exit(ExitCode.HOST_KEY)
    if unread:
        err("error: not read: " + "; ".join(f"{r.host}: {r.detail}" for r in unread))
        raise typer.Exit(ExitCode.STEP_FAILED)
    if not written and not any(r.state == "new" for r in rows):
        typer.echo("every host's key is known")
