"""Patroni 4.1 + PostgreSQL 15 as a real client of the lab, across a restore (the acceptance
tests of
restores that clients survive).

The snapshot is taken while node A is the primary (A holds the leader key), then Patroni
switches over to
B; the restore of that snapshot brings back a leader key that names A. While a writer inserts
a row every
~100 ms through the primary, and a watch opened before the restore is kept open across it (as etcd's
clientv3 keeps one), the restore runs, and the monitor reads every node's REST API for at least
TTL + loop_wait after it.

- a restore that keeps the snapshot's leases, without a revision bump, must be seen to harm Patroni
  (a demotion or failover): the harness detects harm;
- the default restore must be survived: no failover, no demotion, the same timeline, every
acknowledged
  row present, a short write gap; and the watch opened before it ends with a compaction error, never
  getting revisions it had already passed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.helpers import LabEnv, net, running_lab
from tests.integration.patroni import PatroniCluster, PrimaryChange, RoleChange, StaleLeader
from tests.integration.watcher import (
    Watch,
    compacted,
    events_after_break,
    highest_before_break,
    reused_revisions,
)

pytestmark = pytest.mark.lab

NET = net(17)
WRITE_GAP_BOUND = 3.0  # seconds: PostgreSQL itself never stops if Patroni keeps its primary


@pytest.fixture(scope="module")
def patroni(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabEnv, PatroniCluster]]:
    tmp = tmp_path_factory.mktemp("patroni")
    with running_lab(tmp, NET, members=3, spares=0) as lab:
        t0 = time.monotonic()
        with PatroniCluster(lab, tmp / "pg") as pg:
            print(f"\npatroni: ready in {time.monotonic() - t0:.1f}s ({pg.timings})")
            yield lab, pg
        print(f"\npatroni: stopped in {pg.timings.get('stop', 0):.1f}s")


def revision(lab: LabEnv) -> int:
    return max(
        int(e["Status"]["header"]["revision"])
        for e in json.loads(lab.ctl("endpoint", "status", "-w", "json"))
    )


@dataclass
class Outcome:
    stale: StaleLeader
    rc: int
    output: str
    restore_seconds: float
    timeline_before: int
    timeline_after: int | None
    revision_before: int
    revision_restored: int | None
    snapshot_revision: int
    failovers: list[PrimaryChange]
    demotions: list[RoleChange]
    role_changes: list[RoleChange]
    gap: float
    acked: int
    missing: list[int]
    log: list[str]
    watch: dict = field(default_factory=dict)
    watch_from: float = 0.0

    def run_timeline(self) -> list[str]:
        """The restore's step lines (when each step started and how long it took) and the outage
        it measured: what to hold against the Patroni log when a primary demoted."""
        kept = [
            line
            for line in self.output.splitlines()
            if re.match(r"\d\d:\d\d:\d\dZ (\[\d+/\d+\]|    done in)", line)
            or line.startswith("clients had no etcd")
        ]
        return ["restore run:", *("  " + line for line in kept)] if kept else []

    def summary(self) -> str:
        w, t = self.watch, self.watch_from
        return "\n".join(
            [
                f"snapshot names {self.stale.named} as leader, primary at restore "
                f"{self.stale.primary}; "
                f"restore exit {self.rc} in {self.restore_seconds:.1f}s",
                f"revision: {self.revision_before} before, snapshot {self.snapshot_revision}, "
                f"{self.revision_restored} right after the restore",
                f"timeline {self.timeline_before} -> {self.timeline_after}",
                f"failovers: {[(c.old, c.new, c.timeline) for c in self.failovers]}",
                f"demotions: {[(c.node, c.old, c.new) for c in self.demotions]}",
                f"role changes: {[(c.node, c.old, c.new, c.timeline) for c in self.role_changes]}",
                f"writer: {self.acked} rows acknowledged, {len(self.missing)} missing "
                f"{self.missing[:10]}, "
                f"longest write gap from the restore on {self.gap:.2f}s",
                f"watch: got up to revision {highest_before_break(w, t)} before the restore broke "
                "it; after: "
                f"{len(events_after_break(w, t))} events (revisions "
                f"{[e['mod_revision'] for e in events_after_break(w, t)][:10]}), "
                f"{len(reused_revisions(w, t))} at revisions it had passed, compaction errors "
                f"{compacted(w)}",
                f"watch: the restored cluster started again at revision {self.snapshot_revision}: "
                "its revisions "
                f"{self.snapshot_revision + 1}..{highest_before_break(w, t)} lie below where the "
                "watch resumed, never "
                "delivered"
                if self.revision_restored is not None
                and not compacted(w)
                and self.snapshot_revision < highest_before_break(w, t)
                else "",
                *self.run_timeline(),
                "patroni log:",
                *("  " + line for line in self.log),
            ]
        )


def restore_under_load(lab: LabEnv, pg: PatroniCluster, tmp: Path, *params: str) -> Outcome:
    stale = pg.stale_leader_snapshot()
    snapshot_revision = json.loads(stale.snapshot.with_suffix(".json").read_text())["revision"]
    pg.start_writer()
    timeline_before, revision_before = pg.timeline(), revision(lab)
    watch = Watch(lab, tmp / "watch.json", "/service/", revision_before + 1)
    time.sleep(2)  # the writer and the watch run a little before the restore
    since, wall = time.monotonic(), time.time()
    restored: int | None = None
    timeline_after: int | None = None
    try:
        proc = lab.etcdops(
            "run", "restore", "-i", "lab", "-p", "snapshot=latest", *params, "--yes", timeout=600
        )
        done = time.monotonic()
        if proc.returncode == 0:
            restored = revision(lab)
            pg.settle(
                done
            )  # TTL + loop_wait after the restore: a restored lease has expired by then
            timeline_after = pg.timeline()
    finally:
        writer = pg.stop_writer()
        watched = watch.stop()
    out = Outcome(
        stale,
        proc.returncode,
        proc.stdout[-12000:] + proc.stderr[-3000:],
        done - since,
        timeline_before,
        timeline_after,
        revision_before,
        restored,
        snapshot_revision,
        pg.failovers(since),
        pg.demotions(since),
        pg.role_changes(since),
        pg.longest_write_gap(since, writer.stopped),
        len(writer.acked),
        pg.missing_rows(),
        pg.log_lines(wall),
        watched,
        wall,
    )
    print("\n" + out.summary())
    return out


def test_restore_keeping_leases_fails_patroni_over(
    patroni: tuple[LabEnv, PatroniCluster], tmp_path: Path
) -> None:
    """Today's restore, asked for explicitly: the snapshot's leases kept, no revision bump. The
    restored leader key names A with A's lease, which gets a fresh TTL; B fails to update the key
    and demotes, A promotes. The harness must see it."""
    lab, pg = patroni
    out = restore_under_load(lab, pg, tmp_path, "-p", "leases=keep", "-p", "bump_revision=0")
    assert out.rc == 0, out.output
    assert out.failovers or out.demotions, f"no demotion or failover seen:\n{out.summary()}"


def test_restore_is_survived_by_patroni_and_ends_old_watches(
    patroni: tuple[LabEnv, PatroniCluster], tmp_path: Path
) -> None:
    lab, pg = patroni
    out = restore_under_load(lab, pg, tmp_path)
    assert out.rc == 0, out.output
    w, t = out.watch, out.watch_from
    problems = [
        text
        for bad, text in [
            (out.failovers, f"Patroni failed over: {out.failovers}"),
            (out.demotions, f"a primary was demoted: {out.demotions}"),
            (
                out.timeline_after != out.timeline_before,
                f"timeline {out.timeline_before} -> {out.timeline_after}",
            ),
            (out.missing, f"{len(out.missing)} acknowledged rows are missing"),
            (
                out.gap >= WRITE_GAP_BOUND,
                f"longest write gap {out.gap:.2f}s (bound {WRITE_GAP_BOUND}s)",
            ),
            (
                not compacted(w),
                "the watch opened before the restore got no compaction error after it",
            ),
            (
                reused_revisions(w, t),
                f"the watch got revisions it had passed: {reused_revisions(w, t)[:3]}",
            ),
        ]
        if bad
    ]
    assert not problems, "\n".join(problems) + "\n\n" + out.summary()
