"""`etcdops run`: fresh, a reviewed plan, or a resumed run (`etcdops runs ...`: cli/runs.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from etcdops import paths
from etcdops.cli.common import (
    CommandsOpt,
    Output,
    ParamsOpt,
    RunbooksOpt,
    boundary,
    err,
    exit_on_failed_checks,
    show_plan,
)
from etcdops.errors import BadInput, ExitCode, OutsideWindow, PlanStale, Refused

WINDOW_ENV = "ETCDOPS_WINDOW"


@boundary
def run(
    runbook: Annotated[str | None, typer.Argument(help="runbook name or file")] = None,
    inventory: Annotated[
        str | None, typer.Option("--inventory", "-i", help="inventories/NAME/ or a path")
    ] = None,
    param: ParamsOpt = None,
    runbooks: RunbooksOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="run this reviewed plan (plan --save)")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="continue the run with this id after a crash")
    ] = None,
    window: Annotated[
        str | None, typer.Option(help=f'e.g. "Sat 02:00-04:00 UTC" (or ${WINDOW_ENV})')
    ] = None,
    break_lock: Annotated[
        bool, typer.Option("--break-lock", help="remove a lock left by a dead run")
    ] = False,
    report: Annotated[Path | None, typer.Option(help="write the run report (JSON) here")] = None,
    junit: Annotated[
        Path | None, typer.Option(help="write one JUnit testcase per step here")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="write the run report as one self-contained HTML page here"),
    ] = None,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="json: the report on stdout")
    ] = Output.text,
    commands: CommandsOpt = False,
    update_inventory: Annotated[
        bool,
        typer.Option(
            "--update-inventory",
            help="after a membership change, change the inventory's etcd group to follow it",
        ),
    ] = False,
) -> None:
    """Plan RUNBOOK, show the plan, ask, then execute that same plan (or a reviewed or resumed
    one)."""
    from etcdops.cli.progress import fit, make_progress
    from etcdops.execute.orchestrate import RunOptions, execute
    from etcdops.execute.runner import RunStatus, StepStatus
    from etcdops.session import prepare
    from etcdops.window import parse_window

    if window or os.environ.get(WINDOW_ENV):
        the_window = parse_window(window or os.environ[WINDOW_ENV])
    else:
        the_window = None
    if the_window is not None and not the_window.contains(dt.datetime.now(dt.UTC)):
        raise OutsideWindow(f"outside the maintenance window {the_window}; nothing was touched")
    _check_before_anything(report, junit, html)
    saved, run_dir = _saved_record(plan_file, resume)
    if saved is not None:
        runbook, inventory = saved["runbook_file"], saved["inventory_path"]
        param = [*saved["assignments"], *(param or [])]
    if runbook is None or inventory is None:
        raise BadInput("run needs RUNBOOK and --inventory (or --plan FILE, or --resume ID)")
    # with --output json, stdout is the report only
    say = err if output == Output.json else typer.echo
    prepared = prepare(runbook, inventory, param or [], runbooks)
    if yes and saved is None:
        _unattended_needs(prepared.runbook, param or [])
    with prepared.pool:
        the_plan = _plan(prepared, saved, plan_file is not None, say, commands)
        _confirm_or_refuse(the_plan, yes)
        with make_progress() as progress:
            options = RunOptions(
                assume_yes=yes,
                confirm=None if yes else progress.asking(_confirm),
                break_lock=break_lock,
                window=the_window,
                resume_dir=run_dir,
                report=report,
                junit=junit,
                # a terminal's closing summary shows the db sizes after the run
                read_after=output == Output.json or html is not None or progress.on_terminal,
                say=say,
                note=progress.echo,
            )
            result, the_report = execute(prepared, the_plan, options, progress)
            progress.summary(_summary(the_report, result.run_id))
    if html is not None:
        _write_html(html, the_report, result.run_id, say)
    if output == Output.json:
        typer.echo(json.dumps(the_report, indent=2))
    if result.status != RunStatus.SUCCESSFUL:
        err(fit(f"\nrun {result.run_id} {result.status.value.upper()}: {result.error}", sys.stderr))
        if result.resumable:
            err(f"after fixing the cause, continue with: etcdops run --resume {result.run_id}")
        raise typer.Exit(result.exit_code or ExitCode.STEP_FAILED)
    outage = the_report.get("clients_without_etcd") or {}
    if outage.get("measured_seconds") is not None:
        say(
            f"\nclients had no etcd for {outage['measured_seconds']:.1f}s "
            f"(expected ~{outage['predicted_seconds']:.0f}s)"
        )
    counts = {status: sum(1 for s in result.steps if s.status == status) for status in StepStatus}
    say(
        fit(
            f"\nrun {result.run_id} finished: {len(result.steps)} steps "
            f"({counts[StepStatus.CHANGED]} changed, "
            f"{counts[StepStatus.OK]} ok (nothing to do), {counts[StepStatus.SKIPPED]} skipped, "
            f"{counts[StepStatus.DONE_BEFORE]} done before)"
        )
    )
    if the_plan.on_success:
        say(fit("\n" + the_plan.on_success.strip()))
    from etcdops.cli.inventory import after_run  # say: stderr under --output json

    after_run(
        prepared.inventory, the_plan.membership_moves, update_inventory, the_plan.run.stamp, say
    )
    if result.exit_code:  # a signal (or the lock's loss) that came once the last step was running
        err(f"run {result.run_id}: {result.error}")
        raise typer.Exit(result.exit_code)


def _summary(the_report: dict[str, Any], run_id: str) -> list[str]:
    """The closing summary's lines (a terminal shows them), from the report and the journal."""
    from etcdops.output import run_summary
    from etcdops.runs import events

    run_dir = paths.run_dir(run_id)
    try:
        plan_record = json.loads((run_dir / "plan.json").read_text())
    except (OSError, ValueError):
        plan_record = None
    return run_summary(the_report, plan_record, events(run_dir))


