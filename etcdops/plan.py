"""build_plan(): runbook + inventory + params + facts → the Plan. The plan is data.

The only reads are through ``probe`` (current file contents, read-only pre-flight
commands); unit tests pass a probe backed by dicts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from etcdops.commands import sh
from etcdops.context import base_context, host_context
from etcdops.diskplan import DiskRow, plan_disk
from etcdops.durations import Prediction, Rates
from etcdops.errors import EtcdopsError, RenderError, RunbookError
from etcdops.facts.model import ClusterFacts, quorum, tolerance
from etcdops.inventory import Inventory
from etcdops.membership import Membership
from etcdops.params import display_params
from etcdops.preflight import PROBES, MemberCerts
from etcdops.runbook import Retry, Runbook, Step
from etcdops.steps.base import Action, Probe, RunInfo, StepContext
from etcdops.steps.registry import KINDS
from etcdops.templating import evaluate, native, render, revealed
from etcdops.transport.local import CONTROL


@dataclass(frozen=True)
class HostAction:
    host: str
    action: Action


@dataclass(frozen=True)
class QuorumChange:
    change: str
    host: str
    voters_before: int
    voters_after: int
    healthy_voters: int
    healthy_after: int = 0
    refusal: str | None = None

    @property
    def quorum_before(self) -> int:
        return quorum(self.voters_before)

    @property
    def quorum_after(self) -> int:
        return quorum(self.voters_after)

    @property
    def tolerance_before(self) -> int:
        return tolerance(self.voters_before)

    @property
    def tolerance_after(self) -> int:
        return tolerance(self.voters_after)


@dataclass(frozen=True)
class PlannedStep:
    index: int
    name: str
    kind: str
    target: str
    hosts: tuple[str, ...]
    parallel: bool
    timeout: float
    retry: Retry
    actions: tuple[HostAction, ...]
    skipped: str | None = None
    requires: tuple[str, ...] = ()
    leader: str | None = None
    quorum: QuorumChange | None = None
    on_failure: str | None = None
    on_unreachable: str = "fail"
    only_if: str | None = None
    last: str | None = None  # leader_last: this host (the leader when planned) after the others
    predicted: Prediction | None = (
        None  # how long its work takes (durations.py), for the long steps
    )


@dataclass(frozen=True)
class CheckResult:
    message: str
    ok: bool
    detail: str = ""
    exit_code: int = 3


@dataclass(frozen=True)
class Plan:
    runbook: str
    runbook_file: str
    inventory: str
    inventory_path: str
    params: Mapping[str, Any]
    run: RunInfo
    facts: ClusterFacts = field(repr=False)
    checks: tuple[CheckResult, ...]
    steps: tuple[PlannedStep, ...]
    variables: Mapping[str, Any] = field(repr=False)
    on_failure: str | None = None
    warnings: tuple[str, ...] = ()
    disk: tuple[
        DiskRow, ...
    ] = ()  # what each step writes where, with the free space before and after
    on_success: str | None = None
    summary: str | None = None
    runbook_includes: tuple[str, ...] = ()  # the files its `- include:` steps come from

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def created(self) -> str:
        return self.run.time

    def step(self, name: str) -> PlannedStep:
        """The step of that name (tests and tools select steps by name, never by position)."""
        found = [s for s in self.steps if s.name == name] or [
            s for s in self.steps if s.name.startswith(name)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} steps named {name!r} in {[s.name for s in self.steps]}")
        return found[0]


def new_run(now: dt.datetime | None = None) -> RunInfo:
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return RunInfo(
        id=f"{stamp}-{secrets.token_hex(3)}", stamp=stamp, time=now.isoformat(timespec="seconds")
    )


@dataclass(frozen=True)
class Inputs:
    """What every step is planned from."""

    runbook: Runbook
    inventory: Inventory
    facts: ClusterFacts
    probe: Probe
    run: RunInfo
    playbooks_dir: Path


def build_plan(
    runbook: Runbook,
    inventory: Inventory,
    params: Mapping[str, Any],
    facts: ClusterFacts,
    probe: Probe,
    run: RunInfo,
    playbooks_dir: Path,
) -> Plan:
    inputs = Inputs(runbook, inventory, facts, probe, run, playbooks_dir)
    variables = base_context(inventory, params, facts, run.as_dict())
    variables["vars"] = _render_vars(runbook, variables)
    checks = [_run_check(runbook, c, variables, probe, inventory) for c in runbook.preflight]
    # a failed `warn: true` check is a warning of the plan, not a refusal
    warned = [i for i, c in enumerate(runbook.preflight) if c.warn and not checks[i].ok]
    steps: list[PlannedStep] = []
    rates = Rates.load(inventory.name)
    membership = Membership.from_facts(facts)
    warnings = [f"inventory: {w}" for w in inventory.warnings] + member_name_warnings(
        inventory, facts
    )
    warnings += [checks[i].message for i in warned]
    checks = [c for i, c in enumerate(checks) if i not in warned]
    for index, step in enumerate(runbook.steps, 1):
        try:
            planned = _plan_step(inputs, step, index, variables)
        except (RunbookError, RenderError) as exc:
            if all(c.ok for c in checks):
                raise
            # the cluster failed pre-flight (e.g. no healthy member to run on): that is the
            # refusal to show, not a step that cannot be planned on such a cluster
            planned = PlannedStep(
                index=index,
                name=_name(step, variables, runbook),
                kind=step.kind,
                target=step.target,
                hosts=(),
                parallel=step.parallel,
                timeout=0.0,
                retry=step.retry,
                actions=(),
                skipped=f"not planned, the pre-flight refused ({exc.reason})",
            )
        change = _membership_of(planned)
        if change is not None:
            planned, membership = _quorum(planned, change, membership)
            q = planned.quorum
            assert q is not None
            if q.refusal:
                checks.append(
                    CheckResult(
                        message=f"step {index} ({planned.name}) is safe for the quorum",
                        ok=False,
                        detail=q.refusal,
                        exit_code=3,
                    )
                )
            if q.voters_after and q.voters_after % 2 == 0 and q.voters_after != q.voters_before:
                warnings.append(
                    f"step {index} ({planned.name}) leaves an even number of voters "
                    f"({q.voters_after}): it tolerates no more failures than one voter fewer"
                )
        if not planned.skipped:
            planned = replace(
                planned,
                predicted=rates.predict(
                    planned.kind, (a.action.work for a in planned.actions), planned.parallel
                ),
            )
        steps.append(planned)
    disk, space = plan_disk(
        [(s.index, w) for s in steps if not s.skipped for a in s.actions for w in a.action.writes],
        probe,
    )
    checks += [
        CheckResult(message=c.message(), ok=c.ok, detail="" if c.ok else c.detail(), exit_code=3)
        for c in space
    ]
    return Plan(
        runbook=runbook.name,
        runbook_file=runbook.file,
        runbook_includes=runbook.includes,
        inventory=inventory.name,
        inventory_path=str(inventory.path),
        params=display_params(dict(params)),
        run=run,
        facts=facts,
        checks=tuple(checks),
        steps=tuple(steps),
        variables=variables,
        on_failure=render(runbook.on_failure, variables, shell=False, where=runbook.file)
        if runbook.on_failure
        else None,
        warnings=tuple(warnings),
        disk=tuple(disk),
        on_success=render(runbook.on_success, variables, shell=False, where=runbook.file)
        if runbook.on_success
        else None,
        summary=render(runbook.summary, variables, shell=False, where=runbook.file)
        if runbook.summary
        else None,
    )


def _render_vars(runbook: Runbook, variables: dict[str, Any]) -> dict[str, Any]:
    """Each var in order, in its native type: `"{{ x + 1 }}"` is an int, a text template is text."""
    rendered: dict[str, Any] = {}
    for name, source, line in runbook.vars:
        ctx = {**variables, "vars": rendered}
        rendered[name] = native(source, ctx, where=f"{runbook.file} (vars.{name})", line=line)
    return rendered


def _run_check(
    runbook: Runbook, check: Any, variables: dict[str, Any], probe: Probe, inventory: Inventory
) -> CheckResult:
    message = render(check.message, variables, shell=False, where=runbook.file, line=check.line)
    if check.unless is not None and evaluate(
        check.unless, variables, where=runbook.file, line=check.line
    ):
        return CheckResult(
            message=message,
            ok=True,
            detail=f"not checked: {check.unless}",
            exit_code=check.exit_code,
        )
    if check.expr is not None:
        ok = bool(evaluate(check.expr, variables, where=runbook.file, line=check.line))
        return CheckResult(message=message, ok=ok, exit_code=check.exit_code)
    host = render(check.on, variables, shell=False, where=runbook.file, line=check.line).strip()
    if host != CONTROL and host not in inventory.hosts:
        raise RunbookError(runbook.file, check.line, f"pre-flight check on unknown host {host!r}")
    if check.probe is not None:
        kind = PROBES[check.probe]
        if isinstance(kind, MemberCerts):
            ca, ca_host = _cluster_ca(inventory, probe, host)
            ok, detail = kind.check(
                probe, inventory.hosts[host], runbook.file, check.line, ca, ca_host
            )
        else:
            ok, detail = kind.check(probe, inventory.hosts[host], runbook.file, check.line)
        return CheckResult(message=message, ok=ok, detail=detail, exit_code=check.exit_code)
    ctx = (
        {**variables, "host": host_context(inventory.hosts[host], inventory)}
        if host != CONTROL
        else variables
    )
    with revealed():
        text = render(check.run, ctx, shell=True, where=runbook.file, line=check.line)
    ok, detail = probe.check(host, text.strip())
    return CheckResult(message=message, ok=ok, detail=detail, exit_code=check.exit_code)


def _cluster_ca(inventory: Inventory, probe: Probe, joining: str) -> tuple[str, str]:
    """sha256 of the CA file a current member's etcdctl trusts (its etcd_cacert), read on that
    member."""
    for member in inventory.members:
        if member.name != joining and member.etcd is not None and member.etcd.cacert:
            try:
                out = probe.run(member.name, sh("sha256sum", member.etcd.cacert)).stdout
            except EtcdopsError:
                continue
            if out.split():
                return out.split()[0], member.name
    return "", ""


def member_name_warnings(inventory: Inventory, facts: ClusterFacts) -> list[str]:
    """An inventory member whose name differs from the running member with its peer URL: a restore
    (and an etcd.env rewrite) would rename it."""
    found = []
    for host in inventory.members:
        if host.etcd is None:
            continue
        url = host.etcd.peer_url.rstrip("/")
        member = next(
            (m for m in facts.members if url in (u.rstrip("/") for u in m.peer_urls)), None
        )
        if member is not None and member.name and member.name != host.etcd.name:
            found.append(
                f"{host.name}: the inventory names its member {host.etcd.name!r}, the running "
                "member "
                f"with peer URL {host.etcd.peer_url} is named {member.name!r}; this run would "
                "rename it "
                "(set etcd_name, or etcd_member_name with kubespray, to keep the running name)"
            )
    return found


def resolve_targets(
    step: Step, variables: Mapping[str, Any], facts: ClusterFacts, inventory: Inventory, file: str
) -> tuple[str, ...]:
    target = step.target
    members = [h.name for h in inventory.members]
    if target == "control":
        return (CONTROL,)
    if target in ("all", "members"):
        return tuple(members)
    if target in ("leader", "followers"):
        if facts.leader_host is None:
            raise RunbookError(
                file,
                step.line,
                f"step {step.name!r} targets the {target}, but the cluster "
                "has no leader that maps to an inventory host right now",
            )
        if target == "leader":
            return (facts.leader_host,)
        return tuple(m for m in members if m != facts.leader_host)
    kind, _, value = target.partition(":")
    if kind == "group":
        if value not in inventory.groups:
            raise RunbookError(file, step.line, f"step {step.name!r}: unknown group {value!r}")
        return tuple(inventory.groups[value])
    name = (
        str(variables["params"].get(value, ""))
        if kind == "param"
        else render(value, variables, shell=False, where=file, line=step.line).strip()
    )
    if name not in inventory.hosts:
        raise RunbookError(
            file, step.line, f"step {step.name!r}: {name!r} is not a host of the inventory"
        )
    return (name,)


def _plan_step(inputs: Inputs, step: Step, index: int, variables: dict[str, Any]) -> PlannedStep:
    runbook, facts = inputs.runbook, inputs.facts
    file = _written_in(runbook, step)
    skipped = None
    if step.when is not None and not evaluate(step.when, variables, where=file, line=step.line):
        skipped = f"when: {step.when} is false"
    hosts = resolve_targets(step, variables, facts, inputs.inventory, file) if not skipped else ()
    actions = tuple(HostAction(h, _plan_action(inputs, step, file, h, variables)) for h in hosts)
    on_failure = (
        render(step.on_failure, variables, shell=False, where=file, line=step.line)
        if step.on_failure
        else None
    )
    name = render(step.name, variables, shell=False, where=file, line=step.line)
    timeout = _seconds(step.timeout, variables, file, step.line)
    return PlannedStep(
        index=index,
        name=name,
        kind=step.kind,
        target=step.target,
        hosts=hosts,
        parallel=step.parallel,
        timeout=timeout,
        retry=step.retry,
        actions=actions,
        skipped=skipped,
        requires=step.requires,
        leader=facts.leader_host if step.target in ("leader", "followers") else None,
        on_failure=on_failure,
        on_unreachable=step.on_unreachable,
        only_if=step.only_if,
        last=facts.leader_host
        if step.leader_last and facts.leader_host in hosts and len(hosts) > 1
        else None,
    )


def _name(step: Step, variables: dict[str, Any], runbook: Runbook) -> str:
    """The step's name rendered, or as written when it cannot be (a cluster that failed
    pre-flight)."""
    try:
        return render(
            step.name, variables, shell=False, where=_written_in(runbook, step), line=step.line
        )
    except (RunbookError, RenderError):
        return step.name


def _seconds(value: float | str, variables: dict[str, Any], file: str, line: int) -> float:
    text = (
        render(value, variables, shell=False, where=file, line=line)
        if isinstance(value, str)
        else value
    )
    try:
        seconds = float(text)
    except ValueError:
        raise RunbookError(file, line, f"timeout {text!r} is not a number of seconds") from None
    if seconds <= 0:
        raise RunbookError(file, line, f"timeout {seconds:g} must be positive")
    return seconds


def _written_in(runbook: Runbook, step: Step) -> str:
    """The file a step is written in: an included step's errors name its own file."""
    return step.file or runbook.file


