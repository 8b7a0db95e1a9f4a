"""`prune_set_aside`: remove what etcdops set aside on a host, old enough, never the newest.

Only items of etcdops' own making: directories carrying its marker file, files by their exact
names (`ENV.bak-STAMP`, `etcdops-restore-STAMP.db`). Never the live data dir. The plan lists every
path and its size; the run removes exactly those that still qualify when it gets there.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field

from etcdops import units
from etcdops.commands import Command, sh, trusted
from etcdops.errors import StepFailed
from etcdops.facts.aside import AsideItem, listing_command, parse_age, parse_listing
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class PruneSpec:
    older_than: str = spec_field(
        "remove only what was set aside longer ago than this (7d, 12h, 30m)", "7d"
    )
    keep: int = spec_field(
        "always keep this many of the newest items of the host (0: none)", 1, minimum=0
    )
    only: str = spec_field(
        "only items set aside for this reason (DIR.ONLY-STAMP: `drilled` for restore drills)", ""
    )


@dataclass(frozen=True, kw_only=True)
class PruneAction(Action):
    etcd: EtcdConfig
    listing: Command  # what etcdops set aside on the host, read again right before
    remove: tuple[AsideItem, ...]
    kept: tuple[tuple[AsideItem, str], ...] = field(default=())

    def describe(self) -> list[str]:
        lines = [self.intent]
        lines += [
            f"$ {_remove(i.path).display}   # {units.size(i.bytes)}, "
            f"{i.age() / 86400:.1f} days, {i.kind}"
            for i in self.remove
        ]
        lines += [f"? {c.display}" for c in self.reads]
        lines += [f"  keeps {i.path} ({units.size(i.bytes)}): {why}" for i, why in self.kept]
        return lines


class PruneSetAsideKind(StepKind[PruneSpec, PruneAction]):
    name = "prune_set_aside"
    summary = "remove what etcdops set aside on the hosts, older than a given age, never the newest"
    Spec = PruneSpec
    default_target = "members"
    default_timeout = 300.0

    def plan(self, spec: PruneSpec, ctx: StepContext) -> PruneAction:
        try:
            age = parse_age(spec.older_than)
        except ValueError as exc:
            raise ctx.error(f"prune_set_aside.older_than: {exc}") from None
        etcd = ctx.etcd
        listing = trusted(listing_command(etcd)).reads()
        out = ctx.probe.run(ctx.host, listing).stdout
        items, _fs = parse_listing(out, etcd)
        if spec.only:  # e.g. earlier drills' data on a scratch host, and nothing else there
            items = tuple(i for i in items if f".{spec.only}-" in i.path.rsplit("/", 1)[-1])
        remove, kept = choose(items, age, spec.keep, time.time())
        total = sum(i.bytes for i in remove)
        if remove:
            intent = (
                f"remove {len(remove)} item(s) etcdops set aside on {ctx.host} more than "
                f"{spec.older_than} ago ({units.size(total)}), keeping the newest {spec.keep}"
            )
        else:
            intent = (
                f"nothing on {ctx.host} is old enough to remove (older than {spec.older_than}, "
                f"newest {spec.keep} kept)"
            )
        return PruneAction(
            intent=intent,
            commands=tuple(_remove(i.path) for i in remove),
            reads=(listing,),
            etcd=etcd,
            listing=listing,
            remove=tuple(remove),
            kept=tuple(kept),
        )

    def execute(self, action: PruneAction, ex: ExecContext) -> Outcome:
        if not action.remove:
            return Outcome.ok("nothing to remove")
        now_items, _fs = parse_listing(ex.run(action.listing).stdout, action.etcd)
        still = {i.path: i for i in now_items if i.ours}
        removed, freed = [], 0
        for item in action.remove:
            current = still.get(item.path)
            if current is None:  # gone, or no longer carries the marker: left alone
                continue
            if item.path.rstrip("/") in (
                action.etcd.data_dir.rstrip("/"),
                (action.etcd.wal_dir or "").rstrip("/"),
            ):
                raise StepFailed(
                    ex.step, ex.host, f"{item.path} is the live data dir: never removed"
                )
            ex.run(_remove(item.path))
            removed.append(item.path)
            freed += current.bytes
        if not removed:
            return Outcome.ok("none of the planned items is still there")
        return Outcome.changed(
            f"removed {len(removed)} item(s), {units.size(freed)} freed:\n" + "\n".join(removed),
            report={"removed": removed, "bytes_freed": freed},
        )


def choose(
    items: tuple[AsideItem, ...], age: float, keep: int, now: float
) -> tuple[list[AsideItem], list[tuple[AsideItem, str]]]:
    """(to remove, kept with the reason): etcdops' own, older than age, beyond the `keep` newest.

    Items are taken by the run that set them aside (the STAMP in their names): a restore's old
    data dir and its etcd.env backup go together, and a rollback never finds only half of them."""
    kept: list[tuple[AsideItem, str]] = [
        (i, "no etcdops marker in it: not etcdops'") for i in items if not i.ours
    ]
    runs: dict[str, list[AsideItem]] = {}
    for item in (i for i in items if i.ours):
        runs.setdefault(set_aside_at(item), []).append(item)
    remove = []
    for rank, stamp in enumerate(sorted(runs, reverse=True)):
        for item in runs[stamp]:
            if rank < keep:
                kept.append((item, "set aside by the newest run(s), kept"))
            elif now - _time(stamp, item) < age:
                kept.append((item, "not old enough"))
            else:
                remove.append(item)
    return remove, kept


_STAMP = re.compile(r"([0-9]{8}T[0-9]{6}Z)")


def set_aside_at(item: AsideItem) -> str:
    """The UTC stamp of the run that set the item aside (its first stamp), else its mtime as one."""
    found = _STAMP.search(item.path.rsplit("/", 1)[-1])
    if found:
        return found.group(1)
    else:
        return dt.datetime.fromtimestamp(item.mtime, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _time(stamp: str, item: AsideItem) -> float:
    try:
        return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return item.mtime


def _remove(path: str) -> Command:
    return sh("rm", "-rf", "--", path)
