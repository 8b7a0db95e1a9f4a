"""What every step kind is built on.

A step kind is one class (one module in steps/) that owns three things:
- ``Spec``: a frozen dataclass of its typed arguments, checked when the runbook loads;
- ``plan(spec, ctx)``: turns the spec and the facts into an action holding the exact commands,
  quoted in Python. It does no I/O (but for reading current file contents through ``ctx.probe``);
- ``execute(action, ex)``: carries the action out on one host through ``ex`` (an ExecContext),
  parses what came back in Python and returns an Outcome: ``ok`` when the host was already in
  the wanted state and nothing was done, ``changed`` otherwise.
Adding a kind means one module and one line in steps/__init__.py.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from etcdops.commands import Command
from etcdops.errors import (
    CommandFailed,
    Interrupted,
    RunbookError,
    StepFailed,
    UnplannedCommand,
)
from etcdops.facts.model import ClusterFacts
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.steps import spec as specs  # the module, not the package
from etcdops.templating import native, render
from etcdops.transport import Result, Transport


class HostStatus(str, Enum):
    OK = "ok"  # already as wanted: nothing was done
    CHANGED = "changed"
    SKIPPED = "skipped"  # not run (only_if false, an unattended pause allowed)
    UNREACHABLE = "unreachable"  # the runbook allows passing over a host that cannot be reached
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    status: HostStatus
    detail: str = ""
    # figures for the run report (a defragmentation's sizes)
    report: Mapping[str, Any] | None = None

    @classmethod
    def ok(cls, detail: str = "", report: Mapping[str, Any] | None = None) -> Outcome:
        return cls(HostStatus.OK, detail, report)

    @classmethod
    def changed(cls, detail: str = "", report: Mapping[str, Any] | None = None) -> Outcome:
        return cls(HostStatus.CHANGED, detail, report)


@dataclass(frozen=True)
class RunInfo:
    """The run a plan belongs to: its id, the UTC stamp in names it creates, when it was planned."""

    id: str
    stamp: str
    time: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "stamp": self.stamp, "time": self.time}


@dataclass(frozen=True)
class Write:
    """Bytes a step will write on a host (or the control node) under a path: checked at plan time
    against the free space of that path's filesystem."""

    host: str
    path: str
    bytes: int
    what: str


@dataclass(frozen=True, kw_only=True)
class Action:
    """One host's part of a step: a line of intent, then the exact commands under it.

    `commands` are every command the step may run that changes something, `reads` every
    read-only one; a value known only at run time is a placeholder (commands.Live). Execution
    runs only these (ExecContext.run refuses anything else), so the plan shows all a run does.
    """

    intent: str
    commands: tuple[Command, ...] = ()
    reads: tuple[Command, ...] = ()
    # what it will write where (disk space is checked before the run)
    writes: tuple[Write, ...] = ()
    # bytes it moves or rewrites on its host: its duration is predicted from it (durations.py)
    work: int = 0

    def describe(self) -> list[str]:
        """The intent, `$ COMMAND` per command, `? COMMAND` per read (continued lines indented)."""
        lines = [self.intent]
        for mark, group in (("$", self.commands), ("?", self.reads)):
            for command in group:
                first, *rest = command.display.splitlines() or [""]
                lines += [f"{mark} {first}", *(f"  {line}" for line in rest)]
        return lines

    def planned(self) -> frozenset[str]:
        """What ExecContext.run accepts: every command and read, as the plan shows it."""
        return frozenset(c.planned for c in (*self.commands, *self.reads))

    @property
    def membership(self) -> tuple[str, str] | None:
        """(change, inventory host) when this action changes the membership (quorum arithmetic)."""
        return None


class Probe(Protocol):
    """Read-only access to the hosts while planning: current file contents, pre-flight commands and
    the read-only reads a kind makes to plan (a listing). Unit tests pass one backed by dicts."""

    def read(self, host: str, path: str) -> str | None: ...

    def check(self, host: str, command: str) -> tuple[bool, str]: ...

    def run(self, host: str, command: Command) -> Result: ...


