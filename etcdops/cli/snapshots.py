"""`etcdops snapshots list`: the snapshots of an inventory, here and off-site, and what proves
them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from etcdops.cli.common import InventoryOpt, Output, boundary, err

app = typer.Typer(help="Snapshots kept locally and off-site.", no_args_is_help=True)


@app.command("list")
@boundary
def list_(
    inventory: InventoryOpt,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.text,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="the local directory (default snapshots/INVENTORY)")
    ] = None,
    remote: Annotated[
        list[str] | None,
        typer.Option(
            "--remote",
            help="an off-site REMOTE:PATH (rclone) to list too; the ones this inventory's "
            "snapshots were copied to are listed without it",
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="hash the local files now (reads every byte)")
    ] = False,
) -> None:
    """Local and off-site snapshots: revision, size, age, sha256 state, and the drill that proved
    each (if any)."""
    from etcdops import catalog, offsite, paths
    from etcdops.errors import BadInput
    from etcdops.session import get_inventory

    inv = get_inventory(inventory)
    local_dir = folder or paths.snapshots_dir(inv.name)
    entries = catalog.local_entries(local_dir)
    wanted = [offsite.parse_remote(r, "--remote") for r in (remote or [])]
    for recorded in catalog.recorded_remotes(entries):
        where = offsite.parse_remote(recorded, "a recorded copy")
        if where not in wanted:
            wanted.append(where)
    problems = []
    tool = offsite.rclone_binary()
    for where in wanted:
        if not tool:
            problems.append(f"{where}: rclone is not installed on the control node")
            continue
        try:
            entries += catalog.remote_entries(where, catalog.local_runner(), tool)
        except BadInput as exc:
            problems.append(str(exc))
    fetched = catalog.local_entries(paths.fetched_dir(inv.name))
    rows = catalog.rows(entries, [e.drill for e in fetched if e.drill], verify)
    if output == Output.json:
        typer.echo(json.dumps({"snapshots": rows, "problems": problems}, indent=2))
    else:
        typer.echo(_table(rows, str(local_dir)))
    for problem in problems:
        err(f"warning: {problem}")
    if problems and not rows:
        raise typer.Exit(1)


def _table(rows: list[dict[str, Any]], local_dir: str) -> str:
    from etcdops import units

    if not rows:
        return f"no snapshots in {local_dir}"
    head = ("WHERE", "SNAPSHOT", "REVISION", "SIZE", "AGE", "SHA256", "DRILL")
    lines = []
    for row in rows:
        lines.append(
            (
                row["location"] if row["remote"] else "local",
                row["name"] + ("" if row["complete"] else f" ({row['problem']})"),
                str(row["revision"]),
                units.size(row["bytes"]),
                _age(row["age_seconds"]),
                row["sha256_state"],
                _drill(row["drill"]),
            )
        )
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in [head, *lines]
    )


def _age(seconds: int) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{max(seconds, 0) // 60}m"


def _drill(drill: dict[str, Any] | None) -> str:
    if not drill:
        return "never"
    word = "proven" if drill["proven"] else "FAILED"
    return f"{word} {str(drill.get('time') or '')[:16].replace('T', ' ')} (run {drill.get('run')})"
