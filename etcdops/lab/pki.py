"""The lab's certificates, made with openssl in kubespray's layout (roles/etcd/templates/
make-ssl-etcd.sh): one CA, and per host member-HOST.pem (server and peer, client auth too),
admin-HOST.pem and node-HOST.pem (clients), each with its -key.pem, in the host's
etc/ssl/etcd/ssl/ beside ca.pem. RSA 2048 as kubespray makes them."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from etcdops.errors import EtcdopsError

DAYS = 3650


def _openssl(*args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    if proc.returncode != 0:
        raise EtcdopsError(f"lab: openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def make_ca(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ca, key = folder / "ca.pem", folder / "ca-key.pem"
    if not ca.exists():
        _openssl("genrsa", "-out", str(key), "2048")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-key",
            str(key),
            "-days",
            str(DAYS),
            "-out",
            str(ca),
            "-subj",
            "/CN=etcd-ca",
        )
        key.chmod(0o600)
    return ca, key


def make_cert(
    ca: Path,
    ca_key: Path,
    out: Path,
    name: str,
    common_name: str,
    sans: list[str],
    server: bool,
    days: int = DAYS,
    start: str | None = None,
    end: str | None = None,
) -> None:
    """out/NAME.pem and out/NAME-key.pem signed by the CA; start/end (YYYYMMDDHHMMSSZ) override
    days."""
    out.mkdir(parents=True, exist_ok=True)
    key, cert = out / f"{name}-key.pem", out / f"{name}.pem"
    usage = "serverAuth,clientAuth" if server else "clientAuth"
    with tempfile.TemporaryDirectory() as tmp:
        ext = Path(tmp) / "ext.cnf"
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n" + (f"subjectAltName={','.join(sans)}\n" if sans else "")
        )
        csr = Path(tmp) / "req.csr"
        _openssl("genrsa", "-out", str(key), "2048")
        _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={common_name}")
        # an expired (or not yet valid) certificate, for tests: `openssl ca` sets both
        if start or end:
            _sign_with_dates(ca, ca_key, csr, cert, ext, start, end, Path(tmp))
        else:
            _openssl(
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(ca),
                "-CAkey",
                str(ca_key),
                "-CAcreateserial",
                "-out",
                str(cert),
                "-days",
                str(days),
                "-extfile",
                str(ext),
            )
    key.chmod(0o600)


def _sign_with_dates(
    ca: Path,
    ca_key: Path,
    csr: Path,
    cert: Path,
    ext: Path,
    start: str | None,
    end: str | None,
    tmp: Path,
) -> None:
    (tmp / "index.txt").write_text("")
    (tmp / "serial").write_text("1000\n")
    (tmp / "ca.cnf").write_text(
        "[ca]\ndefault_ca=lab\n[lab]\n"
        f"dir={tmp}\ndatabase=$dir/index.txt\nserial=$dir/serial\nnew_certs_dir=$dir\n"
        "default_md=sha256\npolicy=any\nunique_subject=no\ncopy_extensions=none\n"
        "[any]\ncommonName=supplied\n"
    )
    args = [
        "ca",
        "-batch",
        "-config",
        str(tmp / "ca.cnf"),
        "-cert",
        str(ca),
        "-keyfile",
        str(ca_key),
        "-in",
        str(csr),
        "-out",
        str(cert),
        "-extfile",
        str(ext),
        "-notext",
    ]
    if start:
        args += ["-startdate", start]
    if end:
        args += ["-enddate", end]
    _openssl(*args)


def host_certs(ca: Path, ca_key: Path, cert_dir: Path, host: str, address: str) -> None:
    """What kubespray puts on an etcd host: ca.pem, member-, admin- and node- certificates. Kept
    from one lab to the next, unless the lab's CA did not sign them (a CA rotation on the lab)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    (cert_dir / "ca.pem").write_bytes(ca.read_bytes())
    sans = [f"IP:{address}", "IP:127.0.0.1", "DNS:localhost", f"DNS:{host}"]
    member = cert_dir / f"member-{host}.pem"
    if not _signed(ca, member) or not _names(member, address):  # the lab moved to another net
        make_cert(ca, ca_key, cert_dir, f"member-{host}", f"etcd-member-{host}", sans, server=True)
    if not _signed(ca, cert_dir / f"admin-{host}.pem"):
        make_cert(ca, ca_key, cert_dir, f"admin-{host}", f"etcd-admin-{host}", [], server=False)
    if not _signed(ca, cert_dir / f"node-{host}.pem"):
        make_cert(ca, ca_key, cert_dir, f"node-{host}", f"etcd-node-{host}", [], server=False)


def _names(cert: Path, address: str) -> bool:
    """The certificate names the address (its SANs): a lab brought up on another loopback net
    (ETCDOPS_LAB_NET) gets new member certificates, not the old net's."""
    proc = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = {n.strip() for n in proc.stdout.replace(",", "\n").splitlines()}
    return proc.returncode == 0 and f"IP Address:{address}" in names


def _signed(ca: Path, cert: Path) -> bool:
    """The certificate is there and the lab's CA signed it."""
    if not cert.exists():
        return False
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode == 0