@dataclass
class StepContext:
    """What a kind plans from: the rendered variables, the inventory, the facts, the run."""

    file: str
    line: int
    host: str
    variables: Mapping[str, Any]
    probe: Probe
    runbook_dir: Path
    playbooks_dir: Path
    inventory: Inventory
    facts: ClusterFacts
    run: RunInfo
    # a file as it is on the host now (probe.read gives it as this plan's earlier steps leave it)
    original: Callable[[str, str], str | None] | None = None

    def text(self, source: str) -> str:
        return render(source, self.variables, shell=False, where=self.file, line=self.line)

    def native(self, source: str) -> Any:
        return native(source, self.variables, where=self.file, line=self.line)

    @property
    def etcd(self) -> EtcdConfig:
        return self.etcd_of(self.host)

    def etcd_of(self, host: str) -> EtcdConfig:
        if host not in self.inventory.hosts or self.inventory.hosts[host].etcd is None:
            raise RunbookError(
                self.file, self.line, f"{host!r} has no etcd settings in the inventory"
            )
        etcd = self.inventory.hosts[host].etcd
        assert etcd is not None
        return etcd

    def version(self, host: str | None = None) -> str | None:
        """The etcd version of a host (installed, else running), else the cluster's."""
        hf = self.facts.hosts.get(host or self.host)
        if hf is not None and (hf.etcd_version or (hf.status and hf.status.version)):
            return hf.etcd_version or (hf.status.version if hf.status else None)
        return self.facts.version

    def error(self, reason: str) -> RunbookError:
        return RunbookError(self.file, self.line, reason)


def _noop(*_args: Any) -> None:
    return None


@dataclass
class ExecContext:
    """What a kind executes through: the host's transport (and others'), live facts, progress, the
    step's deadline and the run's stop request (SIGTERM, a closing window)."""

    host: str
    step: str
    timeout: float
    deadline: float
    info: RunInfo  # the run (its id and the stamp in the names it creates)
    transports: Callable[[str], Transport]
    read_facts: Callable[[], ClusterFacts]
    note: Callable[[str], None] = _noop
    waiting: Callable[[float, float, str], None] = _noop
    stop_reason: Callable[[], str | None] = lambda: None
    assume_yes: bool = True
    confirm: Callable[[str], bool] | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    inventory: Inventory | None = None
    file: str = ""
    on_command: Callable[[str, Command], None] = _noop  # the journal keeps every command in full
    # what the run's steps learned about the hosts, shared by all of them (a host without curl, say)
    learned: dict[tuple[str, str], Any] = field(default_factory=dict)
    # the commands the action's plan shows (Action.planned()): run() refuses any other
    planned: frozenset[str] | None = None
    # progress for a live display (cli/progress.py): `tick` a note a terminal shows in place (a log
    # prints it like a note: None = note), `live` text only a terminal shows (what runs now),
    # `transfer` a copy's bytes so far of its total (a bar with its rate and time left)
    tick: Callable[[str], None] | None = None
    live: Callable[[str], None] = _noop
    transfer: Callable[[str, int, int], None] = _noop

    def progress_note(self, message: str) -> None:
        """A note on how far the step got: in place on a terminal, a line in a log."""
        (self.tick or self.note)(message)

    @property
    def transport(self) -> Transport:
        return self.transports(self.host)

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())

    def run(
        self,
        command: Command,
        *,
        host: str | None = None,
        check: bool = True,
        timeout: float | None = None,
    ) -> Result:
        """Run a command on the host (or another); CommandFailed unless it succeeds (check). Only a
        command the plan shows runs (UnplannedCommand otherwise), every placeholder filled."""
        target = host or self.host
        if command.unfilled:
            raise UnplannedCommand(target, command.display, f"{command.unfilled} not filled")
        if self.planned is not None and command.planned not in self.planned:
            raise UnplannedCommand(target, command.display, "not in the step's plan")
        self.on_command(target, command)
        result = self.transports(target).run(
            command.text,
            min(timeout or self.remaining(), self.remaining()),
            env=command.revealed_env() or None,
            cancel=self.stop_reason,
        )
        if check and not result.ok:
            raise CommandFailed(
                target, command.display, result.exit_code, _tail(result.stderr or result.stdout)
            )
        return result

    def sleep(self, seconds: float) -> None:
        """Sleep, bounded by the deadline; a stop request ends it at once (a safe point)."""
        end = min(time.monotonic() + seconds, self.deadline)
        while True:
            self.check_stop()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def check_stop(self) -> None:
        reason = self.stop_reason()
        if reason:
            raise Interrupted(reason)

    def poll(
        self,
        read: Callable[[], tuple[bool, str]],
        what: str,
        interval: float,
        timeout: float | None = None,
    ) -> str:
        """Call read() until it says done, every interval, bounded by timeout and the step's
        deadline; returns its last state, or fails naming what it waited for and the last state
        seen."""
        start = time.monotonic()
        end = min(self.deadline, start + (timeout if timeout is not None else self.timeout))
        polls = 0
        while True:
            began = time.monotonic()
            done, state = read()
            polls += 1
            if done:
                return state
            pause = until_next_poll(began, interval)
            if time.monotonic() + pause > end or polls >= MAX_POLLS:
                raise StepFailed(
                    self.step,
                    self.host,
                    f"timed out after {time.monotonic() - start:.0f}s "
                    f"waiting until {what} (last seen: {state})",
                )
            self.waiting(time.monotonic() - start, end - start, state)
            self.sleep(pause)


