"""What the upgrade runbook asks of etcdops.versions, with the cluster's facts: the members'
running versions, the rolling path (or the rule that refuses it), the room for a snapshot, and
etcd.env rendered for the target (render_env_for; a refusal stops the plan, nothing is written).

Template helpers (context.py): read-only, at plan time."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

from etcdops import units
from etcdops.errors import Refused
from etcdops.facts.disk import margin
from etcdops.facts.model import ClusterFacts
from etcdops.facts.parse import parse_version
from etcdops.versions import Refusal, UpgradePath, Version, render_env_for, upgrade_path

VERSION_TIMEOUT = 10.0  # s for `etcd --version` of the staged binary on the control node


def running_versions(facts: ClusterFacts, names: Iterable[str]) -> dict[str, str]:
    """name → the version each member's etcd serves now (its status), else its installed etcd's."""
    found: dict[str, str] = {}
    for name in names:
        host = facts.hosts.get(name)
        version = (host.status.version if host and host.status else "") or (
            host.etcd_version if host else ""
        )
        if version:
            found[str(name)] = version
    return found


def path_of(facts: ClusterFacts, names: Iterable[str], target: str) -> UpgradePath | Refusal:
    """The rolling upgrade of the members to target (leader last), or the rule that refuses it;
    a member whose version cannot be read is itself a refusal."""
    names = [str(n) for n in names]
    versions = running_versions(facts, names)
    missing = [n for n in names if n not in versions]
    if missing:
        return Refusal(
            "unknown-version",
            f"refused (unknown version): the etcd version of {', '.join(missing)} could not be "
            "read (etcd does not answer and `etcd --version` gave nothing)",
            "",
        )
    return upgrade_path(versions, target, leader=facts.leader_host)


def refusal(facts: ClusterFacts, names: Iterable[str], target: str) -> str:
    """'' when the upgrade may go on, else the one sentence that refuses it."""
    found = path_of(facts, names, target)
    return found.message if isinstance(found, Refusal) else ""


def order(facts: ClusterFacts, names: Iterable[str], target: str) -> list[str]:
    """The members still to upgrade, one at a time: followers first, the leader last."""
    found = path_of(facts, names, target)
    return [] if isinstance(found, Refusal) else [s.member for s in found.steps]


def kind(facts: ClusterFacts, names: Iterable[str], target: str) -> str:
    """patch | minor | none (every member on the target) | refused."""
    found = path_of(facts, names, target)
    return "refused" if isinstance(found, Refusal) else found.kind


def minor_from_34(facts: ClusterFacts, names: Iterable[str], target: str) -> bool:
    """A member runs 3.4 and the target is 3.5: the auth rule applies."""
    versions = running_versions(facts, names)
    return Version.parse(target).minor_line == (3, 5) and any(
        Version.parse(v).minor_line == (3, 4) for v in versions.values()
    )


def minor_to_36(facts: ClusterFacts, names: Iterable[str], target: str) -> bool:
    """A member runs 3.5 and the target is 3.6: `etcdutl check v2store` must pass first."""
    versions = running_versions(facts, names)
    return Version.parse(target).minor_line == (3, 6) and any(
        Version.parse(v).minor_line == (3, 5) for v in versions.values()
    )


def snapshot_room(facts: ClusterFacts, names: Iterable[str]) -> list[str]:
    """The members whose data dir's filesystem has no room for a snapshot of their database
    (its size, plus the margin facts/disk.py keeps free), each with the figures."""
    short = []
    for name in names:
        host = facts.hosts.get(str(name))
        if host is None or host.status is None or host.data_fs is None:
            continue
        size, free, mount = host.data_fs
        need = host.status.db_size + margin(size)
        if free < need:
            short.append(
                f"{name} ({mount}: {units.size(free)} free, a snapshot needs "
                f"{units.size(host.status.db_size)} + {units.size(margin(size))} kept free)"
            )
    return short


def env_for(current: str | None, target: str, current_version: str | None, where: str) -> str:
    """etcd.env rewritten for target (versions.render_env_for); Refused (exit 3) naming each line
    the target cannot take, so nothing the new binary rejects is ever written."""
    text, _changes, refusals = render_env_for(
        target, current or "", current_version=current_version or None
    )
    if refusals:
        raise Refused(
            f"{where}: etcd.env cannot be rendered for etcd {target}: "
            + "; ".join(r.message for r in refusals)
        )
    return text


def staged_version(etcd: str) -> str:
    """What `ETCD --version` says on the control node ('' when it does not run here: another
    architecture than the control node's, or no etcd at all), so that a source directory of
    another version is refused before any member is touched."""
    try:
        done = subprocess.run(
            [etcd, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    found, _ = parse_version(done.stdout) if done.returncode == 0 else (None, None)
    return found or ""
