"""Which rolling upgrades etcd allows, from the members' versions to a target: the steps, or why
not.

Pure: the runbook reads the members' versions (and whether auth is on, whether `etcdutl check
v2store` passed) and asks here. A refusal is one sentence naming the rule and its source; the
runbook turns it into exit 3. The rules, with their sources (sources.py):

- one minor at a time, never skipped: upgrade_3_6 "the running cluster must be v3.5 or greater",
  upgrade_3_7 "etcd only supports upgrading one minor version at a time".
- no downgrade here. 3.6 and later downgrade by their own procedure (`etcdctl downgrade validate
  TARGET`, `etcdctl downgrade enable TARGET`, then the binaries one member at a time:
  downgrade_3_6, downgrade_3_7); 3.5 → 3.4 has none once every member runs 3.5 (upgrade_3_5,
  "Downgrade": restore the snapshot taken before). While the cluster is still mixed, putting the
  old binary back is the guides' "rollback", not an upgrade either.
- 3.4 → 3.5 with auth enabled: "rolling upgrade from 3.4 or older version isn't supported because
  3.5 changes a format of WAL entries related to auth" (upgrade_3_5; etcd#11943).
- 3.5 → 3.6: every 3.5 member on 3.5.32 or later first. The current upgrade_3_6 guide (website
  9acb6b48, 2026-08-14): "make sure that all of your 3.5 members are updated to 3.5.32 or later".
  Stricter than kubespray's gate (>= 3.5.26, roles/etcd/tasks/clean_v2_store.yml), which covers the
  membership blockers (etcd#19557 fixed in 3.5.20, etcd#20793 in 3.5.24, etcd#20967 in 3.5.26) but
  not the v2 check: before 3.5.32 `etcdutl check v2store` reads only the v2 snapshot, not the WAL
  (etcd#21889). Seen here: a v2 write still only in the WAL passes 3.5.30's check ("No custom
  content found in v2store.", exit 0), and 3.6 panics at start on such a WAL ("detected disallowed
  v2 WAL for stage --v2-deprecation=write-only", kubespray's comment). The v2store check this
  runbook relies on is trustworthy only from 3.5.32, so 3.5.32 it is.
- 3.5 → 3.6: `etcdutl check v2store` clean on every member (upgrade_3_6, "V2 Store").
- 3.6 → 3.7: every 3.6 member on 3.6.11 or later (upgrade_3_7: "the running cluster must be
  v3.6.11 or later").

Mixed clusters (an upgrade stopped half-way) are continued: the rules of the lowest line apply,
members already on the target are left alone, and a target below any member is a downgrade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from etcdops.errors import ParamError
from etcdops.versions import sources
from etcdops.versions.flags import LINES
from etcdops.versions.refusal import Refusal
from etcdops.versions.version import Version

MIN_PATCH_BEFORE = {
    # line upgraded -> the oldest release of the line below that may start it
    (3, 6): (Version(3, 5, 32), sources.UPGRADE_3_6),
    (3, 7): (Version(3, 6, 11), sources.UPGRADE_3_7),
}
KUBESPRAY_MIN_BEFORE_3_6 = Version(3, 5, 26)  # weaker than etcd's own; kept for the record
GUIDE = {(3, 5): sources.UPGRADE_3_5, (3, 6): sources.UPGRADE_3_6, (3, 7): sources.UPGRADE_3_7}
DOWNGRADE_GUIDE = {(3, 6): sources.DOWNGRADE_3_6, (3, 7): sources.DOWNGRADE_3_7}


@dataclass(frozen=True)
class Requirement:
    """A check the runbook must run, and see pass on every member, before it changes anything."""

    rule: str
    check: str
    source: str


@dataclass(frozen=True)
class MemberStep:
    member: str
    current: Version
    target: Version

    @property
    def kind(self) -> Literal["patch", "minor"]:
        return "patch" if self.current.minor_line == self.target.minor_line else "minor"


@dataclass(frozen=True)
class UpgradePath:
    target: Version
    kind: Literal["patch", "minor", "none"]
    # one member at a time, in this order: followers first, leader last
    steps: tuple[MemberStep, ...]
    unchanged: tuple[str, ...]  # already on the target
    requires: tuple[Requirement, ...] = ()
    notes: tuple[str, ...] = field(default=())


def upgrade_path(
    members: Mapping[str, str | Version],
    target: str | Version,
    *,
    leader: str | None = None,
    auth_enabled: bool | None = None,
    v2store_clean: bool | None = None,
) -> UpgradePath | Refusal:
    """The rolling upgrade of `members` (name → etcd version) to `target`, or the rule that refuses
    it.

    leader: the member leading now (upgraded last). auth_enabled / v2store_clean: what the
    runbook found (True/False), or None when it has not looked: the path then *requires* the
    check."""
    if not members:
        raise ParamError("upgrade_path: no members")
    to = Version.parse(target)
    current = {name: Version.parse(ver) for name, ver in members.items()}
    refusal = (
        _unknown_line(current, to)
        or _downgrade(current, to)
        or _skipped_minor(current, to)
        or _minor_rules(current, to, auth_enabled, v2store_clean)
    )
    if refusal:
        return refusal
    return _path(current, to, leader, auth_enabled, v2store_clean)


def _names(current: Mapping[str, Version], pick: Callable[[Version], bool]) -> str:
    return ", ".join(f"{n} ({v})" for n, v in current.items() if pick(v))


def _unknown_line(current: Mapping[str, Version], to: Version) -> Refusal | None:
    known = ", ".join(f"{a}.{b}" for a, b in LINES)
    if to.minor_line not in LINES:
        return Refusal(
            "unknown-line",
            f"refused (unknown line): etcdops knows the upgrade rules and flags of etcd "
            f"{known} only, not {to.line} (target {to}); see {sources.FLAGS_SOURCE}.",
            sources.FLAGS_SOURCE,
        )
    odd = _names(current, lambda v: v.minor_line not in LINES)
    if odd:
        return Refusal(
            "unknown-line",
            f"refused (unknown line): member(s) {odd} run a line etcdops has no rules "
            f"for ({known}; {sources.FLAGS_SOURCE}); upgrade them to 3.4 by etcd's older guides "
            "first.",
            sources.FLAGS_SOURCE,
        )
    lines = sorted({v.minor_line for v in current.values()})
    if len(lines) > 2 or (len(lines) == 2 and lines[1][1] != lines[0][1] + 1):
        running = ", ".join(f"{a}.{b}" for a, b in lines)
        return Refusal(
            "mixed-lines",
            f"refused (mixed lines): the members run {running}, which no rolling upgrade "
            f"leaves behind (etcd runs one minor apart at most, "
            f"{sources.UPGRADE_3_6} 'Mixed versions'); look at the cluster by hand.",
            sources.UPGRADE_3_6,
        )
    return None


def _downgrade(current: Mapping[str, Version], to: Version) -> Refusal | None:
    above = {n: v for n, v in current.items() if v > to}
    if not above:
        return None
    names = _names(above, lambda v: True)
    top = max(above.values())
    if top.minor_line == to.minor_line:
        return Refusal(
            "downgrade",
            f"refused (downgrade): {to} is older than member(s) {names}, and this runbook only "
            f"upgrades; a patch downgrade is a binary swap of its own (etcd's downgrades: "
            f"{sources.DOWNGRADING}).",
            sources.DOWNGRADING,
        )
    mixed = any(v.minor_line == to.minor_line for v in current.values())
    if mixed:
        guide = GUIDE.get(top.minor_line, sources.UPGRADE_3_6)
        return Refusal(
            "downgrade",
            f"refused (downgrade): member(s) {names} already run {top.line} while others "
            f"still run {to.line}; putting the {to.line} binary back on them is the guide's "
            "rollback "
            f"of a mixed cluster ({guide} 'Rollback'), not an upgrade.",
            guide,
        )
    if top.minor_line >= (3, 6):
        guide = DOWNGRADE_GUIDE.get(top.minor_line, sources.DOWNGRADING)
        return Refusal(
            "downgrade",
            f"refused (downgrade): {top.line} → {to.line} is etcd's downgrade procedure "
            f"(`etcdctl downgrade validate {to.line}`, `etcdctl downgrade enable {to.line}`, then "
            "one "
            f"member at a time, one minor at a time: {guide}), not this upgrade.",
            guide,
        )
    return Refusal(
        "downgrade",
        f"refused (downgrade): every member runs {top.line} and etcd has no downgrade from "
        f"3.5 to 3.4 once the cluster is upgraded; restore a snapshot taken before the upgrade "
        f"({sources.UPGRADE_3_5} 'Downgrade').",
        sources.UPGRADE_3_5,
    )


def _skipped_minor(current: Mapping[str, Version], to: Version) -> Refusal | None:
    low = min(current.values())
    if to.minor <= low.minor + 1:
        return None
    between = f"{low.major}.{low.minor + 1}"
    guide = GUIDE[to.minor_line]
    behind = _names(current, lambda v: v.minor == low.minor)
    return Refusal(
        "skipped-minor",
        f"refused (skipped minor): member(s) {behind} must go to {between} before "
        f"{to.line}, since etcd upgrades one minor version at a time ({guide} 'Upgrade "
        "requirements').",
        guide,
    )


def _minor_rules(
    current: Mapping[str, Version],
    to: Version,
    auth_enabled: bool | None,
    v2store_clean: bool | None,
) -> Refusal | None:
    low = min(current.values())
    if low.minor_line == to.minor_line:
        return None
    if to.minor_line == (3, 5) and auth_enabled:
        return Refusal(
            "auth-3.4-to-3.5",
            "refused (3.4 → 3.5 with auth): etcd does not support a rolling upgrade "
            "from 3.4 while auth is enabled, because 3.5 changes the WAL format of auth entries "
            f"({sources.UPGRADE_3_5} 'Upgrade checklists', {sources.AUTH_WAL_PR}); disable auth "
            "for the "
            "upgrade or upgrade offline from a snapshot.",
            sources.UPGRADE_3_5,
        )
    if to.minor_line in MIN_PATCH_BEFORE:
        floor, guide = MIN_PATCH_BEFORE[to.minor_line]
        old = _names(current, lambda v: v.minor_line == floor.minor_line and v < floor)
        if old:
            return Refusal(
                f"min-{floor.line}-patch",
                f"refused (minimum {floor.line} patch): member(s) {old} must be "
                f"on {floor} or later before any member goes to {to.line} (patch-upgrade them "
                "first; "
                f"{guide} 'Upgrade checklists').",
                guide,
            )
    if to.minor_line == (3, 6) and v2store_clean is False:
        return Refusal(
            "v2store",
            "refused (v2store): `etcdutl check v2store` found custom v2 content on a member, and "
            "3.6 will not start on it; clean it as the guide says, then check again "
            f"({sources.UPGRADE_3_6} 'V2 Store').",
            sources.UPGRADE_3_6,
        )
    return None


def _requirements(
    low: Version, to: Version, auth_enabled: bool | None, v2store_clean: bool | None
) -> tuple[Requirement, ...]:
    if low.minor_line == to.minor_line:
        return ()
    if to.minor_line == (3, 5) and auth_enabled is None:
        return (
            Requirement(
                "auth-3.4-to-3.5",
                "auth is disabled: on 3.4, `etcdctl --user=etcdops-probe:x get x` "
                "answers 'authentication is not enabled' (3.4 has no `auth status`)",
                sources.UPGRADE_3_5,
            ),
        )
    if to.minor_line == (3, 6) and v2store_clean is None:
        return (
            Requirement(
                "v2store",
                "`etcdutl check v2store --data-dir DATA_DIR [--wal-dir WAL_DIR]` (3.5.32+) "
                "exits 0 and prints 'No custom content found in both v2store and WAL records.' on "
                "every member",
                sources.UPGRADE_3_6,
            ),
        )
    return ()


def _path(
    current: Mapping[str, Version],
    to: Version,
    leader: str | None,
    auth_enabled: bool | None,
    v2store_clean: bool | None,
) -> UpgradePath:
    low = min(current.values())
    todo = [n for n, v in current.items() if v < to]
    todo.sort(key=lambda n: n == leader)  # stable: the inventory's order, the leader last
    steps = tuple(MemberStep(n, current[n], to) for n in todo)
    kind: Literal["patch", "minor", "none"] = (
        "none" if not steps else "patch" if low.minor_line == to.minor_line else "minor"
    )
    notes: list[str] = []
    if to.is_prerelease:
        notes.append(f"{to} is a pre-release")
    if low.minor_line != to.minor_line and any(
        v.minor_line == to.minor_line for v in current.values()
    ):
        notes.append(
            f"a {low.line} → {to.line} upgrade stopped half-way is continued; the cluster version "
            "stays "
            f"{low.line} until the last member runs {to.line}"
        )
    if leader is None and len(steps) > 1:
        notes.append("leader unknown: upgrade it last, as read just before its turn")
    return UpgradePath(
        to,
        kind,
        steps,
        tuple(n for n in current if n not in todo),
        _requirements(low, to, auth_enabled, v2store_clean),
        tuple(notes),
    )
