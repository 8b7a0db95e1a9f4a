"""Wiring: find and load the pieces, read facts, build the plan. No printing here."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops import paths
from etcdops.commands import Command
from etcdops.errors import BadInput, EtcdopsError, RunbookError
from etcdops.facts.gather import gather
from etcdops.facts.model import ClusterFacts
from etcdops.facts.through import Through
from etcdops.inventory import Inventory, load_inventory, resolve_inventory
from etcdops.params import parse_params, split_assignments
from etcdops.plan import Plan, build_plan, new_run
from etcdops.runbook import Runbook, find_runbooks, load_runbook
from etcdops.steps.base import RunInfo
from etcdops.templating import Secret
from etcdops.transport import Result
from etcdops.transport.pool import Pool

PROBE_TIMEOUT = 30.0


def builtin_dir(name: str) -> Path:
    """runbooks/ or playbooks/ of the project, else the ones beside the installed package."""
    local = paths.project_root() / name
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent.parent / name


def runbook_dirs(extra: list[Path] | None) -> list[Path]:
    return [builtin_dir("runbooks"), *(extra or [])]


def get_runbook(name_or_path: str, extra: list[Path] | None = None) -> Runbook:
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml") and path.is_file():
        return load_runbook(path)
    found = find_runbooks(runbook_dirs(extra))
    if name_or_path not in found:
        raise RunbookError(
            name_or_path, None, f"no such runbook (known: {', '.join(sorted(found)) or 'none'})"
        )
    return load_runbook(found[name_or_path])


def get_inventory(name_or_path: str) -> Inventory:
    return load_inventory(resolve_inventory(name_or_path, paths.project_root()))


class LiveProbe:
    """Read-only access for planning: current files and pre-flight commands."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def read(self, host: str, path: str) -> str | None:
        return self.pool.get(host).read_file(path, PROBE_TIMEOUT)

    def check(self, host: str, command: str) -> tuple[bool, str]:
        try:
            result = self.pool.get(host).run(command, PROBE_TIMEOUT)
        except EtcdopsError as exc:
            return False, str(exc)
        text = (result.stderr or result.stdout).strip().splitlines()
        return result.ok, (text[-1] if text else f"exit code {result.exit_code}")

    def run(self, host: str, command: Command) -> Result:
        return self.pool.get(host).run(
            command.text, PROBE_TIMEOUT, env=command.revealed_env() or None
        )


@dataclass
class Prepared:
    runbook: Runbook
    inventory: Inventory
    params: dict[str, Any]
    pool: Pool
    assignments: tuple[str, ...] = ()  # the -p key=value the user gave, as given

    def facts(self, versions: bool = True) -> ClusterFacts:
        return gather(self.inventory, self.pool, versions=versions)

    def live_facts(self, through: Through | None = None) -> ClusterFacts:
        """The re-reads during a run: live state only, not the installed binaries' versions; with
        through, every member's etcd asked through one member host where it can
        (facts/through.py)."""
        return gather(self.inventory, self.pool, versions=False, through=through)

    def param_hosts(self) -> list[str]:
        """The inventory hosts the runbook's host params name (scale-out's new host, say)."""
        return [
            str(v)
            for k, v in self.params.items()
            if (p := self.runbook.param(k)) and p.type == "host"
        ]

    def plan(
        self,
        facts: ClusterFacts | None = None,
        run: RunInfo | dict[str, str] | None = None,
        frozen: dict[str, Any] | None = None,
    ) -> Plan:
        """The plan; `frozen`: vars of a run being resumed or reviewed, as they were then."""
        if facts is None:
            # connect to the hosts named by params that are not read for facts while the members'
            # facts are read, so that their pre-flight checks find the connection open; a failure
            # here is left to the check or step that uses the host, which connects again and says so
            members = {h.name for h in self.inventory.members}
            others = [h for h in self.param_hosts() if h not in members]
            if others:
                threading.Thread(
                    target=self.pool.map,
                    args=(others, lambda h: self.pool.get(h).connect()),
                    daemon=True,
                ).start()
            facts = self.facts()
        if isinstance(run, dict):
            run = RunInfo(id=run["id"], stamp=run["stamp"], time=run["time"])
        return build_plan(
            self.runbook,
            self.inventory,
            self.params,
            facts,
            LiveProbe(self.pool),
            run or new_run(),
            builtin_dir("playbooks"),
            frozen or {},
        )


def prepare(
    runbook_name: str,
    inventory_name: str,
    assignments: list[str],
    extra_dirs: list[Path] | None = None,
) -> Prepared:
    """Everything that can be checked without connecting is checked here, first."""
    runbook = get_runbook(runbook_name, extra_dirs)
    inventory = get_inventory(inventory_name)
    params = parse_params(runbook, split_assignments(assignments), inventory)
    return Prepared(runbook, inventory, params, Pool(inventory), tuple(assignments))


def validate_all(
    inventory_name: str | None, runbooks: list[str], extra: list[Path] | None
) -> list[str]:
    """Load everything named (or everything there is) without connecting; return what was
    checked."""
    checked = []
    if inventory_name:
        inv = get_inventory(inventory_name)
        checked.append(
            f"inventory {inv.path}: {len(inv.hosts)} hosts, {len(inv.members)} in group etcd"
        )
    names = runbooks or sorted(find_runbooks(runbook_dirs(extra)))
    if not names:
        raise BadInput("no runbooks found")
    for name in names:
        rb = get_runbook(name, extra)
        checked.append(f"runbook {rb.name} ({rb.file}): {len(rb.steps)} steps")
    return checked


def secret_values(prepared: Prepared) -> list[str]:

    values = [v.reveal() for v in prepared.params.values() if isinstance(v, Secret)]
    for host in prepared.inventory.hosts.values():
        if host.etcd is not None and host.etcd.password is not None:
            values.append(host.etcd.password.reveal())
    return values


__all__ = ["Prepared", "prepare", "validate_all"]
