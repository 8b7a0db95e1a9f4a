"""Execute a Plan: steps in order, re-checking facts, retries, progress, journal.

The runner knows nothing of what a step does: it resolves each planned action's kind in
steps.KINDS and calls its execute() through an ExecContext. It owns the order, the re-checks
before a step, retries, the heartbeat of long steps, the journal and the stop requests: a
closing maintenance window stops between steps; SIGTERM/SIGINT stops at the next safe point
(between steps and hosts, inside waits, polls, retry delays and copies).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from etcdops.commands import Command
from etcdops.errors import (
    CommandFailed,
    ConnectError,
    EtcdopsError,
    ExitCode,
    HostKeyError,
    Interrupted,
    LockLost,
    OutsideWindow,
    PlanStale,
    Refused,
    StepFailed,
)
from etcdops.execute.journal import Journal
from etcdops.facts.model import ClusterFacts
from etcdops.inventory import Inventory
from etcdops.membership import Membership, describe
from etcdops.plan import HostAction, Plan, PlannedStep, scoped
from etcdops.steps.base import HEARTBEAT_EVERY, ExecContext, HostStatus, Outcome, heartbeat
from etcdops.steps.registry import KINDS
from etcdops.templating import evaluate, mask_secrets
from etcdops.transport.pool import Pool


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    STALE = "stale"
    REFUSED = "refused"
    WINDOW_CLOSED = "window_closed"
    INTERRUPTED = "interrupted"


class StepStatus(str, Enum):
    PENDING = "pending"
    OK = "ok"  # every host was already as wanted
    CHANGED = "changed"
    SKIPPED = "skipped"
    DONE_BEFORE = "done before"  # finished in the run being resumed
    FAILED = "failed"
    NOT_STARTED = "not started"


class Events(Protocol):
    def step_started(self, step: PlannedStep, total: int) -> None: ...

    def host_done(
        self, step: PlannedStep, host: str, status: str, elapsed: float, detail: str
    ) -> None: ...

    def note(self, step: PlannedStep, host: str, message: str) -> None: ...

    def waiting(self, step: PlannedStep, elapsed: float, timeout: float, state: str) -> None: ...

    def step_done(self, step: PlannedStep, status: str, elapsed: float) -> None: ...

    # what a live display shows in place (cli/progress.py); a log prints ticks as notes
    def host_started(self, step: PlannedStep, host: str) -> None: ...

    def tick(self, step: PlannedStep, host: str, message: str) -> None: ...

    def live(self, step: PlannedStep, host: str, text: str) -> None: ...

    def transfer(self, step: PlannedStep, host: str, verb: str, done: int, total: int) -> None: ...


FRESH_FOR = 2.0  # s: facts read this recently, with no action of the run since, count as live


@dataclass
class HostResult:
    host: str
    status: HostStatus
    elapsed: float
    detail: str = ""
    report: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepResult:
    index: int
    name: str
    status: StepStatus = StepStatus.PENDING
    elapsed: float = 0.0
    hosts: list[HostResult] = field(default_factory=list)
    # it began (its re-checks passed): an interruption is "during", not "before"
    started: bool = False


@dataclass
class RunResult:
    run_id: str
    status: RunStatus = RunStatus.RUNNING
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    # (UTC time, leader host) on change
    leaders: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        """A failed run is continued with --resume once its cause is fixed (an interrupted one or
        one whose window closed says so in its error already)."""
        return self.status == RunStatus.FAILED


FactsReader = Callable[[], ClusterFacts]
# (the leader's host, the host asked); None: cannot tell
LeaderReader = Callable[[], "tuple[str, str] | None"]
Confirm = Callable[[str], bool]
_FAILED_AS = {
    PlanStale: RunStatus.STALE,
    Refused: RunStatus.REFUSED,
    OutsideWindow: RunStatus.WINDOW_CLOSED,
    Interrupted: RunStatus.INTERRUPTED,
    LockLost: RunStatus.INTERRUPTED,
}


class Runner:
    def __init__(
        self,
        plan: Plan,
        inventory: Inventory,
        pool: Pool,
        read_facts: FactsReader,
        events: Events,
        journal: Journal,
        *,
        assume_yes: bool,
        confirm: Confirm | None,
        secrets: list[str],
        done_before: frozenset[int] = frozenset(),
        stop_reason: Callable[[], str | None] = lambda: None,
        interrupt: Callable[[], str | None] = lambda: None,
        lock_lost: Callable[[], str | None] = lambda: None,
        read_leader: LeaderReader = lambda: None,
        heartbeat: float = HEARTBEAT_EVERY,
        read_fenced_facts: FactsReader | None = None,
    ) -> None:
        self.plan, self.inventory, self.pool = plan, inventory, pool
        self.heartbeat = heartbeat
        self.read_facts, self.events, self.journal = read_facts, events, journal
        self.read_leader = read_leader
        self.learned: dict[tuple[str, str], object] = {}  # shared by every step's ExecContext
        self.assume_yes, self.confirm, self.secrets = assume_yes, confirm, secrets
        self.done_before, self.stop_reason, self.signal = done_before, stop_reason, interrupt
        self.lock_lost = lock_lost
        self.result = RunResult(run_id=plan.run_id)
        # facts read since the last action, if any: at first the plan's own, if just read
        self._fresh: ClusterFacts | None = plan.facts
        self._note_leader(plan.facts.leader_host)
        # a fenced step reads and acts on the members' fenced client URLs (a restore's checks)
        self.read_fenced_facts = read_fenced_facts
        self.fenced_inventory = inventory.fenced() if read_fenced_facts is not None else inventory
        self._fenced = False

    def _view(self, step: PlannedStep) -> None:
        """Reads from here on are of the fenced cluster or the real one, as the step is."""
        if step.fenced and self.read_fenced_facts is None:
            raise StepFailed(step.name, None, "a fenced step, but the run reads no fenced facts")
        if step.fenced != self._fenced:
            self._fenced, self._fresh = step.fenced, None

    def _facts(self) -> ClusterFacts:
        if self._fenced:
            assert self.read_fenced_facts is not None
            facts = self.read_fenced_facts()
        else:
            facts = self.read_facts()
        self._note_leader(facts.leader_host)
        self._fresh = facts
        return facts

    def _live_facts(self) -> ClusterFacts:
        """Facts read since the last action ran and at most FRESH_FOR ago (a wait's last read, the
        plan's when the run starts at once), else read now: the re-check before a step."""
        return self._fresh_facts() or self._facts()

    def _note_leader(self, leader: str | None) -> None:
        leaders = self.result.leaders
        if not leaders or leaders[-1][1] != leader:
            leaders.append((dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), leader))
            self.journal.event("leader", leader=leader)

    def interrupt(self) -> str | None:
        """Why the run must stop at its next safe point: its cluster lock lost, or a signal."""
        lost = self.lock_lost()
        return f"the cluster lock was lost: {lost}" if lost else self.signal()

    def run(self) -> RunResult:
        result = self.result
        self.journal.event("run_started", runbook=self.plan.runbook, inventory=self.plan.inventory)
        for step in self.plan.steps:
            step_result = StepResult(step.index, step.name)
            result.steps.append(step_result)
            if step.index in self.done_before:
                step_result.status = StepStatus.DONE_BEFORE
                self.journal.event(
                    "step_skipped", step=step.index, reason="finished in the run being resumed"
                )
                continue
            if step.skipped:
                step_result.status = StepStatus.SKIPPED
                self.journal.event("step_skipped", step=step.index, reason=step.skipped)
                continue
            try:
                self._between_steps(step)
                self._run_step(step, step_result)
            except EtcdopsError as exc:
                return self._fail(result, step, step_result, exc)
        result.status = RunStatus.SUCCESSFUL
        self._honour_at_end()
        self.journal.event("run_finished", status=result.status.value)
        return result

    def _honour_at_end(self) -> bool:
        """A SIGTERM/SIGINT (or the loss of the cluster lock) that came while the last step was
        finishing, or after it, stops nothing: every step had finished. The run is successful and
        says so, with the documented exit code (8; 4 for the lock). Once; True if it did now."""
        lost = self.lock_lost()
        reason = f"the cluster lock was lost ({lost})" if lost else self.signal()
        if not reason or self.result.exit_code or self.result.status != RunStatus.SUCCESSFUL:
            return False
        code = ExitCode.LOCKED if lost else ExitCode.INTERRUPTED
        self.result.exit_code = code
        self.result.error = (
            f"{reason} while the last step was running; honoured at the end: every step had "
            f"finished, the run is complete (exit {code})"
        )
        self.journal.event("signal_honoured", reason=reason, exit_code=code)
        return True

    def _between_steps(self, step: PlannedStep) -> None:
        self._between_hosts()
        reason = self.stop_reason()
        if reason:
            raise OutsideWindow(f"{reason}; stopped cleanly before step {step.index} ({step.name})")

    def _fail(
        self, result: RunResult, step: PlannedStep, step_result: StepResult, exc: EtcdopsError
    ) -> RunResult:
        lost = self.lock_lost()
        if isinstance(exc, Interrupted) and lost and not isinstance(exc, LockLost):
            exc = LockLost(f"the cluster lock was lost: {lost}")  # seen inside the step
        if isinstance(exc, LockLost):
            self.journal.event("lock_lost", step=step.index, reason=lost)
        not_started = isinstance(exc, (OutsideWindow, Interrupted)) and not step_result.started
        step_result.status = StepStatus.NOT_STARTED if not_started else StepStatus.FAILED
        result.status = _FAILED_AS.get(type(exc), RunStatus.FAILED)
        message = mask_secrets(str(exc), self.secrets)
        if isinstance(exc, Interrupted):
            where = "before" if not_started else "during"
            message = f"stopped {where} step {step.index} ({step.name}): {message}"
        if isinstance(exc, (Interrupted, OutsideWindow)):
            message += f"; continue with: etcdops run --resume {self.plan.run_id}"
        advice = step.on_failure or self.plan.on_failure
        if advice and not isinstance(exc, (Refused, OutsideWindow)):
            message += "\n\n" + advice.strip()
        message += self._membership_now(exc)
        result.error = message
        result.exit_code = exc.exit_code
        self.journal.event(
            "step_failed", step=step.index, error=message, status=result.status.value
        )
        self.journal.event("run_finished", status=result.status.value)
        return result

    def _membership_now(self, exc: EtcdopsError) -> str:
        """After a run that changes the membership failed: the membership as it is now, read
        live (the advice above was written when the run was planned, before any change)."""
        hosts = tuple(dict.fromkeys(s.quorum.host for s in self.plan.steps if s.quorum))
        if not hosts or isinstance(exc, (Interrupted, OutsideWindow)):
            return ""
        try:
            return "\n\n" + describe(self.read_facts(), hosts)
        except EtcdopsError as err:
            return f"\n\nThe membership now could not be read: {err}"

    # ----- one step --------------------------------------------------------
    def _run_step(self, step: PlannedStep, out: StepResult) -> None:
        self.events.step_started(step, len(self.plan.steps))
        self.journal.event("step_started", step=step.index, name=step.name, hosts=list(step.hosts))
        start = time.monotonic()
        self._view(step)
        self._recheck(step)
        out.started = True
        deadline = start + step.timeout
        if step.parallel and len(step.actions) > 1:
            last = self._last(step)
            first = [a.host for a in step.actions if a.host != last]
            results = self.pool.map(
                first, lambda h: self._host(step, _action_for(step, h), deadline), parallel=True
            )
            errors = [r for r in results.values() if isinstance(r, BaseException)]
            out.hosts = [r for r in results.values() if isinstance(r, HostResult)]
            if errors:
                raise _worst(errors)
            # e.g. a leader stopped while its followers run stalls handing over
            if last is not None:
                self._between_hosts()
                out.hosts.append(self._host(step, _action_for(step, last), deadline))
        else:
            for i, host_action in enumerate(step.actions):
                if i:
                    self._between_hosts()
                out.hosts.append(self._host(step, host_action, deadline))
        changed = any(h.status in (HostStatus.CHANGED, HostStatus.UNREACHABLE) for h in out.hosts)
        out.status = StepStatus.CHANGED if changed else StepStatus.OK
        out.elapsed = time.monotonic() - start
        self.events.step_done(step, out.status.value, out.elapsed)
        self.journal.event(
            "step_finished", step=step.index, status=out.status.value, elapsed=round(out.elapsed, 3)
        )

    def _last(self, step: PlannedStep) -> str | None:
        """The host a leader_last step does after the others: the leader as it is right before
        the step (the plan's may have changed; a restored cluster elects its own), else the
        plan's."""
        if step.last is None:
            return None
        try:
            live = self._live_facts().leader_host
        except EtcdopsError:
            live = None
        last = live if live in step.hosts else step.last
        if last != step.last:
            self.journal.event("leader_last", step=step.index, planned=step.last, live=last)
        return last

    def _between_hosts(self) -> None:
        lost = self.lock_lost()
        if lost:
            raise LockLost(f"the cluster lock was lost: {lost}")
        reason = self.signal()
        if reason:
            raise Interrupted(reason)

    def _fresh_facts(self) -> ClusterFacts | None:
        fresh = self._fresh
        if fresh is not None and fresh.read_at and (time.monotonic() - fresh.read_at <= FRESH_FOR):
            return fresh
        else:
            return None

    def _recheck(self, step: PlannedStep) -> None:
        if not step.requires and step.leader is None and step.quorum is None:
            return
        if (
            not step.requires
            and step.quorum is None
            and not step.fenced
            and self._fresh_facts() is None
        ):
            # only the leader matters here: one read through etcd's gateway (facts/leader.py),
            # the full facts where it cannot tell
            found = self.read_leader()
            if found is not None:
                leader, asked = found
                self.journal.event(
                    "recheck", step=step.index, leader=leader, read=f"gateway, from {asked}"
                )
                self._note_leader(leader)
                self._same_leader(step, leader)
                return
        facts = self._live_facts()
        self.journal.event("recheck", step=step.index, leader=facts.leader_host, read="facts")
        if step.quorum is not None:
            refusal = Membership.from_facts(facts).refusal(step.quorum.change, step.quorum.host)
            if refusal:
                raise Refused(
                    f"step {step.index} ({step.name}) refused on the live cluster: {refusal}; "
                    "nothing of this step was done"
                )
        self._same_leader(step, facts.leader_host)
        context = {**scoped(self.plan.variables, step.scope), "facts": facts}
        for expr in step.requires:
            if not evaluate(expr, context, where=self.plan.runbook_file):
                raise PlanStale(
                    f"step {step.index} ({step.name}) requires {expr}, which no longer "
                    "holds on the live cluster; nothing of this step was done"
                )

    @staticmethod
    def _same_leader(step: PlannedStep, leader: str | None) -> None:
        if step.leader is not None and leader != step.leader:
            raise PlanStale(
                f"step {step.index} ({step.name}) was planned with {step.leader} as leader, "
                f"but the leader is now {leader or 'unknown'}; plan again"
            )

    def _host(self, step: PlannedStep, host_action: HostAction, deadline: float) -> HostResult:
        host = host_action.host
        start = time.monotonic()
        if step.only_if and not self._only_if(step, host):
            self.events.host_done(
                step, host, HostStatus.SKIPPED.value, 0.0, f"only_if is false now: {step.only_if}"
            )
            self.journal.event(
                "host_finished", step=step.index, host=host, status=HostStatus.SKIPPED.value
            )
            return HostResult(host, HostStatus.SKIPPED, 0.0, f"only_if: {step.only_if} is false")
        self.journal.event("host_started", step=step.index, host=host)
        self.events.host_started(step, host)
        try:
            outcome = self._act(step, host_action, deadline)
        except ConnectError as exc:
            # a changed key is never "down"
            if step.on_unreachable != "skip" or isinstance(exc, HostKeyError):
                return self._host_failed(step, host, start, exc)
            outcome = Outcome(
                HostStatus.UNREACHABLE,
                f"could not reach {host} ({exc.reason}); going on as the runbook allows",
            )
        except EtcdopsError as exc:
            return self._host_failed(step, host, start, exc)
        elapsed = time.monotonic() - start
        detail = mask_secrets(outcome.detail, self.secrets)
        report = [dict(outcome.report)] if outcome.report else []
        self.events.host_done(step, host, outcome.status.value, elapsed, detail)
        self.journal.event(
            "host_finished",
            step=step.index,
            host=host,
            status=outcome.status.value,
            elapsed=round(elapsed, 3),
            report=report,
        )
        return HostResult(host, outcome.status, elapsed, detail, report)

    def _only_if(self, step: PlannedStep, host: str) -> bool:
        assert step.only_if is not None
        context = {**scoped(self.plan.variables, step.scope), "facts": self._live_facts()}
        if host in self.plan.variables["hosts"]:
            context["host"] = self.plan.variables["hosts"][host]
        return bool(evaluate(step.only_if, context, where=self.plan.runbook_file))

    def _host_failed(
        self, step: PlannedStep, host: str, start: float, exc: EtcdopsError
    ) -> HostResult:
        elapsed = time.monotonic() - start
        detail = mask_secrets(str(exc), self.secrets)
        status = "interrupted" if isinstance(exc, Interrupted) else HostStatus.FAILED.value
        self.events.host_done(step, host, status, elapsed, detail)
        self.journal.event("host_failed", step=step.index, host=host, error=detail)
        if isinstance(exc, (StepFailed, PlanStale, Refused, Interrupted, HostKeyError)):
            raise exc
        if isinstance(exc, ConnectError):
            raise StepFailed(
                step.name, host, f"lost the connection to {host}: {exc.reason}"
            ) from exc
        raise StepFailed(step.name, host, detail) from exc

    def _context(
        self, step: PlannedStep, host: str, deadline: float, planned: frozenset[str]
    ) -> ExecContext:
        def note(message: str) -> None:
            self.events.note(step, host, mask_secrets(message, self.secrets))

        def waiting(elapsed: float, timeout: float, state: str) -> None:
            self.events.waiting(step, elapsed, timeout, mask_secrets(state, self.secrets))

        def tick(message: str) -> None:
            self.events.tick(step, host, mask_secrets(message, self.secrets))

        def live(text: str) -> None:
            self.events.live(step, host, mask_secrets(text, self.secrets))

        def transfer(verb: str, done: int, total: int) -> None:
            self.events.transfer(step, host, verb, done, total)

        def on_command(target: str, command: Command) -> None:
            # with the planned command it was filled from, and whether it only reads
            tie = {"planned": command.origin} if command.origin else {}
            self.journal.event(
                "command",
                step=step.index,
                host=target,
                command=command.display,
                read=command.read_only,
                **tie,
            )

        return ExecContext(
            host=host,
            step=step.name,
            timeout=step.timeout,
            deadline=deadline,
            info=self.plan.run,
            transports=lambda name: self.pool.get(name),
            read_facts=self._facts,
            note=note,
            waiting=waiting,
            stop_reason=self.interrupt,  # a step stops only for a signal; a closing window waits
            assume_yes=self.assume_yes,
            confirm=self.confirm,
            variables=scoped(self.plan.variables, step.scope),
            inventory=self.fenced_inventory if step.fenced else self.inventory,
            file=self.plan.runbook_file,
            on_command=on_command,
            learned=self.learned,
            planned=planned,
            tick=tick,
            live=live,
            transfer=transfer,
        )

    def _act(self, step: PlannedStep, host_action: HostAction, deadline: float) -> Outcome:
        self._fresh = None  # this action may change the cluster
        kind = KINDS[step.kind]
        ex = self._context(step, host_action.host, deadline, host_action.action.planned())
        retry = step.retry

        def attempt() -> Outcome:
            return kind.execute(host_action.action, ex)

        if not kind.heartbeat:
            return with_retries(
                attempt, retry.attempts, retry.on, retry.delay, retry.backoff, retry.max_delay, ex
            )
        with heartbeat(ex.progress_note, step.timeout, self.heartbeat):
            return with_retries(
                attempt, retry.attempts, retry.on, retry.delay, retry.backoff, retry.max_delay, ex
            )


