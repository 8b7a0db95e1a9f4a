"""`etcd_key`: delete a key (the cluster lock a restored snapshot brought back)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from etcdops.commands import Command, etcdctl
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_reads import endpoints_of
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class KeySpec:
    delete: str = spec_field("the key to delete (nothing if it is not there)")


@dataclass(frozen=True, kw_only=True)
class KeyAction(Action):
    key: str
    command: Command


class EtcdKeyKind(StepKind[KeySpec, KeyAction]):
    name = "etcd_key"
    summary = "delete one key (ok when it is not there)"
    Spec = KeySpec
    shorthand = "delete"

    def plan(self, spec: KeySpec, ctx: StepContext) -> KeyAction:
        endpoints = tuple(endpoints_of(ctx.inventory))
        command = etcdctl(ctx.etcd, "del", spec.delete, "-w", "json", endpoints=list(endpoints))
        return KeyAction(
            intent=f"delete the key {spec.delete} (if it is there)",
            commands=(command,),
            key=spec.delete,
            command=command,
        )

    def execute(self, action: KeyAction, ex: ExecContext) -> Outcome:
        out = ex.run(action.command).stdout
        try:
            deleted = int(json.loads(out).get("deleted", 0))
        except (ValueError, AttributeError):
            deleted = 0
        if deleted:
            return Outcome.changed(f"deleted {action.key}")
        else:
            return Outcome.ok(f"{action.key} is not there")
