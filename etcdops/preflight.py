"""Typed pre-flight probes: read-only checks of a host at plan time, output parsed in Python.

A runbook names one with its host (`data_dir_empty: "{{ params.host }}"`); the probe builds
its command, runs it through the plan's read-only probe and judges the result.
"""

from __future__ import annotations

from typing import Protocol

from etcdops.commands import Command, Raw, etcdctl, sh
from etcdops.facts.parse import parse_version
from etcdops.inventory import Host
from etcdops.transport import Result


class Runner(Protocol):
    def run(self, host: str, command: Command) -> Result: ...


class HostProbe:
    """A probe: a read-only command on the host (`command`), its output judged in Python
    (`judge`)."""

    def command(self, host: Host) -> Command:
        raise NotImplementedError

    def judge(self, host: Host, out: str) -> tuple[bool, str]:
        raise NotImplementedError

    def output(self, runner: Runner, host: Host) -> tuple[str | None, str]:
        """(the command's stdout, "") or (None, why it could not run): a probe that cannot run
        fails, named."""
        if host.etcd is None:
            return None, f"{host.name} has no etcd settings"
        try:
            return runner.run(host.name, self.command(host)).stdout, ""
        except Exception as exc:  # noqa: BLE001 - a probe that cannot run is a failed check, named
            return None, f"cannot check {host.name}: {exc}"

    def check(self, runner: Runner, host: Host, file: str, line: int) -> tuple[bool, str]:
        out, why = self.output(runner, host)
        return (False, why) if out is None else self.judge(host, out)


class DataDirEmpty(HostProbe):
    """The host's data dir (and WAL dir) is absent or empty: nothing of a previous member is
    left."""

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        dirs = [host.etcd.data_dir, *([host.etcd.wal_dir] if host.etcd.wal_dir else [])]
        return sh(
            "find",
            *dirs,
            "-mindepth",
            "1",
            "-maxdepth",
            "1",
            "-print",
            Raw("2>/dev/null | head -n 3"),
        )

    def judge(self, host: Host, out: str) -> tuple[bool, str]:
        assert host.etcd is not None
        entries = [line for line in out.splitlines() if line.strip()]
        if entries:
            return False, (
                f"{host.etcd.data_dir} on {host.name} is not empty (holds {', '.join(entries)}: a "
                "previous member?); -p wipe=true moves it aside"
            )
        return True, ""


class MemberCerts(HostProbe):
    """The TLS files a joining host's etcd.env will name (etcd_env / the profile) exist and are
    readable on it, its certificates are valid now and signed by the CA it trusts, and that CA is
    the cluster's (the same file content as a current member's etcd_cacert). Read on the host."""

    CERTS = (
        ("ETCD_CERT_FILE", "ETCD_TRUSTED_CA_FILE"),
        ("ETCD_PEER_CERT_FILE", "ETCD_PEER_TRUSTED_CA_FILE"),
    )
    KEYS = ("ETCD_KEY_FILE", "ETCD_PEER_KEY_FILE")

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        env = host.etcd.env
        parts: list[object] = []
        for key in (*self.KEYS, *(c for pair in self.CERTS for c in pair)):
            if env.get(key):
                parts += [
                    Raw("{ test -r"),
                    env[key],
                    Raw("&& echo"),
                    f"readable {key}",
                    Raw("|| echo"),
                    f"missing {key}",
                    Raw("; };"),
                ]
        for cert_key, ca_key in self.CERTS:
            if env.get(cert_key) and env.get(ca_key):
                parts += [
                    Raw("{ openssl x509 -noout -checkend 0 -in"),
                    env[cert_key],
                    Raw(">/dev/null 2>&1 && echo"),
                    f"valid {cert_key}",
                    Raw("|| echo"),
                    f"expired {cert_key}",
                    Raw(";"),
                    Raw("openssl verify -CAfile"),
                    env[ca_key],
                    env[cert_key],
                    Raw(">/dev/null 2>&1 && echo"),
                    f"signed {cert_key}",
                    Raw("|| echo"),
                    f"unsigned {cert_key}",
                    Raw("; };"),
                ]
        if env.get("ETCD_TRUSTED_CA_FILE"):
            parts += [
                Raw("sha256sum"),
                env["ETCD_TRUSTED_CA_FILE"],
                Raw("2>/dev/null | sed 's/^/ca /'"),
            ]
        return sh(*parts) if parts else sh("true")

    def check(
        self,
        runner: Runner,
        host: Host,
        file: str,
        line: int,
        cluster_ca: str = "",
        ca_host: str = "",
    ) -> tuple[bool, str]:
        if host.etcd is None:
            return False, f"{host.name} has no etcd settings"
        env = host.etcd.env
        if not any(env.get(k) for k in (*self.KEYS, "ETCD_CERT_FILE", "ETCD_PEER_CERT_FILE")):
            return True, "no TLS files in its etcd.env"
        out, why = self.output(runner, host)
        if out is None:
            return False, why
        problems = []
        for word, _, key in (line.partition(" ") for line in out.splitlines()):
            if word == "missing":
                problems.append(f"{env[key]} ({key}) is missing or unreadable")
            elif word == "expired":
                problems.append(f"{env[key]} ({key}) is expired or not yet valid")
            elif word == "unsigned":
                problems.append(f"{env[key]} ({key}) is not signed by the CA it trusts")
        theirs = next((line.split()[1] for line in out.splitlines() if line.startswith("ca ")), "")
        if cluster_ca and theirs and theirs != cluster_ca:
            problems.append(
                f"its CA {env['ETCD_TRUSTED_CA_FILE']} is not the cluster's (the one {ca_host} "
                "uses)"
            )
        if problems:
            return False, f"on {host.name}: " + "; ".join(problems)
        return True, ""


