"""What rotate-certs does, decided at plan time: which files go where on each member, checked on the
control node before anything is touched, and (a CA rotation) which phase the cluster is in.

Inputs: new files in the inventory profile's layout (`-p dir`: `DIR/HOST/NAME` else `DIR/NAME`,
NAME the file name the host uses: kubespray's `member-HOST.pem`, `admin-HOST-key.pem`, ...), or
made here with openssl and a CA key the operator gives (`-p generate=true`). The CA key is read by
openssl on the control node only: never copied, never printed.

A CA rotation (`-p ca=NEW_CA.pem`) goes in three runs, each judged from the files on the live
members: `trust` (every bundle old + new CA), `reissue` (leaves signed by the new CA), `drop`
(bundles of the new CA only), then `done`. etcd reads its trust bundle only when it starts
(etcd#11555): each phase restarts the members one at a time.

The result is plain data (frozen with the plan for a resumed or reviewed run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import secrets
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from etcdops import paths
from etcdops.commands import Command, Raw, sh
from etcdops.facts import x509
from etcdops.inventory import EtcdConfig, Inventory
from etcdops.transport import Result

LEAF_KEYS = (
    ("server", "ETCD_CERT_FILE", "ETCD_KEY_FILE"),
    ("peer", "ETCD_PEER_CERT_FILE", "ETCD_PEER_KEY_FILE"),
)
BUNDLE_KEYS = ("ETCD_TRUSTED_CA_FILE", "ETCD_PEER_TRUSTED_CA_FILE")
PHASES = {
    "leaves": "new server, peer and client certificates signed by the cluster's CA",
    "trust": "phase 1 of 3: every member trusts the old and the new CA (bundle old + new)",
    "reissue": "phase 2 of 3: server, peer and client certificates signed by the new CA",
    "drop": "phase 3 of 3: the old CA removed from every trust bundle",
    "done": "the CA rotation is complete: every leaf is the new CA's, every bundle holds it alone",
}
OPENSSL_TIMEOUT = 60


class Reader(Protocol):
    """The plan's read-only probe: one command per host reads its certificate files."""

    def run(self, host: str, command: Command) -> Result: ...


FILE_MARK = "@@etcdops-file "
MISSING = "@@etcdops-missing"


def read_command(paths: list[str]) -> Command:
    """Every file, each after a line naming it (a file that cannot be read: a line saying so)."""
    parts: list[object] = []
    for path in paths:
        parts += [
            "printf", "\\n%s%s\\n", FILE_MARK, path, Raw(";"),
            "cat", "--", path, Raw("2>/dev/null ||"), "echo", MISSING, Raw(";"),
        ]  # fmt: skip
    return sh(*parts).reads()


def parse_files(text: str) -> dict[str, str | None]:
    """read_command's output → {path: content, or None when it could not be read}."""
    found: dict[str, str | None] = {}
    for chunk in text.split("\n" + FILE_MARK)[1:]:
        path, _, body = chunk.partition("\n")
        found[path] = None if body.strip() == MISSING else body
    return found


@dataclass(frozen=True)
class Leaf:
    """A certificate and its key as one host uses them; roles: server, peer, client."""

    roles: tuple[str, ...]
    cert: str
    key: str

    @property
    def needs_names(self) -> bool:
        return "server" in self.roles or "peer" in self.roles


def leaves_of(etcd: EtcdConfig) -> tuple[Leaf, ...]:
    """The host's leaf files (etcd.env's server and peer files, etcdctl's client files), each path
    once: kubespray's member-HOST.pem is the server and the peer certificate."""
    found: dict[str, Leaf] = {}
    pairs = [(role, etcd.env.get(c), etcd.env.get(k)) for role, c, k in LEAF_KEYS]
    pairs.append(("client", etcd.cert, etcd.key))
    for role, cert, key in pairs:
        if not cert or not key:
            continue
        old = found.get(cert)
        roles = (*old.roles, role) if old else (role,)
        found[cert] = Leaf(roles, cert, key)
    return tuple(found.values())


