"""Execute a Plan: steps in order, re-checking facts, retries, waits, progress, journal."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from etcdops.errors import (
    ConnectError,
    EtcdopsError,
    HostKeyError,
    OutsideWindow,
    PlanStale,
    Refused,
    StepFailed,
)
from etcdops.execute import actions
from etcdops.execute.journal import Journal
from etcdops.facts.model import ClusterFacts
from etcdops.inventory import Inventory
from etcdops.membership import Membership
from etcdops.plan import HostAction, Plan, PlannedStep
from etcdops.steps.base import (
    DownloadAction,
    PauseAction,
    PlaybookAction,
    RunAction,
    UploadAction,
    WaitAction,
    WriteFileAction,
)
from etcdops.templating import evaluate, mask_secrets, render
from etcdops.transport.pool import Pool


class Events(Protocol):
    def step_started(self, step: PlannedStep, total: int) -> None: ...

    def host_done(self, step: PlannedStep, host: str, status: str, elapsed: float, detail: str) -> None: ...

    def note(self, step: PlannedStep, host: str, message: str) -> None: ...

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None: ...

    def step_done(self, step: PlannedStep, status: str, elapsed: float) -> None: ...


FRESH_FOR = 2.0  # s: facts read this recently, with no action of the run since, count as live
REPORT_PREFIX = "ETCDOPS_REPORT "  # a command prints `ETCDOPS_REPORT {json}` to add figures to the report


@dataclass
class HostResult:
    host: str
    status: str
    elapsed: float
    detail: str = ""
    report: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepResult:
    index: int
    name: str
    status: str = "pending"
    elapsed: float = 0.0
    hosts: list[HostResult] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    status: str = "running"  # running | successful | failed | stale | refused
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    leaders: list[tuple[str, str | None]] = field(default_factory=list)  # (UTC time, leader host) on change


FactsReader = Callable[[], ClusterFacts]
Confirm = Callable[[str], bool]


class Runner:
    def __init__(self, plan: Plan, inventory: Inventory, pool: Pool, read_facts: FactsReader,
                 events: Events, journal: Journal, *, assume_yes: bool, confirm: Confirm | None,
                 secrets: list[str], done_before: frozenset[int] = frozenset(),
                 stop_reason: Callable[[], str | None] = lambda: None,
                 heartbeat: float = actions.HEARTBEAT_EVERY) -> None:
        self.plan, self.inventory, self.pool = plan, inventory, pool
        self.heartbeat = heartbeat
        self.read_facts, self.events, self.journal = read_facts, events, journal
        self.assume_yes, self.confirm, self.secrets = assume_yes, confirm, secrets
        self.done_before, self.stop_reason = done_before, stop_reason
        self.result = RunResult(run_id=plan.run_id)
        # facts read since the last action, if any: at first the plan's own, if just read
        self._fresh: ClusterFacts | None = plan.facts
        self._note_leader(plan.facts)

    def _facts(self) -> ClusterFacts:
        facts = self.read_facts()
        self._note_leader(facts)
        self._fresh = facts
        return facts

    def _live_facts(self) -> ClusterFacts:
        """Facts read since the last action ran and at most FRESH_FOR ago (a wait's last read, the
        plan's when the run starts at once), else read now: the re-check before a step."""
        fresh = self._fresh
        if fresh is not None and fresh.read_at and time.monotonic() - fresh.read_at <= FRESH_FOR:
            return fresh
        return self._facts()

    def _note_leader(self, facts: ClusterFacts) -> None:
        leaders = self.result.leaders
        if not leaders or leaders[-1][1] != facts.leader_host:
            leaders.append((dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), facts.leader_host))
            self.journal.event("leader", leader=facts.leader_host)

    def run(self) -> RunResult:
        result = self.result
        self.journal.event("run_started", runbook=self.plan.runbook, inventory=self.plan.inventory)
        for step in self.plan.steps:
            step_result = StepResult(step.index, step.name)
            result.steps.append(step_result)
            if step.index in self.done_before:
                step_result.status = "done before"
                self.journal.event("step_skipped", step=step.index, reason="finished in the run being resumed")
                continue
            if step.skipped:
                step_result.status = "skipped"
                self.journal.event("step_skipped", step=step.index, reason=step.skipped)
                continue
            try:
                reason = self.stop_reason()
                if reason:
                    raise OutsideWindow(f"{reason}; stopped cleanly before step {step.index} ({step.name}); "
                                        f"continue with: etcdops run --resume {self.plan.run_id}")
                self._run_step(step, step_result)
            except EtcdopsError as exc:
                return self._fail(result, step, step_result, exc)
        result.status = "successful"
        self.journal.event("run_finished", status=result.status)
        return result

    def _fail(self, result: RunResult, step: PlannedStep, step_result: StepResult,
              exc: EtcdopsError) -> RunResult:
        step_result.status = "not started" if isinstance(exc, OutsideWindow) else "failed"
        result.status = {PlanStale: "stale", Refused: "refused", OutsideWindow: "window_closed"}.get(
            type(exc), "failed")
        message = mask_secrets(str(exc), self.secrets)
        advice = step.on_failure or self.plan.on_failure
        if advice and not isinstance(exc, (Refused, OutsideWindow)):
            message += "\n\n" + advice.strip()
        result.error = message
        result.exit_code = exc.exit_code
        self.journal.event("step_failed", step=step.index, error=message)
        self.journal.event("run_finished", status=result.status)
        return result

    # ----- one step --------------------------------------------------------
    def _run_step(self, step: PlannedStep, out: StepResult) -> None:
        self.events.step_started(step, len(self.plan.steps))
        self.journal.event("step_started", step=step.index, name=step.name, hosts=list(step.hosts))
        start = time.monotonic()
        self._recheck(step)
        deadline = start + step.timeout
        if step.parallel and len(step.actions) > 1:
            first = [a.host for a in step.actions if a.host != step.last]
            results = self.pool.map(first, lambda h: self._host(step, _action_for(step, h), deadline), parallel=True)
            errors = [r for r in results.values() if isinstance(r, BaseException)]
            out.hosts = [r for r in results.values() if isinstance(r, HostResult)]
            if errors:
                raise errors[0]
            if step.last is not None:  # e.g. a leader stopped while its followers run stalls handing over
                out.hosts.append(self._host(step, _action_for(step, step.last), deadline))
        else:
            for host_action in step.actions:
                out.hosts.append(self._host(step, host_action, deadline))
        out.status = "ok"
        out.elapsed = time.monotonic() - start
        self.events.step_done(step, "ok", out.elapsed)
        self.journal.event("step_finished", step=step.index, elapsed=round(out.elapsed, 3))

    def _recheck(self, step: PlannedStep) -> None:
        if not step.requires and step.leader is None and step.quorum is None:
            return
        facts = self._live_facts()
        if step.quorum is not None:
            refusal = Membership.from_facts(facts).refusal(step.quorum.change, step.quorum.host)
            if refusal:
                raise Refused(f"step {step.index} ({step.name}) refused on the live cluster: {refusal}; "
                              "nothing of this step was done")
        if step.leader is not None and facts.leader_host != step.leader:
            raise PlanStale(f"step {step.index} ({step.name}) was planned with {step.leader} as leader, "
                            f"but the leader is now {facts.leader_host or 'unknown'}; plan again")
        context = {**self.plan.variables, "facts": facts}
        for expr in step.requires:
            if not evaluate(expr, context, where=self.plan.runbook_file):
                raise PlanStale(f"step {step.index} ({step.name}) requires {expr}, which no longer "
                                "holds on the live cluster; nothing of this step was done")

    def _host(self, step: PlannedStep, host_action: HostAction, deadline: float) -> HostResult:
        host = host_action.host
        start = time.monotonic()
        if step.only_if and not self._only_if(step, host):
            self.events.host_done(step, host, "skipped", 0.0, f"only_if is false now: {step.only_if}")
            self.journal.event("host_finished", step=step.index, host=host, status="skipped")
            return HostResult(host, "skipped", 0.0, f"only_if: {step.only_if} is false")
        try:
            outcome = self._act(step, host_action, deadline)
        except ConnectError as exc:
            if step.on_unreachable != "skip" or isinstance(exc, HostKeyError):  # a changed key is never "down"
                return self._host_failed(step, host, start, exc)
            outcome = actions.Outcome("unreachable", f"could not reach {host} ({exc.reason}); going on "
                                      "as the runbook allows")
        except EtcdopsError as exc:
            return self._host_failed(step, host, start, exc)
        elapsed = time.monotonic() - start
        detail, report = _split_report(mask_secrets(outcome.detail, self.secrets))
        self.events.host_done(step, host, outcome.status, elapsed, detail)
        self.journal.event("host_finished", step=step.index, host=host, status=outcome.status,
                           elapsed=round(elapsed, 3), report=report)
        return HostResult(host, outcome.status, elapsed, detail, report)

    def _only_if(self, step: PlannedStep, host: str) -> bool:
        assert step.only_if is not None
        context = {**self.plan.variables, "facts": self._live_facts()}
        if host in self.plan.variables["hosts"]:
            context["host"] = self.plan.variables["hosts"][host]
        return bool(evaluate(step.only_if, context, where=self.plan.runbook_file))

    def _host_failed(self, step: PlannedStep, host: str, start: float, exc: EtcdopsError) -> HostResult:
        elapsed = time.monotonic() - start
        detail = mask_secrets(str(exc), self.secrets)
        self.events.host_done(step, host, "failed", elapsed, detail)
        self.journal.event("host_failed", step=step.index, host=host, error=detail)
        if isinstance(exc, (StepFailed, PlanStale, Refused)):
            raise exc
        raise StepFailed(step.name, host, detail) from exc

    def _act(self, step: PlannedStep, host_action: HostAction, deadline: float) -> actions.Outcome:
        action = host_action.action
        self._fresh = None  # this action may change the cluster
        remaining = max(1.0, deadline - time.monotonic())
        if isinstance(action, WaitAction):
            return self._wait(step, action)
        if isinstance(action, PauseAction):
            return self._pause(action)
        if isinstance(action, PlaybookAction):
            return self._playbook(step, action, remaining)
        transport = self.pool.get(host_action.host)

        def note(message: str) -> None:
            self.events.note(step, host_action.host, message)

        if isinstance(action, RunAction):
            retry = step.retry
            with actions.heartbeat(note, step.timeout, self.heartbeat):
                return actions.with_retries(
                    lambda: actions.run_command(transport, action, max(1.0, deadline - time.monotonic())),
                    retry.attempts, retry.on, retry.delay, retry.backoff, retry.max_delay, deadline, note)
        if isinstance(action, WriteFileAction):
            return actions.write_file(transport, action, remaining, self.plan.variables["run"]["stamp"])
        if isinstance(action, UploadAction):
            return actions.upload(transport, action, remaining, note)
        if isinstance(action, DownloadAction):
            return actions.download(transport, action, remaining, note)
        raise AssertionError(f"unknown action {action!r}")

    def _wait(self, step: PlannedStep, action: WaitAction) -> actions.Outcome:
        start = time.monotonic()
        deadline = start + action.timeout
        state = "no facts yet"
        while True:
            facts = self._facts()
            context = {**self.plan.variables, "facts": facts}
            if evaluate(action.until, context, where=self.plan.runbook_file):
                return actions.Outcome("ok", f"after {time.monotonic() - start:.1f}s")
            state = render(action.progress, context, shell=False, where=self.plan.runbook_file) \
                if action.progress else _summary(facts)
            elapsed = time.monotonic() - start
            self.events.waiting(step, elapsed, action.timeout, state)
            if time.monotonic() + action.interval > deadline:
                raise StepFailed(step.name, None, f"timed out after {action.timeout:g}s waiting until "
                                 f"{action.until} (last seen: {state})")
            time.sleep(action.interval)

    def _pause(self, action: PauseAction) -> actions.Outcome:
        if self.assume_yes:
            if action.allow_unattended:
                return actions.Outcome("skipped", "unattended run: pause allowed by the runbook")
            raise Refused(f"this step pauses for an operator ({action.message}); it is refused under --yes")
        if self.confirm is None or not self.confirm(action.message):
            raise Refused(f"operator declined: {action.message}")
        return actions.Outcome("ok", "confirmed by the operator")

    def _playbook(self, step: PlannedStep, action: PlaybookAction, timeout: float) -> actions.Outcome:
        from etcdops.transport.ansible import check_result, run_playbook

        result = run_playbook(self.inventory.path, action.playbook, action.limit, action.extravars, timeout,
                              lambda msg: self.events.note(step, ",".join(action.limit), msg))
        check_result(result, action.playbook)
        return actions.Outcome("changed" if result.changed else "ok", f"{result.changed} changed")


def _split_report(detail: str) -> tuple[str, list[dict[str, Any]]]:
    lines, report = [], []
    for line in detail.splitlines():
        if line.startswith(REPORT_PREFIX):
            try:
                item = json.loads(line[len(REPORT_PREFIX):])
            except json.JSONDecodeError:
                item = None
            if isinstance(item, dict):
                report.append(item)
                continue
        lines.append(line)
    return "\n".join(lines), report


def _action_for(step: PlannedStep, host: str) -> HostAction:
    return next(a for a in step.actions if a.host == host)


def _summary(facts: ClusterFacts) -> str:
    healthy = sum(1 for f in facts.hosts.values() if f.healthy)
    leader = facts.leader_host or "none"
    return f"{healthy}/{len(facts.hosts)} healthy, leader {leader}"


def summarize(result: RunResult) -> dict[str, Any]:
    return {"run_id": result.run_id, "status": result.status, "error": result.error,
            "steps": [{"index": s.index, "name": s.name, "status": s.status, "elapsed": round(s.elapsed, 3),
                       "hosts": [dict(h.__dict__) for h in s.hosts]} for s in result.steps]}
