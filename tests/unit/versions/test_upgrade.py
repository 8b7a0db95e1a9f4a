"""upgrade_path against tests/fixtures/versions/upgrade_cases.yml: the steps, or the rule that
refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from etcdops.errors import ParamError
from etcdops.versions import Refusal, UpgradePath, upgrade_path
from etcdops.versions import sources as src

CASES = yaml.safe_load(
    (Path(__file__).parents[2] / "fixtures" / "versions" / "upgrade_cases.yml").read_text()
)


def _path(case: dict[str, Any]) -> UpgradePath | Refusal:
    return upgrade_path(
        {k: str(v) for k, v in case["members"].items()},
        str(case["target"]),
        leader=case.get("leader"),
        auth_enabled=case.get("auth_enabled"),
        v2store_clean=case.get("v2store_clean"),
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_upgrade_cases(case: dict[str, Any]) -> None:
    got = _path(case)
    if "refused" in case:
        assert isinstance(got, Refusal), got
        assert got.rule == case["refused"], got
        for word in case.get("words", []):
            assert word in got.message, (word, got.message)
        assert got.source in got.message or got.source.split(" ")[0] in got.message, got
        assert got.message.count(". ") == 0 and got.message.endswith("."), (
            "one sentence: " + got.message
        )
        return
    assert isinstance(got, UpgradePath), got
    assert got.kind == case["kind"]
    assert [s.member for s in got.steps] == case["steps"]
    assert all(str(s.target) == str(case["target"]) for s in got.steps)
    assert [r.rule for r in got.requires] == case.get("requires", [])
    if "unchanged" in case:
        assert list(got.unchanged) == case["unchanged"]


def test_each_step_says_patch_or_minor() -> None:
    got = upgrade_path({"a": "3.6.13", "b": "3.5.33"}, "3.6.14", v2store_clean=True)
    assert isinstance(got, UpgradePath)
    assert [(s.member, s.kind) for s in got.steps] == [("a", "patch"), ("b", "minor")]
    assert any("half-way" in n for n in got.notes) and any("leader unknown" in n for n in got.notes)


def test_the_v2store_requirement_names_the_command_and_its_success_line() -> None:
    got = upgrade_path({"a": "3.5.33"}, "3.6.14")
    assert isinstance(got, UpgradePath)
    (req,) = got.requires
    assert "etcdutl check v2store --data-dir" in req.check
    assert "No custom content found in both v2store and WAL records." in req.check
    assert req.source == src.UPGRADE_3_6


def test_the_minimum_3_5_patch_is_etcds_not_kubesprays() -> None:
    from etcdops.versions.upgrade import KUBESPRAY_MIN_BEFORE_3_6, MIN_PATCH_BEFORE

    floor, source = MIN_PATCH_BEFORE[(3, 6)]
    assert str(floor) == "3.5.32" and source == src.UPGRADE_3_6 and floor > KUBESPRAY_MIN_BEFORE_3_6
    assert isinstance(upgrade_path({"a": "3.5.31"}, "3.6.0", v2store_clean=True), Refusal)
    assert isinstance(upgrade_path({"a": "3.5.32"}, "3.6.0", v2store_clean=True), UpgradePath)


def test_no_members_is_bad_input() -> None:
    with pytest.raises(ParamError):
        upgrade_path({}, "3.5.30")
