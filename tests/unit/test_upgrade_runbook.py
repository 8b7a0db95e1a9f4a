"""The upgrade runbook's plan (runbooks/upgrade.yml) on a lab's facts, its helpers
(etcdops/upgrading.py) and its pre-flight probes (auth_disabled, v2store_clean)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from etcdops.commands import Command
from etcdops.errors import Refused
from etcdops.facts.model import ClusterFacts
from etcdops.impact import impact_lines
from etcdops.inventory import Inventory
from etcdops.preflight import AuthDisabled, V2StoreClean
from etcdops.transport import Result
from etcdops.upgrading import env_for, order, refusal, snapshot_room
from tests.helpers import DictProbe, lab_facts, lab_inventory, plan_for

AUTH_OFF = "{...} authentication is not enabled\n"
AUTH_ON = "Error: etcdserver: authentication failed, invalid user ID or password\n"


@pytest.fixture
def inv() -> Inventory:
    return lab_inventory()


@pytest.fixture
def source(tmp_path: Path) -> str:
    """-p source=DIR: a directory on the control node with the new version's bin/ (its files'
    contents do not matter to a plan)."""
    (tmp_path / "bin").mkdir()
    for tool in ("etcd", "etcdctl", "etcdutl"):
        (tmp_path / "bin" / tool).write_bytes(b"\x7fELF")
    return f"source={tmp_path}"


class ProbeAnswers(DictProbe):
    """The auth and v2store probes answer `output`; everything else as DictProbe (roomy disks)."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output

    def run(self, host: str, command: Command) -> Result:
        if "etcdops-probe" in command.text or "check v2store" in command.text:
            self.checked.append(command.text)
            return Result(0, self.output, "")
        return super().run(host, command)


def probe(output: str) -> ProbeAnswers:
    return ProbeAnswers(output)


def restarts(plan: object) -> list[str]:
    steps = plan.steps  # type: ignore[attr-defined]
    return [s.hosts[0] for s in steps if s.name.startswith("Restart etcd on ")]


