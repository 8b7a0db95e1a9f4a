"""`etcdops snapshots list`: local and off-site snapshots, their sha256 state and drills."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etcdops.cli.main import app

runner = CliRunner()
RCLONE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rclone"


@pytest.fixture(autouse=True)
def home(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETCDOPS_HOME", str(repo))
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp_path / "rclone.conf"))
    monkeypatch.setenv("RCLONE_CONFIG_LOC_TYPE", "local")
    monkeypatch.setenv("ETCDOPS_RCLONE", str(RCLONE))
    return tmp_path


def snapshot(folder: Path, revision: int, stamp: str, **meta: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = str(revision).encode() * 4096
    data = body + hashlib.sha256(body).digest()
    path = folder / f"etcd-ab12-rev{revision}-{stamp}.db"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    record = {"written_by": "etcdops", "cluster_id": "ab12", "revision": revision, "keys": 3}
    path.with_suffix(".json").write_text(
        json.dumps({**record, "sha256": sha, "size": len(data), **meta})
    )
    return path


def test_local_and_recorded_remote_snapshots_are_listed_with_their_drill(tmp_path: Path) -> None:
    local, remote = tmp_path / "snaps", tmp_path / "offsite"
    first = snapshot(local, 5, "20261201T010000Z")
    to = f"loc:{remote}/{first.name}"
    second = snapshot(local, 9, "20261206T010000Z", copies=[{"to": to, "sha256_read_back": "x"}])
    sha = json.loads(first.with_suffix(".json").read_text())["sha256"]
    (local / (first.stem + ".drill.json")).write_text(
        json.dumps({"proven": True, "sha256": sha, "run": "R1", "time": "2026-12-02T00:00:00Z"})
    )
    remote.mkdir()
    for name in (first.name, first.with_suffix(".json").name):
        (remote / name).write_bytes((local / name).read_bytes())
    out = runner.invoke(app, ["snapshots", "list", "-i", "example-prod", "--dir", str(local)])
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["WHERE", "SNAPSHOT", "REVISION", "SIZE", "AGE", "SHA256", "DRILL"]
    assert second.name in lines[1] and "never" in lines[1]
    assert first.name in lines[2] and "proven 2026-12-02 00:00 (run R1)" in lines[2]
    assert lines[3].startswith(f"loc:{remote}") and "proven" in lines[3]  # the same bytes
    data = json.loads(
        runner.invoke(
            app,
            [
                "snapshots",
                "list",
                "-i",
                "example-prod",
                "--dir",
                str(local),
                "-o",
                "json",
                "--verify",
            ],
        ).stdout
    )
    assert [r["revision"] for r in data["snapshots"]] == [9, 5, 5]
    assert data["snapshots"][0]["sha256_state"] == "ok (checked now)"
    assert data["snapshots"][1]["drill"]["proven"] is True


def test_a_hostile_remote_is_refused_with_exit_2(tmp_path: Path) -> None:
    out = runner.invoke(
        app,
        [
            "snapshots",
            "list",
            "-i",
            "example-prod",
            "--dir",
            str(tmp_path),
            "--remote",
            ":s3,secret_access_key=x:b",
        ],
    )
    assert out.exit_code == 2 and "on-the-fly remote" in out.stderr
