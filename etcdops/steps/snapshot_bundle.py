"""`snapshot_bundle`: what a restore on new hosts needs besides the data, beside the snapshot.

`BASE.bundle.tar.gz` (mode 0600) holds, per member: its etcd.env as it is on the host, the public
part of every certificate that etcd.env and the inventory name (the PEM CERTIFICATE blocks only:
a file that also holds a key gives only its certificates), and, only with `keys: true`, the
private key files; plus the inventory's etcd variables of every member (the etcd password never)
and a manifest. Nothing read is printed or journaled: the plan and the output name files only.
The snapshot's metadata records the bundle's sha256 (and whether it holds private keys).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdops import catalog
from etcdops.commands import Command, sh
from etcdops.durable import durable
from etcdops.inventory import EtcdConfig
from etcdops.sha256 import file_sha256
from etcdops.snapshots import read_meta
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.etcd_snapshot_save import this_runs_snapshot, write_meta
from etcdops.steps.spec import spec_field

CERT_KEYS = (
    "ETCD_TRUSTED_CA_FILE",
    "ETCD_CERT_FILE",
    "ETCD_PEER_TRUSTED_CA_FILE",
    "ETCD_PEER_CERT_FILE",
)
KEY_KEYS = ("ETCD_KEY_FILE", "ETCD_PEER_KEY_FILE")
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\s*", re.S)
ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class BundleSpec:
    dir: str = spec_field("the directory on the control node the run saved its snapshot in")
    prefix: str = spec_field("the snapshot's name prefix (NAME of NAME-revREV-STAMP.db)")
    keys: bool = spec_field("also the private key files (never printed)", False)


@dataclass(frozen=True)
class HostFiles:
    host: str
    env_file: str
    certs: tuple[str, ...]
    keys: tuple[str, ...]
    reads: tuple[Command, ...]  # cat of each, in the order above


@dataclass(frozen=True, kw_only=True)
class BundleAction(Action):
    dir: str
    prefix: str
    with_keys: bool
    hosts: tuple[HostFiles, ...]
    inventory: dict[str, Any]


class SnapshotBundleKind(StepKind[BundleSpec, BundleAction]):
    name = "snapshot_bundle"
    summary = (
        "beside this run's snapshot: every member's etcd.env, the public certificates, the "
        "inventory's etcd variables (private keys only when asked)"
    )
    Spec = BundleSpec
    default_target = "control"
    default_timeout = 300.0

    def plan(self, spec: BundleSpec, ctx: StepContext) -> BundleAction:
        hosts = []
        for member in ctx.inventory.members:
            if member.etcd is None:
                continue
            env_now = ctx.probe.read(member.name, member.etcd.env_file) or ""
            hosts.append(_files(member.name, member.etcd, env_now, spec.keys))
        inventory = {
            "inventory": ctx.inventory.name,
            "members": {
                m.name: _etcd_vars(m.etcd) for m in ctx.inventory.members if m.etcd is not None
            },
            "initial_cluster": ctx.inventory.initial_cluster(),
        }
        what = "etcd.env, public certificates" + (" and PRIVATE KEYS" if spec.keys else "")
        return BundleAction(
            intent=f"bundle beside this run's snapshot in {spec.dir}: {what} of "
            f"{', '.join(h.host for h in hosts)}, the inventory's etcd variables (mode 0600)",
            reads=tuple(c for h in hosts for c in h.reads),
            dir=spec.dir,
            prefix=spec.prefix,
            with_keys=spec.keys,
            hosts=tuple(hosts),
            inventory=inventory,
        )

    def execute(self, action: BundleAction, ex: ExecContext) -> Outcome:
        entry = this_runs_snapshot(ex, str(action.dir), action.prefix)
        members: dict[str, dict[str, Any]] = {}
        files: dict[str, bytes] = {}
        for host in action.hosts:
            members[host.host] = self._collect(ex, host, files)
        manifest = {
            "written_by": catalog.WRITTEN_BY,
            "snapshot": entry.name,
            "snapshot_sha256": entry.sha256,
            "run": ex.info.id,
            "time": ex.info.time,
            "private_keys": action.with_keys,
            "members": members,
        }
        files["manifest.json"] = json.dumps(manifest, indent=2).encode() + b"\n"
        files["inventory.json"] = json.dumps(action.inventory, indent=2).encode() + b"\n"
        path = Path(action.dir) / (entry.base + catalog.BUNDLE)
        _write_tar(path, files)
        sha = file_sha256(str(path))
        meta, _problem = read_meta(entry.path)
        bundle = {"file": path.name, "sha256": sha, "private_keys": action.with_keys}
        write_meta(Path(action.dir) / (entry.base + catalog.META), {**meta, "bundle": bundle})
        keys = " with private keys" if action.with_keys else " (no private keys)"
        return Outcome.changed(
            f"{path}: {len(files)} files of {len(action.hosts)} members{keys}, sha256 {sha[:12]}",
            report={"bundle": str(path), "sha256": sha, "private_keys": action.with_keys},
        )

    @staticmethod
    def _collect(ex: ExecContext, host: HostFiles, files: dict[str, bytes]) -> dict[str, Any]:
        paths = (host.env_file, *host.certs, *host.keys)
        found: dict[str, Any] = {"env_file": host.env_file, "certs": {}, "keys": {}}
        for path, command in zip(paths, host.reads, strict=True):
            result = ex.run(command, host=host.host, check=False)
            if not result.ok:
                found.setdefault("missing", []).append(path)
                continue
            data = result.stdout.encode()
            name = os.path.basename(path)
            if path == host.env_file:
                files[f"hosts/{host.host}/etcd.env"] = data
            elif path in host.certs:
                public = b"".join(m.group(0) for m in PEM_CERT.finditer(data))
                if public:
                    files[f"hosts/{host.host}/certs/{name}"] = public
                    found["certs"][path] = f"hosts/{host.host}/certs/{name}"
            else:
                files[f"hosts/{host.host}/keys/{name}"] = data
                found["keys"][path] = f"hosts/{host.host}/keys/{name}"
        return found


def _files(host: str, etcd: EtcdConfig, env_now: str, keys: bool) -> HostFiles:
    """The files to bundle of one member: from its etcd.env as it is now (read at plan time) and
    from the inventory's settings for it."""
    settings = dict(etcd.env)
    for line in env_now.splitlines():
        match = ENV_LINE.match(line)
        if match:
            settings[match.group(1)] = match.group(2).strip().strip("'\"")
    certs = _unique([settings.get(k, "") for k in CERT_KEYS] + [etcd.cacert or "", etcd.cert or ""])
    private = _unique([settings.get(k, "") for k in KEY_KEYS] + [etcd.key or ""]) if keys else []
    paths = (etcd.env_file, *certs, *private)
    return HostFiles(
        host,
        etcd.env_file,
        tuple(certs),
        tuple(private),
        tuple(sh("cat", "--", p).reads() for p in paths),
    )


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def _etcd_vars(etcd: EtcdConfig) -> dict[str, Any]:
    """An EtcdConfig as plain data, without the password."""
    data = {f.name: getattr(etcd, f.name) for f in dataclasses.fields(etcd) if f.name != "password"}
    data["env"] = dict(etcd.env)
    data["listen_urls"] = list(etcd.listen_urls)
    return data


def _write_tar(path: Path, files: dict[str, bytes]) -> None:
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"bundle/{name}")
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    durable(part)
    part.rename(path)
