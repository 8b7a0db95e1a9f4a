"""rotate-certs on a real TLS lab (kubespray's layout), a writer running throughout: a certificate
with a wrong SAN or a key that does not match is refused before any member restarts (exit 3);
new server, peer and client certificates from the operator's folder are rolled out one member at a
time, the leader last, every member presenting the new serial in a TLS handshake made from the
control node; a CA rotation through its three runs ends with leaves of the new CA only and the old
CA gone from every trust bundle. One lab for the file."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding

from etcdops.facts import x509
from etcdops.lab import pki
from tests.integration.helpers import LabEnv, Writer, check_writes, net, running_lab

pytestmark = pytest.mark.lab

MEMBERS = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("rotate"), net(56), members=3, spares=0) as lab:
        yield lab


def ssl_dir(lab: LabEnv, host: str) -> Path:
    return lab.host_root(host) / "etc" / "ssl" / "etcd" / "ssl"


def lab_ca(lab: LabEnv) -> tuple[Path, Path]:
    return lab.root / ".lab" / "pki" / "ca.pem", lab.root / ".lab" / "pki" / "ca-key.pem"


def operator_files(lab: LabEnv, out: Path, ca: Path, ca_key: Path) -> Path:
    """New files as an operator would give them: kubespray's names, one folder for every host."""
    for host in MEMBERS:
        sans = [f"IP:{lab.address(host)}", "IP:127.0.0.1", "DNS:localhost", f"DNS:{host}"]
        pki.make_cert(ca, ca_key, out, f"member-{host}", f"etcd-member-{host}", sans, True, 365)
        pki.make_cert(ca, ca_key, out, f"admin-{host}", f"etcd-admin-{host}", [], False, 365)
    return out


def etcd_pids(lab: LabEnv) -> dict[str, str]:
    return {h: (lab.host_root(h) / "run" / "etcd.pid").read_text().strip() for h in MEMBERS}


def digests(lab: LabEnv) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for h in MEMBERS
        for p in sorted(ssl_dir(lab, h).iterdir())
    }


def presented(lab: LabEnv, host: str, port: int) -> cx509.Certificate:
    """The certificate the member presents, read with Python's ssl from the control node (loopback)
    with node1's client certificate and trust bundle as they are now."""
    certs = ssl_dir(lab, "node1")
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.check_hostname = False
    context.load_cert_chain(str(certs / "admin-node1.pem"), str(certs / "admin-node1-key.pem"))
    with socket.create_connection((lab.address(host), port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return cx509.load_der_x509_certificate(der)


def restarted_in_order(stdout: str) -> list[str]:
    return re.findall(r"\] Restart etcd on (node\d) \(", stdout)


def test_a_wrong_san_or_a_key_mismatch_is_refused_before_any_member_restarts(
    lab: LabEnv, tmp_path: Path
) -> None:
    ca, ca_key = lab_ca(lab)
    given = operator_files(lab, tmp_path / "new", ca, ca_key)
    # node2's member certificate names another address; node3's key is another key
    pki.make_cert(ca, ca_key, given, "member-node2", "etcd-member-node2", ["IP:10.9.9.9"], True)
    pki.make_cert(ca, ca_key, tmp_path / "other", "member-node3", "x", ["IP:10.9.9.9"], True)
    shutil.copy(tmp_path / "other" / "member-node3-key.pem", given / "member-node3-key.pem")
    pids, before = etcd_pids(lab), digests(lab)
    refused = lab.etcdops("run", "rotate-certs", "-i", "lab", "-p", f"dir={given}", "--yes")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    out = refused.stdout + refused.stderr
    assert f"member-node2.pem for node2 does not name {lab.address('node2')}" in out
    assert "member-node3.pem for node3: its key member-node3-key.pem does not match it" in out
    assert etcd_pids(lab) == pids, "a member was restarted"
    assert digests(lab) == before, "a file on a member changed (or a staged file was left)"


def test_server_peer_and_client_certificates_are_rotated_one_member_at_a_time(
    lab: LabEnv, tmp_path: Path
) -> None:
    ca, ca_key = lab_ca(lab)
    given = operator_files(lab, tmp_path / "new", ca, ca_key)
    new = {h: x509.parse((given / f"member-{h}.pem").read_text()).serial for h in MEMBERS}
    old = {h: (ssl_dir(lab, h) / f"member-{h}.pem").read_bytes() for h in MEMBERS}
    leader = lab.status()["leader"]
    writer = Writer(lab, tmp_path / "writes.json", [lab.client_url(h) for h in MEMBERS])
    try:
        done = lab.etcdops("run", "rotate-certs", "-i", "lab", "-p", f"dir={given}", "--yes")
    finally:
        result = writer.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    order = restarted_in_order(done.stdout + done.stderr)
    assert sorted(order) == sorted(MEMBERS) and order[-1] == leader, order
    for host in MEMBERS:
        for port in (2379, 2380):
            assert f"{presented(lab, host, port).serial_number:X}" == new[host], (host, port)
        kept = list(ssl_dir(lab, host).glob(f"member-{host}.pem.bak-*"))
        assert len(kept) == 1 and kept[0].read_bytes() == old[host]
        assert not list(ssl_dir(lab, host).glob("*.new-*"))
    check_writes(lab, result, lab.client_url("node1"))
    # a CI job's expiry check: the new certificates are good for a year, not for 400 days
    assert lab.etcdops("status", "-i", "lab", "--check-expiry", "30").returncode == 0
    late = lab.etcdops("status", "-i", "lab", "--check-expiry", "400")
    assert late.returncode == 1 and "node2 server" in late.stderr and "expires in 36" in late.stderr


def test_a_ca_rotation_goes_through_its_three_phases(lab: LabEnv, tmp_path: Path) -> None:
    old_ca = x509.parse(lab_ca(lab)[0].read_text())
    ca, ca_key = pki.make_ca(tmp_path / "newca")  # named CN=etcd-ca too, as a renewed CA often is
    args = ["-i", "lab", "-p", f"ca={ca}", "-p", "generate=true", "-p", f"ca_key={ca_key}"]
    writer = Writer(lab, tmp_path / "writes.json", [lab.client_url(h) for h in MEMBERS])
    try:
        for phase in ("phase 1 of 3", "phase 2 of 3", "phase 3 of 3"):
            plan = lab.etcdops("plan", "rotate-certs", *args)
            assert plan.returncode == 0 and f"PHASE: {phase}" in plan.stdout, plan.stdout
            done = lab.etcdops("run", "rotate-certs", *args, "--yes")
            assert done.returncode == 0, done.stdout + done.stderr
            assert f"PHASE: {phase}" in done.stdout + done.stderr
    finally:
        result = writer.stop()
    complete = lab.etcdops("plan", "rotate-certs", *args)
    assert "the CA rotation is complete" in complete.stdout, complete.stdout
    new_ca = x509.parse(Path(ca).read_text())
    for host in MEMBERS:
        bundle = x509.parse_bundle((ssl_dir(lab, host) / "ca.pem").read_text())
        assert [c.fingerprint for c in bundle] == [new_ca.fingerprint], host
        for name in (f"member-{host}.pem", f"admin-{host}.pem"):
            assert x509.signed_by((ssl_dir(lab, host) / name).read_text(), new_ca.pem)
        for port in (2379, 2380):
            pem = presented(lab, host, port).public_bytes(Encoding.PEM).decode()
            assert x509.signed_by(pem, new_ca.pem) and not x509.signed_by(pem, old_ca.pem)
    check_writes(lab, result, lab.client_url("node1"))
