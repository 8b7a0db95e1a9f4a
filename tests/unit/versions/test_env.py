"""render_env_for against the fixtures: kubespray's etcd.env for each pair, and the small cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from etcdops.versions import render_env_for

FIXTURES = Path(__file__).parents[2] / "fixtures" / "versions"
PAIRS = yaml.safe_load((FIXTURES / "env_pairs.yml").read_text())
CASES = yaml.safe_load((FIXTURES / "env_cases.yml").read_text())


@pytest.mark.parametrize("pair", PAIRS, ids=[p["name"] for p in PAIRS])
def test_env_pairs(pair: dict[str, Any]) -> None:
    text = (FIXTURES / "env" / pair["input"]).read_text()
    new, changes, refusals = render_env_for(
        str(pair["target"]), text, current_version=str(pair["current"])
    )
    assert refusals == ()
    expected = text if pair["expect"] == "same" else (FIXTURES / "env" / pair["expect"]).read_text()
    assert new.splitlines() == expected.splitlines() and new.endswith("\n") == expected.endswith(
        "\n"
    )
    got = {c.line: f"{c.kind} {c.name}" for c in changes if c.kind != "note"}
    assert got == {int(k): v for k, v in pair["changes"].items()}
    for change in changes:  # what a change says it did is what the text shows
        lines = text.splitlines()
        assert lines[change.line - 1] == change.before
        assert (change.after in new.splitlines()) if change.after is not None else True
        assert change.reason.endswith(".") and (
            "etcd.io" in change.reason or "etcd" in change.reason
        )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_env_cases(case: dict[str, Any]) -> None:
    current = str(case["current"]) if "current" in case else None
    new, changes, refusals = render_env_for(
        str(case["target"]),
        case["env"],
        current_version=current,
        v2store_clean=case.get("v2store_clean"),
    )
    assert [r.rule for r in refusals] == case.get("refused", []), refusals
    for refusal in refusals:
        assert refusal.message.startswith("refused (") and refusal.message.endswith("."), (
            refusal.message
        )
    if "out" in case:
        assert new == case["out"]
    assert sorted(c.name for c in changes if c.kind == "note") == sorted(case.get("notes", []))


def test_nothing_left_that_the_target_would_ignore_or_refuse() -> None:
    """Every ETCD_ name in each rendered kubespray file is read by its target."""
    from etcdops.versions import flags
    from etcdops.versions.version import v

    for pair in PAIRS:
        text = (FIXTURES / "env" / pair["input"]).read_text()
        new, _, _ = render_env_for(str(pair["target"]), text, current_version=str(pair["current"]))
        names = [line.split("=", 1)[0] for line in new.splitlines() if line.startswith("ETCD_")]
        assert all(flags.knows_env(v(str(pair["target"])), n) for n in names), (pair["name"], names)


def test_a_second_rendering_changes_nothing() -> None:
    for pair in PAIRS:
        text = (FIXTURES / "env" / pair["input"]).read_text()
        once, _, _ = render_env_for(str(pair["target"]), text, current_version=str(pair["current"]))
        twice, changes, refusals = render_env_for(
            str(pair["target"]), once, current_version=str(pair["target"])
        )
        assert (twice, [c for c in changes if c.kind != "note"], refusals) == (once, [], ()), pair[
            "name"
        ]


def test_refused_text_is_left_as_it_was_for_an_unknown_line() -> None:
    text = "ETCD_NAME=a\n"
    assert render_env_for("3.8.0", text)[0] == text
