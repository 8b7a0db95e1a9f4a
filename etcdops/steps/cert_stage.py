"""`cert_stage`: the new certificates, keys and trust bundles of a rotation uploaded beside the
files the host uses (`PATH.new-STAMP`, sha256 verified, mode 0600), then checked on the host with
its own openssl: each certificate valid now, matching its key, naming the host's URL hosts,
verifying against the CA bundle it will be trusted by. Nothing the host uses is touched (cert_swap
does that): a refused file fails the step before any member restarts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcdops.commands import Command
from etcdops.errors import StepFailed
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.copying import upload, upload_commands, upload_reads
from etcdops.steps.spec import spec_field
from etcdops.steps.tlsfiles import (
    StagedFile,
    cert_check_command,
    host_part,
    judge_check,
    staged_files,
)

MODE = "0600"  # cert_swap gives the file the mode and owner of the one it replaces


@dataclass(frozen=True)
class CertStageSpec:
    rotation: dict[str, Any] = spec_field("the rotation planned at plan time (vars.rotation)")


@dataclass(frozen=True, kw_only=True)
class CertStageAction(Action):
    files: tuple[StagedFile, ...]
    checks: tuple[tuple[Command, str, tuple[str, ...], str], ...]  # command, cert, names, CA


class CertStageKind(StepKind[CertStageSpec, CertStageAction]):
    name = "cert_stage"
    summary = "upload new TLS files beside the old (PATH.new-STAMP) and check them on the host"
    Spec = CertStageSpec
    shorthand = "rotation"
    default_timeout = 120.0

    def plan(self, spec: CertStageSpec, ctx: StepContext) -> CertStageAction:
        part = host_part(spec.rotation, ctx)
        files = staged_files(part)
        commands: list[Command] = []
        reads: list[Command] = []
        for f in files:
            commands += upload_commands(f.staged, MODE)
            reads += upload_reads(f.staged)
        checks = []
        for c in part.get("checks", ()):
            command = cert_check_command(str(c["cert"]), str(c["key"]), str(c["ca"]))
            checks.append((command, str(c["cert"]), tuple(c.get("names", ())), str(c["ca"])))
            reads.append(command)
        names = ", ".join(sorted({f.dest.rsplit("/", 1)[-1] for f in files})) or "nothing"
        return CertStageAction(
            intent=f"upload {names} beside the files {ctx.host} uses (.new-{ctx.run.stamp}) and "
            f"check {len(checks)} certificate(s) there (valid now, key, names, CA)",
            commands=tuple(commands),
            reads=tuple(reads),
            files=files,
            checks=tuple(checks),
        )

    def execute(self, action: CertStageAction, ex: ExecContext) -> Outcome:
        copied = 0
        for f in action.files:
            if upload(ex, f.src, f.staged, MODE).status.value == "changed":
                copied += 1
        problems: list[str] = []
        for command, cert, names, ca in action.checks:
            problems += judge_check(ex.run(command, check=False).stdout, cert, list(names), ca)
        if problems:
            raise StepFailed(
                ex.step,
                ex.host,
                "refused on the host, nothing it uses was changed: " + "; ".join(problems),
            )
        detail = f"{len(action.files)} file(s) staged, {len(action.checks)} certificate(s) checked"
        return Outcome.changed(detail) if copied else Outcome.ok(detail + " (already staged)")
