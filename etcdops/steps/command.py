"""`command`: a shell command of the runbook's own, for users' runbooks (built-in ones use the etcd
step kinds). Every {{ value }} is shell-quoted as it is written; `| raw` opts out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etcdops.commands import Command, auth_env
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.templating import render, revealed
from etcdops.transport.local import CONTROL


@dataclass(frozen=True)
class CommandSpec:
    run: str = spec_field("the shell command (every {{ value }} is shell-quoted)")
    unless: str | None = spec_field("skip the step on a host where this command succeeds", None)
    show: bool = spec_field("print the command's whole output (else its last lines)", False)


@dataclass(frozen=True, kw_only=True)
class CommandAction(Action):
    command: Command
    unless: Command | None = None
    show: bool = False

    def describe(self) -> list[str]:
        lines = [self.intent, f"$ {self.command.display}"]
        if self.unless:
            lines.append(f"  (skipped when this succeeds: {self.unless.display})")
        return lines


class CommandKind(StepKind[CommandSpec, CommandAction]):
    name = "command"
    summary = "run a shell command of your own on the hosts (every {{ value }} shell-quoted)"
    Spec = CommandSpec
    shorthand = "run"

    def spec(self, raw: Mapping[str, Any], ctx: StepContext) -> CommandSpec:
        # run/unless are rendered in shell mode by plan(), not natively
        show = raw.get("show", False)
        return CommandSpec(
            run=str(raw["run"]),
            unless=raw.get("unless"),
            show=bool(ctx.native(show)) if isinstance(show, str) else bool(show),
        )

    def plan(self, spec: CommandSpec, ctx: StepContext) -> CommandAction:
        env = auth_env(ctx.inventory.hosts[ctx.host].etcd) if ctx.host != CONTROL else ()
        command = _shell(spec.run, ctx, env)
        unless = _shell(spec.unless, ctx, env) if spec.unless else None
        return CommandAction(
            intent=f"run on {ctx.host}",
            # both are the runbook's own shell: shown as commands, whatever they do
            commands=(command, *((unless,) if unless else ())),
            command=command,
            unless=unless,
            show=spec.show,
        )

    def execute(self, action: CommandAction, ex: ExecContext) -> Outcome:
        if action.unless is not None and ex.run(action.unless, check=False).ok:
            return Outcome.ok(f"already done ({action.unless.display} succeeded)")
        result = ex.run(action.command)
        out = result.stdout.rstrip()
        return Outcome.changed(out if action.show else "\n".join(out.splitlines()[-5:]))


def _shell(source: str, ctx: StepContext, env: tuple[Any, ...]) -> Command:
    display = render(source, ctx.variables, shell=True, where=ctx.file, line=ctx.line)
    with revealed():
        text = render(source, ctx.variables, shell=True, where=ctx.file, line=ctx.line)
    return Command(text=text.strip(), display=display.strip(), env=env)
