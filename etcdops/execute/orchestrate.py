"""Run a plan for real: the cluster lock, the journal, resume, the runner, the report.

The library entry point behind `etcdops run`; the CLI parses, prints and exits around it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops import paths
from etcdops.durations import Rates
from etcdops.errors import EtcdopsError
from etcdops.execute import runlock
from etcdops.execute.artifacts import write_output
from etcdops.execute.journal import Journal
from etcdops.execute.report import build_report, clients_without_etcd, junit_xml
from etcdops.execute.runner import Confirm, Events, Runner, RunResult, StepStatus, summarize
from etcdops.execute.signals import StopRequest, stop_on_signals
from etcdops.facts.gather import gather
from etcdops.facts.leader import read_leader
from etcdops.facts.model import ClusterFacts
from etcdops.facts.through import Through
from etcdops.lock import ClusterLock, lock_ttl, new_holder
from etcdops.lock.breaking import break_lock as remove_lock
from etcdops.plan import Plan
from etcdops.runs import finished_steps, record
from etcdops.session import Prepared, secret_values
from etcdops.steps.base import HostStatus
from etcdops.templating import mask_secrets
from etcdops.window import Window


@dataclass(frozen=True)
class RunOptions:
    assume_yes: bool
    confirm: Confirm | None = None
    break_lock: bool = False
    window: Window | None = None
    resume_dir: Path | None = None  # the journal of the run being resumed
    report: Path | None = None
    junit: Path | None = None
    read_after: bool = False  # read the cluster again at the end for the report's "after"
    # what the operator is told (--break-lock's removals)
    say: Callable[[str], None] = lambda _m: None
    note: Callable[[str], None] = lambda _m: None  # side remarks (the lock's notes), on stderr


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def execute(
    prepared: Prepared, plan: Plan, options: RunOptions, events: Events
) -> tuple[RunResult, dict[str, Any]]:
    """Take the lock, run the plan (journaled), release the lock, write the report."""

    facts = plan.facts
    via = facts.healthy_voter_host(prepared.param_hosts()) or None
    lock_ttl()  # a bad ETCDOPS_LOCK_TTL is refused before anything is touched
    took = runlock.claim(plan.run_id)  # one live runner per run id (exit 4 else)
    try:
        return _execute(prepared, plan, options, events, via)
    finally:
        if took:
            runlock.release(plan.run_id)


def _execute(
    prepared: Prepared, plan: Plan, options: RunOptions, events: Events, via: str | None
) -> tuple[RunResult, dict[str, Any]]:
    if options.break_lock:
        removed = remove_lock(
            prepared.inventory,
            prepared.pool,
            via,
            note=lambda m: options.note(f"--break-lock: {m}"),
        )
        for item in removed:
            options.say(f"--break-lock: removed {item}")
    journal = Journal(paths.run_dir(plan.run_id))
    done = finished_steps(options.resume_dir) if options.resume_dir is not None else frozenset()
    if options.resume_dir is None:
        journal.write(
            "plan.json", record(plan, prepared.inventory, prepared.params, prepared.assignments)
        )
    else:
        journal.event("run_resumed", done_before=sorted(done))
    lock = ClusterLock(
        prepared.inventory,
        prepared.pool,
        new_holder(plan.run_id, plan.runbook),
        prepared.runbook.lock,
        via,
        on_note=lambda m: _lock_note(journal, options, m),
    )
    # the waits' polls and the re-checks ask every member's etcd through one healthy member host
    through = Through(prepared.inventory, prepared.pool, via, avoid=prepared.param_hosts())
    with stop_on_signals(StopRequest()) as stop, lock:
        runner = Runner(
            plan,
            prepared.inventory,
            prepared.pool,
            lambda: prepared.live_facts(through),
            events,
            journal,
            assume_yes=options.assume_yes,
            confirm=options.confirm,
            secrets=secret_values(prepared),
            done_before=done,
            stop_reason=_window_closed(options.window),
            interrupt=stop,
            lock_lost=lock.lost,
            read_leader=lambda: read_leader(prepared.inventory, prepared.pool, via),
            read_fenced_facts=fenced_reader(prepared, plan, via),
        )
        started = _now()
        result = runner.run()
        journal.write("result.json", summarize(result))
        learn_rates(plan, result)
        report = _report(prepared, plan, result, started, journal, options)
    return result, report


def fenced_reader(
    prepared: Prepared, plan: Plan, via: str | None
) -> Callable[[], ClusterFacts] | None:
    """How a plan with fenced steps reads the fenced cluster (through one member host, as the
    other reads), or None when it has none."""
    if not any(s.fenced for s in plan.steps):
        return None
    fenced = prepared.inventory.fenced()
    through = Through(fenced, prepared.pool, via, avoid=prepared.param_hosts())
    return lambda: gather(fenced, prepared.pool, versions=False, through=through)


def _lock_note(journal: Journal, options: RunOptions, message: str) -> None:
    """What the cluster lock says (taken over, lost, left behind): on stderr and in the journal."""
    options.note(f"lock: {message}")
    journal.event("lock", message=message)


def learn_rates(plan: Plan, result: RunResult) -> None:
    """What each host action that did its work took (bytes / seconds): the next plan's rates."""

    rates = Rates.load(plan.inventory)
    work = {
        (s.index, a.host): (s.kind, a.action.work)
        for s in plan.steps
        for a in s.actions
        if a.action.work
    }
    kinds = {s.index: s.kind for s in plan.steps}
    timed = False
    for step in result.steps:
        for h in step.hosts:
            kind_work = work.get((step.index, h.host))
            if kind_work is not None and h.status == HostStatus.CHANGED:
                rates.learn(kind_work[0], kind_work[1], h.elapsed)
        # a step that did something without bytes to size: its seconds
        if step.status == StepStatus.CHANGED and not any(
            (step.index, h.host) in work for h in step.hosts
        ):
            rates.learn_step(kinds[step.index], step.elapsed)
            timed = True
    if work or timed:
        rates.save()


