"""One source for what is planned and what is run (issue 27): placeholders filled and quoted when
a step runs, a command the plan does not show refused before it reaches the host, and the check
the lab tests make on every journal, which can fail."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from etcdops.commands import Live, etcdctl, sh
from etcdops.errors import UnplannedCommand
from etcdops.steps.base import Action, ExecContext
from etcdops.transport import Result
from tests.helpers import RUN, lab_facts, lab_inventory
from tests.integration.helpers import unplanned_commands


def test_a_placeholder_shows_in_the_plan_and_is_filled_quoted_when_it_runs() -> None:
    planned = sh("etcdctl", "compact", Live("REVISION"), Live("T", prefix="--command-timeout="))
    assert planned.display == "etcdctl compact <REVISION> --command-timeout=<T>"
    assert planned.unfilled == ("REVISION", "T")
    ran = planned.fill(REVISION="5; rm -rf /", T="10s")
    assert ran.text == "etcdctl compact '5; rm -rf /' --command-timeout=10s"
    assert ran.display == ran.text and ran.planned == planned.display and not ran.unfilled
    with pytest.raises(ValueError, match="no value for T"):
        planned.fill(REVISION=1)


def test_endpoints_known_only_live_are_one_word() -> None:
    inv = lab_inventory()
    command = etcdctl(inv.host("node1").etcd, "member", "list", endpoints=Live("LEADER"))
    assert "--endpoints=<LEADER>" in command.display
    assert (
        "--endpoints=http://a:2379,http://b:2379 "
        in command.fill(LEADER="http://a:2379,http://b:2379").text
    )


class Host:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(
        self, command: str, timeout: float, env: object = None, cancel: object = None
    ) -> Result:
        self.ran.append(command)
        return Result(0, "", "")


def context(action: Action, host: Host) -> ExecContext:
    facts = lab_facts(lab_inventory())
    return ExecContext(
        host="node1",
        step="s",
        timeout=5,
        deadline=time.monotonic() + 5,
        info=RUN,
        transports=lambda _name: host,  # type: ignore[arg-type,return-value]
        read_facts=lambda: facts,
        planned=action.planned(),
    )


def test_only_what_the_plan_shows_runs() -> None:
    move = sh("mv", "-nT", "--", "a", Live("ASIDE"))
    action = Action(intent="x", commands=(move,), reads=(sh("stat", "a").reads(),))
    host = Host()
    ex = context(action, host)
    ex.run(move.fill(ASIDE="a.old"))
    ex.run(sh("stat", "a"))  # the same command as the planned read
    with pytest.raises(UnplannedCommand, match="not in the step's plan"):
        ex.run(sh("rm", "-rf", "--", "a"))
    with pytest.raises(UnplannedCommand, match="not filled"):
        ex.run(move)
    assert host.ran == ["mv -nT -- a a.old", "stat a"]  # the refused ones never reached it


def test_the_journal_check_finds_what_the_plan_does_not_show(tmp_path: Path) -> None:
    run_dir = tmp_path / ".etcdops" / "runs" / "20260101T000000Z-abc123"
    run_dir.mkdir(parents=True)
    plan = {"steps": [{"index": 1, "actions": [{"commands": ["mv <A> b"], "reads": ["stat b"]}]}]}
    (run_dir / "plan.json").write_text(json.dumps(plan))
    events = [
        {"event": "command", "step": 1, "command": "mv 'x y' b", "read": False},
        {"event": "command", "step": 1, "command": "stat b", "read": True},
        {"event": "command", "step": 1, "command": "rm -rf b", "read": False},
        {"event": "command", "step": 1, "command": "mv x b", "read": True},
    ]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    found = unplanned_commands(tmp_path)
    assert len(found) == 2 and "rm -rf b" in found[0] and "(reads): mv x b" in found[1]