def _check_before_anything(report: Path | None, junit: Path | None, html: Path | None) -> None:
    """Settings and output paths that are wrong are refused (exit 2) before anything is read or
    touched, never after the maintenance ran."""
    from etcdops.execute.artifacts import check_output
    from etcdops.lock import lock_ttl

    lock_ttl()
    for path, option in ((report, "--report"), (junit, "--junit"), (html, "--html")):
        if path is not None:
            check_output(path, option, renamed=option == "--html")


def _write_html(dest: Path, the_report: dict[str, Any], run_id: str, say: Any) -> None:
    """The page never turns a finished run into a failed one: elsewhere, or not at all, and said
    so."""
    from etcdops.htmlreport import write_run_html

    written = write_run_html(dest, the_report, paths.run_dir(run_id))
    if written.problem:
        err(f"--html: {written.problem}")
    if written.path is None:
        err(
            f"--html: no page was written; make it later with: etcdops runs report {run_id} "
            f"--html {dest}"
        )
    else:
        say(f"HTML report: {written.path}")


def _unattended_needs(the_runbook: Any, given: list[str]) -> None:
    """A runbook that removes things says what, on the command line, when nobody reviews its
    plan."""
    named = {a.partition("=")[0].strip() for a in given}
    missing = [p for p in the_runbook.unattended_requires if p not in named]
    if missing:
        raise Refused(
            f"{the_runbook.name} under --yes without a reviewed plan (run --plan) needs "
            + ", ".join(f"-p {p}=..." for p in missing)
            + " given explicitly; nothing was touched"
        )


def _saved_record(
    plan_file: Path | None, resume: str | None
) -> tuple[dict[str, Any] | None, Path | None]:
    from etcdops.runs import load_record, resume_record

    if plan_file is not None and resume is not None:
        raise BadInput("--plan and --resume do not go together")
    if plan_file is not None:
        return load_record(plan_file), None
    if resume is not None:
        from etcdops.execute.runlock import claim

        run_dir, data = resume_record(resume)
        claim(resume)  # held until this process ends: exit 4 if that run has a live runner
        return data, run_dir
    return None, None


def _plan(
    prepared: Any, saved: dict[str, Any] | None, reviewed: bool, say: Any, commands: bool
) -> Any:
    from etcdops.runs import check_reviewed, record, run_status

    frozen = saved.get("vars") if saved else None
    the_plan = prepared.plan(run=saved["run"] if saved else None, frozen=frozen)
    show_plan(the_plan, commands, say)
    if reviewed:
        assert saved is not None
        if run_status(paths.run_dir(the_plan.run_id)) == "successful":
            raise PlanStale(
                f"the reviewed plan (run {the_plan.run_id}) has already run successfully; "
                "make and review a new plan"
            )
        check_reviewed(
            saved, record(the_plan, prepared.inventory, prepared.params, prepared.assignments)
        )
        say("\nthe reviewed plan still matches the cluster, the inventory and the runbook")
    if saved is not None and not reviewed:
        failed = the_plan.failed_checks
        # a resumed run passed its pre-flight when it started; each step re-checks what it needs
        if failed:
            say(
                "pre-flight checks that fail now are not re-applied to a resumed run: "
                + "; ".join(c.message for c in failed)
            )
        return the_plan
    exit_on_failed_checks(the_plan)
    return the_plan


def _confirm_or_refuse(the_plan: Any, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused("no terminal to confirm on: review the plan and pass --yes to run unattended")
    _impact_again(the_plan)
    if the_plan.confirm == "inventory":
        typed = typer.prompt(
            f"\nThis {the_plan.runbook} replaces the data of {the_plan.inventory}. "
            "Type the inventory's name to run it",
            default="",
            show_default=False,
        )
        confirmed = typed.strip() == the_plan.inventory
    else:
        confirmed = typer.confirm(
            f"\nRun {the_plan.runbook} on {the_plan.inventory}?", default=False
        )
    if not confirmed:
        raise Refused("not confirmed; nothing was changed")


def _impact_again(the_plan: Any) -> None:
    """The impact header once more, right above the question it helps to answer."""
    from etcdops.cli.progress import echo_painted, width_of
    from etcdops.impact import impact_lines
    from etcdops.output import fold, impact_text

    lines = impact_text(impact_lines(the_plan))
    if lines:
        width = width_of(sys.stdout) if sys.stdout.isatty() else None
        folded = [f for line in lines for f in (fold(line, width) if width else [line])]
        echo_painted("\n".join(folded))


def _confirm(message: str) -> bool:
    return typer.confirm(f"{message} Continue?", default=False)
