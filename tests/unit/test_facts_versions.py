"""The installed versions are read once per binary, and again whenever a binary changes; the
server and peer certificates are found in etcd.env by the shell alone. Each script runs in dash
against files in tmp_path (fake etcd/etcdctl binaries that count their starts, a real
certificate)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from etcdops.facts import versions
from etcdops.facts.certs import certs_section, parse_certs
from etcdops.facts.sections import split_sections
from etcdops.inventory import Host
from tests.helpers import lab_inventory

ETCD = (
    '#!/bin/sh\necho x >> "$(dirname "$0")/starts"\necho "etcd Version: {v}"\necho "Git SHA: abc"\n'
)
ETCDCTL = (
    '#!/bin/sh\necho x >> "$(dirname "$0")/starts"\n'
    'echo "etcdctl version: {v}"\necho "API version: 3.5"\n'
)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.setenv("ETCDOPS_HOME", str(tmp_path / "home"))
    bin_dir = tmp_path / "bin dir"  # a space: the paths are quoted
    bin_dir.mkdir()
    install(bin_dir, "3.5.21")
    h = lab_inventory().host("node1")
    assert h.etcd is not None
    return dataclasses.replace(h, etcd=dataclasses.replace(h.etcd, bin_dir=str(bin_dir)))


def install(bin_dir: Path, version: str) -> None:
    for name, text in (("etcd", ETCD), ("etcdctl", ETCDCTL)):
        path = bin_dir / name
        path.unlink(missing_ok=True)  # a new file, as an upgrade writes it
        path.write_text(text.format(v=version))
        path.chmod(0o755)


def read(host: Host) -> tuple[tuple[str | None, str | None], int]:
    """One facts read of the versions: (versions, how many binaries started), cache updated."""
    assert host.etcd is not None
    starts = Path(host.etcd.bin_dir) / "starts"
    starts.unlink(missing_ok=True)
    known = versions.load()
    out = subprocess.run(
        ["dash", "-c", versions.section(host, known)], capture_output=True, text=True, timeout=30
    ).stdout  # exit status: the facts script's section records it
    learned: dict[str, dict[str, str]] = {}
    got = versions.parse(host, out, known, learned)
    versions.save(known, learned)
    return got, len(starts.read_text().splitlines()) if starts.exists() else 0


def test_versions_are_read_once_then_from_the_cache(host: Host) -> None:
    assert read(host) == (("3.5.21", "3.5.21"), 2)
    assert read(host) == (("3.5.21", "3.5.21"), 0)
    assert read(host) == (("3.5.21", "3.5.21"), 0)


def test_an_upgraded_binary_is_read_again(host: Host) -> None:
    assert host.etcd is not None
    read(host)
    install(Path(host.etcd.bin_dir), "3.5.22")
    assert read(host) == (("3.5.22", "3.5.22"), 2)
    assert read(host) == (("3.5.22", "3.5.22"), 0)


def test_a_binary_changed_in_place_is_read_again(host: Host) -> None:
    assert host.etcd is not None
    read(host)
    ctl = Path(host.etcd.bin_dir) / "etcdctl"
    stat = ctl.stat()
    with open(ctl, "w") as fh:  # same inode, same size, mtime put back: only the ctime tells
        fh.write(ETCDCTL.format(v="3.5.29"))
    os.utime(ctl, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert read(host) == (("3.5.21", "3.5.29"), 2)


def test_a_missing_binary_is_never_cached(host: Host) -> None:
    assert host.etcd is not None
    (Path(host.etcd.bin_dir) / "etcdctl").unlink()
    assert read(host) == (("3.5.21", None), 1)
    assert read(host) == (("3.5.21", None), 1)


def test_an_unreadable_cache_only_costs_a_read(host: Host, tmp_path: Path) -> None:
    read(host)
    cache = tmp_path / "home" / ".etcdops" / "cache" / "facts.json"
    cache.write_text("{not json")
    assert read(host) == (("3.5.21", "3.5.21"), 2)
    assert read(host)[1] == 0


def test_certificates_are_found_in_etcd_env_by_the_shell(host: Host, tmp_path: Path) -> None:
    cert = tmp_path / "member cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ed25519",
            "-nodes",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(cert),
            "-subj",
            "/CN=node1",
            "-days",
            "10",
        ],
        check=True,
        capture_output=True,
    )
    env = tmp_path / "etcd.env"
    # quoted values, a line overridden further down (the last wins), no newline at the end
    env.write_text(
        f'ETCD_NAME=node1\nETCD_CERT_FILE=/nowhere.pem\nETCD_CERT_FILE="{cert}"\n'
        f"ETCD_PEER_CERT_FILE='{tmp_path}/missing.pem'"
    )
    assert host.etcd is not None
    h = dataclasses.replace(host, etcd=dataclasses.replace(host.etcd, env_file=str(env)))
    out = subprocess.run(
        ["dash", "-c", f"d={tmp_path}; {certs_section(h)}; cat {tmp_path}/certs.o"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    server, peer = parse_certs(split_sections(out)["certs"][1])
    assert (server.kind, server.path, server.error) == ("server", str(cert), "")
    assert server.days_left() in (9, 10)
    assert (peer.kind, peer.path, peer.not_after) == ("peer", f"{tmp_path}/missing.pem", None)
    assert "missing.pem" in peer.error


def test_no_env_file_means_no_certificates(host: Host, tmp_path: Path) -> None:
    assert host.etcd is not None
    h = dataclasses.replace(
        host, etcd=dataclasses.replace(host.etcd, env_file=str(tmp_path / "absent.env"))
    )
    proc = subprocess.run(
        ["dash", "-c", f"d={tmp_path}; {certs_section(h)}; echo after; cat {tmp_path}/certs.o"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("after\n")
    assert parse_certs(split_sections(proc.stdout)["certs"][1]) == ()


def test_certificates_are_read_once_then_from_the_cache_and_again_when_renewed(
    host: Host, tmp_path: Path
) -> None:
    wrapped = tmp_path / "wrapped"  # an openssl that counts its starts
    wrapped.mkdir()
    real = subprocess.run(
        ["sh", "-c", "command -v openssl"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (wrapped / "openssl").write_text(
        f'#!/bin/sh\necho x >> "{tmp_path}/openssl-starts"\nexec {real} "$@"\n'
    )
    (wrapped / "openssl").chmod(0o755)
    cert = tmp_path / "member.pem"

    def issue(days: int) -> None:
        cert.unlink(missing_ok=True)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ed25519",
                "-nodes",
                "-keyout",
                str(tmp_path / "k.pem"),
                "-out",
                str(cert),
                "-subj",
                "/CN=node1",
                "-days",
                str(days),
            ],
            check=True,
            capture_output=True,
        )

    env = tmp_path / "etcd.env"
    env.write_text(f"ETCD_CERT_FILE={cert}\nETCD_PEER_CERT_FILE={cert}\n")
    assert host.etcd is not None
    h = dataclasses.replace(host, etcd=dataclasses.replace(host.etcd, env_file=str(env)))

    def read_certs() -> tuple[list[int | None], int]:
        starts = tmp_path / "openssl-starts"
        starts.unlink(missing_ok=True)
        known = versions.load()
        out = subprocess.run(
            ["dash", "-c", f"d={tmp_path}; {certs_section(h, known)}; cat {tmp_path}/certs.o"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "PATH": f"{wrapped}:{os.environ['PATH']}"},
        ).stdout
        learned: dict[str, dict[str, str]] = {}
        found = parse_certs(split_sections(out)["certs"][1], h, known, learned)
        versions.save(known, learned)
        return [c.days_left() for c in found], len(
            starts.read_text().splitlines()
        ) if starts.exists() else 0

    issue(10)
    first = read_certs()
    assert first[1] == 2 and all(d in (9, 10) for d in first[0]) and len(first[0]) == 2
    assert read_certs() == (first[0], 0)  # unchanged: no openssl, the same expiry
    issue(40)  # renewed: a new file
    renewed = read_certs()
    assert renewed[1] == 2 and all(d in (39, 40) for d in renewed[0])
    assert read_certs() == (renewed[0], 0)
