"""`etcd_service`: start, stop or restart etcd on a host with the inventory's service commands.

`stopped` is verified, not assumed: the status command says inactive AND nothing listens on the
member's client and peer ports (on its address or the wildcard), read from /proc/net/tcp. A
restore or a data-dir move must never start while the old process still answers its peers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from etcdops.commands import Command, Raw, sh, trusted
from etcdops.errors import StepFailed
from etcdops.facts.parse import listening_on, parse_listeners
from etcdops.inventory import EtcdConfig
from etcdops.steps.base import Action, ExecContext, Outcome, StepContext, StepKind
from etcdops.steps.spec import spec_field

STOP_POLL = 0.2  # s between checks that etcd has exited


FORCE = "ETCD_FORCE_NEW_CLUSTER"


@dataclass(frozen=True)
class ServiceSpec:
    state: Literal["started", "stopped", "restarted"] = spec_field(
        "started, stopped (verified) or restarted"
    )
    new_cluster: bool = spec_field(
        f"started with {FORCE}=true in the host's etcd.env (recover): the cluster becomes this one "
        "member; checked in the file before it starts",
        False,
    )


@dataclass(frozen=True, kw_only=True)
class ServiceAction(Action):
    state: str
    status: Command
    change: Command
    listeners: Command
    ports: tuple[tuple[str, int], ...]
    host: str = ""
    env: Command | None = None  # new_cluster: the flag read from etcd.env before the start

    @property
    def membership(self) -> tuple[str, str] | None:
        return ("new_cluster", self.host) if self.env is not None else None


def member_ports(etcd: EtcdConfig) -> tuple[tuple[str, int], ...]:
    """(address, port) of the member's client and peer URLs (and its listen URLs, when they
    differ)."""
    found: list[tuple[str, int]] = []
    for url in (etcd.client_url, etcd.peer_url, *etcd.listen_urls):
        parts = urlsplit(url)
        item = (parts.hostname or "", parts.port or 0)
        if item not in found:
            found.append(item)
    return tuple(found)


def listeners_command() -> Command:
    return sh("cat", "/proc/net/tcp", "/proc/net/tcp6", Raw("2>/dev/null")).reads()


def status_command(etcd: EtcdConfig) -> Command:
    """The inventory's status command: exit 0 when etcd is active. It only reads (by contract with
    the inventory, as systemctl is-active does)."""
    return trusted(etcd.status_cmd).reads()


@dataclass(frozen=True)
class ServiceState:
    active: bool
    open_ports: tuple[str, ...]

    @property
    def stopped(self) -> bool:
        return not self.active and not self.open_ports

    def describe(self) -> str:
        if self.stopped:
            return "inactive, ports closed"
        return ("active" if self.active else "inactive") + (
            f", still listening on {', '.join(self.open_ports)}" if self.open_ports else ""
        )


def read_state(
    ex: ExecContext, status: Command, listeners: Command, ports: tuple[tuple[str, int], ...]
) -> ServiceState:
    active = ex.run(status, check=False).ok
    table = parse_listeners(ex.run(listeners, check=False).stdout)
    open_ports = tuple(f"{a}:{p}" for a, p in ports if listening_on(table, a, p))
    return ServiceState(active, open_ports)


class EtcdServiceKind(StepKind[ServiceSpec, ServiceAction]):
    name = "etcd_service"
    summary = "start, stop (verified: no process, ports closed) or restart etcd on the hosts"
    Spec = ServiceSpec
    shorthand = "state"

    def plan(self, spec: ServiceSpec, ctx: StepContext) -> ServiceAction:
        etcd = ctx.etcd
        ports = member_ports(etcd)
        where = ", ".join(f"{a}:{p}" for a, p in ports)
        change = trusted(
            {"started": etcd.start_cmd, "stopped": etcd.stop_cmd, "restarted": etcd.restart_cmd}[
                spec.state
            ]
        )
        intent = {
            "stopped": f"stop etcd on {ctx.host} and verify it has exited (service inactive, "
            "nothing "
            f"listening on {where} or the wildcard)",
            "started": f"start etcd on {ctx.host} (unless it is running)",
            "restarted": f"restart etcd on {ctx.host}",
        }[spec.state]
        status, listeners = status_command(etcd), listeners_command()
        reads: tuple[Command, ...] = (status, listeners) if spec.state == "stopped" else (status,)
        env = None
        if spec.new_cluster:
            if spec.state != "started":
                raise ctx.error("etcd_service.new_cluster goes with state: started")
            env = sh("grep", "-sx", f"{FORCE}=true", etcd.env_file).reads()
            intent += (
                f", as a new cluster of this one member with all of its data ({FORCE}=true in "
                f"{etcd.env_file}, checked first)"
            )
            reads += (env,)
        return ServiceAction(
            intent=intent,
            commands=(change,),
            reads=() if spec.state == "restarted" else reads,
            state=spec.state,
            status=status,
            change=change,
            listeners=listeners,
            ports=ports,
            host=ctx.host,
            env=env,
        )

    def execute(self, action: ServiceAction, ex: ExecContext) -> Outcome:
        if action.state == "restarted":
            ex.run(action.change)
            return Outcome.changed("restarted")
        if action.state == "started":
            if ex.run(action.status, check=False).ok:
                return Outcome.ok("already running")
            if action.env is not None and not ex.run(action.env, check=False).ok:
                raise StepFailed(
                    ex.step,
                    ex.host,
                    f"its etcd.env does not set {FORCE}=true: not starting it as a new cluster",
                )
            out = ex.run(action.change).stdout.strip()
            return Outcome.changed(out.splitlines()[-1] if out else "started")
        state = read_state(ex, action.status, action.listeners, action.ports)
        if state.stopped:
            return Outcome.ok(f"already stopped ({state.describe()})")
        ex.run(action.change)

        def exited() -> tuple[bool, str]:
            now = read_state(ex, action.status, action.listeners, action.ports)
            return now.stopped, now.describe()

        ex.poll(exited, f"etcd on {ex.host} has exited", STOP_POLL)
        return Outcome.changed(
            "stopped and verified: service inactive, client and peer ports closed"
        )
