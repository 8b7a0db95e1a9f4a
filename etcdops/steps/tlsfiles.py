"""What the certificate kinds (cert_stage, cert_swap, cert_served) share: the host's part of the
rotation planned by etcdops/rotation.py (plain data: the files to stage, the checks, what each URL
must present), and the shell that checks one certificate on a host, parsed here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etcdops.commands import Command, Raw, sh
from etcdops.steps.base import StepContext


@dataclass(frozen=True)
class StagedFile:
    src: str  # on the control node
    dest: str  # the path the host uses
    staged: str  # DEST.new-STAMP, beside it
    sha256: str


def host_part(rotation: Mapping[str, Any], ctx: StepContext) -> Mapping[str, Any]:
    """The host's part of the rotation; a host the rotation does not know is a runbook error."""
    hosts = rotation.get("hosts") or {}
    if ctx.host not in hosts:
        raise ctx.error(f"the rotation plans nothing for {ctx.host} (not a member?)")
    part: Mapping[str, Any] = hosts[ctx.host]
    return part


def staged_files(part: Mapping[str, Any]) -> tuple[StagedFile, ...]:
    return tuple(
        StagedFile(str(f["src"]), str(f["dest"]), str(f["staged"]), str(f["sha256"]))
        for f in part.get("files", ())
    )


def parse_digests(text: str) -> dict[str, str]:
    """`sha256sum -- A B ...` → {path: digest} for each file it could read."""
    found = {}
    for line in text.splitlines():
        digest, _, path = line.partition("  ")
        if len(digest) == 64 and path:
            found[path] = digest
    return found


def cert_check_command(cert: str, key: str, ca: str) -> Command:
    """One read on the host: the certificate valid now, the sha256 of its public key and of its
    key's, the key's own consistency (`pkey -check`), its SANs, and `openssl verify` against the CA
    bundle, each under a marker line."""
    return sh(
        Raw("echo @@valid;"),
        "openssl",
        "x509",
        "-noout",
        "-checkend",
        "0",
        "-in",
        cert,
        Raw(">/dev/null 2>&1 && echo yes || echo no; echo @@certkey;"),
        "openssl",
        "x509",
        "-noout",
        "-pubkey",
        "-in",
        cert,
        Raw("2>/dev/null | sha256sum; echo @@key;"),
        "openssl",
        "pkey",
        "-pubout",
        "-in",
        key,
        Raw("2>/dev/null | sha256sum; echo @@keycheck;"),
        "openssl",
        "pkey",
        "-check",
        "-noout",
        "-in",
        key,
        Raw(">/dev/null 2>&1 && echo yes || echo no; echo @@names;"),
        "openssl",
        "x509",
        "-noout",
        "-ext",
        "subjectAltName",
        "-in",
        cert,
        Raw("2>/dev/null; echo @@verify;"),
        "openssl",
        "verify",
        "-CAfile",
        ca,
        cert,
        Raw("2>&1 | tail -n 1"),
    ).reads()


def _sections(text: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            found[current] = []
        elif current:
            found[current].append(line)
    return {k: "\n".join(v).strip() for k, v in found.items()}


def sans_of(text: str) -> set[str]:
    """`DNS:a, IP Address:1.2.3.4` (openssl -ext subjectAltName) → {"a", "1.2.3.4"}."""
    found = set()
    for line in text.splitlines():
        for item in line.split(","):
            _, sep, value = item.strip().partition(":")
            if sep and value and "Subject Alternative Name" not in item:
                found.add(value.strip())
    return found


def judge_check(text: str, cert: str, names: list[str], ca: str) -> list[str]:
    """What is wrong with a certificate as the host's openssl sees it (empty: nothing)."""
    s = _sections(text)
    problems = []
    if s.get("valid") != "yes":
        problems.append(f"{cert} is not valid now (or not a certificate)")
    certkey, key = s.get("certkey", "").split()[:1], s.get("key", "").split()[:1]
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    if not certkey or certkey != key or certkey == [empty]:
        problems.append(f"{cert} does not match its key")
    elif s.get("keycheck") != "yes":
        problems.append(f"{cert}: its key fails openssl's consistency check")
    missing = [n for n in names if n not in sans_of(s.get("names", ""))]
    if missing:
        problems.append(f"{cert} does not name {', '.join(missing)}")
    if not s.get("verify", "").endswith("OK"):
        problems.append(f"{cert} does not verify against {ca} ({s.get('verify', '')})")
    return problems
