"""`snapshot_fetch`: copy an off-site snapshot to the control node and prove it before anything
uses it.

Its metadata comes first (as the plan read it), then the snapshot into a `.part` file. It is
accepted only if its sha256 is the one its metadata records (the bytes etcdops saved and read
back after upload), it carries etcd's own sha256 trailer (what `snapshot restore` checks), and
`etcdutl snapshot status` reads it with the metadata's revision. A corrupt, truncated or replaced
object is refused here, and the .part removed, before any member is touched. A copy fetched
earlier with the same sha256 is used again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from etcdops import offsite, units
from etcdops.commands import Command, sh
from etcdops.errors import BadInput, StepFailed
from etcdops.sha256 import file_and_trailer
from etcdops.snapshots import local_etcdutl
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind, Write, heartbeat
from etcdops.steps.spec import spec_field
from etcdops.transport.local import CONTROL


@dataclass(frozen=True)
class FetchSpec:
    snapshot: str = spec_field("REMOTE:PATH/NAME.db, resolved (not `latest`)")
    dest: str = spec_field("where it goes on the control node")
    sha256: str = spec_field("the sha256 its metadata records")
    revision: int = spec_field("the revision its metadata records", minimum=1)
    bytes: int = spec_field("its size, for the disk check", 0, minimum=0)


@dataclass(frozen=True, kw_only=True)
class FetchAction(Action):
    dest: str
    sha256: str
    revision: int
    get: Command
    get_meta: Command
    status: Command


class SnapshotFetchKind(StepKind[FetchSpec, FetchAction]):
    name = "snapshot_fetch"
    summary = (
        "copy an off-site snapshot to the control node and check it (sha256 against its "
        "metadata, etcd's trailer, snapshot status) before anything uses it"
    )
    Spec = FetchSpec
    default_target = "control"
    default_timeout = 3600.0

    def plan(self, spec: FetchSpec, ctx: StepContext) -> FetchAction:
        try:
            where = offsite.parse_remote(spec.snapshot, "snapshot_fetch.snapshot")
        except BadInput as exc:
            raise ctx.error(str(exc)) from None
        tool, etcdutl = offsite.rclone_binary(), local_etcdutl()
        if not tool or not etcdutl:
            raise ctx.error("snapshot_fetch needs rclone and etcdutl on the control node")
        if len(spec.sha256) != 64:
            raise ctx.error(f"snapshot_fetch: {where} has no sha256 in its metadata: not trusted")
        part = spec.dest + ".part"
        get = offsite.get(tool, where, part)
        meta = str(Path(spec.dest).with_suffix(".json"))
        get_meta = offsite.get(tool, where.parent.child(where.name[: -len(".db")] + ".json"), meta)
        status = sh(etcdutl, "snapshot", "status", part, "-w", "json").reads()
        return FetchAction(
            intent=f"fetch {where} into {spec.dest} and check it before any member is touched: "
            f"sha256 {spec.sha256[:12]} (its metadata's), etcd's sha256 trailer, snapshot status "
            f"at revision {spec.revision}",
            commands=(get_meta, get),
            reads=(status,),
            dest=spec.dest,
            sha256=spec.sha256,
            revision=spec.revision,
            get=get,
            get_meta=get_meta,
            status=status,
            writes=(Write(CONTROL, spec.dest, spec.bytes, "the fetched snapshot"),),
            work=spec.bytes,
        )

    def execute(self, action: FetchAction, ex: ExecContext) -> Outcome:
        dest = Path(action.dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        ex.run(action.get_meta)
        if dest.is_file() and not dest.is_symlink():
            whole, trailer = file_and_trailer(str(dest), dest.stat().st_size)
            if whole == action.sha256 and trailer:
                return Outcome.ok(f"{dest} fetched before, sha256 {whole[:12]} as recorded")
        part = Path(action.dest + ".part")
        started = time.monotonic()
        try:
            with heartbeat(ex.note, ex.timeout):
                ex.run(action.get)
            fetched = time.monotonic() - started
            self._check(action, ex, part)
        except BaseException:
            part.unlink(missing_ok=True)  # a copy that is not proven is never left to be used
            raise
        os.replace(part, dest)
        size = dest.stat().st_size
        return Outcome.changed(
            f"{dest}: {units.size(size)} fetched in {fetched:.1f}s; sha256 {action.sha256[:12]} "
            f"as its metadata records, etcd's trailer matches, revision {action.revision}",
            report={"fetched_bytes": size, "seconds": round(fetched, 3), "sha256": action.sha256},
        )

    @staticmethod
    def _check(action: FetchAction, ex: ExecContext, part: Path) -> None:
        whole, trailer = file_and_trailer(str(part), part.stat().st_size)
        if whole != action.sha256:
            raise StepFailed(
                ex.step,
                ex.host,
                f"the fetched snapshot has sha256 {whole[:12]}, its metadata records "
                f"{action.sha256[:12]}: corrupt or replaced; refused, nothing was touched",
            )
        if not trailer:
            raise StepFailed(
                ex.step,
                ex.host,
                "the fetched snapshot fails etcd's sha256 trailer check: refused, nothing was "
                "touched",
            )
        result = ex.run(action.status, check=False)
        try:
            revision = json.loads(result.stdout.strip().splitlines()[-1]).get("revision")
        except (json.JSONDecodeError, IndexError, AttributeError):
            revision = None
        if revision != action.revision:
            raise StepFailed(
                ex.step,
                ex.host,
                f"etcdutl snapshot status reads revision {revision} (its metadata: "
                f"{action.revision}): refused, nothing was touched",
            )
