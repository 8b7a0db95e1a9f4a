"""The runner's own logic without hosts: wait steps only, facts from a function."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from etcdops.errors import CommandFailed, ExitCode, StepFailed
from etcdops.execute.journal import Journal
from etcdops.execute.runner import Runner, with_retries
from etcdops.inventory import load_inventory
from etcdops.plan import build_plan
from etcdops.runbook import load_runbook
from etcdops.steps.base import Outcome
from tests.helpers import LAB_INVENTORY, RUN, DictProbe, lab_facts

WAITS = """name: waits
description: three waits that hold at once
steps:
  - {name: One, wait: {until: "true", timeout: 5}}
  - {name: Two, wait: {until: "true", timeout: 5}}
  - {name: Three, wait: {until: "true", timeout: 5}}
"""


class Quiet:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: None


def runner(repo: Path, tmp_path: Path, **kwargs) -> Runner:  # type: ignore[no-untyped-def]
    (tmp_path / "waits.yml").write_text(WAITS)
    inv = load_inventory(LAB_INVENTORY)
    facts = lab_facts(inv)
    plan = build_plan(
        load_runbook(tmp_path / "waits.yml"), inv, {}, facts, DictProbe(), RUN, repo / "playbooks"
    )
    return Runner(
        plan,
        inv,
        None,
        lambda: facts,
        Quiet(),
        Journal(tmp_path / "journal"),  # type: ignore[arg-type]
        assume_yes=True,
        confirm=None,
        secrets=[],
        **kwargs,
    )


def test_a_closing_window_stops_cleanly_between_steps(repo: Path, tmp_path: Path) -> None:
    calls = iter([None, "the maintenance window Sat 02:00-04:00 UTC has closed"])
    result = runner(repo, tmp_path, stop_reason=lambda: next(calls)).run()
    assert result.status == "window_closed" and result.exit_code == ExitCode.OUTSIDE_WINDOW
    assert [s.status.value for s in result.steps] == ["ok", "not started"]
    assert "--resume" in (result.error or "")


def test_a_resumed_run_skips_the_steps_that_finished(repo: Path, tmp_path: Path) -> None:
    result = runner(repo, tmp_path, done_before=frozenset({1, 2})).run()
    assert result.status == "successful"
    assert [s.status.value for s in result.steps] == ["done before", "done before", "ok"]


RECHECKS = """name: rechecks
description: re-checked steps around an action
steps:
  - {name: One, requires: ["facts.healthy"], wait: {until: "true", timeout: 5}}
  - {name: Two, requires: ["facts.healthy"], wait: {until: "true", timeout: 5}}
  - {name: Act, pause: {message: "an action", allow_unattended: true}}
  - {name: Three, requires: ["facts.healthy"], wait: {until: "true", timeout: 5}}
"""


def reads_for(repo: Path, tmp_path: Path, plan_facts_age: float) -> int:
    """How often a run of RECHECKS reads the facts, the plan's being plan_facts_age seconds old."""
    import dataclasses
    import time

    (tmp_path / "rechecks.yml").write_text(RECHECKS)
    inv = load_inventory(LAB_INVENTORY)
    facts = lab_facts(inv)
    planned = dataclasses.replace(facts, read_at=time.monotonic() - plan_facts_age)
    plan = build_plan(
        load_runbook(tmp_path / "rechecks.yml"),
        inv,
        {},
        planned,
        DictProbe(),
        RUN,
        repo / "playbooks",
    )
    reads = []

    def read() -> object:
        reads.append(1)
        return dataclasses.replace(facts, read_at=time.monotonic())

    result = Runner(
        plan,
        inv,
        None,
        read,
        Quiet(),
        Journal(tmp_path / "journal"),  # type: ignore[arg-type]
        assume_yes=True,
        confirm=None,
        secrets=[],
    ).run()
    assert result.status == "successful"
    return len(reads)


def test_a_recheck_reuses_facts_read_just_before_with_no_action_since(
    repo: Path, tmp_path: Path
) -> None:
    # One: the plan's facts (just read) + its wait; Two: the wait's facts + its wait; the pause is
    # an
    # action, so Three reads again before its wait
    assert reads_for(repo, tmp_path, plan_facts_age=0.0) == 4
    # plan facts older than FRESH_FOR (an operator took a while to confirm): One reads them again
    assert reads_for(repo, tmp_path, plan_facts_age=30.0) == 5


def test_a_long_copy_notes_its_progress_at_most_every_few_seconds() -> None:
    from etcdops.steps.copying import TransferProgress

    now = [100.0]
    notes: list[str] = []
    progress = TransferProgress("sent", notes.append, every=5.0, clock=lambda: now[0])
    total = 1000 << 20
    for second in range(1, 13):  # 12 s at ~80 MB/s, called every second
        now[0] = 100.0 + second
        progress(min(total, second * (80 << 20)), total)
    assert notes == [
        "sent 400.0 MiB of 1000.0 MiB (40%, 80.0 MiB/s)",
        "sent 800.0 MiB of 1000.0 MiB (80%, 80.0 MiB/s)",
    ]
    progress(total, total)  # the end is told by the step's own result, not by a note
    assert len(notes) == 2


SLOW = """name: slow
description: one command on the control node that takes a while
lock: none
steps:
  - {name: Slow, target: control, timeout: 30, command: {run: "sleep 0.7; echo done"}}
"""