def until_next_poll(began: float, interval: float) -> float:
    """Seconds to sleep so that polls start `interval` apart (a read's own time is not added to the
    interval), and at least MIN_POLL_GAP after a read that took longer than that: a slow cluster
    is not read back to back."""
    return max(MIN_POLL_GAP, began + interval - time.monotonic())


MAX_POLLS = 100_000  # every poll loop is bounded in time and in count
MIN_POLL_GAP = 0.05  # seconds between the end of one read and the next, at least
TAIL_LINES = 15


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


S = TypeVar("S")
A = TypeVar("A", bound=Action)


class StepKind(Generic[S, A]):
    """A step kind. Subclasses set the class attributes and implement plan() and execute()."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line, for `runbooks kinds` and the schema
    Spec: ClassVar[type]
    shorthand: ClassVar[str | None] = None  # `kind: VALUE` stands for `kind: {shorthand: VALUE}`
    default_target: ClassVar[str] = "all"
    default_timeout: ClassVar[float] = 60.0
    heartbeat: ClassVar[bool] = True  # a long execution notes that it is still running

    def validate(self, raw: Any, file: str, line: int) -> dict[str, Any]:
        return specs.validate(self.Spec, raw, self.name, file, line, self.shorthand)

    def spec(self, raw: Mapping[str, Any], ctx: StepContext) -> S:
        value: S = specs.render(self.Spec, raw, ctx.native, self.name, ctx.file, ctx.line)
        return value

    def plan(self, spec: S, ctx: StepContext) -> A:
        raise NotImplementedError

    def execute(self, action: A, ex: ExecContext) -> Outcome:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return specs.spec_schema(self.Spec, self.shorthand)


# ----- helpers shared by kinds ------------------------------------------------
def unified_diff(path: str, old: str | None, new: str) -> str:
    if old == new:
        return ""
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{path} (current)" if old is not None else "/dev/null",
            tofile=f"{path} (planned)",
        )
    )


HEARTBEAT_EVERY = 15.0  # s between "still running" notes on a long step


@contextlib.contextmanager
def heartbeat(
    note: Callable[[str], None], timeout: float, every: float = HEARTBEAT_EVERY
) -> Iterator[None]:
    """While the block runs, note every `every` seconds how long it has been running (a snapshot
    save, a restore or a defragmentation of a large database takes minutes: the log shows it is
    alive)."""
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            note(
                f"still running after {time.monotonic() - start:.0f}s (the step's timeout is "
                f"{timeout:g}s)"
            )

    thread = threading.Thread(target=beat, name="etcdops-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every)
