"""rotate-certs' plan, made from the members' files (read through a dict-backed probe) and the
operator's folder: which files go where, what is refused before anything is touched, and which
phase a CA rotation is in. Real certificates, made here with `cryptography`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shlex
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from etcdops import rotation
from etcdops.commands import Command
from etcdops.facts import x509
from etcdops.facts.certs import CertInfo, expiring
from etcdops.inventory import Inventory
from etcdops.transport import Result
from tests.helpers import RUN, DictProbe, lab_inventory

SSL = "/etc/ssl/etcd/ssl"
MEMBERS = ("node1", "node2", "node3")
NOW = dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class Pki:
    cert: str
    key: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def make_ca(name: str = "etcd-ca") -> Pki:
    key = _key()
    subject = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        cx509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Pki(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def make_leaf(ca: Pki, ips: list[str], key: ec.EllipticCurvePrivateKey | None = None) -> Pki:
    import ipaddress

    key = key or _key()
    ca_cert = cx509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = serialization.load_pem_private_key(ca.key.encode(), None)
    builder = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
    )
    if ips:
        builder = builder.add_extension(
            cx509.SubjectAlternativeName([cx509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return Pki(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def tls_inventory() -> Inventory:
    """The fixture lab's inventory as kubespray's profile sees a TLS lab (paths under SSL)."""
    inv = lab_inventory()
    for name in MEMBERS:
        host = inv.hosts[name]
        assert host.etcd is not None
        address = host.address
        etcd = dataclasses.replace(
            host.etcd,
            client_url=f"https://{address}:2379",
            peer_url=f"https://{address}:2380",
            cacert=f"{SSL}/ca.pem",
            cert=f"{SSL}/admin-{name}.pem",
            key=f"{SSL}/admin-{name}-key.pem",
            env={
                "ETCD_TRUSTED_CA_FILE": f"{SSL}/ca.pem",
                "ETCD_CERT_FILE": f"{SSL}/member-{name}.pem",
                "ETCD_KEY_FILE": f"{SSL}/member-{name}-key.pem",
                "ETCD_PEER_TRUSTED_CA_FILE": f"{SSL}/ca.pem",
                "ETCD_PEER_CERT_FILE": f"{SSL}/member-{name}.pem",
                "ETCD_PEER_KEY_FILE": f"{SSL}/member-{name}-key.pem",
            },
        )
        inv.hosts[name] = dataclasses.replace(host, etcd=etcd)
    return inv


def address(inv: Inventory, name: str) -> str:
    return inv.hosts[name].address


class Files(DictProbe):
    """The plan's probe over the members' files: read_command answered from the dict (what `cat`
    would print, in the command's order)."""

    def run(self, host: str, command: Command) -> Result:
        self.checked.append(command.text)
        out = []
        for word in re.findall(r"cat -- (\S+)", command.text):
            path = shlex.split(word)[0]
            text = self.files.get((host, path))
            out.append(
                f"\n{rotation.FILE_MARK}{path}\n{text if text is not None else rotation.MISSING}"
            )
        return Result(0, "".join(out), "")


def live(inv: Inventory, bundle: list[Pki], leaves_ca: Pki) -> Files:
    """The members' files now: the bundle and leaves signed by leaves_ca."""
    files: dict[tuple[str, str], str] = {}
    for name in MEMBERS:
        files[(name, f"{SSL}/ca.pem")] = "".join(c.cert for c in bundle)
        files[(name, f"{SSL}/member-{name}.pem")] = make_leaf(leaves_ca, [address(inv, name)]).cert
        files[(name, f"{SSL}/admin-{name}.pem")] = make_leaf(leaves_ca, []).cert
    return Files(files=files)


def given(inv: Inventory, folder: Path, ca: Pki) -> Path:
    for name in MEMBERS:
        for stem, ips in ((f"member-{name}", [address(inv, name)]), (f"admin-{name}", [])):
            leaf = make_leaf(ca, ips)
            (folder / f"{stem}.pem").write_text(leaf.cert)
            (folder / f"{stem}-key.pem").write_text(leaf.key)
    return folder


def plan(inv: Inventory, probe: Files, **inputs: object) -> dict:
    return rotation.plan_rotation(
        inv,
        probe,
        RUN.as_dict(),
        "node1",
        rotation.Inputs(**inputs),  # type: ignore[arg-type]
    )


def test_new_leaves_from_the_operators_folder_are_planned_followers_first(tmp_path: Path) -> None:
    inv, ca = tls_inventory(), make_ca()
    folder = given(inv, tmp_path, ca)
    planned = plan(inv, live(inv, [ca], ca), folder=str(folder))
    assert planned["problems"] == [] and planned["phase"] == "leaves"
    assert planned["order"] == ["node2", "node3", "node1"]
    node2 = planned["hosts"]["node2"]
    assert [f["dest"] for f in node2["files"]] == [
        f"{SSL}/member-node2.pem",
        f"{SSL}/member-node2-key.pem",
        f"{SSL}/admin-node2.pem",
        f"{SSL}/admin-node2-key.pem",
    ]
    assert all(f["staged"] == f"{f['dest']}.new-{RUN.stamp}" for f in node2["files"])
    serial = x509.parse((folder / "member-node2.pem").read_text()).serial
    assert [s["serial"] for s in node2["served"]] == [serial, serial]  # client and peer URL
    assert node2["checks"][0]["names"] == [address(inv, "node2")]
    assert node2["checks"][1]["names"] == []  # a client certificate names no host


def test_a_wrong_san_a_foreign_key_a_missing_file_and_another_ca_are_refused(
    tmp_path: Path,
) -> None:
    inv, ca = tls_inventory(), make_ca()
    folder = given(inv, tmp_path, ca)
    (folder / "member-node2.pem").write_text(make_leaf(ca, ["10.9.9.9"]).cert)
    (folder / "member-node3-key.pem").write_text(make_leaf(ca, []).key)
    (folder / "admin-node1-key.pem").unlink()
    (folder / "admin-node2.pem").write_text(make_leaf(make_ca("stranger"), []).cert)
    problems = " | ".join(plan(inv, live(inv, [ca], ca), folder=str(folder))["problems"])
    assert f"member-node2.pem for node2 does not name {address(inv, 'node2')}" in problems
    assert "SANs: 10.9.9.9" in problems
    assert "member-node3.pem for node3: its key member-node3-key.pem does not match it" in problems
    assert f"no new admin-node1-key.pem for node1 in {folder}" in problems
    assert "admin-node2.pem for node2 is not signed by the CA CN=etcd-ca" in problems


def test_no_input_and_a_ca_key_that_is_not_the_clusters_are_refused(tmp_path: Path) -> None:
    inv, ca = tls_inventory(), make_ca()
    assert "give the new files" in plan(inv, live(inv, [ca], ca))["problems"][0]
    other = tmp_path / "other-key.pem"
    other.write_text(make_ca().key)
    problems = plan(inv, live(inv, [ca], ca), generate=True, ca_key=str(other))["problems"]
    assert problems == ["-p ca_key is not the key of the CA CN=etcd-ca"]


def test_a_plaintext_cluster_has_nothing_to_rotate() -> None:
    problems = plan(lab_inventory(), Files(), folder="/nowhere")["problems"]
    assert problems[0].startswith("node1: its inventory names no TLS files")
    assert len(problems) == 3


def test_members_that_trust_different_cas_refuse_a_leaf_rotation(tmp_path: Path) -> None:
    inv, ca, other = tls_inventory(), make_ca(), make_ca("other")
    probe = live(inv, [ca], ca)
    probe.files[("node3", f"{SSL}/ca.pem")] = ca.cert + other.cert
    problems = plan(inv, probe, folder=str(given(inv, tmp_path, ca)))["problems"]
    assert problems and "trust bundles differ" in problems[0]


def test_a_ca_rotation_is_judged_from_the_members_files(tmp_path: Path) -> None:
    inv, old, new = tls_inventory(), make_ca(), make_ca()  # the same name, as renewed CAs often are
    ca_file = tmp_path / "new-ca.pem"
    ca_file.write_text(new.cert)
    args = {"ca": str(ca_file), "folder": str(given(inv, tmp_path, new))}
    trust = plan(inv, live(inv, [old], old), **args)
    assert trust["phase"] == "trust" and trust["problems"] == []
    [bundle] = trust["hosts"]["node2"]["files"]  # ca.pem serves etcd, its peers and etcdctl
    assert bundle["dest"] == f"{SSL}/ca.pem"
    cas = x509.parse_bundle(Path(bundle["src"]).read_text())
    assert [c.pem for c in cas] == [x509.parse(old.cert).pem, x509.parse(new.cert).pem]
    reissue = plan(inv, live(inv, [old, new], old), **args)
    assert reissue["phase"] == "reissue" and reissue["problems"] == []
    assert len(reissue["hosts"]["node3"]["files"]) == 4
    drop = plan(inv, live(inv, [old, new], new), **args)
    assert drop["phase"] == "drop" and drop["problems"] == []
    [bundle] = drop["hosts"]["node1"]["files"]
    assert [c.fingerprint for c in x509.parse_bundle(Path(bundle["src"]).read_text())] == [
        x509.parse(new.cert).fingerprint
    ]
    # before dropping the old CA, what each member holds must verify against the new bundle
    assert {c["ca"] for c in drop["hosts"]["node1"]["checks"]} == {f"{SSL}/ca.pem.new-{RUN.stamp}"}
    assert plan(inv, live(inv, [new], new), **args)["phase"] == "done"


def test_leaves_of_the_new_ca_are_refused_before_every_member_trusts_it(tmp_path: Path) -> None:
    inv, old, new = tls_inventory(), make_ca(), make_ca()
    problems = plan(inv, live(inv, [old], old), folder=str(given(inv, tmp_path, new)))["problems"]
    assert any("is not signed by the CA" in p for p in problems)


def test_check_expiry_names_what_expires_and_what_was_not_read() -> None:
    soon = NOW + dt.timedelta(days=10, hours=1)
    later = NOW + dt.timedelta(days=400)
    found = expiring(
        {
            "node1": (CertInfo("server", "/m1.pem", soon), CertInfo("ca", "/ca.pem", later)),
            "node2": (CertInfo("peer", "/m2.pem", None, "unable to load certificate"),),
            "node3": (),
        },
        30,
        NOW,
    )
    assert found[0].startswith("node1 server /m1.pem: expires in 10 days")
    assert found[1] == "node2 peer /m2.pem: cannot read: unable to load certificate"
    assert found[2].startswith("node3: no certificate read")
    assert len(found) == 3
    assert expiring({"node1": (CertInfo("ca", "/ca.pem", later),)}, 30, NOW) == []


@pytest.mark.parametrize(
    ("san", "names"),
    [
        (
            "X509v3 Subject Alternative Name: \n    DNS:localhost, IP Address:127.0.1.2",
            {"localhost", "127.0.1.2"},
        ),
        ("", set()),
    ],
)
def test_the_sans_the_hosts_openssl_prints_are_read(san: str, names: set[str]) -> None:
    from etcdops.steps.tlsfiles import sans_of

    assert sans_of(san) == names
