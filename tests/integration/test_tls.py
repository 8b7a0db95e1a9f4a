"""TLS problems named as such, produced for real on the TLS lab: an expired client certificate (made
with `openssl ca -startdate/-enddate` in the past), one from another CA, none at all, http
against an https member, and a server certificate about to expire. A member that refuses our
certificate is reachable, not DOWN."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from etcdops.lab import pki
from tests.integration.helpers import LabEnv

pytestmark = pytest.mark.lab


def variant(lab: LabEnv, name: str, settings: str) -> str:
    src, dst = lab.root / "inventories" / "lab", lab.root / "inventories" / name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    (dst / "group_vars" / "all" / "90-variant.yml").write_text(settings)
    return name


def lab_ca(lab: LabEnv) -> tuple[Path, Path]:
    return lab.root / ".lab" / "pki" / "ca.pem", lab.root / ".lab" / "pki" / "ca-key.pem"


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("expired", "client certificate refused: it has expired"),
        ("other-ca", "client certificate refused"),
        ("none", "client certificate refused: none was given and the member requires one"),
        ("http", "the member speaks https, the inventory says http"),
    ],
)
def test_a_tls_failure_names_its_cause(lab: LabEnv, tmp_path: Path, case: str, words: str) -> None:
    ca, ca_key = lab_ca(lab)
    if case == "expired":
        pki.make_cert(
            ca,
            ca_key,
            tmp_path,
            "old",
            "old-client",
            [],
            server=False,
            start="20240101000000Z",
            end="20250101000000Z",
        )
        settings = f"etcd_cert: {tmp_path}/old.pem\netcd_key: {tmp_path}/old-key.pem\n"
    elif case == "other-ca":
        other, other_key = pki.make_ca(tmp_path / "ca2")
        pki.make_cert(other, other_key, tmp_path, "stranger", "stranger", [], server=False)
        settings = f"etcd_cert: {tmp_path}/stranger.pem\netcd_key: {tmp_path}/stranger-key.pem\n"
    elif case == "none":
        settings = 'etcd_cert: ""\netcd_key: ""\n'
    else:
        settings = 'etcd_client_url: "http://{{ ip }}:2379"\n'
    inv = variant(lab, f"tls-{case}", settings)
    status = lab.etcdops("status", "-i", inv)
    # no member's etcd could be read: the table is shown, the cause named, and the exit is 1
    assert status.returncode == 1 and words in status.stderr, status.stderr
    lines = [
        line
        for line in status.stdout.splitlines()
        if line.strip().startswith("node") and ("REACHABLE" in line or "DOWN" in line)
    ]
    assert len(lines) == 3 and all(words in line for line in lines), status.stdout
    assert all("REACHABLE, " in line and "DOWN" not in line for line in lines), (
        status.stdout
    )  # never "down"
    assert lab.etcdops("status", "-i", inv, "--check").returncode == 1
    endpoints = json.loads(lab.etcdops("status", "-i", inv, "-o", "json").stdout)["endpoints"]
    assert all(e["answers"] and words in (e["error"] or "") for e in endpoints)
    refused = lab.etcdops("run", "compact-defrag", "-i", inv, "--yes")
    assert refused.returncode == 3 and "not healthy" in refused.stderr, refused.stderr


def test_a_server_certificate_about_to_expire_is_warned_about(lab: LabEnv) -> None:
    ca, ca_key = lab_ca(lab)
    certs = lab.host_root("node3") / "etc" / "ssl" / "etcd" / "ssl"
    keep = {p.name: p.read_bytes() for p in certs.glob("member-node3*")}
    pki.make_cert(
        ca,
        ca_key,
        certs,
        "member-node3",
        "etcd-member-node3",
        [f"IP:{lab.address('node3')}", "IP:127.0.0.1", "DNS:localhost", "DNS:node3"],
        server=True,
        days=10,
    )
    try:
        lab.service("node3", "restart")
        status = lab.wait_healthy()
        text = lab.etcdops("status", "-i", "lab").stdout
        node3 = {
            c["kind"]: c for e in status["endpoints"] if e["host"] == "node3" for c in e["certs"]
        }
        assert 8 <= node3["server"]["days_left"] <= 10 and node3["peer"]["days_left"] <= 10
        assert "node3    server expires" in text and "WARNING: expires in" in text
        assert all(
            c["days_left"] > 1000
            for e in status["endpoints"]
            if e["host"] != "node3"
            for c in e["certs"]
        )
    finally:
        for name, data in keep.items():
            (certs / name).write_bytes(data)
        lab.service("node3", "restart")
        lab.wait_healthy()


def test_a_joining_host_with_a_missing_or_foreign_certificate_is_refused_before_member_add(
    lab: LabEnv, tmp_path: Path
) -> None:
    certs = lab.host_root("node4") / "etc" / "ssl" / "etcd" / "ssl"
    good = lab.etcdops("plan", "scale-out", "-i", "lab", "-p", "host=node4")
    assert (
        good.returncode == 0 and "[ok] the TLS files node4's etcd.env will name" in good.stdout
    ), good.stdout
    member = certs / "member-node4.pem"
    saved = member.read_bytes()
    member.unlink()
    try:
        missing = lab.etcdops("plan", "scale-out", "-i", "lab", "-p", "host=node4")
        assert (
            missing.returncode == 3 and f"{member} (ETCD_CERT_FILE) is missing" in missing.stderr
        ), missing.stderr
        other, other_key = pki.make_ca(tmp_path / "ca2")
        pki.make_cert(
            other,
            other_key,
            certs,
            "member-node4",
            "etcd-member-node4",
            [f"IP:{lab.address('node4')}"],
            server=True,
        )
        (certs / "ca.pem").write_bytes(other.read_bytes())  # a host set up with another CA entirely
        foreign = lab.etcdops("plan", "scale-out", "-i", "lab", "-p", "host=node4")
        assert foreign.returncode == 3 and "is not the cluster's" in foreign.stderr, foreign.stderr
    finally:
        member.write_bytes(saved)
        ca, _ = lab_ca(lab)
        (certs / "ca.pem").write_bytes(ca.read_bytes())
        pki.make_cert(
            *lab_ca(lab),
            certs,
            "member-node4",
            "etcd-member-node4",
            [f"IP:{lab.address('node4')}", "IP:127.0.0.1", "DNS:localhost", "DNS:node4"],
            server=True,
        )
    assert lab.etcdops("plan", "scale-out", "-i", "lab", "-p", "host=node4").returncode == 0
