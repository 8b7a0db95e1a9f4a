"""Certificates as the hosts see them: the member's server and peer certificate expiry (status,
plan), the client certificate's own checks when a member refused a connection (for facts/tls.py),
and the pre-flight of a joining host's certificates (preflight.py). Shell built here, output
parsed here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from etcdops.facts.versions import STAMP_FORMAT
from etcdops.inventory import Host
from etcdops.templating import quote

WARN_DAYS = 30


@dataclass(frozen=True)
class CertInfo:
    kind: str  # server | peer | ca (the first certificate of the trust bundle etcd.env names)
    path: str
    not_after: dt.datetime | None
    error: str = ""

    def days_left(self, now: dt.datetime | None = None) -> int | None:
        if self.not_after is None:
            return None
        return (self.not_after - (now or dt.datetime.now(dt.UTC))).days


def client_check(host: Host) -> str:
    """Shell: when status failed over https, the client certificate as the host sees it (given?
    expired? signed by the CA etcdctl trusts?), written as section @@tls."""
    etcd = host.etcd
    assert etcd is not None
    if not etcd.client_url.startswith("https"):
        return ":"
    if not etcd.cert:
        return '{ echo "@@tls"; echo given=no; } >"$d/tls.o"'
    cert = quote(etcd.cert)
    if etcd.cacert:
        verify = f"openssl verify -CAfile {quote(etcd.cacert)} {cert} 2>&1 | tail -n 1"
    else:
        verify = "echo OK"
    return (
        f'{{ echo "@@tls"; echo given=yes; openssl x509 -noout -enddate -in {cert} 2>/dev/null; '
        f'openssl x509 -noout -checkend 0 -in {cert} >/dev/null 2>&1; echo "checkend=$?"; '
        f'echo "verify=$({verify})"; }} >"$d/tls.o"'
    )


SERVER_KEYS = (
    ("server", "ETCD_CERT_FILE"),
    ("peer", "ETCD_PEER_CERT_FILE"),
    ("ca", "ETCD_TRUSTED_CA_FILE"),
)


def _key(host: Host, path: str) -> str:
    return f"cert\0{host.name}\0{host.address}\0{path}"


def certs_section(
    host: Host, known: dict[str, dict[str, str]] | None = None, into: str = '>"$d/certs.o"'
) -> str:
    """Shell: KIND<TAB>PATH<TAB>ANSWER<TAB>STAMP for the server and peer certificates and the trust
    bundle (its first certificate) the host's etcd.env names; ANSWER is openssl's `notAfter=...`
    (or its error), or `cached`.

    The env file is read by the shell itself (the last line for a key wins, quotes stripped). A
    certificate costs one openssl (~20 ms of CPU here, as much as an etcdctl call) only when it
    is new or changed: while its stamp (size, mtime and ctime in nanoseconds, inode) is the one
    the control node last saw, the host answers `cached` and the expiry comes from the cache kept
    with the versions (facts/versions.py). On a wide cluster every fork on the hosts counts."""
    etcd = host.etcd
    assert etcd is not None
    prefix = _key(host, "")
    seen = sorted(
        quote(f"{k[len(prefix) :]}|{v['stamp']}")
        for k, v in (known or {}).items()
        if k.startswith(prefix) and v.get("stamp") and v.get("not_after")
    )
    names = ("c1", "c2", "c3")
    cases = " ".join(
        f"{key}=*) {var}=${{line#{key}=}};;"
        for (_, key), var in zip(SERVER_KEYS, names, strict=True)
    )
    env = quote(etcd.env_file)
    read = (
        f'c1=; c2=; c3=; [ -r {env} ] && while IFS= read -r line || [ -n "$line" ]; do '
        f'case "$line" in {cases} esac; done < {env}'
    )
    fresh = 'r=$(openssl x509 -noout -enddate -in "$f" 2>&1); r=${r%%"$nl"*}'
    answer = f'case "$f|$st" in {"|".join(seen)}) r=cached;; *) {fresh};; esac' if seen else fresh
    parts = [read]
    for (kind, _), var in zip(SERVER_KEYS, names, strict=True):
        parts.append(
            f'f=${{{var}#[\\"\\\']}}; f=${{f%[\\"\\\']}}; [ -z "$f" ] || '
            f"{{ st=$(stat -L --printf '{STAMP_FORMAT}' \"$f\" 2>/dev/null); {answer}; "
            f'echo "{kind}\t$f\t$r\t$st"; }}'
        )
    return "{ echo \"@@certs\"; nl='\n'; " + "; ".join(parts) + f"; }} {into} 2>/dev/null"


def parse_certs(
    text: str,
    host: Host | None = None,
    known: dict[str, dict[str, str]] | None = None,
    fresh: dict[str, dict[str, str]] | None = None,
) -> tuple[CertInfo, ...]:
    """The section's lines → CertInfo; a `cached` answer takes the expiry from known, and what
    openssl read fresh from a file with a stamp goes into fresh (for the host's next read)."""
    found = []
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        path, _, rest = rest.partition("\t")
        answer, _, stamp = rest.partition("\t")
        if kind not in ("server", "peer", "ca") or not path:
            continue
        key = _key(host, path) if host is not None else ""
        if answer == "cached" and key in (known or {}):
            answer = "notAfter=" + (known or {})[key]["not_after"]
        if answer.startswith("notAfter="):
            not_after = parse_openssl_date(answer[len("notAfter=") :])
            found.append(CertInfo(kind, path, not_after))
            if not_after is not None and stamp and fresh is not None and host is not None:
                fresh[key] = {"stamp": stamp, "not_after": answer[len("notAfter=") :]}
        else:
            found.append(CertInfo(kind, path, None, answer.strip() or "unreadable"))
    return tuple(found)


def parse_openssl_date(text: str) -> dt.datetime | None:
    """`Mar  1 00:00:00 2036 GMT` (openssl's notAfter) → an aware datetime."""
    try:
        return dt.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y %Z").replace(
            tzinfo=dt.UTC
        )
    except ValueError:
        return None


def expiring(
    hosts: dict[str, tuple[CertInfo, ...]], days: int, now: dt.datetime | None = None
) -> list[str]:
    """What `status --check-expiry DAYS` fails on: each certificate that expires within DAYS (or
    has expired), each that could not be read, and each host whose certificates were not read at
    all (a CI job must not pass on what it did not see)."""
    found = []
    for host, certs in hosts.items():
        if not certs:
            found.append(
                f"{host}: no certificate read (no TLS files in its etcd.env, or unreadable)"
            )
        for c in certs:
            left = c.days_left(now)
            if left is None:
                found.append(f"{host} {c.kind} {c.path}: cannot read: {c.error or 'unreadable'}")
            elif left < days:
                when = "expired" if left < 0 else f"expires in {left} days"
                assert c.not_after is not None
                found.append(f"{host} {c.kind} {c.path}: {when} ({c.not_after:%Y-%m-%d})")
    return found
