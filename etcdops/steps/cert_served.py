"""`cert_served`: what the member presents in a TLS handshake, read on its host with `openssl
s_client` against its own client and peer URLs (with its client certificate and trust bundle): the
serial must be the one the rotation planned (the new certificate, or the current one when only the
trust bundle changed), the chain must verify, and every file the rotation put there must hold the
planned bytes. Polled, bounded: etcd presents a new certificate from its next handshake on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from etcdops.commands import Command, Raw, sh
from etcdops.errors import StepFailed
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field
from etcdops.steps.tlsfiles import host_part, parse_digests, staged_files

HANDSHAKE_TIMEOUT = "10"  # s, one s_client


@dataclass(frozen=True)
class CertServedSpec:
    rotation: dict[str, Any] = spec_field("the rotation planned at plan time (vars.rotation)")
    timeout: float = spec_field(
        "seconds until the new certificate must be presented", 30.0, minimum=1
    )


@dataclass(frozen=True)
class Expect:
    url: str
    serial: str
    not_after: str
    read: Command


@dataclass(frozen=True, kw_only=True)
class CertServedAction(Action):
    expect: tuple[Expect, ...]
    digests: tuple[tuple[str, str], ...]  # path, sha256
    read_digests: Command | None
    wait: float


def handshake_command(url: str, cacert: str, cert: str, key: str) -> Command:
    """The certificate the URL presents (serial, expiry) and whether its chain verified."""
    parts = urlsplit(url)
    target = f"{parts.hostname}:{parts.port or 2379}"
    client: list[object] = ["-cert", cert, "-key", key] if cert and key else []
    return sh(
        Raw("out=$("),
        "timeout",
        HANDSHAKE_TIMEOUT,
        "openssl",
        "s_client",
        "-connect",
        target,
        "-CAfile",
        cacert,
        *client,
        Raw("</dev/null 2>&1); printf '%s\\n' \"$out\" |"),
        "openssl",
        "x509",
        "-noout",
        "-serial",
        "-enddate",
        Raw("2>/dev/null; printf '%s\\n' \"$out\" | grep -m1 'Verify return code'"),
    ).reads()


def parse_handshake(text: str) -> tuple[str, str, str]:
    """(serial, notAfter, verify line) from handshake_command's output."""
    found = {"serial": "", "notAfter": "", "verify": ""}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key in ("serial", "notAfter"):
            found[key] = value.strip()
        elif "Verify return code" in line:
            found["verify"] = line.strip()
    return found["serial"].upper().lstrip("0") or "", found["notAfter"], found["verify"]


class CertServedKind(StepKind[CertServedSpec, CertServedAction]):
    name = "cert_served"
    summary = (
        "check the certificate a member presents (TLS handshake on its host) is the planned one"
    )
    Spec = CertServedSpec
    shorthand = "rotation"

    def plan(self, spec: CertServedSpec, ctx: StepContext) -> CertServedAction:
        part = host_part(spec.rotation, ctx)
        client = list(part.get("client") or ["", ""])
        bundle = str(part.get("bundle") or "")
        expect = tuple(
            Expect(
                str(e["url"]),
                str(e["serial"]).upper().lstrip("0"),
                str(e["not_after"]),
                handshake_command(str(e["url"]), bundle, str(client[0]), str(client[1])),
            )
            for e in part.get("served", ())
        )
        digests = tuple((f.dest, f.sha256) for f in staged_files(part))
        read_digests = None
        if digests:
            paths = [d[0] for d in digests]
            read_digests = sh("sha256sum", "--", *paths, Raw("2>/dev/null || true")).reads()
        shown = "; ".join(f"{e.url} serial {e.serial}" for e in expect) or "nothing (no TLS)"
        return CertServedAction(
            intent=f"verify {ctx.host} presents the planned certificate in a TLS handshake "
            f"({shown}) and holds the new files",
            reads=((read_digests,) if read_digests else ()) + tuple(e.read for e in expect),
            expect=expect,
            digests=digests,
            read_digests=read_digests,
            wait=spec.timeout,
        )

    def execute(self, action: CertServedAction, ex: ExecContext) -> Outcome:
        now = parse_digests(ex.run(action.read_digests).stdout) if action.read_digests else {}
        wrong = [path for path, sha in action.digests if now.get(path) != sha]
        if wrong:
            raise StepFailed(ex.step, ex.host, f"not the planned file: {', '.join(wrong)}")
        seen: dict[str, tuple[str, str, str]] = {}

        def presented() -> tuple[bool, str]:
            for e in action.expect:
                seen[e.url] = parse_handshake(ex.run(e.read, check=False).stdout)
            bad = [
                f"{e.url} presents {seen[e.url][0] or 'nothing'}"
                for e in action.expect
                if seen[e.url][0] != e.serial or not seen[e.url][2].endswith("(ok)")
            ]
            return not bad, "; ".join(bad) or "every URL presents the planned certificate"

        ex.poll(presented, "the member presents the planned certificate", 0.5, action.wait)
        detail = "; ".join(
            f"{e.url} serial {seen[e.url][0]} (expires {seen[e.url][1]}, chain verified)"
            for e in action.expect
        )
        report = {
            e.url: {"serial": seen[e.url][0], "not_after": seen[e.url][1]} for e in action.expect
        }
        return Outcome.ok(detail, report={"presented": report})
