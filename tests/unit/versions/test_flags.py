"""The flag table and the rename rules hold together (flags.py, env_rules.py)."""

from __future__ import annotations

import pytest

from etcdops.versions import env_rules as rules
from etcdops.versions import flags
from etcdops.versions.version import Version, v


def _line_start(line: tuple[int, int]) -> Version:
    return Version(line[0], line[1], 0)


@pytest.mark.parametrize(
    ("version", "flag", "known"),
    [
        ("3.4.23", "experimental-initial-corrupt-check", True),
        ("3.4.23", "tls-min-version", False),  # 3.4.25
        ("3.4.25", "tls-min-version", True),
        ("3.5.7", "tls-min-version", False),  # 3.5.8
        ("3.5.16", "experimental-compaction-sleep-interval", True),  # 3.5.16 exactly
        ("3.5.15", "experimental-compaction-sleep-interval", False),
        ("3.5.16", "debug", False),
        ("3.5.30", "max-learners", False),
        ("3.6.0", "max-learners", True),
        ("3.6.0-rc.1", "max-learners", True),
        ("3.6.14", "enable-v2", False),
        ("3.6.14", "experimental-initial-corrupt-check", True),
        ("3.7.0", "experimental-initial-corrupt-check", False),
        ("3.7.1", "discovery", False),
        ("3.7.1", "discovery-endpoints", True),
        ("3.5.33", "feature-gates", False),
        ("3.6.0", "feature-gates", True),  # registered by the gate itself, not by fs.*Var
        ("3.7.9", "feature-gates", True),  # a later patch of a known line: its newest known flags
        ("3.8.0", "name", False),
    ],
)
def test_has_flag(version: str, flag: str, known: bool) -> None:
    assert flags.has_flag(v(version), flag) is known


def test_env_names() -> None:
    assert (
        flags.env_name("experimental-initial-corrupt-check")
        == "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK"
    )
    assert flags.knows_env(v("3.6.0"), "ETCD_FEATURE_GATES") and not flags.knows_env(
        v("3.5.33"), "ETCD_FEATURE_GATES"
    )
    assert flags.knows_env(v("3.5.16"), "ETCDCTL_API") is False


def test_every_rename_leads_to_a_name_its_line_reads_and_the_old_one_is_gone_by_3_7() -> None:
    for rename in rules.RENAMES:
        assert flags.knows_env(_line_start(rename.line), rename.new), rename
        assert not flags.knows_env(v("3.7.1"), rename.old), rename


def test_every_gate_rule_names_a_3_6_gate_and_a_flag_3_5_read() -> None:
    assert len(rules.GATES) == 6
    for gate in rules.GATES:
        assert gate.gate in flags.FEATURE_GATES[(3, 6)]
        assert flags.knows_env(v("3.5.33"), gate.old) and not flags.knows_env(v("3.7.0"), gate.old)


def test_every_removal_is_really_gone_from_its_line() -> None:
    for removal in rules.REMOVALS:
        line = removal.line
        before = flags.NEWEST_READ[(line[0], line[1] - 1)]
        assert flags.knows_env(v(before), removal.name), removal.name
        assert not flags.knows_env(_line_start(line), removal.name), removal.name


def test_every_experimental_flag_of_3_6_has_a_rule_for_3_7() -> None:
    """3.7 removed every --experimental-* flag (etcd#19959): none may be left without a rename or
    a gate."""
    covered = {r.old for r in rules.RENAMES} | {g.old for g in rules.GATES}
    experimental = {
        name
        for name in flags.ENV_TO_FLAG
        if name.startswith("ETCD_EXPERIMENTAL_") and flags.knows_env(v("3.6.14"), name)
    }
    assert experimental - {"ETCD_EXPERIMENTAL_ENABLE_V2V3"} <= covered
    assert len(experimental) == 23  # upgrade_3_7 'Flags removed' lists 23


def test_v2_deprecation_stages() -> None:
    assert "write-only-skip-check" not in flags.v2_deprecation_stages(v("3.5.31"))
    assert "write-only-skip-check" in flags.v2_deprecation_stages(v("3.5.32"))
    assert "write-only-skip-check" not in flags.v2_deprecation_stages(v("3.6.12"))
    assert "write-only-skip-check" in flags.v2_deprecation_stages(v("3.6.13"))
    assert "not-yet" not in flags.v2_deprecation_stages(v("3.6.0"))
