"""`swap_dir`: put a prepared data dir in place of the current one (moved aside), with etcd
verified stopped."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import sh
from etcdops.errors import StepFailed
from etcdops.steps import files
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field


@dataclass(frozen=True)
class SwapDirSpec:
    new: str = spec_field("the prepared directory is DIR.NEW-STAMP (e.g. restore)")
    aside: str = spec_field("the current one is kept as DIR.ASIDE-STAMP (e.g. pre-restore)")
    paths: list[str] | None = spec_field(
        "directories (default: the host's data dir and WAL dir)", None
    )


@dataclass(frozen=True, kw_only=True)
class SwapDirAction(Action):
    swaps: tuple[tuple[str, str, str], ...]  # (dir, prepared, aside)
    reason: str


class SwapDirKind(StepKind[SwapDirSpec, SwapDirAction]):
    name = "swap_dir"
    summary = (
        "put DIR.NEW-STAMP in place of DIR, keeping DIR as DIR.ASIDE-STAMP (owner and mode kept)"
    )
    Spec = SwapDirSpec

    def plan(self, spec: SwapDirSpec, ctx: StepContext) -> SwapDirAction:
        new, aside = (
            files.checked_suffix(ctx, spec.new, "swap_dir.new"),
            files.checked_suffix(ctx, spec.aside, "swap_dir.aside"),
        )
        paths = tuple(spec.paths) if spec.paths else files.etcd_dirs(ctx)
        swaps = tuple(
            (p, f"{p}.{new}-{ctx.run.stamp}", f"{p}.{aside}-{ctx.run.stamp}") for p in paths
        )
        intent = "; ".join(
            f"keep {d} as {a}, then move {n} into its place with its owner and mode"
            for d, n, a in swaps
        )
        commands = []
        for d, n, a in swaps:
            commands += [
                files.stat_command(d, n, a),
                files.move_command(d, a),
                files.move_command(n, d),
            ]
        return SwapDirAction(
            intent=intent + " (nothing is deleted)",
            commands=tuple(commands),
            swaps=swaps,
            reason=aside,
        )

    def execute(self, action: SwapDirAction, ex: ExecContext) -> Outcome:
        did, done = [], []
        for current, prepared, aside in action.swaps:
            s = files.stat(ex, current, prepared, aside)
            old, new, kept = s[current], s[prepared], s[aside]
            if not new.exists:
                if old.exists and kept.exists:
                    done.append(f"{current} is already in place (the old one kept as {aside})")
                    continue
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"{prepared} is missing: the step that prepares it has not finished",
                )
            if old.exists and kept.exists:
                raise StepFailed(
                    ex.step, ex.host, f"both {current} and {aside} exist: not touching either"
                )
            if old.exists:
                files.set_aside(ex, current, aside, action.reason)
                did.append(f"kept {current} as {aside}")
            owner_of = old if old.exists else kept  # after an interruption between the two renames
            files.copy_owner(ex, owner_of, prepared)
            ex.run(files.move_command(prepared, current).then(sh("test", "!", "-e", prepared)))
            did.append(f"moved {prepared} into place as {current}")
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)
