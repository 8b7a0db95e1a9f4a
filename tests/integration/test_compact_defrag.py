"""compact-defrag on labs of their own: a ~130 MB database shrinks on every member, the leader last,
while a writer keeps writing; a member down refuses the run; NOSPACE is cleared."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.helpers import (
    LabEnv,
    Writer,
    check_report_files,
    check_writes,
    fill,
    frozen,
    net,
    newest_run,
    running_lab,
    runs,
    start,
    wait_for_event,
)

pytestmark = pytest.mark.lab
MB = 1 << 20


@pytest.fixture(scope="module", params=["plain", "auth"])
def dlab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabEnv]:
    """Every compact-defrag test on this lab runs twice: plain, and with etcd auth enabled (the
    password watched for on every process list)."""
    with running_lab(
        tmp_path_factory.mktemp("defrag"), net(6), members=3, spares=0, auth=request.param == "auth"
    ) as labenv:
        yield labenv


def log_times(lab: LabEnv, name: str, msg: str, **fields: object) -> list[datetime]:
    """When the member's etcd logged msg (zap trims trailing zeros of the fraction: parsed, not
    compared as text)."""
    entries = [
        json.loads(line)
        for line in (lab.host_root(name) / "var" / "log" / "etcd.log").read_text().splitlines()
        if line.startswith("{")  # grpc-go writes its own warnings as plain text
    ]
    return [
        datetime.fromisoformat(e["ts"])
        for e in entries
        if e.get("msg") == msg and all(e.get(k) == v for k, v in fields.items())
    ]


def defrag_log_times(lab: LabEnv, name: str) -> list[datetime]:
    return log_times(lab, name, "finished defragmenting directory")


def test_a_member_down_refuses_and_nothing_is_compacted(dlab: LabEnv) -> None:
    dlab.ctl("put", "probe", "v1")
    dlab.ctl("put", "probe", "v2")
    dlab.service("node3", "stop")
    try:
        proc = dlab.etcdops("run", "compact-defrag", "-i", "lab", "--yes", "-p", "rule=always")
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "node3" in proc.stderr
        # revision 2 is still readable: no compaction happened
        assert "v1" in dlab.ctl("get", "probe", "--rev=2", endpoints=dlab.client_url("node1"))
    finally:
        dlab.service("node3", "start")
    dlab.wait_healthy()


def test_every_member_shrinks_leader_last_while_a_writer_writes(
    dlab: LabEnv, tmp_path: Path
) -> None:
    assert fill(dlab, 20000, 5, 1024).returncode == 0
    before = {e["host"]: e for e in dlab.wait_healthy()["endpoints"]}
    assert all(e["db_size"] > 100 * MB for e in before.values()), before
    leader = dlab.wait_healthy()["leader"]
    writer = Writer(
        dlab, tmp_path / "writes.json", [dlab.client_url(n) for n in ("node1", "node2", "node3")]
    )
    try:
        proc = dlab.etcdops(
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "--report",
            str(tmp_path / "r.json"),
            "--junit",
            str(tmp_path / "j.xml"),
            timeout=900,
        )
    finally:
        result = writer.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DEFRAGMENT NOW?" in proc.stdout and "(the leader) last" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    figures = [
        item
        for s in report["steps"]
        for h in s["hosts"]
        for item in h["report"]
        if "member" in item
    ]
    assert [f["member"] for f in figures][-1] == leader and len(figures) == 3
    # what clients wait for, before and after (issue 32.4); with auth and client certificates
    # etcd refuses its gateway to this client, and the probe says so and measures nothing
    timed = [
        item
        for s in report["steps"]
        for h in s["hosts"]
        for item in h["report"]
        if "latency" in item
    ]
    if dlab.password is None:
        assert [t["label"] for t in timed] == ["before", "after"], timed
        for t in timed:
            assert set(t["latency"]) == {"node1", "node2", "node3"}, t
            assert all(0 < f["put_p50_ms"] <= f["put_p99_ms"] for f in t["latency"].values()), t
    assert not dlab.ctl("get", "etcdops/latency/", "--prefix", "--keys-only").strip()
    for f in figures:
        assert f["db_after"] <= f["in_use_after"] * 1.10 + MB, f
        assert f["db_after"] < f["db_before"] / 2, f
    after = {e["host"]: e for e in dlab.wait_healthy()["endpoints"]}
    for name, e in after.items():
        assert e["db_size"] <= e["db_size_in_use"] * 1.10 + MB + 2 * MB, (
            name,
            e,
        )  # the writer kept writing
    # the etcd logs agree: the leader finished its defragmentation last
    last = {name: defrag_log_times(dlab, name)[-1] for name in after}
    assert max(last, key=last.get) == leader  # type: ignore[arg-type]
    # every member was told to have finished deleting by its compaction counters (the metrics, also
    # with etcd auth on), and its log agrees: it finished the compaction before it began
    # defragmenting
    compaction = next(
        i for s in report["steps"] for h in s["hosts"] for i in h["report"] if "compacted_at" in i
    )
    assert compaction["finished_by"] == {
        "node1": "counters",
        "node2": "counters",
        "node3": "counters",
    }, compaction
    for name in after:
        finished = log_times(
            dlab,
            name,
            "finished scheduled compaction",
            **{"compact-revision": compaction["compacted_at"]},
        )
        assert len(finished) == 1 and finished[0] < log_times(dlab, name, "defragmenting")[-1], (
            name,
            finished,
        )
    check_writes(dlab, result, dlab.client_url("node2"))
    check_report_files(tmp_path / "r.json", tmp_path / "j.xml", steps=8, failures=0)


def test_move_leader_means_no_leader_is_defragmented(dlab: LabEnv, tmp_path: Path) -> None:
    leader = dlab.wait_healthy()["leader"]
    proc = dlab.etcdops(
        "run",
        "compact-defrag",
        "-i",
        "lab",
        "--yes",
        "-p",
        "rule=always",
        "-p",
        "move_leader=true",
        "--output",
        "json",
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    figures = [
        item
        for s in report["steps"]
        for h in s["hosts"]
        for item in h["report"]
        if "member" in item
    ]
    assert [f["member"] for f in figures][-1] == leader
    for f in figures:
        assert f["leader_before"] != f["member"] and f["leader_after"] != f["member"], f
    assert dlab.wait_healthy()["leader"] != leader


def test_nospace_is_cleared(tmp_path: Path) -> None:
    root_vars = {"etcd_quota_backend_bytes": 16 * MB}
    with running_lab(tmp_path, net(7), members=3, spares=0, extra_vars=root_vars) as small:
        proc = fill(small, 200, 200, 1024, "big/")  # 40 MB of revisions > the 16 MB quota
        assert proc.returncode != 0 and "database space exceeded" in proc.stderr
        status = small.wait_healthy()
        assert any(a["alarm"] == "NOSPACE" for a in status["alarms"])
        # the alarms runbook lists it, and refuses to disarm while a member is still near its quota
        listed = small.etcdops("run", "alarms", "-i", "lab", "--yes")
        assert listed.returncode == 0 and "ALARMS: NOSPACE" in listed.stdout, listed.stdout
        early = small.etcdops("run", "alarms", "-i", "lab", "-p", "disarm=NOSPACE", "--yes")
        assert early.returncode == 1 and "NOSPACE stays armed" in early.stderr, early.stderr
        run = small.etcdops("run", "compact-defrag", "-i", "lab", "--yes", timeout=900)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Disarm NOSPACE" in run.stdout and "quota usage" in run.stdout
        status = small.wait_healthy()
        assert status["alarms"] == []
        small.ctl("put", "after-nospace", "works", endpoints=small.client_url("node2"))


def test_a_member_that_becomes_unhealthy_stops_the_run_before_any_defrag(
    dlab: LabEnv, tmp_path: Path
) -> None:

    status = dlab.wait_healthy()
    victim = next(e["host"] for e in status["endpoints"] if e["host"] != status["leader"])
    before = runs(dlab)
    # defrag_timeout: were the member frozen during its own defragmentation (the race below lost),
    # etcdctl defrag would wait that long for it (600 s by default), and this test says so in 60 s
    proc = start(
        dlab,
        "compact-defrag",
        "-p",
        "rule=always",
        "-p",
        "defrag_timeout=60",
        "--report",
        str(tmp_path / "r.json"),
    )
    # compaction applied everywhere: the member hangs (it stops answering) before step 3 reads the
    # cluster's health. The re-check between the steps is one curl (~20 ms), so the journal is
    # watched every 2 ms and the runner held still while the member is frozen
    wait_for_event(newest_run(dlab, before), "step_finished", 2, every=0.002)
    with contextlib.ExitStack() as held:
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            held.enter_context(frozen(dlab.host_root(victim) / "run" / "etcd.pid"))
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert "not healthy" in err and "stopping here" in err
    failed = next(line for line in err.splitlines() if "FAILED" in line or "not healthy" in line)
    assert f"{victim} (" in failed and failed.index(victim) < failed.index("not healthy"), (
        failed
    )  # the sick one
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["status"] for s in report["steps"]][2:] == ["failed"] + ["pending"] * 5
    assert not [
        item
        for s in report["steps"]
        for h in s["hosts"]
        for item in h["report"]
        if "member" in item
    ]
    dlab.wait_healthy()


LEADER_MOVES = """name: leader-moves
description: leadership moves away between the plan and a step planned for the followers
steps:
  - name: Move leadership away
    target: "host:{{ facts.leader_host }}"
    move_leader: {to: "{{ facts.healthy_voter_host([facts.leader_host]) }}"}
  - name: Defragment the followers
    target: followers
    etcd_defrag: always