def bundles_of(etcd: EtcdConfig) -> tuple[str, ...]:
    """The trust bundles the host's etcd and etcdctl read (each path once)."""
    found = [etcd.env.get(k) for k in BUNDLE_KEYS] + [etcd.cacert]
    return tuple(dict.fromkeys(p for p in found if p))


def url_hosts(etcd: EtcdConfig) -> tuple[str, ...]:
    """The names clients and peers connect to: the hosts of its advertised client and peer URLs."""
    found = [urlsplit(u).hostname or "" for u in (etcd.client_url, etcd.peer_url)]
    return tuple(dict.fromkeys(h for h in found if h))


def source_of(folder: str, host: str, dest: str) -> Path | None:
    """The operator's file for a destination: DIR/HOST/NAME, else DIR/NAME."""
    name = os.path.basename(dest)
    for candidate in (Path(folder) / host / name, Path(folder) / name):
        if candidate.is_file():
            return candidate
    return None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Survey:
    """What is on the members now (read at plan time) and what the run will put there."""

    inventory: Inventory
    reader: Reader
    run_id: str
    stamp: str
    leader: str | None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    problems: list[str] = field(default_factory=list)
    bundles: dict[str, tuple[x509.Cert, ...]] = field(default_factory=dict)
    current: dict[tuple[str, str], x509.Cert] = field(default_factory=dict)

    @property
    def members(self) -> list[str]:
        return [h.name for h in self.inventory.members if h.etcd is not None]

    def etcd(self, host: str) -> EtcdConfig:
        etcd = self.inventory.hosts[host].etcd
        assert etcd is not None
        return etcd

    def read_live(self) -> None:
        """Each member's trust bundle and current leaves, as its files hold them."""
        for host in self.members:
            etcd = self.etcd(host)
            if not leaves_of(etcd) or not bundles_of(etcd):
                self.problems.append(
                    f"{host}: its inventory names no TLS files (etcd_env's ETCD_CERT_FILE, "
                    "ETCD_TRUSTED_CA_FILE, ..., etcd_cert, etcd_cacert): nothing to rotate"
                )
                continue
            wanted = [*bundles_of(etcd)[:1], *(leaf.cert for leaf in leaves_of(etcd))]
            files = self._read_all(host, wanted)
            for path in bundles_of(etcd)[:1]:
                text = self._missing(host, path, files)
                if text is not None:
                    self.bundles[host] = x509.parse_bundle(text)
                    if not self.bundles[host]:
                        self.problems.append(f"{path} on {host} holds no certificate")
            for leaf in leaves_of(etcd):
                text = self._missing(host, leaf.cert, files)
                if text is None:
                    continue
                try:
                    self.current[(host, leaf.cert)] = x509.parse(text)
                except ValueError:
                    self.problems.append(f"{leaf.cert} on {host} is not a certificate")

    def _read_all(self, host: str, paths: list[str]) -> dict[str, str | None] | None:
        """The files of one host, in one command; None (a refusal, named) when it cannot run."""
        try:
            return parse_files(self.reader.run(host, read_command(paths)).stdout)
        except Exception as exc:  # noqa: BLE001 - a host that cannot be read is a refusal, named
            self.problems.append(f"cannot read the TLS files on {host}: {exc}")
            return None

    def _missing(self, host: str, path: str, files: dict[str, str | None] | None) -> str | None:
        if files is None:
            return None
        text = files.get(path)
        if text is None:
            self.problems.append(f"{path} on {host} is missing or unreadable")
        return text

    def order(self) -> list[str]:
        """Followers first, the leader last."""
        return [h for h in self.members if h != self.leader] + [
            h for h in self.members if h == self.leader
        ]

    def cluster_bundle(self) -> tuple[x509.Cert, ...]:
        """Every CA the members trust now, each once, in the order the first member lists them."""
        seen: dict[str, x509.Cert] = {}
        for host in self.members:
            for ca in self.bundles.get(host, ()):
                seen.setdefault(ca.fingerprint, ca)
        return tuple(seen.values())