def _window_closed(window: Window | None) -> Callable[[], str | None]:
    if window is None:
        return lambda: None
    return lambda: (
        None
        if window.contains(dt.datetime.now(dt.UTC))
        else f"the maintenance window {window} has closed"
    )


def _report(
    prepared: Prepared,
    plan: Plan,
    result: RunResult,
    started: str,
    journal: Journal,
    options: RunOptions,
) -> dict[str, Any]:
    """The report: before (the plan's facts) and after (read now, when a report is asked for), every
    step; always in the journal."""

    after = options.read_after or options.report is not None or options.junit is not None
    try:
        after_facts = prepared.live_facts() if after else None
    except EtcdopsError:
        after_facts = None
    data = build_report(plan, result, plan.facts, after_facts, started, _now())
    data["clients_without_etcd"] = clients_without_etcd(plan, journal.events())
    data = json.loads(mask_secrets(json.dumps(data), secret_values(prepared)))
    journal.write("report.json", data)
    # a finished maintenance never turns into a failure because a report cannot be written: it is
    # in the journal then, and the operator is told where
    if options.report is not None:
        _deliver(
            options.report,
            json.dumps(data, indent=2) + "\n",
            journal,
            "report.json",
            "--report",
            options,
        )
    if options.junit is not None:
        _deliver(options.junit, junit_xml(data), journal, "junit.xml", "--junit", options)
    return data


def _deliver(
    dest: Path, text: str, journal: Journal, name: str, option: str, options: RunOptions
) -> None:
    problem = write_output(dest, text)
    if problem is None:
        return
    if name != "report.json":  # report.json is in the journal already
        journal.write_text(name, text)
    where = journal.folder / name if journal.folder is not None else None
    options.note(f"{option}: could not write {dest} ({problem}); it is in {where}")
    journal.event(
        "output_elsewhere", option=option, wanted=str(dest), problem=problem, path=str(where)
    )
