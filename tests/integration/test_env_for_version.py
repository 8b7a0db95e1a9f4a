"""etcd.env rendered for a target version, started for real by that version's etcd (one member on
127.OCTET.12.1, see helpers.net): it starts, and reads every ETCD_ line (no 'unrecognized
environment variable' in its log). The lab has 3.4.23 and 3.5.16 (make setup) and 3.5.30 (make
etcd-3.5.30), so the 3.4 → 3.5 and 3.5 patch pairs are proved here; 3.6 and 3.7 only on paper
(tests/unit/versions). The env file is read as the lab's etcd-service and systemd read it."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from etcdops.templating import env_update
from etcdops.versions import render_env_for
from tests.integration.helpers import REPO, net

pytestmark = pytest.mark.lab
TOOLS = REPO / ".tools"
FIXTURES = REPO / "tests" / "fixtures" / "versions" / "env"
ADDRESS = net(12) + "1"
UNRECOGNIZED = "unrecognized environment variable"


# TLS files and metrics of a real host: the lines go (an empty value is not "unset" for etcd's
# check of the environment: it logs even a known name set empty as unrecognized)
_HOST_ONLY = {
    "ETCD_LISTEN_METRICS_URLS",
    "ETCD_TRUSTED_CA_FILE",
    "ETCD_CERT_FILE",
    "ETCD_KEY_FILE",
    "ETCD_PEER_TRUSTED_CA_FILE",
    "ETCD_PEER_CERT_FILE",
    "ETCD_PEER_KEY_FILE",
}


def _local(env_text: str, data_dir: Path) -> str:
    """The file with what only fits its real host replaced: one member on loopback, plain http."""
    kept = "\n".join(
        line for line in env_text.splitlines() if line.split("=", 1)[0] not in _HOST_ONLY
    )
    return (
        env_update(
            kept,
            {
                "ETCD_NAME": "etcd1",
                "ETCD_DATA_DIR": str(data_dir),
                "ETCD_INITIAL_CLUSTER_STATE": "new",
                "ETCD_INITIAL_CLUSTER": f"etcd1=http://{ADDRESS}:2380",
                "ETCD_INITIAL_CLUSTER_TOKEN": "versions-test",
                "ETCD_LISTEN_PEER_URLS": f"http://{ADDRESS}:2380",
                "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"http://{ADDRESS}:2380",
                "ETCD_LISTEN_CLIENT_URLS": f"http://{ADDRESS}:2379",
                "ETCD_ADVERTISE_CLIENT_URLS": f"http://{ADDRESS}:2379",
                "ETCD_CLIENT_CERT_AUTH": "false",
                "ETCD_PEER_CLIENT_CERT_AUTH": "false",
            },
        )
        + "\n"
    )


def _start(bin_dir: Path, env_text: str, tmp: Path) -> tuple[bool, str]:
    """(healthy within 15 s, its log); the process is stopped (by its pid) either way."""
    if not (bin_dir / "etcd").is_file():
        raise AssertionError(f"no etcd in {bin_dir}: make setup fetches it")
    tmp.mkdir(parents=True, exist_ok=True)
    data = tmp / f"data-{bin_dir.name}"
    env_file, log = tmp / "etcd.env", tmp / f"etcd-{bin_dir.name}.log"
    env_file.write_text(_local(env_text, data))
    with log.open("w") as out:
        script = 'set -a; . "$1"; set +a; exec "$2"'  # as the lab's etcd-service reads the file
        proc = subprocess.Popen(
            ["sh", "-c", script, "sh", str(env_file), str(bin_dir / "etcd")],
            env={"PATH": "/usr/bin:/bin"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    healthy = False
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None and not healthy:
            try:
                with urllib.request.urlopen(f"http://{ADDRESS}:2379/health", timeout=1) as answer:
                    healthy = b'"true"' in answer.read()
            except OSError:
                time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return healthy, log.read_text()


def _rendered(name: str, current: str, target: str) -> str:
    new, _, refusals = render_env_for(
        target, (FIXTURES / name).read_text(), current_version=current
    )
    assert refusals == ()
    return new


def test_3_4_env_with_capnslog_is_rendered_for_3_5_and_3_5_reads_all_of_it(tmp_path: Path) -> None:
    text = (FIXTURES / "etcd-3.4-capnslog.env").read_text()
    ok, log = _start(TOOLS / "etcd-3.4", text, tmp_path)
    assert ok and UNRECOGNIZED not in log, log[-2000:]  # the input is a good 3.4 file
    ok, log = _start(TOOLS / "etcd", text, tmp_path / "as-is")
    assert not ok and "--logger=capnslog is removed in v3.5" in log, log[
        -2000:
    ]  # as it is, 3.5 stops at start
    ok, log = _start(
        TOOLS / "etcd",
        _rendered("etcd-3.4-capnslog.env", "3.4.23", "3.5.16"),
        tmp_path / "rendered",
    )
    assert ok and UNRECOGNIZED not in log, log[-2000:]
    assert (
        '"msg":"recognized and used environment variable","variable-name":"ETCD_LOG_OUTPUTS"' in log
    )


@pytest.mark.parametrize(
    ("current", "target", "bin_dir"),
    [("3.4.23", "3.5.16", "etcd"), ("3.5.16", "3.5.30", "etcd-3.5.30")],
)
def test_kubesprays_env_for_the_lab_pairs(
    tmp_path: Path, current: str, target: str, bin_dir: str
) -> None:
    source = "kubespray-3.4.23.env" if current.startswith("3.4") else "kubespray-3.5.30.env"
    ok, log = _start(TOOLS / bin_dir, _rendered(source, current, target), tmp_path)
    assert ok and UNRECOGNIZED not in log, log[-2000:]
    assert f"etcd Version: {target}" in log or f'"etcd-version":"{target}"' in log


def test_a_name_etcd_does_not_know_is_ignored_with_a_warning_not_refused(tmp_path: Path) -> None:
    """Why an env file needs rendering even where etcd starts: 3.5 ignores 3.6's names and says so
    only in its log."""
    for_36 = _rendered("kubespray-3.5.30.env", "3.5.33", "3.6.14")
    ok, log = _start(TOOLS / "etcd", for_36, tmp_path)
    assert ok
    assert (
        f'"msg":"{UNRECOGNIZED}","environment-variable":"ETCD_FEATURE_GATES=InitialCorruptCheck=true"'
        in log
    )
    assert (
        f'"msg":"{UNRECOGNIZED}","environment-variable":"ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL=5s"'
        in log
    )