def phase_of(survey: Survey, new_ca: x509.Cert) -> str:
    """The first phase of a CA rotation not yet done on every live member."""
    if any(
        new_ca.fingerprint not in {c.fingerprint for c in survey.bundles.get(h, ())}
        for h in survey.members
    ):
        return "trust"
    if any(not x509.signed_by(c.pem, new_ca.pem) for c in survey.current.values()):
        return "reissue"
    if any(
        c.fingerprint != new_ca.fingerprint
        for h in survey.members
        for c in survey.bundles.get(h, ())
    ):
        return "drop"
    return "done"


def check_leaf(
    host: str,
    leaf: Leaf,
    cert_text: str,
    key_text: str,
    names: tuple[str, ...],
    cas: tuple[x509.Cert, ...],
    now: dt.datetime,
) -> tuple[x509.Cert | None, list[str]]:
    """A new leaf for a host: a certificate, valid now, matching its key, naming the host's URL
    hosts (server and peer), signed by one of the CAs."""
    where = f"{os.path.basename(leaf.cert)} for {host}"
    try:
        cert = x509.parse(cert_text)
    except ValueError:
        return None, [f"{where} is not a PEM certificate"]
    problems = []
    if not cert.valid_at(now):
        problems.append(
            f"{where} is not valid now (valid {cert.not_before:%Y-%m-%d %H:%M} to "
            f"{cert.not_after:%Y-%m-%d %H:%M} UTC)"
        )
    if not x509.key_matches(cert_text, key_text):
        problems.append(f"{where}: its key {os.path.basename(leaf.key)} does not match it")
    missing = [n for n in names if not cert.names(n)] if leaf.needs_names else []
    if missing:
        problems.append(
            f"{where} does not name {', '.join(missing)} (the host's client/peer URL host; its "
            f"SANs: {', '.join([*cert.dns, *cert.ips]) or 'none'})"
        )
    if x509.chains_to(cert_text, cas) is None:
        problems.append(f"{where} is not signed by {_names(cas)}")
    return cert, problems


def _names(cas: tuple[x509.Cert, ...]) -> str:
    return " or ".join(f"the CA {c.subject}" for c in cas) or "any CA (none known)"


# ----- making certificates (-p generate=true) -------------------------------------------------
def _openssl(*args: str) -> None:
    proc = subprocess.run(
        ["openssl", *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False
    )
    if proc.returncode != 0:  # openssl names files, never prints a key
        raise OSError(f"openssl {args[0]} failed: {proc.stderr.strip()[-300:]}")


def private_dir(folder: Path) -> None:
    """The folder, and the rotation folder it is in, readable by this user only (0700) before any
    key is written there: a key openssl has just written is never reachable by another user."""
    folder.mkdir(parents=True, exist_ok=True)
    for level in (folder, folder.parent) if folder.parent.name == "certs" else (folder,):
        level.chmod(0o700)


def make_leaf(
    out: Path,
    name: str,
    ca: x509.Cert,
    ca_key: str,
    subject_cn: str,
    sans: list[str],
    server: bool,
    days: int,
) -> tuple[Path, Path]:
    """out/NAME.pem and out/NAME-key.pem (RSA 2048, as kubespray makes them), signed by the CA with
    a random serial; made once (a resumed or reviewed run finds them)."""
    cert, key = out / f"{name}", out / f"{name}.key"
    if cert.is_file() and key.is_file():
        return cert, key
    private_dir(out)
    usage = "serverAuth,clientAuth" if server else "clientAuth"
    with tempfile.TemporaryDirectory() as tmp:
        ext, csr, ca_file = Path(tmp) / "ext.cnf", Path(tmp) / "req.csr", Path(tmp) / "ca.pem"
        ca_file.write_text(ca.pem)
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n" + (f"subjectAltName={','.join(sans)}\n" if sans else "")
        )
        part = key.with_name(key.name + ".part")
        _openssl("genrsa", "-out", str(part), "2048")
        part.chmod(0o600)
        _openssl("req", "-new", "-key", str(part), "-out", str(csr), "-subj", f"/CN={subject_cn}")
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_file),
            "-CAkey",
            ca_key,
            "-set_serial",
            f"0x{secrets.token_hex(16)}",
            "-days",
            str(days),
            "-sha256",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        )
        part.rename(key)
    return cert, key


