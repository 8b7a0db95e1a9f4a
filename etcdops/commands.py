"""Commands as objects: every value quoted where the command is built, secrets never in argv.

A ``Command`` has the text that runs, the text people see (secrets masked) and ``env``:
secrets (etcd's ``ETCDCTL_USER``) that the transport hands to the remote shell over the SSH
channel's stdin, so they never appear in any process's arguments on any host
(``/proc/PID/cmdline`` is world-readable). The shell reads each into a variable it does not
export (``held(NAME)``); only the etcdctl invocations that need it get it, as an assignment
in front of them (``ETCDCTL_USER="$_etcdops_ETCDCTL_USER" etcdctl ...``), so no other process
of the script (curl, df, stat, awk...) has it in its environment.

A plan shows every command its run executes. A value known only when the step runs (a
revision, a member id, an owner read from the host) is a ``Live`` placeholder: the plan
shows ``<REVISION>``, and ``fill(REVISION=...)`` gives the command that runs, its value
quoted like any other, remembering the planned command it came from (``planned``). A
read-only command (a stat, a status, etcd's gateway) is marked ``read_only``: the plan lists
those as the step's reads.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from etcdops.inventory import EtcdConfig
from etcdops.templating import Raw, Secret, ShellFragment, quote, revealed

DIAL_TIMEOUT = "2s"
COMMAND_TIMEOUT = "5s"
AND = Raw("&&")
PIPE = Raw("|")
# a placeholder in the text that runs: NUL never comes from any input (specs refuse it)
_SLOT = re.compile("\x00([A-Z][A-Z0-9_]*)\x00")
AUTH_VAR = "ETCDCTL_USER"  # etcdctl reads NAME:PASSWORD from it: never a flag (argv is public)


@dataclass(frozen=True)
class Live:
    """A value known only when the step runs: `<NAME>` in the plan, filled by Command.fill."""

    name: str
    prefix: str = ""  # written before it in the same word: `--endpoints=<LEADER>`

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", self.name):
            raise ValueError(f"a placeholder is named in capitals: {self.name!r}")


@dataclass(frozen=True)
class Command:
    """A shell command: ``text`` runs, ``display`` is what plans and logs show."""

    text: str = field(repr=False)
    display: str
    env: tuple[tuple[str, Secret], ...] = field(default=(), repr=False)  # secrets, sent over stdin
    read_only: bool = False  # changes nothing: the plan lists it among the step's reads
    origin: str = ""  # the planned command this one was filled from ("": itself)

    def __str__(self) -> str:
        return self.display

    @property
    def planned(self) -> str:
        """The command as the plan shows it: what a run's journal ties this one to."""
        return self.origin or self.display

    @property
    def unfilled(self) -> tuple[str, ...]:
        return tuple(_SLOT.findall(self.text))

    def fill(self, **values: object) -> Command:
        """The command that runs: each placeholder replaced by its value, quoted."""
        missing = sorted(set(self.unfilled) - set(values))
        if missing:
            raise ValueError(f"no value for {', '.join(missing)} in: {self.display}")
        text, display = self.text, self.display
        for name, value in values.items():
            with revealed():
                text = text.replace(f"\x00{name}\x00", quote(value))
            display = display.replace(f"<{name}>", quote(value))
        return replace(self, text=text, display=display, origin=self.planned)

    def reads(self) -> Command:
        """The same command, declared read-only."""
        return replace(self, read_only=True)

    @property
    def first_line(self) -> str:
        line = self.display.strip().splitlines()[0] if self.display.strip() else ""
        return line if len(line) <= 160 else line[:157] + "..."

    def then(self, other: Command, joiner: str = "&&") -> Command:
        return Command(
            f"{self.text} {joiner} {other.text}",
            f"{self.display} {joiner} {other.display}",
            _merge(self.env, other.env),
            self.read_only and other.read_only,
        )

    def revealed_env(self) -> dict[str, str]:
        return {name: value.reveal() for name, value in self.env}


def _merge(
    a: tuple[tuple[str, Secret], ...], b: tuple[tuple[str, Secret], ...]
) -> tuple[tuple[str, Secret], ...]:
    names = {n for n, _ in a}
    return a + tuple(item for item in b if item[0] not in names)


def sh(*parts: object, env: Iterable[tuple[str, Secret]] = ()) -> Command:
    """One command from parts, each shell-quoted unless it is ``Raw`` (an operator, a redirection)
    or ``Live`` (a placeholder filled when the step runs)."""
    display = " ".join(_shown(p) for p in parts)
    with revealed():
        text = " ".join(_run(p) for p in parts)
    return Command(text, display, tuple(env))


def _shown(part: object) -> str:
    if isinstance(part, Live):
        return f"{quote(part.prefix) if part.prefix else ''}<{part.name}>"
    return quote(part)


def _run(part: object) -> str:
    if isinstance(part, Live):
        return f"{quote(part.prefix) if part.prefix else ''}\x00{part.name}\x00"
    return quote(part)


