"""Issue 28 on a real lab of its own (127.OCTET.41.N, see helpers.net): one live runner per run
id, no lock taken from the living, a runner that loses its lock stops (exit 4), a lost member does
not keep the lock files of the others, hostile run ids and bad input refused before anything is
touched, a signal during the last step honoured with exit 8, and (on a lab with etcd auth, net 42)
the password in no remote process's environment but etcdctl's. docs/faults.md lists the
guarantees."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import (
    ETCDOPS,
    LabEnv,
    kill_at,
    kill_sshd,
    net,
    newest_run,
    running_lab,
    runs,
    start,
    start_sshd,
    wait_for_event,
)

pytestmark = pytest.mark.lab
TTL = 6  # s: the lock's lease here; the runner checks its lock every TTL/3
BOOKS = {
    "slow": "lock: etcd\nsteps:\n  - {name: Sleep, target: 'host:node1', timeout: 60, "
    "command: {run: sleep 6}}\n",
    "slow-files": "lock: files\nsteps:\n  - {name: Sleep, target: 'host:node1', timeout: 60, "
    "command: {run: sleep 6}}\n",
    "steps": "lock: etcd\nsteps:\n"
    + "".join(
        f"  - {{name: Step {i}, target: 'host:node1', command: {{run: sleep 2}}}}\n"
        for i in range(1, 6)
    ),
    "steps-files": "lock: files\nsteps:\n"
    + "".join(
        f"  - {{name: Step {i}, target: 'host:node1', command: {{run: sleep 2}}}}\n"
        for i in range(1, 6)
    ),
    "on-host": "lock: etcd\nparams:\n  host: {type: host, required: true}\nsteps:\n"
    "  - {name: Sleep, target: 'host:{{ params.host }}', timeout: 60, command: {run: sleep 4}}\n",
    "etcdctl": "lock: none\nsteps:\n  - name: Put and get with the host's etcdctl\n"
    "    target: 'host:node2'\n    command:\n      run: |\n"
    "        {{ host.etcdctl }} put /hardening/env ok >/dev/null\n"
    "        {{ host.etcdctl }} get /hardening/env --print-value-only | grep -qx ok\n"
    "        df -P . >/dev/null; stat . >/dev/null; echo done | awk '{print}'\n",
}


def _write_books(lab: LabEnv) -> None:
    (lab.root / "my-runbooks").mkdir()
    for name, body in BOOKS.items():
        (lab.root / "my-runbooks" / f"{name}.yml").write_text(
            f"name: {name}\ndescription: issue 28's {name}\n{body}"
        )


@pytest.fixture(scope="module")
def hlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    env = {"ETCDOPS_LOCK_TTL": str(TTL)}
    with running_lab(tmp_path_factory.mktemp("locks"), net(41), spares=0, env=env) as labenv:
        _write_books(labenv)
        yield labenv


def mine(*args: str) -> list[str]:
    return [*args, "-i", "lab", "--yes", "--runbooks", "my-runbooks"]


def popen(lab: LabEnv, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ETCDOPS), *args],
        cwd=lab.root,
        env={**lab.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def events(run_dir: Path, kind: str) -> list[dict]:
    found = []
    path = run_dir / "events.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == kind:
            found.append(record)
    return found


def wait_until(check, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.05)


def lock_file(lab: LabEnv, host: str) -> Path:
    return lab.host_root(host) / "run" / "etcdops.lock"


# ----- 1. one live runner per run id ----------------------------------------------------------
def test_two_resumes_of_one_run_id_one_is_refused_naming_the_live_runner(hlab: LabEnv) -> None:
    before = runs(hlab)
    killed = start(hlab, "slow", "--runbooks", "my-runbooks")
    run_id = kill_at(hlab, killed, before, "step_started", 1)
    run_dir = hlab.root / ".etcdops" / "runs" / run_id
    first = popen(hlab, "run", "--resume", run_id, "--yes")
    try:
        wait_until(lambda: events(run_dir, "run_resumed"), "the first resume")
        second = hlab.etcdops("run", "--resume", run_id, "--yes", timeout=120)
        assert second.returncode == 4, second.stdout + second.stderr
        assert f"pid {first.pid} " in second.stderr and "live runner" in second.stderr
        assert second.stdout == ""  # refused before the plan was even made
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert len(events(run_dir, "run_resumed")) == 1


# ----- 2. no lock taken from the living; a runner that loses its lock stops -------------------
@pytest.mark.parametrize("book", ["slow", "slow-files"])
def test_break_lock_refuses_a_holder_alive_on_this_control_host(hlab: LabEnv, book: str) -> None:
    before = runs(hlab)
    holder = popen(hlab, "run", *mine(book))
    run_dir = newest_run(hlab, before)
    try:
        wait_for_event(run_dir, "step_started", 1)
        breaker = hlab.etcdops("run", *mine("slow"), "--break-lock")
        assert breaker.returncode == 4, breaker.stdout + breaker.stderr
        assert "--break-lock refused" in breaker.stderr and f"pid {holder.pid}" in breaker.stderr
        assert "alive" in breaker.stderr and "nothing was removed" in breaker.stderr
    finally:
        out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0 and "LOST" not in err, out + err


def test_break_lock_refuses_a_lease_kept_alive_elsewhere_then_removes_it(hlab: LabEnv) -> None:
    # a TTL long enough that, once nobody renews it, it is still there when --break-lock looks
    lease = hlab.ctl("lease", "grant", "15").split()[1]
    ctl = hlab.host_root("node1") / "bin" / "etcdctl"
    eps = ",".join(hlab.client_url(f"node{i}") for i in (1, 2, 3))
    keeper = subprocess.Popen(
        [str(ctl), f"--endpoints={eps}", "lease", "keep-alive", lease],
        env=hlab.ctl_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    holder = (
        "run=20260101T000000Z-fa2a2a runbook=far user=ops control=far-away pid=4242 "
        "started=99 boot=0123456789ab since=2026-01-01T00:00:00+00:00"
    )
    try:
        hlab.ctl("put", "etcdops/lock", holder, f"--lease={lease}")
        refused = hlab.etcdops("run", *mine("slow"), "--break-lock")
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert "far-away" in refused.stderr and "keeping the lock's lease" in refused.stderr
        assert holder in hlab.ctl("get", "etcdops/lock", "--print-value-only")
    finally:
        keeper.kill()
        keeper.wait(timeout=30)
    # nobody renews it now: removed without waiting for it to expire
    broken = hlab.etcdops("run", *mine("slow"), "--break-lock")
    assert broken.returncode == 0, broken.stdout + broken.stderr
    assert "removed etcd key etcdops/lock" in broken.stdout


@pytest.mark.parametrize("book", ["steps", "steps-files"])
def test_a_runner_whose_lock_is_removed_stops_with_exit_4(hlab: LabEnv, book: str) -> None:
    before = runs(hlab)
    proc = popen(hlab, "run", *mine(book))
    run_dir = newest_run(hlab, before)
    wait_for_event(run_dir, "step_finished", 1)
    if book == "steps":
        hlab.ctl("del", "etcdops/lock")
    else:
        lock_file(hlab, "node2").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, out + err
    assert "the cluster lock was lost" in err and f"--resume {run_dir.name}" in err, err
    assert events(run_dir, "lock_lost") and len(events(run_dir, "step_finished")) < 5
    assert json.loads((run_dir / "result.json").read_text())["status"] == "interrupted"
    assert not lock_file(hlab, "node1").exists() and not lock_file(hlab, "node3").exists()
    resumed = hlab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr


# ----- 3. a lost member keeps only its own lock file; the key goes through another member -----
def test_a_restore_that_loses_a_member_releases_the_lock_files_it_can(hlab: LabEnv) -> None:
    assert hlab.etcdops("run", "snapshot", "-i", "lab", "--yes").returncode == 0
    before = runs(hlab)
    proc = start(hlab, "restore")
    run_dir = newest_run(hlab, before)
    wait_until(lambda: events(run_dir, "run_started"), "the restore's start")
    assert all(lock_file(hlab, h).exists() for h in ("node1", "node2", "node3"))
    kill_sshd(hlab, "node2")
    try:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, out + err
        assert not lock_file(hlab, "node1").exists() and not lock_file(hlab, "node3").exists()
        assert lock_file(hlab, "node2").exists()
        assert "left behind: the lock file" in err and "on node2" in err, err
        assert f"--resume {run_dir.name}" in err
        assert any("node2" in e["message"] for e in events(run_dir, "lock"))
    finally:
        start_sshd(hlab, "node2")
    resumed = hlab.etcdops("run", "--resume", run_dir.name, "--yes", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    hlab.wait_healthy()
    assert not lock_file(hlab, "node2").exists()


def test_the_etcd_lock_is_released_through_another_member_when_its_host_is_lost(
    hlab: LabEnv,
) -> None:
    status = hlab.wait_healthy()
    followers = sorted(m["name"] for m in status["members"] if m["name"] != status["leader"])
    via = followers[0]  # the host the lock is taken through (facts.healthy_voter_host)
    other = followers[1]
    before = runs(hlab)
    # a long TTL: the key must go because it was released, not because its lease lapsed
    proc = popen(
        hlab, "run", *mine("on-host"), "-p", f"host={other}", env={"ETCDOPS_LOCK_TTL": "60"}
    )
    run_dir = newest_run(hlab, before)
    wait_for_event(run_dir, "step_started", 1)
    kill_sshd(hlab, via)
    try:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        assert hlab.ctl("get", "etcdops/lock", "--print-value-only").strip() == ""
    finally:
        start_sshd(hlab, via)


# ----- 9. a hostile run id or stamp from a saved plan ---------------------------------------------
def test_a_saved_plan_with_a_hostile_run_id_or_stamp_is_refused_before_anything(
    hlab: LabEnv, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert hlab.etcdops("plan", "snapshot", "-i", "lab", "--save", str(saved)).returncode == 0
    text = saved.read_text()
    run = json.loads(text)["run"]
    outside = tmp_path / "outside"
    evil_stamp = "x/../../../../../../../../../../../../.." + str(outside)
    # coherent: every name the plan shows carries the hostile stamp, so the reviewed plan matches
    stamped = (
        text.replace(run["id"], "@ID@").replace(run["stamp"], evil_stamp).replace("@ID@", run["id"])
    )
    hostile = {
        "id": text.replace(run["id"], "../../../../" + str(outside).lstrip("/")),
        "stamp": stamped,
    }
    for what, body in hostile.items():
        (tmp_path / f"{what}.json").write_text(body)
        before = runs(hlab)
        proc = hlab.etcdops("run", "--plan", str(tmp_path / f"{what}.json"), "--yes")
        assert proc.returncode == 2, (what, proc.stdout, proc.stderr)
        assert "nothing was touched" in proc.stderr and proc.stdout == "", proc.stdout
        assert runs(hlab) == before and not outside.exists()
    for host in ("node1", "node2", "node3"):
        assert not list((hlab.host_root(host) / "var" / "lib").glob("etcdops-snapshot-*"))


# ----- 10. bad input before anything is touched; a finished run never fails on its report -------
def test_a_snapshot_dest_under_a_file_is_refused_before_the_member_is_touched(
    hlab: LabEnv, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    before = runs(hlab)
    proc = hlab.etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"dest={tmp_path}/afile/sub")
    assert proc.returncode == 2 and "afile is not a directory" in proc.stderr, proc.stderr
    assert runs(hlab) == before
    for host in ("node1", "node2", "node3"):
        assert not list((hlab.host_root(host) / "var" / "lib").glob("etcdops-snapshot-*"))


@pytest.mark.parametrize("ttl", ["abc", "-5", "0"])
def test_a_bad_lock_ttl_is_refused_before_anything(hlab: LabEnv, ttl: str) -> None:
    before = runs(hlab)
    proc = subprocess.run(
        [str(ETCDOPS), "run", *mine("slow")],
        cwd=hlab.root,
        env={**hlab.env, "ETCDOPS_LOCK_TTL": ttl},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "ETCDOPS_LOCK_TTL" in proc.stderr, proc.stdout + proc.stderr
    assert runs(hlab) == before


def test_report_paths_are_checked_first_and_a_report_never_fails_a_finished_run(
    hlab: LabEnv, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    for option, bad in (("--report", "/dev/full"), ("--junit", f"{tmp_path}/afile/j.xml")):
        before = runs(hlab)
        proc = hlab.etcdops("run", *mine("slow"), option, bad)
        assert proc.returncode == 2 and option in proc.stderr, proc.stdout + proc.stderr
        assert runs(hlab) == before
    # the directory is gone by the time the run ends: the run still succeeds, the files are kept
    folder = tmp_path / "reports"
    folder.mkdir()
    before = runs(hlab)
    proc = popen(
        hlab,
        "run",
        *mine("slow"),
        "--report",
        str(folder / "r.json"),
        "--junit",
        str(folder / "j.xml"),
    )
    run_dir = newest_run(hlab, before)
    wait_for_event(run_dir, "step_started", 1)
    shutil.rmtree(folder)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    for option, name in (("--report", "report.json"), ("--junit", "junit.xml")):
        assert f"{option}: could not write" in err and str(run_dir / name) in err, err
        assert (run_dir / name).stat().st_size > 0


# ----- 11. a signal during the last step ---------------------------------------------------------
def test_sigterm_during_the_last_step_is_honoured_at_the_end_with_exit_8(hlab: LabEnv) -> None:
    before = runs(hlab)
    proc = popen(hlab, "run", *mine("slow"))
    run_dir = newest_run(hlab, before)
    wait_for_event(run_dir, "host_started", 1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 8, out + err
    assert "finished" in out and "SIGTERM received" in err and "honoured at the end" in err, err
    assert events(run_dir, "signal_honoured")[0]["exit_code"] == 8
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "successful" and "SIGTERM" in result["error"]


# ----- 12. the etcd password in no remote process's environment but etcdctl's --------------------
@pytest.fixture(scope="module")
def alab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("auth"), net(42), spares=0, auth=True) as labenv:
        _write_books(labenv)
        yield labenv


def test_the_password_is_only_in_etcdctls_environment(alab: LabEnv) -> None:
    assert alab.watch is not None
    for _ in range(3):  # the facts script: cat, awk, mktemp, curl... beside etcdctl
        assert alab.etcdops("status", "-i", "lab").returncode == 0
    ran = alab.etcdops("run", *mine("etcdctl"))  # a command of the runbook's own, with auth
    assert ran.returncode == 0, ran.stdout + ran.stderr
    ran = alab.etcdops("run", *mine("steps"))  # the etcd lock: lease, txn, keep-alive, revoke
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert alab.watch.samples > 100
    alab.check_secret()