class EtcdInstalled(HostProbe):
    """etcd and etcdctl are installed on the host, where the inventory says (etcd_bin_dir): a join
    that does not install them itself (-p install=false) would otherwise add a learner that never
    starts."""

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        return sh(
            host.etcd.etcd, "--version", Raw("2>&1;"), host.etcd.etcdctl, "version", Raw("2>&1")
        )

    def judge(self, host: Host, out: str) -> tuple[bool, str]:
        assert host.etcd is not None
        etcd, etcdctl = parse_version(out)
        missing = [
            path
            for path, version in ((host.etcd.etcd, etcd), (host.etcd.etcdctl, etcdctl))
            if not version
        ]
        if missing:
            return False, (
                f"on {host.name}: {' and '.join(missing)} not installed or not runnable "
                "(-p install=true installs them with playbooks/install-etcd.yml)"
            )
        return True, f"etcd {etcd}, etcdctl {etcdctl}"


class AuthDisabled(HostProbe):
    """etcd auth is off (3.4 -> 3.5 is no rolling upgrade with it on: upgrade_3_5, etcd#11943).
    3.4 has no `auth status`: a login with a user that cannot exist answers "authentication is
    not enabled" when auth is off, "authentication failed" when it is on (etcdops.versions'
    Requirement). The probe's user and password are no secret: they are refused either way."""

    NOT_ENABLED = "authentication is not enabled"
    SOURCE = "https://etcd.io/docs/v3.5/upgrades/upgrade_3_5/"

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        probe = etcdctl(host.etcd, "--user=etcdops-probe:x", "get", "etcdops-probe", auth=False)
        return probe.then(sh(Raw("2>&1; true")), joiner="")

    def judge(self, host: Host, out: str) -> tuple[bool, str]:
        if self.NOT_ENABLED in out:
            return True, "etcd auth is disabled"
        if "authentication failed" in out or "invalid auth" in out:
            return False, (
                f"etcd auth is enabled (on {host.name}): etcd does not support a rolling upgrade "
                "from 3.4 to 3.5 while auth is enabled, because 3.5 changes the WAL format of "
                f"auth entries ({self.SOURCE} 'Upgrade checklists', etcd#11943); disable auth for "
                "the upgrade or upgrade offline from a snapshot"
            )
        last = (out.strip().splitlines() or ["no answer"])[-1]
        return False, f"cannot tell whether etcd auth is enabled on {host.name}: {last}"


class V2StoreClean(HostProbe):
    """`etcdutl check v2store` finds no custom v2 content in the member's data dir (and WAL): 3.6
    does not start on it (upgrade_3_6 'V2 Store'). Trustworthy from etcdutl 3.5.32 (etcd#21889)."""

    CLEAN = "No custom content found"
    SOURCE = "https://etcd.io/docs/v3.6/upgrades/upgrade_3_6/"

    def command(self, host: Host) -> Command:
        assert host.etcd is not None
        wal = ["--wal-dir", host.etcd.wal_dir] if host.etcd.wal_dir else []
        check = sh(host.etcd.etcdutl, "check", "v2store", "--data-dir", host.etcd.data_dir, *wal)
        return check.then(sh(Raw("2>&1; echo exit=$?")), joiner="")

    def judge(self, host: Host, out: str) -> tuple[bool, str]:
        if self.CLEAN in out and "exit=0" in out:
            return True, "no custom v2 content"
        last = out.replace("exit=", "exit code ").strip().splitlines() or ["no answer"]
        said = "; ".join(last[-2:])
        return False, (
            f"`etcdutl check v2store` on {host.name} did not come back clean ({said}): "
            f"3.6 will not start on custom v2 content; clean it as {self.SOURCE} 'V2 Store' "
            "says, then check again"
        )


PROBES: dict[str, HostProbe] = {
    "data_dir_empty": DataDirEmpty(),
    "member_certs": MemberCerts(),
    "etcd_installed": EtcdInstalled(),
    "auth_disabled": AuthDisabled(),
    "v2store_clean": V2StoreClean(),
}
