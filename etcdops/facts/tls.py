"""What an etcdctl error says about TLS, in words an operator can act on.

etcdctl ends every failed dial with "context deadline exceeded"; the cause is in the lines before
(gRPC's transport errors). A member that answers TLS but refuses the client certificate is up:
it is reported as reachable, not as down, so that nobody restarts a healthy etcd.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    reachable: bool  # the member answered (it refused us): not DOWN
    text: str


_EXPIRED = re.compile(r"current time (\S+) is after (\S+)")
_NAME = re.compile(r"certificate is valid for ([^,]+(?:, [^,]+)*?), not (\S+)")

# (marker in etcdctl's stderr, reachable, what it means); the first that matches wins
CAUSES: tuple[tuple[str, bool, str], ...] = (
    ("remote error: tls: expired certificate", True, "client certificate refused: it has expired"),
    (
        "remote error: tls: unknown certificate authority",
        True,
        "client certificate refused: signed by a CA the member does not trust",
    ),
    (
        "remote error: tls: bad certificate",
        True,
        "client certificate refused: the member does not accept it (signed by another CA?)",
    ),
    (
        "remote error: tls: certificate required",
        True,
        "client certificate refused: none was given and the member requires one",
    ),
    (
        "tls: certificate required",
        True,
        "client certificate refused: none was given and the member requires one",
    ),
    (
        "certificate has expired or is not yet valid",
        True,
        "the member's server certificate has expired",
    ),
    (
        "certificate signed by unknown authority",
        True,
        "the member's server certificate is signed by a CA the client does not trust (etcd_cacert)",
    ),
    (
        "certificate is valid for",
        True,
        "the member's server certificate does not name the address used",
    ),
    (
        "first record does not look like a TLS handshake",
        True,
        "plaintext: the member speaks http, the inventory says https",
    ),
    (
        "server gave HTTP response to HTTPS client",
        True,
        "plaintext: the member speaks http, the inventory says https",
    ),
    ("error reading server preface", True, "TLS: the member speaks https, the inventory says http"),
    ("connection reset by peer", True, "the member closed the connection during the TLS handshake"),
    ("broken pipe", True, "the member closed the connection during the TLS handshake"),
    (
        "no such file or directory",
        False,
        "a TLS file named in the inventory is missing on the host",
    ),
    ("connection refused", False, "connection refused: nothing listens there"),
    ("deadline exceeded", False, "timed out: no answer"),
)


def cause(stderr: str) -> Cause | None:
    """The cause named by etcdctl's stderr, or None when it names none of these."""
    for marker, reachable, text in CAUSES:
        if marker in stderr:
            return Cause(reachable, _detail(text, stderr))
    return None


def _detail(text: str, stderr: str) -> str:
    expired = _EXPIRED.search(stderr)
    if "expired" in text and expired:
        return f"{text} (on {expired.group(2)}; now {expired.group(1)})"
    name = _NAME.search(stderr)
    if "does not name" in text and name:
        return f"{text} (it is valid for {name.group(1)}, not {name.group(2)})"
    return text


@dataclass(frozen=True)
class ClientCert:
    """What the host's own checks of the client certificate found (facts script, section @@tls)."""

    given: bool
    expired: bool = False
    not_after: str = ""
    verifies: bool = True  # against the CA the client trusts (etcd_cacert)
    detail: str = ""


def parse_client_check(text: str) -> ClientCert:
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if lines.get("given") != "yes":
        return ClientCert(given=False)
    return ClientCert(
        given=True,
        expired=lines.get("checkend") == "1",
        not_after=lines.get("notAfter", ""),
        verifies=lines.get("verify", "").endswith("OK"),
        detail=lines.get("verify", ""),
    )


def diagnose(stderr: str, client: ClientCert | None) -> Cause | None:
    """The cause, from etcdctl's stderr and, when the member only closed the connection (TLS 1.3
    reports a refused client certificate after the handshake, often as a reset or a broken pipe),
    from the checks of the client certificate made on the host."""
    found = cause(stderr)
    if (
        found is None
        or not found.reachable
        or "closed the connection" not in found.text
        or client is None
    ):
        return found
    if not client.given:
        return Cause(True, "client certificate refused: none was given and the member requires one")
    if client.expired:
        return Cause(True, f"client certificate refused: it has expired (on {client.not_after})")
    if not client.verifies:
        return Cause(
            True,
            "client certificate refused: it is not signed by the CA in etcd_cacert "
            f"(openssl verify: {client.detail})",
        )
    return found
