"""`etcdops inventory sync`, and what a membership run says (and does) about the inventory once it
succeeded: the `etcd` group has to follow the cluster (inventory/edit.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from etcdops.cli.common import InventoryOpt, boundary, err

app = typer.Typer(no_args_is_help=True, help="Keep the inventory's etcd group what the cluster is.")

# inventory variables (group_vars/all): the lab's own inventory sets both
UPDATE_VAR = "etcdops_update_inventory"  # true: every run applies its change (--update-inventory)
PARK_VAR = "etcdops_retired_group"  # where a removed member goes when its variables sit in `etcd`


@app.command()
@boundary
def sync(
    inventory: InventoryOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="apply without asking")] = False,
) -> None:
    """Read the cluster's member list and change the inventory's `etcd` group to match it: hosts
    whose member runs but are not in the group go in, hosts of the group that are no member go out
    (only with a quorum, so that the list is the cluster's). Shows the change first."""
    from etcdops.errors import Refused
    from etcdops.facts.gather import gather
    from etcdops.plan import new_run
    from etcdops.session import get_inventory
    from etcdops.transport.pool import Pool

    inv = get_inventory(inventory)
    with Pool(inv) as pool:
        facts = gather(inv, pool, versions=False)
    if not facts.members:
        raise Refused("the cluster's member list could not be read: nothing to compare with")
    group = set(inv.groups.get("etcd", ()))
    found = [h for m in facts.members if (h := facts.member_hosts.get(m.id))]
    add = [h for h in found if h not in group]
    remove = [h for h in sorted(group) if facts.has_quorum and facts.member_of(h) is None]
    for m in facts.members:
        if facts.member_hosts.get(m.id) is None:
            err(
                f"member {m.name or m.id_hex} ({', '.join(m.peer_urls)}) is on no host of the "
                "inventory: add its host to the inventory by hand"
            )
    if not add and not remove:
        typer.echo(f"inventory: the `etcd` group of {inv.path} lists every member; nothing to do")
        return
    edit = show(inv, add, remove)
    if not edit.applicable:
        raise Refused("the inventory was not changed")
    if not yes and not (typer.get_text_stream("stdin").isatty() and typer.confirm("Apply?")):
        raise Refused("not confirmed (or no terminal and no --yes); the inventory was not changed")
    write(edit, new_run().stamp)


def show(
    inv: Any,
    add: tuple[str, ...] | list[str],
    remove: tuple[str, ...] | list[str],
    say: Callable[[str], None] = typer.echo,
) -> Any:
    """Print the change the inventory needs (file, words, diff) or why etcdops cannot make it."""
    from etcdops.inventory.edit import group_edit

    edit = group_edit(inv, add, remove, park_in=setting(inv, PARK_VAR))
    if not edit.needed:
        return edit
    where = edit.file or inv.path
    say(f"\ninventory: the `etcd` group of {where} must follow the cluster:")
    for line in edit.says:
        say(f"  {line}")
    if edit.diff:
        say(edit.diff.rstrip("\n"))
    if edit.why_not:
        say(f"inventory: etcdops cannot make this change itself: {edit.why_not}")
    return edit


def write(edit: Any, stamp: str, say: Callable[[str], None] = typer.echo) -> None:
    from etcdops.inventory.edit import apply

    backup = apply(edit, stamp)
    say(f"inventory: changed {edit.file} (the previous one is kept as {backup.name})")


def after_run(
    inv: Any,
    moves: tuple[tuple[str, ...], tuple[str, ...]],
    update: bool,
    stamp: str,
    say: Callable[[str], None] = typer.echo,
) -> None:
    """After a successful run that changed the membership: the inventory change, applied with
    --update-inventory (or an inventory that asks for it, like the lab's), else how to apply it.
    Never changes the run's outcome."""
    add, remove = moves
    if not add and not remove:
        return
    try:
        edit = show(inv, add, remove, say)
        if not edit.needed or not edit.applicable:
            return
        if update or setting(inv, UPDATE_VAR) is True:
            write(edit, stamp, say)
        else:
            say(
                "inventory: not changed; apply it with `etcdops inventory sync -i "
                f"{inv.path}` (or pass --update-inventory to the run), or by hand"
            )
    except Exception as exc:  # noqa: BLE001 - the run succeeded; the inventory is the user's to fix
        err(f"inventory: not changed: {exc}")


def setting(inv: Any, name: str) -> Any:
    """An etcdops variable of the inventory (group_vars/all), read on its first host."""
    for host in inv.hosts.values():
        try:
            return host.vars[name]
        except KeyError:
            return None
    return None