def with_retries(
    fn: Callable[[], Outcome],
    attempts: int,
    on: tuple[str, ...],
    delay: float,
    backoff: float,
    max_delay: float,
    ex: ExecContext,
) -> Outcome:
    """Retry fn while it fails with one of the named transient errors, bounded in count and time."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (CommandFailed, StepFailed) as exc:
            # a command's stderr, or the reason a kind gave after reading a command's answer
            said = exc.stderr_tail if isinstance(exc, CommandFailed) else exc.reason
            transient = any(marker in said for marker in on)
            wait = min(max_delay, delay * backoff ** (attempt - 1))
            if not transient or attempt == attempts or time.monotonic() + wait > ex.deadline:
                raise
            last = (said.splitlines() or [""])[-1][:120]
            ex.note(f"attempt {attempt}/{attempts} failed ({last}); retrying in {wait:.1f}s")
            ex.sleep(wait)
    raise AssertionError("unreachable")


def _worst(errors: list[BaseException]) -> BaseException:
    """Of the hosts' errors in a parallel step, the one to report: a security event first."""
    for kind in (HostKeyError, Interrupted, PlanStale, Refused):
        found = next((e for e in errors if isinstance(e, kind)), None)
        if found is not None:
            return found
    return errors[0]


def _action_for(step: PlannedStep, host: str) -> HostAction:
    return next(a for a in step.actions if a.host == host)


def summarize(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "status": result.status.value,
        "error": result.error,
        "steps": [
            {
                "index": s.index,
                "name": s.name,
                "status": s.status.value,
                "elapsed": round(s.elapsed, 3),
                "hosts": [
                    {
                        "host": h.host,
                        "status": h.status.value,
                        "elapsed": round(h.elapsed, 3),
                        "detail": h.detail,
                        "report": h.report,
                    }
                    for h in s.hosts
                ],
            }
            for s in result.steps
        ],
    }