def test_followers_first_and_the_leader_last_with_its_leadership_moved_away(
    inv: Inventory, source: str
) -> None:
    facts = lab_facts(inv, leader="node2", version="3.4.23")
    asked = probe(AUTH_OFF)
    plan = plan_for(inv, "upgrade", ["version=3.5.16", source], probe=asked, facts=facts)
    assert not plan.failed_checks, [c.said() for c in plan.failed_checks]
    assert restarts(plan) == ["node1", "node3", "node2"]
    moves = [s for s in plan.steps if s.name.startswith("Move leadership away from node2")]
    assert len(moves) == 1
    names = [s.name for s in plan.steps]
    assert names[0].startswith("Save a verified snapshot on node2 (the rollback point)")
    assert names.index(moves[0].name) < names.index("Restart etcd on node2 (now 3.5.16)")
    assert names[-1].startswith("Wait until every member serves etcd 3.5.16")
    assert "ROLLBACK POINT" in (plan.summary or "") and "(minor)" in (plan.summary or "")
    # the impact header: leadership moves once, away from the leader before its turn
    moved = [line for line in impact_lines(plan) if "moves to" in line or "leads now" in line]
    assert len(moved) == 1 and "moves to node1 at step 16" in moved[0], moved
    # the new version is staged on every member at once (etcd, etcdctl, etcdutl: a copy each, in
    # parallel), before the first restart; each member's turn switches to it
    stages = [s for s in plan.steps if s.name.startswith("Stage etcd 3.5.16") and not s.skipped]
    assert len(stages) == 3 and all(s.hosts == ("node1", "node3", "node2") for s in stages)
    assert [a.action.dest.rsplit("/", 1)[1] for a in stages[0].actions] == ["etcd-3.5.16"] * 3
    assert stages[-1].index < min(s.index for s in plan.steps if s.name.startswith("Restart etcd"))
    switches = [s.hosts[0] for s in plan.steps if s.name.startswith("Switch ")]
    assert switches == ["node1", "node3", "node2"]
    # the auth probe ran (3.4 -> 3.5), as a login no user can have
    assert any("--user=etcdops-probe:x" in c for c in asked.checked), asked.checked


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("3.6.14", "refused (skipped minor)"),
        ("3.4.20", "refused (downgrade)"),
        ("4.0.0", "refused (unknown line)"),
    ],
)
def test_refused_versions(inv: Inventory, version: str, words: str) -> None:
    facts = lab_facts(inv, version="3.4.23")
    plan = plan_for(inv, "upgrade", [f"version={version}"], probe=probe(AUTH_OFF), facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any(words in f for f in failed), failed
    assert all(c.exit_code == 3 for c in plan.failed_checks)


def test_34_to_35_refused_with_auth_enabled_citing_the_guide(inv: Inventory) -> None:
    facts = lab_facts(inv, version="3.4.23")
    plan = plan_for(inv, "upgrade", ["version=3.5.16"], probe=probe(AUTH_ON), facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any("etcd auth is enabled" in f and "upgrade_3_5" in f for f in failed), failed


def test_a_patch_upgrade_does_not_ask_about_auth(inv: Inventory, source: str) -> None:
    facts = lab_facts(inv, version="3.5.16")
    asked = probe(AUTH_ON)
    plan = plan_for(inv, "upgrade", ["version=3.5.30", source], probe=asked, facts=facts)
    assert not plan.failed_checks, [c.said() for c in plan.failed_checks]
    assert not any("etcdops-probe" in c for c in asked.checked)


def test_35_to_36_needs_the_minimum_patch_and_a_clean_v2store(inv: Inventory) -> None:
    old = plan_for(inv, "upgrade", ["version=3.6.14"], facts=lab_facts(inv, version="3.5.30"))
    assert any("refused (minimum 3.5 patch)" in c.said() for c in old.failed_checks)
    dirty = probe("custom content found in v2store\nexit=1\n")
    plan = plan_for(
        inv, "upgrade", ["version=3.6.14"], probe=dirty, facts=lab_facts(inv, version="3.5.32")
    )
    failed = [c.said() for c in plan.failed_checks]
    assert any("etcdutl check v2store" in f and "did not come back clean" in f for f in failed)


def test_an_unhealthy_member_an_alarm_or_a_learner_is_refused(inv: Inventory) -> None:
    down = plan_for(inv, "upgrade", ["version=3.5.30"], facts=lab_facts(inv, down=("node3",)))
    assert any("not every member is healthy" in c.said() for c in down.failed_checks)
    learner = plan_for(
        inv, "upgrade", ["version=3.5.30"], facts=lab_facts(inv, learners=("node3",))
    )
    assert any("a learner is pending" in c.said() for c in learner.failed_checks)


def test_no_binaries_of_the_new_version_on_the_control_node_is_refused(
    inv: Inventory, tmp_path: Path
) -> None:
    facts = lab_facts(inv, version="3.5.16")
    empty = tmp_path / "empty"
    plan = plan_for(inv, "upgrade", ["version=3.5.30", f"source={empty}"], facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any(f"there is no {empty}/bin/etcd on the control node" in f for f in failed), failed
    assert all(c.exit_code == 3 for c in plan.failed_checks)


def test_binaries_of_another_version_are_refused_before_anything(
    inv: Inventory, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "src" / "bin"
    bin_dir.mkdir(parents=True)
    etcd = bin_dir / "etcd"
    etcd.write_text("#!/bin/sh\necho 'etcd Version: 3.5.16'\necho 'Git SHA: x'\n")
    etcd.chmod(0o755)
    facts = lab_facts(inv, version="3.5.16")
    plan = plan_for(inv, "upgrade", ["version=3.5.30", f"source={bin_dir.parent}"], facts=facts)
    failed = [c.said() for c in plan.failed_checks]
    assert any("/bin/etcd is etcd 3.5.16, not 3.5.30" in f for f in failed), failed
    etcd.write_text("#!/bin/sh\necho 'etcd Version: 3.5.30'\n")
    plan = plan_for(inv, "upgrade", ["version=3.5.30", f"source={bin_dir.parent}"], facts=facts)
    assert not plan.failed_checks, [c.said() for c in plan.failed_checks]


def test_nothing_to_do_when_every_member_runs_the_target(inv: Inventory) -> None:
    plan = plan_for(inv, "upgrade", ["version=3.5.16"], facts=lab_facts(inv))
    assert not plan.failed_checks
    assert restarts(plan) == [] and "nothing to do" in (plan.summary or "")


def test_helpers(inv: Inventory) -> None:
    facts = lab_facts(inv, leader="node1", version="3.4.23")
    names = ["node1", "node2", "node3"]
    assert order(facts, names, "3.5.16") == ["node2", "node3", "node1"]
    assert refusal(facts, names, "3.5.16") == ""
    assert "skipped minor" in refusal(facts, names, "3.6.0")
    no_answer: ClusterFacts = replace(
        facts, hosts={**facts.hosts, "node3": replace(facts.hosts["node3"], status=None,
                                                      etcd_version=None)}
    )  # fmt: skip
    assert "could not be read" in refusal(no_answer, names, "3.5.16")
    full = replace(facts.hosts["node2"], data_fs=(10 * 2**30, 2**20, "/var"))
    short = snapshot_room(replace(facts, hosts={**facts.hosts, "node2": full}), names)
    assert len(short) == 1 and short[0].startswith("node2 (/var: 1.0 MiB free")


def test_env_for_refuses_what_the_target_cannot_read() -> None:
    env = "ETCD_NAME=node1\nETCD_DEBUG=true\n"
    text = env_for(env, "3.5.16", "3.4.23", "node1:/etc/etcd.env")
    assert text == "ETCD_NAME=node1\nETCD_LOG_LEVEL=debug\n"
    with pytest.raises(Refused, match="node1:/etc/etcd.env: etcd.env cannot be rendered"):
        env_for("ETCD_CONFIG_FILE=/etc/etcd.yml\n", "3.5.16", "3.4.23", "node1:/etc/etcd.env")


def test_probe_judges(inv: Inventory) -> None:
    host = inv.hosts["node1"]
    auth = AuthDisabled()
    assert auth.judge(host, AUTH_OFF)[0]
    ok, why = auth.judge(host, AUTH_ON)
    assert not ok and "etcd#11943" in why
    ok, why = auth.judge(host, "Error: context deadline exceeded\n")
    assert not ok and "cannot tell" in why and "context deadline exceeded" in why
    assert "--user=etcdops-probe:x" in auth.command(host).display
    v2 = V2StoreClean()
    assert v2.judge(host, "No custom content found in both v2store and WAL records.\nexit=0\n")[0]
    ok, why = v2.judge(host, 'Error: unknown command "check"\nexit=1\n')
    assert not ok and "exit code 1" in why
