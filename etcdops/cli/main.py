"""The etcdops command line. Heavy modules are imported inside commands (fast --help)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from etcdops.cli import lab as lab_cli
from etcdops.cli import runbooks as runbooks_cli
from etcdops.cli.common import InventoryOpt, Output, ParamsOpt, RunbooksOpt, boundary, err
from etcdops.errors import ExitCode

app = typer.Typer(
    name="etcdops", no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
    help="Declarative, reviewable maintenance for etcd clusters: plan first, then run.",
)
app.add_typer(runbooks_cli.app, name="runbooks")
app.add_typer(lab_cli.app, name="lab")


@app.command()
@boundary
def status(inventory: InventoryOpt, output: Annotated[Output, typer.Option("--output", "-o")] = Output.text
           ) -> None:
    """Members, endpoints, leader, quorum and alarms of the cluster (read-only)."""
    from etcdops.facts.gather import gather
    from etcdops.output import status_dict, status_text
    from etcdops.session import get_inventory
    from etcdops.transport.pool import Pool

    inv = get_inventory(inventory)
    with Pool(inv) as pool:
        facts = gather(inv, pool)
    typer.echo(json.dumps(status_dict(facts), indent=2) if output == Output.json else status_text(facts))


@app.command()
@boundary
def plan(runbook: str, inventory: InventoryOpt, param: ParamsOpt = None, runbooks: RunbooksOpt = None,
         output: Annotated[Output, typer.Option("--output", "-o")] = Output.text) -> None:
    """Show exactly what RUNBOOK would do (a dry run: nothing is changed anywhere)."""
    from etcdops.output import plan_json, plan_markdown, plan_text
    from etcdops.session import prepare

    prepared = prepare(runbook, inventory, param or [], runbooks)
    with prepared.pool:
        the_plan = prepared.plan()
    render = {Output.text: plan_text, Output.json: plan_json, Output.markdown: plan_markdown}[output]
    typer.echo(render(the_plan))
    _exit_on_failed_checks(the_plan)


def _exit_on_failed_checks(the_plan) -> None:  # type: ignore[no-untyped-def]
    failed = the_plan.failed_checks
    if failed:
        for check in failed:
            err(f"refused: pre-flight check failed: {check.message}" + (f" ({check.detail})" if check.detail else ""))
        raise typer.Exit(max(c.exit_code for c in failed))


@app.command()
@boundary
def run(runbook: str, inventory: InventoryOpt, param: ParamsOpt = None, runbooks: RunbooksOpt = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
        report: Annotated[Path | None, typer.Option(help="write the run report (JSON) here")] = None,
        junit: Annotated[Path | None, typer.Option(help="write one JUnit testcase per step here")] = None,
        output: Annotated[Output, typer.Option("--output", "-o", help="json: the report on stdout")]
        = Output.text) -> None:
    """Plan RUNBOOK, show the plan, ask, then execute that same plan."""
    from etcdops.cli.progress import Progress
    from etcdops.errors import Refused
    from etcdops.execute.journal import Journal
    from etcdops.execute.runner import Runner, summarize
    from etcdops.output import plan_dict, plan_text
    from etcdops.session import prepare, project_root, secret_values

    prepared = prepare(runbook, inventory, param or [], runbooks)
    say = err if output == Output.json else typer.echo  # with --output json, stdout is the report only
    with prepared.pool:
        the_plan = prepared.plan()
        say(plan_text(the_plan))
        _exit_on_failed_checks(the_plan)
        if not yes:
            if not sys.stdin.isatty():
                raise Refused("no terminal to confirm on: review the plan and pass --yes to run unattended")
            if not typer.confirm(f"\nRun {the_plan.runbook} on {the_plan.inventory}?", default=False):
                err("not confirmed; nothing was changed")
                raise typer.Exit(ExitCode.OK)
        journal = Journal(project_root() / ".etcdops" / "runs" / the_plan.run_id)
        journal.write("plan.json", plan_dict(the_plan))
        runner = Runner(the_plan, prepared.inventory, prepared.pool, prepared.facts, Progress(), journal,
                        assume_yes=yes, confirm=None if yes else _confirm, secrets=secret_values(prepared))
        started = _now()
        result = runner.run()
        journal.write("result.json", summarize(result))
        the_report = _report(the_plan, result, prepared, started, journal, report, junit)
    if output == Output.json:
        typer.echo(json.dumps(the_report, indent=2))
    if result.status != "successful":
        err(f"\nrun {result.run_id} {result.status.upper()}: {result.error}")
        raise typer.Exit(result.exit_code or ExitCode.STEP_FAILED)
    say(f"\nrun {result.run_id} finished: {len(result.steps)} steps "
        f"({sum(1 for s in result.steps if s.status == 'ok')} done, "
        f"{sum(1 for s in result.steps if s.status == 'skipped')} skipped)")
    if the_plan.on_success:
        say("\n" + the_plan.on_success.strip())


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _report(the_plan, result, prepared, started, journal, report, junit):  # type: ignore[no-untyped-def]
    """The report: before (the plan's facts) and after (read now), every step; always in the journal."""
    from etcdops.errors import EtcdopsError
    from etcdops.report import build_report, junit_xml
    from etcdops.templating import mask_secrets
    from etcdops.session import secret_values

    try:
        after = prepared.facts()
    except EtcdopsError:
        after = None
    data = build_report(the_plan, result, the_plan.facts, after, started, _now())
    data = json.loads(mask_secrets(json.dumps(data), secret_values(prepared)))
    journal.write("report.json", data)
    if report is not None:
        report.write_text(json.dumps(data, indent=2) + "\n")
    if junit is not None:
        junit.write_text(junit_xml(data))
    return data


def _confirm(message: str) -> bool:
    return typer.confirm(f"{message} Continue?", default=False)


@app.command()
@boundary
def validate(runbook: Annotated[list[str] | None, typer.Argument()] = None,
             inventory: Annotated[str | None, typer.Option("--inventory", "-i")] = None,
             runbooks: RunbooksOpt = None) -> None:
    """Check runbooks and an inventory without connecting to anything."""
    from etcdops.session import validate_all

    for line in validate_all(inventory, runbook or [], runbooks):
        typer.echo(f"ok: {line}")


def main() -> None:
    app(prog_name="etcdops")


if __name__ == "__main__":
    main()