def test_a_long_command_says_it_is_still_running(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "slow.yml").write_text(SLOW)
    inv = load_inventory(LAB_INVENTORY)
    facts = lab_facts(inv)
    plan = build_plan(
        load_runbook(tmp_path / "slow.yml"), inv, {}, facts, DictProbe(), RUN, repo / "playbooks"
    )
    notes: list[str] = []

    class Notes(Quiet):  # "still running" is a tick: a log prints it, a terminal shows it in place
        def tick(self, step: object, host: str, message: str) -> None:
            notes.append(f"{host}: {message}")

    from etcdops.transport.pool import Pool

    with Pool(inv) as pool:
        result = Runner(
            plan,
            inv,
            pool,
            lambda: facts,
            Notes(),
            Journal(tmp_path / "journal"),
            assume_yes=True,
            confirm=None,
            secrets=[],
            heartbeat=0.2,
        ).run()
    assert result.status == "successful"
    assert 2 <= len(notes) <= 4 and all(
        n.startswith("control: still running after ") for n in notes
    ), notes
    assert "the step's timeout is 30s" in notes[0]


LEADS = """name: leads
description: a step planned for the followers, after an action
steps:
  - {name: Act, pause: {message: "an action", allow_unattended: true}}
  - {name: Followers, target: followers, wait: {until: "true", timeout: 5}}
"""


def leader_run(
    repo: Path, tmp_path: Path, light: tuple[str, str] | None, facts_leader: str
) -> tuple[object, int]:
    """RECHECK of a followers step (planned with node1 leading): what the light leader read says,
    and the leader the full facts would show; (the result, how often the full facts were read)."""
    import dataclasses
    import time

    (tmp_path / "leads.yml").write_text(LEADS)
    inv = load_inventory(LAB_INVENTORY)
    facts = lab_facts(inv)
    assert facts.leader_host == "node1"
    plan = build_plan(
        load_runbook(tmp_path / "leads.yml"), inv, {}, facts, DictProbe(), RUN, repo / "playbooks"
    )
    reads = []

    def read() -> object:
        reads.append(1)
        return dataclasses.replace(facts, read_at=time.monotonic(), leader_host=facts_leader)

    result = Runner(
        plan,
        inv,
        None,
        read,
        Quiet(),
        Journal(tmp_path / "journal"),  # type: ignore[arg-type]
        assume_yes=True,
        confirm=None,
        secrets=[],
        read_leader=lambda: light,
    ).run()
    return result, len(reads)


def test_a_followers_step_rechecks_the_leader_with_one_light_read(
    repo: Path, tmp_path: Path
) -> None:
    # the full facts would say node2 leads (stale): the run goes on, so the recheck did not use them
    result, _ = leader_run(repo, tmp_path, ("node1", "node1"), facts_leader="node2")
    assert result.status == "successful", result  # type: ignore[attr-defined]
    events = (tmp_path / "journal" / "events.jsonl").read_text()
    assert (
        '"event": "recheck", "step": 2, "leader": "node1", "read": "gateway, from node1"' in events
    )


def test_a_moved_leader_found_by_the_light_read_stops_the_step(repo: Path, tmp_path: Path) -> None:
    result, reads = leader_run(repo, tmp_path, ("node3", "node1"), facts_leader="node1")
    assert result.status == "stale" and reads == 0, result  # type: ignore[attr-defined]
    assert "planned with node1 as leader, but the leader is now node3" in result.error  # type: ignore[attr-defined]


def test_where_the_light_read_cannot_tell_the_full_facts_decide(repo: Path, tmp_path: Path) -> None:
    result, reads = leader_run(repo, tmp_path, None, facts_leader="node2")
    assert result.status == "stale" and reads == 1, result  # type: ignore[attr-defined]
    assert "the leader is now node2" in result.error  # type: ignore[attr-defined]
    assert '"read": "facts"' in (tmp_path / "journal" / "events.jsonl").read_text()


class Clock:
    """What with_retries uses of an ExecContext: a deadline, notes and a sleep (recorded)."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + 60
        self.notes: list[str] = []
        self.slept: list[float] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def flaky(failures: list[Exception]):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def fn() -> Outcome:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return Outcome.ok("done")

    return fn, calls


def test_a_step_failure_a_kind_reports_is_retried_when_the_runbook_names_it() -> None:
    # etcd_hashkv reads the answers itself and raises StepFailed: the runbook's retry markers
    # (a member that joined a moment ago answering "invalid auth token") must still apply
    failed = StepFailed(
        "Verify", "node2", "not every member answered hashkv: auth: invalid auth token"
    )
    fn, calls = flaky([failed, failed])
    clock = Clock()
    out = with_retries(fn, 10, ("not every member answered",), 1.0, 1.0, 5.0, clock)  # type: ignore[arg-type]
    assert out.detail == "done" and len(calls) == 3 and clock.slept == [1.0, 1.0]
    assert "invalid auth token" in clock.notes[0]


def test_a_failure_the_runbook_does_not_name_is_not_retried() -> None:
    for failed in (
        StepFailed("Verify", "node2", "at revision 9 node4 hashes the keyspace differently"),
        CommandFailed("node2", "etcdctl ...", 1, "Error: permission denied"),
    ):
        fn, calls = flaky([failed])
        with pytest.raises(type(failed)):
            with_retries(fn, 10, ("not every member answered",), 1.0, 1.0, 5.0, Clock())  # type: ignore[arg-type]
        assert len(calls) == 1


def test_retries_stop_at_the_count() -> None:
    failed = CommandFailed("node2", "etcdctl ...", 1, "Error: etcdserver: unhealthy cluster")
    fn, calls = flaky([failed] * 5)
    clock = Clock()
    with pytest.raises(CommandFailed):
        with_retries(fn, 3, ("unhealthy cluster",), 1.0, 2.0, 3.0, clock)  # type: ignore[arg-type]
    assert len(calls) == 3 and clock.slept == [1.0, 2.0]
