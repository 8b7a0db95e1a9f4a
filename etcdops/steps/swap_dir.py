"""`swap_dir`: put a prepared data dir in place of the current one (moved aside), with etcd verified
stopped."""

from __future__ import annotations

from dataclasses import dataclass

from etcdops.commands import Command
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


@dataclass(frozen=True)
class Swap:
    """One directory's swap: the current one set aside, the prepared one moved into place with the
    current one's owner and mode (read when it runs)."""

    current: str
    prepared: str
    aside: files.SetAside
    owner: Command
    into_place: Command

    @property
    def commands(self) -> tuple[Command, ...]:
        return (*self.aside.commands, self.owner, self.into_place)


@dataclass(frozen=True, kw_only=True)
class SwapDirAction(Action):
    swaps: tuple[Swap, ...]


class SwapDirKind(StepKind[SwapDirSpec, SwapDirAction]):
    name = "swap_dir"
    summary = (
        "put DIR.NEW-STAMP in place of DIR, keeping DIR as DIR.ASIDE-STAMP (owner and mode kept)"
    )
    Spec = SwapDirSpec

    def plan(self, spec: SwapDirSpec, ctx: StepContext) -> SwapDirAction:
        new = files.checked_suffix(ctx, spec.new, "swap_dir.new")
        reason = files.checked_suffix(ctx, spec.aside, "swap_dir.aside")
        paths = tuple(spec.paths) if spec.paths else files.etcd_dirs(ctx)
        swaps = []
        for path in paths:
            prepared = f"{path}.{new}-{ctx.run.stamp}"
            aside = files.SetAside.of(path, f"{path}.{reason}-{ctx.run.stamp}", reason, ctx.run)
            swaps.append(
                Swap(
                    path,
                    prepared,
                    aside,
                    files.owner_command(prepared),
                    files.move_command(prepared, path),
                )
            )
        intent = "; ".join(
            f"keep {s.current} as {s.aside.aside}, then move {s.prepared} into its place with "
            "its owner and mode"
            for s in swaps
        )
        return SwapDirAction(
            intent=intent + " (nothing is deleted)",
            commands=tuple(c for s in swaps for c in s.commands),
            reads=tuple(files.stat_command(s.current, s.prepared, s.aside.aside) for s in swaps),
            swaps=tuple(swaps),
        )

    def execute(self, action: SwapDirAction, ex: ExecContext) -> Outcome:
        did, done = [], []
        for swap in action.swaps:
            current, prepared, aside = swap.current, swap.prepared, swap.aside.aside
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
                files.set_aside(ex, swap.aside, old.is_dir)
                did.append(f"kept {current} as {aside}")
            owner_of = old if old.exists else kept  # after an interruption between the two renames
            files.copy_owner(ex, owner_of, swap.owner)
            ex.run(swap.into_place)
            did.append(f"moved {prepared} into place as {current}")
        detail = "\n".join(did + done)
        return Outcome.changed(detail) if did else Outcome.ok(detail)
