"""The JSON schemas: generated from the code where they can be, and true to it where they are
written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from etcdops.execute.runner import RunStatus, StepStatus
from etcdops.runbook.loader import _Loader
from etcdops.schema import runbook_schema, step_list_schema
from etcdops.steps.base import HostStatus
from etcdops.steps.registry import KINDS
from tests.helpers import REPO


def _plain(data: Any) -> Any:
    """The project's own YAML reading (YAML 1.2 booleans: `on:` stays a key), as plain JSON
    types."""
    return json.loads(json.dumps(data))


def _load(path: Path) -> Any:
    return _plain(yaml.load(path.read_text(), Loader=_Loader))  # noqa: S506 - a SafeLoader subclass


def test_the_committed_runbook_schema_is_the_generated_one() -> None:
    committed = json.loads((REPO / "docs" / "runbook.schema.json").read_text())
    assert committed == runbook_schema(), "run: python -m etcdops.schema > docs/runbook.schema.json"


def test_every_builtin_runbook_and_include_validates_against_the_schema() -> None:
    schema = runbook_schema()
    books = sorted((REPO / "runbooks").glob("*.yml"))
    assert len(books) >= 7
    for path in books:
        jsonschema.validate(_load(path), schema)
    for path in sorted((REPO / "runbooks" / "include").glob("*.yml")):
        jsonschema.validate(_load(path), step_list_schema())


def test_the_schema_catches_a_wrong_type_and_an_unknown_key() -> None:
    schema = runbook_schema()
    good = {"name": "x", "steps": [{"name": "a", "etcd_service": {"state": "stopped"}}]}
    jsonschema.validate(good, schema)
    for bad in (
        {"name": "x", "steps": [{"etcd_service": {"state": "asleep"}}]},
        {"name": "x", "steps": [{"etcd_compact": {"retain": "many"}}]},
        {"name": "x", "steps": [{"etcd_member": {"action": "add_learner"}}]},  # host is required
        {"name": "x", "steps": [{"move_aside": {"suffix": "x", "bogus": 1}}]},
    ):
        try:
            jsonschema.validate(bad, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_report_and_plan_schemas_name_every_status_and_kind() -> None:
    report = json.loads((REPO / "docs" / "report.schema.json").read_text())
    assert report["properties"]["status"]["enum"] == [
        s.value for s in RunStatus if s != RunStatus.RUNNING
    ]
    step = report["properties"]["steps"]["items"]["properties"]
    assert set(step["status"]["enum"]) == {s.value for s in StepStatus}
    assert set(step["hosts"]["items"]["properties"]["status"]["enum"]) == {
        s.value for s in HostStatus
    }
    plan = json.loads((REPO / "docs" / "plan.schema.json").read_text())
    kinds = plan["properties"]["steps"]["items"]["properties"]["kind"]["enum"]
    assert kinds == sorted(KINDS)