"""


def test_a_leader_moved_after_the_plan_stops_a_step_planned_for_the_followers(dlab: LabEnv) -> None:
    """The re-check before a followers step reads who leads now through etcd's gateway (one curl on
    one member; the full facts with etcd auth on), and the step planned with the old leader is
    refused; nothing is defragmented."""
    books = dlab.root / "leader-books"
    books.mkdir(exist_ok=True)
    (books / "leader-moves.yml").write_text(LEADER_MOVES)
    leader = dlab.wait_healthy()["leader"]
    before = {name: len(defrag_log_times(dlab, name)) for name in ("node1", "node2", "node3")}
    proc = dlab.etcdops(
        "run", "leader-moves", "-i", "lab", "--yes", "--runbooks", str(books), "-o", "json"
    )
    assert proc.returncode == 6, proc.stdout + proc.stderr
    now = dlab.wait_healthy()["leader"]
    assert (
        now != leader
        and f"planned with {leader} as leader, but the leader is now {now}" in proc.stderr
    )
    run_id = json.loads(proc.stdout)["run_id"]
    events = [
        json.loads(line)
        for line in (dlab.root / ".etcdops" / "runs" / run_id / "events.jsonl")
        .read_text()
        .splitlines()
    ]
    recheck = [e for e in events if e["event"] == "recheck"]
    # with etcd auth on, etcd refuses its gateway to a client certificate ("CommonName of client
    # sending
    # a request against gateway will be ignored"): the full facts decide, with the same outcome
    read = "facts" if dlab.password else "gateway, from "
    assert (
        len(recheck) == 1 and recheck[0]["leader"] == now and recheck[0]["read"].startswith(read)
    ), recheck
    assert {name: len(defrag_log_times(dlab, name)) for name in before} == before


def test_quiet_members_are_judged_on_figures_that_count_what_the_compaction_freed(
    tmp_path: Path,
) -> None:
    """Issue 28.4: 4 members, ~90 MB written, nothing writing during the run. A quiet member's
    space in use counts the pages its compaction freed only after it has committed later writes
    (facts/space.py): the old code judged every member but the one asked on figures from before
    the compaction, skipped them under the default rule, and said every member had finished. Now
    each is judged on settled figures, and the run ends with a table of every member."""
    with running_lab(tmp_path, net(28), members=4, spares=0) as quiet:
        # 250 keys of 120 KB written 3 times: the compaction frees 2 of 3 versions (~60 MB) in
        # one delete batch (etcd deletes 1000 revisions a batch): nothing else commits after it
        assert fill(quiet, 250, 3, 120_000, "q/").returncode == 0
        before = {e["host"]: e for e in quiet.wait_healthy()["endpoints"]}
        assert all(e["db_size"] > 80 * MB for e in before.values()), before
        proc = quiet.etcdops(
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "--report",
            str(tmp_path / "r.json"),
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # what every member holds, once all it freed counts: writes that every member commits
        for n in range(3):
            quiet.ctl("put", "settle", str(n))
            time.sleep(0.3)
        after = {e["host"]: e for e in quiet.wait_healthy()["endpoints"]}
        left = {
            host: (e["db_size"], e["db_size_in_use"])
            for host, e in after.items()
            if e["db_size"] - e["db_size_in_use"] > 0.5 * e["db_size"]
        }
        assert not left, (
            "members left with more than half of their db reclaimable (the default rule holds on "
            f"their settled figures): {left}\n{proc.stdout}"
        )
        report = json.loads((tmp_path / "r.json").read_text())
        items = [i for s in report["steps"] for h in s["hosts"] for i in h["report"]]
        compaction = next(i for i in items if "compacted_at" in i)
        assert all(f["settled"] for f in compaction["figures"].values()), compaction
        assert compaction["nudges"] >= 1, compaction  # nothing wrote: etcdops made them commit
        tables = [i["space"] for i in items if "space" in i]
        assert len(tables) == 1 and [r["host"] for r in tables[0]] == [
            "node1",
            "node2",
            "node3",
            "node4",
        ], tables
        assert all(r["defragmented"] for r in tables[0]), tables
        assert "DB SIZE BEFORE -> AFTER" in proc.stderr  # the progress lines
        print(proc.stderr)
        # a member skipped says the figures it was judged on, which have settled
        proc = quiet.etcdops(
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "-p",
            "rule=reclaimable > 1000 * MB",
            "--report",
            str(tmp_path / "r2.json"),
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads((tmp_path / "r2.json").read_text())
        skipped = [
            i for s in report["steps"] for h in s["hosts"] for i in h["report"] if "skipped" in i
        ]
        assert sorted(i["skipped"] for i in skipped) == ["node1", "node2", "node3", "node4"]
        assert all(
            i["in_use"] <= i["db_size"] and i["read"] == "settled after this run's compaction"
            for i in skipped
        ), skipped
        assert proc.stderr.count("not needed under rule reclaimable > 1000 * MB: judged on db") == 4
        print(proc.stderr)