def _plan_action(
    inputs: Inputs, step: Step, file: str, host: str, variables: dict[str, Any]
) -> Action:
    ctx_vars = dict(variables)
    if host != CONTROL:
        ctx_vars["host"] = variables["hosts"][host]
    # templates (src:) are found beside the runbook, for included steps too
    ctx = StepContext(
        file,
        step.line,
        host,
        ctx_vars,
        inputs.probe,
        Path(inputs.runbook.file).parent,
        inputs.playbooks_dir,
        inputs.inventory,
        inputs.facts,
        inputs.run,
    )
    kind = KINDS[step.kind]
    return kind.plan(kind.spec(step.spec, ctx), ctx)


def _membership_of(planned: PlannedStep) -> tuple[str, str] | None:
    """The membership change a step's own action makes (an etcd_member step runs on one host)."""
    changes = {a.action.membership for a in planned.actions if a.action.membership is not None}
    return next(iter(changes)) if len(changes) == 1 and not planned.skipped else None


def _quorum(
    planned: PlannedStep, membership: tuple[str, str], before: Membership
) -> tuple[PlannedStep, Membership]:
    """The quorum arithmetic of one membership step, on the membership simulated so far."""
    change, host = membership
    after = before.apply(change, host)
    q = QuorumChange(
        change=change,
        host=host,
        voters_before=before.voter_count,
        voters_after=after.voter_count,
        healthy_voters=before.healthy_count,
        healthy_after=after.healthy_count,
        refusal=before.refusal(change, host),
    )
    return replace(planned, quorum=q), after