def _cn(cert: x509.Cert | None, fallback: str) -> str:
    if cert is not None:
        for part in cert.subject.split(","):
            if part.startswith("CN="):
                return part[3:]
    return fallback


def _sans(cert: x509.Cert | None, names: tuple[str, ...]) -> list[str]:
    """The SANs of the certificate it replaces, with the host's URL hosts added."""
    found = [f"DNS:{d}" for d in (cert.dns if cert else ())]
    found += [f"IP:{i}" for i in (cert.ips if cert else ())]
    for name in names:
        try:
            entry = f"IP:{ipaddress.ip_address(name)}"
        except ValueError:
            entry = f"DNS:{name}"
        if entry not in found:
            found.append(entry)
    return found


# ----- the plan -------------------------------------------------------------------------------
@dataclass
class Inputs:
    folder: str = ""
    generate: bool = False
    ca: str = ""
    ca_key: str = ""
    days: int = 365


def plan_rotation(
    inventory: Inventory,
    reader: Reader,
    run: dict[str, str],
    leader: str | None,
    inputs: Inputs,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> dict[str, Any]:
    """The rotation as plain data: `phase`, `order`, `problems` (pre-flight: each one refuses the
    run), `text` (for the plan), and per host the files to stage and check (`hosts`)."""
    survey = Survey(inventory, reader, run["id"], run["stamp"], leader, now())
    survey.read_live()
    new_ca = _new_ca(inputs, survey)
    phase = "leaves" if new_ca is None else phase_of(survey, new_ca)
    if not survey.problems:
        _bundles_agree(survey, phase)
    hosts: dict[str, dict[str, Any]] = {h: _empty(survey, h) for h in survey.members}
    if phase in ("leaves", "reissue") and not survey.problems:
        cas = (new_ca,) if new_ca is not None and phase == "reissue" else survey.cluster_bundle()
        for host in survey.members:
            _plan_leaves(survey, inputs, host, cas, hosts[host])
    if phase in ("trust", "drop") and new_ca is not None and not survey.problems:
        _plan_bundles(survey, new_ca, phase, hosts)
    return {
        "mode": "leaves" if new_ca is None else "ca",
        "phase": phase,
        "phase_text": PHASES[phase],
        "order": survey.order(),
        "problems": list(survey.problems),
        "hosts": hosts,
        "text": _text(survey, phase, hosts),
    }


def _empty(survey: Survey, host: str) -> dict[str, Any]:
    etcd = survey.etcd(host)
    served = []
    for role, url in (("server", etcd.client_url), ("peer", etcd.peer_url)):
        key = dict((r, c) for r, c, _ in LEAF_KEYS)[role]
        cert = survey.current.get((host, etcd.env.get(key, "")))
        if url.startswith("https") and cert is not None:
            served.append(
                {
                    "url": url,
                    "cert": etcd.env.get(key, ""),
                    "serial": cert.serial,
                    "not_after": cert.not_after.isoformat(),
                }
            )
    return {
        "files": [],
        "checks": [],
        "served": served,
        "bundle": bundles_of(etcd)[0] if bundles_of(etcd) else "",
        "client": [etcd.cert or "", etcd.key or ""],
    }


def _new_ca(inputs: Inputs, survey: Survey) -> x509.Cert | None:
    if not inputs.ca:
        return None
    try:
        ca = x509.parse(Path(inputs.ca).read_text())
    except (OSError, ValueError) as exc:
        survey.problems.append(f"-p ca={inputs.ca}: not a readable PEM certificate ({exc})")
        return None
    if not ca.is_ca:
        survey.problems.append(f"-p ca={inputs.ca} is not a CA certificate (basicConstraints)")
    if not ca.valid_at(survey.now):
        survey.problems.append(f"-p ca={inputs.ca} is not valid now (to {ca.not_after:%Y-%m-%d})")
    return ca


def _bundles_agree(survey: Survey, phase: str) -> None:
    """Outside a CA rotation every member must trust the same CAs (else a new leaf one member
    accepts another may refuse)."""
    if phase != "leaves":
        return
    seen = {h: tuple(c.fingerprint for c in b) for h, b in survey.bundles.items()}
    if len(set(seen.values())) > 1:
        survey.problems.append(
            "the members' trust bundles differ (" + ", ".join(sorted(seen)) + "): finish the CA "
            "rotation first (-p ca=NEW_CA.pem)"
        )


def _plan_leaves(
    survey: Survey,
    inputs: Inputs,
    host: str,
    cas: tuple[x509.Cert, ...],
    out: dict[str, Any],
) -> None:
    etcd = survey.etcd(host)
    names = url_hosts(etcd)
    stamp = survey.stamp
    for leaf in leaves_of(etcd):
        src = _source(survey, inputs, host, leaf, cas, names)
        if src is None:
            continue
        cert_src, key_src = src
        # now, after any certificate was made (openssl dates a new one from this second)
        cert, problems = check_leaf(
            host,
            leaf,
            cert_src.read_text(),
            key_src.read_text(),
            names,
            cas,
            dt.datetime.now(dt.UTC),
        )
        survey.problems.extend(problems)
        if cert is None:
            continue
        for path, local in ((leaf.cert, cert_src), (leaf.key, key_src)):
            out["files"].append(
                {
                    "src": str(local),
                    "dest": path,
                    "staged": f"{path}.new-{stamp}",
                    "sha256": hashlib.sha256(local.read_bytes()).hexdigest(),
                }
            )
        out["checks"].append(
            {
                "cert": f"{leaf.cert}.new-{stamp}",
                "key": f"{leaf.key}.new-{stamp}",
                "names": list(names) if leaf.needs_names else [],
                "ca": out["bundle"],
                "what": os.path.basename(leaf.cert),
            }
        )
        for entry in out["served"]:
            if entry["cert"] == leaf.cert:
                entry.update(serial=cert.serial, not_after=cert.not_after.isoformat())


def _source(
    survey: Survey,
    inputs: Inputs,
    host: str,
    leaf: Leaf,
    cas: tuple[x509.Cert, ...],
    names: tuple[str, ...],
) -> tuple[Path, Path] | None:
    if inputs.generate:
        return _generated(survey, inputs, host, leaf, cas, names)
    if not inputs.folder:
        survey.problems.append("give the new files (-p dir=DIR) or -p generate=true -p ca_key=KEY")
        return None
    cert, key = source_of(inputs.folder, host, leaf.cert), source_of(inputs.folder, host, leaf.key)
    for path, found in ((leaf.cert, cert), (leaf.key, key)):
        if found is None:
            survey.problems.append(
                f"no new {os.path.basename(path)} for {host} in {inputs.folder} (looked for "
                f"{host}/{os.path.basename(path)} and {os.path.basename(path)})"
            )
    return (cert, key) if cert is not None and key is not None else None


def _generated(
    survey: Survey,
    inputs: Inputs,
    host: str,
    leaf: Leaf,
    cas: tuple[x509.Cert, ...],
    names: tuple[str, ...],
) -> tuple[Path, Path] | None:
    ca = _ca_of_key(survey, inputs, cas)
    if ca is None:
        return None
    current = survey.current.get((host, leaf.cert))
    out = paths.rotation_dir(survey.run_id) / host
    try:
        return make_leaf(
            out,
            os.path.basename(leaf.cert),
            ca,
            inputs.ca_key,
            _cn(current, f"etcd-{host}"),
            _sans(current, names) if leaf.needs_names else [],
            leaf.needs_names,
            inputs.days,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        survey.problems.append(f"cannot make {os.path.basename(leaf.cert)} for {host}: {exc}")
        return None


def _ca_of_key(survey: Survey, inputs: Inputs, cas: tuple[x509.Cert, ...]) -> x509.Cert | None:
    """The CA certificate whose key the operator gave (checked once per plan)."""
    if not inputs.ca_key:
        survey.problems.append("-p generate=true needs the CA's key: -p ca_key=PATH")
        return None
    try:
        key = Path(inputs.ca_key).read_text()
    except OSError as exc:
        survey.problems.append(f"-p ca_key: cannot read it ({exc.strerror})")
        return None
    ca = next((c for c in cas if x509.key_matches(c.pem, key)), None)
    if ca is None:
        problem = f"-p ca_key is not the key of {_names(cas)}"
        if problem not in survey.problems:
            survey.problems.append(problem)
    return ca


def _plan_bundles(
    survey: Survey, new_ca: x509.Cert, phase: str, hosts: dict[str, dict[str, Any]]
) -> None:
    if phase == "trust":
        old = [c for c in survey.cluster_bundle() if c.fingerprint != new_ca.fingerprint]
        cas = [*old, new_ca]
    else:
        cas = [new_ca]
    text = "".join(c.pem for c in cas)
    out = paths.rotation_dir(survey.run_id)
    private_dir(out)
    bundle = out / f"ca-bundle-{phase}.pem"
    if not bundle.is_file():
        bundle.write_text(text)
    digest = sha256_text(bundle.read_text())
    for host in survey.members:
        etcd = survey.etcd(host)
        for path in bundles_of(etcd):
            hosts[host]["files"].append(
                {
                    "src": str(bundle),
                    "dest": path,
                    "staged": f"{path}.new-{survey.stamp}",
                    "sha256": digest,
                }
            )
        staged = f"{hosts[host]['bundle']}.new-{survey.stamp}"
        for leaf in leaves_of(etcd):  # what the host holds must chain to the new bundle
            hosts[host]["checks"].append(
                {
                    "cert": leaf.cert,
                    "key": leaf.key,
                    "names": [],
                    "ca": staged,
                    "what": os.path.basename(leaf.cert),
                }
            )


def _text(survey: Survey, phase: str, hosts: dict[str, dict[str, Any]]) -> str:
    lines = [f"PHASE: {PHASES[phase]}"]
    verb = "presents" if phase == "done" else "will present"
    for host in survey.members:
        cas = ", ".join(c.subject for c in survey.bundles.get(host, ())) or "unread"
        lines.append(f"  {host}: trusts {cas}")
        for entry in hosts[host]["served"]:
            lines.append(
                f"    {entry['url']} {verb} serial {entry['serial']} "
                f"(expires {entry['not_after'][:10]})"
            )
    if phase != "done":
        lines.append("order: " + ", ".join(survey.order()) + " (followers first, the leader last)")
    return "\n".join(lines)


def helper(
    inventory: Inventory, reader: Reader, run: dict[str, str], leader: str | None
) -> Callable[..., dict[str, Any]]:
    """`cert_rotation(dir=, generate=, ca=, ca_key=, days=)` for the runbook's vars: the rotation
    planned from the members' files, read through the plan's read-only probe."""

    def cert_rotation(
        dir: str = "", generate: bool = False, ca: str = "", ca_key: str = "", days: int = 365
    ) -> dict[str, Any]:
        inputs = Inputs(str(dir or ""), bool(generate), str(ca or ""), str(ca_key or ""), int(days))
        return plan_rotation(inventory, reader, run, leader, inputs)

    return cert_rotation
