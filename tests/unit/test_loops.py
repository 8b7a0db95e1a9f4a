"""`for_each` in a runbook: its steps repeated in order for each item of a list (vars.NAME the item
within them), for plans of rolling procedures (one member at a time) and rejoins."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdops.errors import RunbookError
from etcdops.runbook import load_runbook
from tests.helpers import lab_inventory, plan_for

ROLLING = """
name: rolling
params: {}
vars:
  order: "{{ ['node2', 'node3', 'node1'] }}"
steps:
  - name: before
    target: control
    wait: {until: "true", timeout: 5}
  - for_each: "{{ vars.order }}"
    as: member
    steps:
      - name: "Restart {{ vars.member }}"
        target: "host:{{ vars.member }}"
        etcd_service: restarted
      - name: "Wait for {{ vars.member }}"
        wait: {until: "facts.hosts[vars.member].healthy", timeout: 30}
  - name: after
    target: control
    wait: {until: "true", timeout: 5}
"""


def test_a_for_each_repeats_its_steps_for_each_item_in_order(tmp_path: Path) -> None:
    (tmp_path / "rolling.yml").write_text(ROLLING)
    plan = plan_for(lab_inventory(), "rolling", [], runbook=tmp_path / "rolling.yml")
    assert [s.name for s in plan.steps] == [
        "before",
        "Restart node2",
        "Wait for node2",
        "Restart node3",
        "Wait for node3",
        "Restart node1",
        "Wait for node1",
        "after",
    ]
    assert [s.index for s in plan.steps] == list(range(1, 9))
    restart = plan.step("Restart node3")
    assert restart.hosts == ("node3",) and restart.scope == {"member": "node3"}
    # a wait evaluates its condition at run time with the item in vars
    assert plan.step("Wait for node1").actions[0].action.until == "facts.hosts[vars.member].healthy"
    assert plan.step("Wait for node1").scope == {"member": "node1"}


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ('{for_each: "{{ [1] }}", steps: [{name: x, target: control, wait: {until: "true"}}]}',
         "for_each needs `as: NAME`"),
        ('{for_each: "{{ [1] }}", as: i}', "exactly one of `steps:` or `include:`"),
        ('{for_each: "{{ [1] }}", as: i, steps: [{for_each: "{{ [2] }}", as: j, steps: []}]}',
         "loop no further"),
        ('{for_each: "{{ [1] }}", as: i, with: x, steps: [{name: x, wait: {until: "true"}}]}',
         "with: is a mapping"),
        ('{for_each: "{{ [1] }}", as: i, with: {i: "1"}, steps: [{name: x, wait: {until: "1"}}]}',
         "no name of its own"),
    ],
)  # fmt: skip
def test_a_malformed_for_each_is_refused_where_it_is_written(
    tmp_path: Path, step: str, error: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(f"name: bad\nsteps:\n  - {step}\n")
    with pytest.raises(RunbookError, match=error) as exc:
        load_runbook(path)
    assert str(path) in str(exc.value)


def test_a_for_each_over_something_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notalist.yml"
    path.write_text(ROLLING.replace("{{ ['node2', 'node3', 'node1'] }}", "node2"))
    with pytest.raises(RunbookError, match="not a list"):
        plan_for(lab_inventory(), "notalist", [], runbook=path)


def test_with_gives_each_item_vars_of_its_own(tmp_path: Path) -> None:
    """`with:` vars are rendered per item, in order, with the item (and the earlier ones) known:
    recover's joins each see the cluster as it is by then."""
    path = tmp_path / "with.yml"
    path.write_text(
        ROLLING.replace(
            "    as: member\n",
            "    as: member\n    with:\n"
            '      before: "{{ vars.order[:vars.order.index(vars.member)] }}"\n'
            '      n: "{{ vars.before | length }}"\n',
        ).replace('"Restart {{ vars.member }}"', '"Restart {{ vars.member }} after {{ vars.n }}"')
    )
    plan = plan_for(lab_inventory(), "with", [], runbook=path)
    assert [s.name for s in plan.steps if s.name.startswith("Restart")] == [
        "Restart node2 after 0",
        "Restart node3 after 1",
        "Restart node1 after 2",
    ]
    assert plan.step("Wait for node1").scope == {
        "member": "node1",
        "before": ["node2", "node3"],
        "n": 2,
    }
