"""Runbook loading: `- include: FILE` (steps shared by several runbooks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdops.errors import RenderError, RunbookError
from etcdops.inventory import load_inventory
from etcdops.runbook import load_runbook
from etcdops.runs import digests
from tests.helpers import LAB_INVENTORY, plan_for

MAIN = """name: main
description: two steps of its own around included ones
steps:
  - {name: First, target: control, command: "echo first"}
  - include: shared/steps.yml
  - {name: Last, target: control, command: "echo last"}
"""
SHARED = """# shared steps
- {name: "Shared one", target: control, command: "echo {{ params.word | default('one') }}"}
- name: Shared two
  target: control
  command: "echo two"
"""


def write(folder: Path, main: str = MAIN, shared: str = SHARED) -> Path:
    (folder / "shared").mkdir(exist_ok=True)
    (folder / "shared" / "steps.yml").write_text(shared)
    (folder / "main.yml").write_text(main)
    return folder / "main.yml"


def test_an_include_stands_for_its_steps_in_order(tmp_path: Path) -> None:
    rb = load_runbook(write(tmp_path))
    assert [s.name for s in rb.steps] == ["First", "Shared one", "Shared two", "Last"]
    shared = str(tmp_path / "shared" / "steps.yml")
    assert [s.file for s in rb.steps] == ["", shared, shared, ""] and rb.includes == (shared,)
    assert rb.steps[2].line == 3  # lines in the included file


@pytest.mark.parametrize(
    "main, shared, where, message",
    [
        (
            MAIN.replace("shared/steps.yml", "../steps.yml"),
            SHARED,
            "main.yml",
            "no absolute path, no ..",
        ),
        (
            MAIN.replace("shared/steps.yml", "/etc/passwd"),
            SHARED,
            "main.yml",
            "no absolute path, no ..",
        ),
        (
            MAIN.replace(
                "  - include: shared/steps.yml", "  - {include: shared/steps.yml, when: 'true'}"
            ),
            SHARED,
            "main.yml",
            "unknown key 'when' in an include",
        ),
        (MAIN, "- include: other.yml\n", "steps.yml", "cannot include another"),
        (MAIN, "name: not a list\n", "steps.yml", "non-empty list of steps"),
        (
            MAIN,
            "- {name: Bad, target: control, command: 'echo', colour: red}\n",
            "steps.yml:1",
            "unknown key 'colour'",
        ),
        (
            MAIN,
            "- {name: Bad, target: control, command: 'echo {{ x'}\n",
            "steps.yml",
            "template syntax",
        ),
        (
            MAIN.replace("shared/steps.yml", "shared/missing.yml"),
            SHARED,
            "missing.yml",
            "cannot read",
        ),
    ],
)
def test_include_errors_name_the_file_they_are_in(
    tmp_path: Path, main: str, shared: str, where: str, message: str
) -> None:
    with pytest.raises((RunbookError, RenderError)) as info:
        load_runbook(write(tmp_path, main, shared))
    assert where in str(info.value) and message in str(info.value), str(info.value)


def test_a_changed_included_file_changes_the_runbook_digest(repo: Path, tmp_path: Path) -> None:
    rb = load_runbook(write(tmp_path))
    inv = load_inventory(LAB_INVENTORY)
    before = digests(inv, rb.file, rb.includes)
    (tmp_path / "shared" / "steps.yml").write_text(SHARED.replace("echo two", "echo 2"))
    assert digests(inv, rb.file, rb.includes)["runbook"] != before["runbook"]
    assert digests(inv, rb.file, rb.includes)["inventory"] == before["inventory"]


def test_scale_out_and_replace_member_share_the_join_steps(repo: Path) -> None:
    inv = load_inventory(LAB_INVENTORY)
    out = plan_for(inv, "scale-out", ["host=node4"])
    replace = plan_for(inv, "replace-member", ["old=node3", "new=node4"])
    joined = [
        "Add node4 as a learner",
        "Write etcd.env on node4",
        "Start etcd on node4",
        "Wait until the learner node4",
        "Promote node4 to a voter",
    ]
    for plan in (out, replace):
        names = [s.name for s in plan.steps]
        at = [next(i for i, n in enumerate(names) if n.startswith(j)) for j in joined]
        assert at == sorted(at) and at[-1] - at[0] == len(joined) - 1, names
    add = [next(s for s in p.steps if s.name.startswith("Add node4")) for p in (out, replace)]
    assert [c.text for c in add[0].actions[0].action.commands] == [
        c.text for c in add[1].actions[0].action.commands
    ]


def test_builtin_runbooks_hold_no_shell(repo: Path) -> None:
    """The built-in runbooks declare; Python acts: no command steps, no `run:` checks, no `|
    raw`."""
    from etcdops.runbook.loader import _expand_includes, _load_yaml

    books = sorted((repo / "runbooks").glob("*.yml"))
    for path in books:
        text = path.read_text()
        assert "| raw" not in text and "|raw" not in text, path
        rb = load_runbook(path)
        assert not [s.name for s in rb.steps if s.kind == "command"], path
        assert not [c.message for c in rb.preflight if c.run is not None], path
        steps, _ = _expand_includes(str(path), _load_yaml(path)["steps"])
        assert all("command" not in step for step, _file, _loop in steps), path
    for path in (repo / "runbooks" / "include").glob("*.yml"):
        assert "| raw" not in path.read_text() and "command:" not in path.read_text(), path