def trusted(text: str, env: Iterable[tuple[str, Secret]] = ()) -> Command:
    """Shell text the inventory owns (its start/stop/status commands): run as written."""
    return Command(text, text, tuple(env))


def held(name: str) -> str:
    """The shell variable, not exported, that holds the secret NAME read from stdin."""
    return f"_etcdops_{name}"


def auth_prefix(etcd: EtcdConfig | None) -> str:
    """`ETCDCTL_USER="$_etcdops_ETCDCTL_USER"` in front of an etcdctl invocation when the host uses
    etcd auth (the value comes from stdin, see transport.env_prelude), else nothing."""
    if etcd is None or not etcd.user:
        return ""
    return f'{AUTH_VAR}="${held(AUTH_VAR)}"'


def auth_env(etcd: EtcdConfig | None) -> tuple[tuple[str, Secret], ...]:
    """etcd auth for etcdctl as ETCDCTL_USER=NAME:PASSWORD: an environment variable, never a
    flag."""
    if etcd is None or not etcd.user:
        return ()
    password = etcd.password.reveal() if etcd.password is not None else ""
    return ((AUTH_VAR, Secret(f"{etcd.user}:{password}" if password else etcd.user)),)


def tls_flags(etcd: EtcdConfig) -> list[str]:
    return [
        f"{flag}={value}"
        for flag, value in (("--cacert", etcd.cacert), ("--cert", etcd.cert), ("--key", etcd.key))
        if value
    ]


def etcdctl(
    etcd: EtcdConfig,
    *args: object,
    endpoints: str | list[str] | Live | None = None,
    command_timeout: str | Live = COMMAND_TIMEOUT,
    auth: bool = True,
) -> Command:
    """`etcdctl` of a host against its own member (or endpoints), with its TLS files and auth."""
    if isinstance(endpoints, list):
        endpoints = ",".join(endpoints)
    if isinstance(endpoints, Live):
        endpoints = Live(endpoints.name, prefix="--endpoints=")
    parts: list[object] = [
        etcd.etcdctl,
        endpoints if isinstance(endpoints, Live) else f"--endpoints={endpoints or etcd.client_url}",
        f"--dial-timeout={DIAL_TIMEOUT}",
        Live(command_timeout.name, prefix="--command-timeout=")
        if isinstance(command_timeout, Live)
        else f"--command-timeout={command_timeout}",
        *tls_flags(etcd),
        *args,
    ]
    command = sh(*parts, env=auth_env(etcd) if auth else ())
    prefix = auth_prefix(etcd) if auth else ""
    if not prefix:
        return command
    # the plan shows the command as the operator types it; the credential's variable is named in
    # the text that runs only (like a masked secret)
    return replace(command, text=f"{prefix} {command.text}")


def uses_etcdutl(version: str | None) -> bool:
    """etcd 3.5 moved the offline snapshot commands to etcdutl; 3.4 has them in etcdctl."""
    return not (version or "").startswith("3.4")


def snapshot_tool(etcd: EtcdConfig, version: str | None) -> Command:
    """The offline snapshot tool of a host: etcdutl (3.5+) or ETCDCTL_API=3 etcdctl (3.4)."""
    return sh(etcd.etcdutl) if uses_etcdutl(version) else sh(etcd.etcdctl)


def with_args(base: Command, *args: object) -> Command:
    tail = sh(*args)
    return Command(f"{base.text} {tail.text}", f"{base.display} {tail.display}", base.env)


def join_lines(commands: Iterable[Command]) -> Command:
    items = list(commands)
    env: tuple[tuple[str, Secret], ...] = ()
    for c in items:
        env = _merge(env, c.env)
    return Command("\n".join(c.text for c in items), "\n".join(c.display for c in items), env)


def words(command: Command) -> list[str]:
    """The command's words as the shell splits them (for tests and plan checks)."""
    return shlex.split(command.text)


def etcdctl_fragment(
    etcd: EtcdConfig,
    endpoints: str | None = None,
    command_timeout: str = COMMAND_TIMEOUT,
    auth: bool = True,
) -> ShellFragment:
    """`host.etcdctl` for templates (users' own `command:` steps) and the facts script: the
    host's etcdctl with its endpoint and TLS flags as a shell fragment. etcd auth is never a
    flag: ETCDCTL_USER goes over stdin (Command.env) into a shell variable, and the fragment
    that runs (ShellFragment.shell) passes it to this etcdctl only; printed, it reads as the
    operator would type it."""
    prefix = auth_prefix(etcd) if auth else ""
    return ShellFragment(
        etcd.etcdctl,
        f"--endpoints={endpoints or etcd.client_url}",
        f"--dial-timeout={DIAL_TIMEOUT}",
        f"--command-timeout={command_timeout}",
        *tls_flags(etcd),
        prefix=(Raw(prefix),) if prefix else (),
    )


def etcdutl_fragment(etcd: EtcdConfig) -> ShellFragment:
    return ShellFragment(etcd.etcdutl)
