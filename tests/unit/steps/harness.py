"""Drive one step kind from a fixture: spec + facts in; planned commands, executed commands and
ok/changed out. The host is scripted: each command gets the answer of the first pattern it
matches (answers given as a list are used in turn, the last one again). A host has no curl for
etcd's gateway unless the case answers it (a pattern such as `/v3/`): that try is not in `ran`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from etcdops.errors import EtcdopsError
from etcdops.facts.gateway import NO_CURL
from etcdops.facts.model import ClusterFacts
from etcdops.inventory import Inventory
from etcdops.steps.base import ExecContext, Outcome, StepContext
from etcdops.steps.registry import KINDS
from etcdops.transport import Result
from tests.helpers import FIXTURES, REPO, RUN, DictProbe, lab_facts, lab_inventory

LAB = FIXTURES / ".lab"


def expand(text: str, host: str) -> str:
    def file(match: re.Match[str]) -> str:
        return (FIXTURES / match.group(1)).read_text()

    text = re.sub(r"\{file:([^}]+)\}", file, text)
    return text.replace("{host_root}", str(LAB / "hosts" / host)).replace("{lab}", str(LAB))


@dataclass
class ScriptedHost:
    name: str
    answers: list[tuple[re.Pattern[str], list[dict[str, Any]]]]
    ran: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # what ran, as the plan and journal show it
    envs: list[dict[str, str] | None] = field(default_factory=list)
    used: dict[int, int] = field(default_factory=dict)

    def run(
        self, command: str, timeout: float, env: dict[str, str] | None = None, cancel: Any = None
    ) -> Result:
        self.ran.append(command)
        self.envs.append(env)
        for i, (pattern, results) in enumerate(self.answers):
            if pattern.search(command):
                n = self.used.get(i, 0)
                self.used[i] = n + 1
                answer = results[min(n, len(results) - 1)]
                return Result(
                    int(answer.get("rc", 0)),
                    expand(str(answer.get("stdout", "")), self.name),
                    expand(str(answer.get("stderr", "")), self.name),
                )
        if NO_CURL in command:  # unless the case answers etcd's gateway, the host has no curl
            self.ran.pop()
            self.envs.pop()
            self.shown.pop()
            return Result(0, NO_CURL + "\n", "")
        raise AssertionError(f"{self.name}: no scripted answer for: {command}")

    def put(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no copies in kind fixtures")

    get = put


def load_cases(kind: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((FIXTURES / "steps" / f"{kind}.yml").read_text())
    assert isinstance(cases, list) and cases
    return cases


def context(inv: Inventory, facts: ClusterFacts, host: str) -> StepContext:
    from etcdops.context import base_context

    variables = base_context(inv, {}, facts, RUN.as_dict())
    variables["vars"] = {}
    variables["host"] = variables["hosts"][host]
    return StepContext(
        "fixture.yml",
        1,
        host,
        variables,
        DictProbe(),
        REPO / "runbooks",
        REPO / "playbooks",
        inv,
        facts,
        RUN,
    )


def run_case(kind_name: str, case: dict[str, Any]) -> None:
    kind = KINDS[kind_name]
    inv = lab_inventory()
    facts = lab_facts(inv, **case.get("facts", {}))
    host = case.get("host", "node2")
    ctx = context(inv, facts, host)
    if "listing" in case:  # what the plan's read-only probe finds on the host
        ctx.probe = DictProbe(outputs={host: expand(case["listing"], host)})
    if case.get("error_at_load"):
        try:
            kind.validate(case["spec"], "fixture.yml", 1)
        except EtcdopsError as exc:
            assert case["error"] in str(exc), str(exc)
            return
        raise AssertionError("loaded, though the case expects a refusal at load time")
    raw = kind.validate(case["spec"], "fixture.yml", 1)
    if case.get("error_at_plan"):
        try:
            kind.plan(kind.spec(raw, ctx), ctx)
        except EtcdopsError as exc:
            assert case["error"] in str(exc), str(exc)
            return
        raise AssertionError("planned, though the case expects a refusal at plan time")
    action = kind.plan(kind.spec(raw, ctx), ctx)
    planned = [c.display for c in action.commands]
    reads = [c.display for c in action.reads]
    if "plan" in case:
        assert planned == [expand(c, host) for c in case["plan"]], planned
    if "reads" in case:
        assert reads == [expand(c, host) for c in case["reads"]], reads
    if "intent" in case:
        assert case["intent"] in action.intent, action.intent
    hosts: dict[str, ScriptedHost] = {}

    def transport(name: str) -> ScriptedHost:
        if name not in hosts:
            answers = (
                case.get("answers", {}) if name == host else case.get("others", {}).get(name, {})
            )
            hosts[name] = ScriptedHost(
                name,
                [
                    (re.compile(expand(k, name)), v if isinstance(v, list) else [v])
                    for k, v in answers.items()
                ],
            )
        return hosts[name]

    ex = ExecContext(
        host=host,
        step=case["case"],
        timeout=float(case.get("timeout", 5)),
        deadline=time.monotonic() + float(case.get("timeout", 5)),
        info=RUN,
        transports=transport,
        read_facts=lambda: facts,
        inventory=inv,
        on_command=lambda target, command: transport(target).shown.append(command.display),
        planned=action.planned(),
    )  # type: ignore[arg-type]
    outcome: Outcome | None = None
    error: EtcdopsError | None = None
    try:
        outcome = kind.execute(action, ex)
    except EtcdopsError as exc:
        error = exc
    # a time read when the step runs (an interrupted attempt's aside name) reads {now}
    ran = [
        re.sub(r"interrupted-[0-9]{8}T[0-9]{6}Z", "interrupted-{now}", c)
        for c in transport(host).shown
    ]
    if "ran" in case:  # exactly the commands run on the host, as the journal shows them
        assert ran == [expand(c, host) for c in case["ran"]], "\n".join(ran)
    if "error" in case:
        assert error is not None, f"expected an error, got {outcome}"
        assert expand(case["error"], host) in str(error), str(error)
        return
    assert error is None, str(error)
    assert outcome is not None and outcome.status.value == case["status"], outcome
    if "detail" in case:
        assert expand(case["detail"], host) in outcome.detail, outcome.detail
    if "report" in case:
        assert (
            outcome.report is not None
            and {k: outcome.report[k] for k in case["report"]} == case["report"]
        )


def kind_files() -> list[str]:
    return sorted(p.stem for p in (FIXTURES / "steps").glob("*.yml"))


def all_cases() -> list[tuple[str, dict[str, Any]]]:
    return [(kind, case) for kind in kind_files() for case in load_cases(kind)]


__all__ = ["Path", "all_cases", "kind_files", "run_case"]
