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

from etcdops import rotation
from etcdops.commands import Command, sh
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
from etcdops.runbook.model import Loop
from etcdops.steps.base import Action, Probe, RunInfo, StepContext
from etcdops.steps.registry import KINDS
from etcdops.steps.template import WriteFileAction
from etcdops.templating import evaluate, native, render, revealed
from etcdops.transport import Result
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
    # how long its work takes (durations.py), for the long steps
    predicted: Prediction | None = None
    fenced: bool = False  # against the members' fenced client URLs (Inventory.fenced)
    clients: str | None = None  # stop: clients lose etcd when it starts; back: have it once done
    scope: Mapping[str, Any] = field(default_factory=dict)  # a for_each's item: vars it adds
    seconds: float = 0.0  # how long the whole step is expected to take (its work, else learned)


@dataclass(frozen=True)
class CheckResult:
    message: str  # what the check wants, as a statement
    ok: bool
    detail: str = ""
    exit_code: int = 3
    problem: str = ""  # what was found when it failed, in words (the check's `fails:`)
    checked: bool = True  # False: not made (its `unless:` held); it neither passes nor fails

    def said(self) -> str:
        """The problem found, for a failed check: its own words, else the statement that does
        not hold; with the probe's detail when that says more."""
        text = self.problem or f"not so: {self.message}"
        if self.detail and self.detail not in text:
            text += f" ({self.detail})"
        return text


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
    # what each step writes where, with the free space before and after
    disk: tuple[DiskRow, ...] = ()
    on_success: str | None = None
    summary: str | None = None
    runbook_includes: tuple[str, ...] = ()  # the files its `- include:` steps come from
    confirm: str = "yes"  # how a person confirms it (Runbook.confirm)
    impact_notes: tuple[str, ...] = ()  # the runbook's own `impact:` lines, rendered

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def clients_without_etcd(self) -> float | None:
        """Seconds clients are expected to have no etcd: from the start of the step marked
        `clients: stop` to the end of the one marked `back` (None: the runbook marks none)."""
        return outage(self.steps)

    @property
    def created(self) -> str:
        return self.run.time

    @property
    def membership_moves(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(hosts the run makes members, hosts it takes out), from its membership steps in order:
        what the inventory's etcd group has to follow once it succeeded."""
        added: list[str] = []
        removed: list[str] = []
        for s in self.steps:
            if s.quorum is None or s.skipped or s.quorum.change == "new_cluster":
                continue
            host = s.quorum.host
            into, out_of = (removed, added) if s.quorum.change == "remove" else (added, removed)
            if host in out_of:
                out_of.remove(host)
            if host not in into:
                into.append(host)
        return tuple(added), tuple(removed)

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


class PlannedFiles:
    """The probe steps plan with: a file a step of this plan writes reads, for the steps after it,
    as that step leaves it (a restore writes etcd.env twice); `original` is the file as it was
    before the run."""

    def __init__(self, probe: Probe, run: RunInfo) -> None:
        self.probe, self.info = probe, run
        self.planned: dict[tuple[str, str], str] = {}

    def read(self, host: str, path: str) -> str | None:
        if (host, path) in self.planned:
            return self.planned[(host, path)]
        return self.probe.read(host, path)

    def original(self, host: str, path: str) -> str | None:
        """As it was before this run: its backup when this run (resumed) already rewrote it."""
        backup = self.probe.read(host, f"{path}.bak-{self.info.stamp}")
        return backup if backup is not None else self.probe.read(host, path)

    def check(self, host: str, command: str) -> tuple[bool, str]:
        return self.probe.check(host, command)

    def run(self, host: str, command: Command) -> Result:
        return self.probe.run(host, command)

    def written(self, step: PlannedStep) -> None:
        for a in step.actions:
            if isinstance(a.action, WriteFileAction) and a.action.changed:
                self.planned[(a.host, a.action.path)] = a.action.content


@dataclass(frozen=True)
class Inputs:
    """What every step is planned from."""

    runbook: Runbook
    inventory: Inventory
    facts: ClusterFacts
    probe: PlannedFiles
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
    frozen: Mapping[str, Any] | None = None,
) -> Plan:
    inputs = Inputs(runbook, inventory, facts, PlannedFiles(probe, run), run, playbooks_dir)
    variables = base_context(inventory, params, facts, run.as_dict())
    # rotate-certs: planned from the members' files, read through the probe
    variables["cert_rotation"] = rotation.helper(inventory, probe, run.as_dict(), facts.leader_host)
    variables["vars"] = _render_vars(runbook, variables, frozen or {})
    checks = [_run_check(runbook, c, variables, probe, inventory) for c in runbook.preflight]
    # a failed `warn: true` check is a warning of the plan, not a refusal
    warned = [i for i, c in enumerate(runbook.preflight) if c.warn and not checks[i].ok]
    warned_text = [checks[i].said() for i in warned]
    checks = [c for i, c in enumerate(checks) if i not in warned]
    corrupt = sorted({f"{a.member_id:x}" for a in facts.alarms if a.alarm == "CORRUPT"})
    if corrupt and not runbook.runs_on_corrupt:
        checks.insert(
            0,
            CheckResult(
                message="etcd has raised no CORRUPT alarm",
                ok=False,
                detail=f"member(s) {', '.join(corrupt)} found data that differs from the others' "
                "(CORRUPT): only restore (or recover) runs now; find the member with "
                "`etcdops status --check --consistency` first",
                exit_code=3,
            ),
        )
    steps: list[PlannedStep] = []
    rates = Rates.load(inventory.name)
    membership = Membership.from_facts(facts)
    warnings = [f"inventory: {w}" for w in inventory.warnings] + member_name_warnings(
        inventory, facts
    )
    warnings += warned_text
    refused = not all(c.ok for c in checks)
    for index, (step, scope) in enumerate(_expanded(runbook, variables, refused), 1):
        try:
            planned = _plan_step(inputs, step, index, scoped(variables, scope), scope)
        except (RunbookError, RenderError) as exc:
            if all(c.ok for c in checks):
                raise
            # the cluster failed pre-flight (e.g. no healthy member to run on): that is the
            # refusal to show, not a step that cannot be planned on such a cluster
            planned = PlannedStep(
                index=index,
                name=_name(step, scoped(variables, scope), runbook),
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
        inputs.probe.written(planned)
        if not planned.skipped:
            work = (a.action.work for a in planned.actions)
            predicted = rates.predict(planned.kind, work, planned.parallel)
            if predicted is not None:
                seconds = predicted.seconds
            else:
                seconds = rates.step_seconds(planned.kind)
            planned = replace(planned, predicted=predicted, seconds=seconds)
        steps.append(planned)
    disk, space = plan_disk(
        [(s.index, w) for s in steps if not s.skipped for a in s.actions for w in a.action.writes],
        probe,
    )
    checks += [
        CheckResult(
            message=c.message(),
            ok=c.ok,
            detail="" if c.ok else c.detail(),
            exit_code=3,
            problem="" if c.ok else c.problem(),
        )
        for c in space
    ]
    return Plan(
        runbook=runbook.name,
        runbook_file=runbook.file,
        runbook_includes=runbook.includes,
        confirm=runbook.confirm,
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
        summary=_summary(runbook, variables, steps),
        impact_notes=_impact_notes(
            runbook,
            {**variables, "clients_without_etcd": outage(steps)},
            refused=any(not c.ok for c in checks),
        ),
    )


def outage(steps: list[PlannedStep] | tuple[PlannedStep, ...]) -> float | None:
    """Seconds from the start of the step marked `clients: stop` to the end of the one marked
    `back`, as the steps are expected to take (None: the runbook marks none)."""
    stop = next((s.index for s in steps if s.clients == "stop"), None)
    back = next((s.index for s in steps if s.clients == "back"), None)
    if stop is None or back is None:
        return None
    return sum(s.seconds for s in steps if stop <= s.index <= back and not s.skipped)


def _summary(runbook: Runbook, variables: dict[str, Any], steps: list[PlannedStep]) -> str | None:
    """The runbook's summary, which may say how long clients are expected to have no etcd
    (`clients_without_etcd`, seconds, from the steps marked `clients:`)."""
    if not runbook.summary:
        return None
    context = {**variables, "clients_without_etcd": outage(steps)}
    return render(runbook.summary, context, shell=False, where=runbook.file)


def _impact_notes(runbook: Runbook, variables: dict[str, Any], refused: bool) -> tuple[str, ...]:
    """The runbook's `impact:` lines rendered; a line that renders empty is left out, and so is
    one that cannot be rendered on a cluster the pre-flight refused (that refusal is the answer)."""
    lines: list[str] = []
    for source in runbook.impact:
        try:
            text = render(source, variables, shell=False, where=runbook.file).strip()
        except (RunbookError, RenderError):
            if refused:
                continue
            raise
        lines += [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(lines)


def _expanded(
    runbook: Runbook, variables: dict[str, Any], refused: bool = False
) -> list[tuple[Step, Mapping[str, Any]]]:
    """The runbook's steps in order, each `for_each` repeated for its items: (step, the vars
    it adds: {NAME: item} and its `with:` vars)."""
    out: list[tuple[Step, Mapping[str, Any]]] = []
    steps = list(runbook.steps)
    i = 0
    while i < len(steps):
        loop = steps[i].loop
        if loop is None:
            out.append((steps[i], {}))
            i += 1
            continue
        body = [s for s in steps[i:] if s.loop == loop]
        try:
            out += _repeated(runbook, variables, loop, body)
        except (RunbookError, RenderError):
            if not refused:
                raise
            # on a cluster the pre-flight refused, a loop over what it would have done is not
            # shown: that refusal is the answer
        i += len(body)
    return out


def _repeated(
    runbook: Runbook, variables: dict[str, Any], loop: Loop, body: list[Step]
) -> list[tuple[Step, Mapping[str, Any]]]:
    """The steps of one for_each, for each of its items."""
    where, line = _written_in(runbook, body[0]), body[0].line
    items = native(loop.each, variables, where=f"{where} (for_each)", line=line)
    if items is None or isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__iter__"):
        raise RunbookError(where, line, f"for_each gives {items!r}, not a list")
    out: list[tuple[Step, Mapping[str, Any]]] = []
    for item in list(items)[:MAX_LOOP_ITEMS]:
        scope: dict[str, Any] = {loop.name: item}
        for name, source in loop.with_vars:
            scope[name] = native(
                source,
                scoped(variables, scope),
                where=f"{where} (for_each with: {name})",
                line=line,
            )
        out += [(s, scope) for s in body]
    return out


MAX_LOOP_ITEMS = 100  # a for_each repeats its steps for at most this many items


def scoped(variables: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
    """The variables a step of a for_each sees: vars with its item added."""
    if not scope:
        return dict(variables)
    return {**variables, "vars": {**variables.get("vars", {}), **scope}}


def _render_vars(
    runbook: Runbook, variables: dict[str, Any], frozen: Mapping[str, Any]
) -> dict[str, Any]:
    """Each var in order, in its native type: `"{{ x + 1 }}"` is an int, a text template is text.
    A var in `frozen` (a resumed or reviewed run's, as it was planned) keeps that value."""
    rendered: dict[str, Any] = {}
    for name, source, line in runbook.vars:
        if name in frozen:
            rendered[name] = frozen[name]
            continue
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
            checked=False,
        )
    result = _check_result(runbook, check, variables, probe, inventory, message)
    if result.ok or check.fails is None:
        return result
    problem = render(check.fails, variables, shell=False, where=runbook.file, line=check.line)
    return replace(result, problem=problem.strip())


def _check_result(
    runbook: Runbook,
    check: Any,
    variables: dict[str, Any],
    probe: Probe,
    inventory: Inventory,
    message: str,
) -> CheckResult:
    if check.expr is not None:
        ok = bool(evaluate(check.expr, variables, where=runbook.file, line=check.line))
        return CheckResult(message=message, ok=ok, exit_code=check.exit_code)
    host = render(check.on, variables, shell=False, where=runbook.file, line=check.line).strip()
    # a probe may name several hosts, comma-separated: it holds when it holds on each
    names = [h.strip() for h in host.split(",") if h.strip()] if check.probe else [host]
    for name in names:
        if name != CONTROL and name not in inventory.hosts:
            raise RunbookError(
                runbook.file, check.line, f"pre-flight check on unknown host {name!r}"
            )
    if check.probe is not None:
        found = [_probe(check, probe, inventory, runbook.file, name) for name in names]
        failed = [detail for ok, detail in found if not ok]
        detail = "; ".join(failed or [d for _, d in found if d])
        # a probe's detail says what it found
        return CheckResult(
            message=message,
            ok=not failed,
            detail=detail,
            exit_code=check.exit_code,
            problem=detail if failed else "",
        )
    if host != CONTROL:
        ctx = {**variables, "host": host_context(inventory.hosts[host], inventory)}
    else:
        ctx = variables
    with revealed():
        text = render(check.run, ctx, shell=True, where=runbook.file, line=check.line)
    ok, detail = probe.check(host, text.strip())
    return CheckResult(message=message, ok=ok, detail=detail, exit_code=check.exit_code)


def _probe(
    check: Any, probe: Probe, inventory: Inventory, file: str, host: str
) -> tuple[bool, str]:
    kind = PROBES[check.probe]
    if isinstance(kind, MemberCerts):
        ca, ca_host = _cluster_ca(inventory, probe, host)
        return kind.check(probe, inventory.hosts[host], file, check.line, ca, ca_host)
    return kind.check(probe, inventory.hosts[host], file, check.line)


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
    if kind == "group":  # a template names a group given as a param (a drill's scratch hosts)
        value = render(value, variables, shell=False, where=file, line=step.line).strip()
        if value not in inventory.groups:
            raise RunbookError(file, step.line, f"step {step.name!r}: unknown group {value!r}")
        return tuple(inventory.groups[value])
    if kind == "hosts":  # a template names several hosts, comma-separated (an upgrade's order)
        names = render(value, variables, shell=False, where=file, line=step.line).split(",")
        found = tuple(n.strip() for n in names if n.strip())
        unknown = [n for n in found if n not in inventory.hosts]
        if unknown:
            raise RunbookError(
                file,
                step.line,
                f"step {step.name!r}: {', '.join(map(repr, unknown))} not host(s) of the inventory",
            )
        return found
    if kind == "param":
        name = str(variables["params"].get(value, ""))
    else:
        name = render(value, variables, shell=False, where=file, line=step.line).strip()
    if name not in inventory.hosts:
        raise RunbookError(
            file, step.line, f"step {step.name!r}: {name!r} is not a host of the inventory"
        )
    return (name,)


def _plan_step(
    inputs: Inputs,
    step: Step,
    index: int,
    variables: dict[str, Any],
    scope: Mapping[str, Any] | None = None,
) -> PlannedStep:
    runbook, facts = inputs.runbook, inputs.facts
    file = _written_in(runbook, step)
    skipped = None
    if step.when is not None and not evaluate(step.when, variables, where=file, line=step.line):
        skipped = f"when: {step.when} is false"
    hosts = resolve_targets(step, variables, facts, inputs.inventory, file) if not skipped else ()
    if step.fenced:  # planned against the members' fenced client URLs
        inputs = replace(inputs, inventory=inputs.inventory.fenced())
    actions = tuple(HostAction(h, _plan_action(inputs, step, file, h, variables)) for h in hosts)
    if step.on_failure:
        on_failure = render(step.on_failure, variables, shell=False, where=file, line=step.line)
    else:
        on_failure = None
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
        last=_leader_last(step, facts, hosts),
        fenced=step.fenced,
        clients=step.clients,
        scope=dict(scope or {}),
    )


def _leader_last(step: Step, facts: ClusterFacts, hosts: tuple[str, ...]) -> str | None:
    """The host a leader_last step does last: the leader now (the runner takes the leader as it
    is right before the step, when that is known then)."""
    if not step.leader_last or len(hosts) < 2 or facts.leader_host not in hosts:
        return None  # no leader (no quorum): all at once
    return facts.leader_host


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
    text: str | float
    if isinstance(value, str):
        text = render(value, variables, shell=False, where=file, line=line)
    else:
        text = value
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
        original=inputs.probe.original,
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
