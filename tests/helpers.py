"""Helpers every test layer shares: fixture inventory and facts, a dict-backed probe, plans.

Unit tests never read inventories/lab/ (`lab up` rewrites it): they use the fixed copy in
tests/fixtures/inventories/lab/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etcdops.commands import Command
from etcdops.facts.gather import assemble
from etcdops.facts.model import ClusterFacts, EndpointStatus, HostFacts, Member
from etcdops.inventory import Inventory, load_inventory
from etcdops.params import parse_params, split_assignments
from etcdops.plan import Plan, PlannedStep, build_plan
from etcdops.runbook import load_runbook
from etcdops.steps.base import RunInfo
from etcdops.transport import Result

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
LAB_INVENTORY = FIXTURES / "inventories" / "lab"
RUN = RunInfo(
    id="20260101T000000Z-abc123", stamp="20260101T000000Z", time="2026-01-01T00:00:00+00:00"
)


def lab_inventory() -> Inventory:
    return load_inventory(LAB_INVENTORY)


class DictProbe:
    """The plan's read-only probe backed by dicts: files by (host, path), command outputs by
    host."""

    def __init__(
        self, files: dict[tuple[str, str], str] | None = None, outputs: dict[str, str] | None = None
    ) -> None:
        self.files = files or {}
        self.outputs = outputs or {}
        self.checked: list[str] = []

    def read(self, host: str, path: str) -> str | None:
        return self.files.get((host, path))

    def check(self, host: str, command: str) -> tuple[bool, str]:
        self.checked.append(command)
        return True, ""

    def run(self, host: str, command: Command) -> Result:
        self.checked.append(command.text)
        if (
            "df -PB1" in command.text and host not in self.outputs
        ):  # a roomy filesystem (1 TiB, all free)
            import shlex

            words = shlex.split(command.text)
            paths = [words[i + 1] for i, w in enumerate(words) if w == "%s\\t"]
            return Result(
                0, "".join(f"{p}\t/dev/vda 1099511627776 0 1099511627776 0% /\n" for p in paths), ""
            )
        return Result(0, self.outputs.get(host, ""), "")


def lab_facts(
    inv: Inventory,
    leader: str | None = "node1",
    down: tuple[str, ...] = (),
    version: str = "3.5.16",
    learners: tuple[str, ...] = (),
) -> ClusterFacts:
    members, hosts = [], {}
    names = [m.name for m in inv.members]
    for i, h in enumerate(inv.members, 1):
        assert h.etcd is not None
        learner = h.name in learners
        members.append(Member(i, h.etcd.name, (h.etcd.peer_url,), (h.etcd.client_url,), learner))
        status = EndpointStatus(
            h.etcd.client_url,
            99,
            i,
            version,
            1000,
            900,
            1 + names.index(leader) if leader else 0,
            2,
            10,
            10,
            5,
            learner,
        )
        hosts[h.name] = HostFacts(
            h.name,
            h.name not in down,
            None if h.name in down else status,
            h.name not in down,
            etcd_version=version,
        )
    return assemble(inv, hosts, members, 99, [])


def plan_for(
    inv: Inventory,
    name: str,
    assignments: list[str],
    probe: Any = None,
    facts: ClusterFacts | None = None,
    runbook: Path | None = None,
) -> Plan:
    rb = load_runbook(runbook or REPO / "runbooks" / f"{name}.yml")
    params = parse_params(rb, split_assignments(assignments), inv)
    return build_plan(
        rb, inv, params, facts or lab_facts(inv), probe or DictProbe(), RUN, REPO / "playbooks"
    )


def commands(step: PlannedStep) -> dict[str, list[str]]:
    """host → the step's commands as they run (secrets revealed), in order."""
    return {a.host: [c.text for c in a.action.commands] for a in step.actions}
