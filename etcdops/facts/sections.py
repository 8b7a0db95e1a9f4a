"""The facts script's output, section by section, into a host's facts: each section's output is
parsed by the parser of its kind (parse.py, gateway.py, certs.py, tls.py, aside.py, versions.py)."""

from __future__ import annotations

import json

from etcdops.errors import missing_tool, missing_tool_advice
from etcdops.facts import gateway
from etcdops.facts import versions as installed
from etcdops.facts.aside import parse_listing
from etcdops.facts.certs import parse_certs
from etcdops.facts.model import Alarm, EndpointStatus, HostFacts, Member
from etcdops.facts.parse import (
    ParseError,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    parse_status_alarms,
)
from etcdops.facts.script import SECTIONS
from etcdops.facts.tls import Cause, diagnose, parse_client_check
from etcdops.inventory import EtcdConfig, Host


class ClusterView:
    """What the hosts' outputs tell about the cluster as a whole: the member list (the leader's
    wins), the cluster id and the alarms."""

    def __init__(self) -> None:
        self.members: list[Member] | None = None
        self.cluster_id: int | None = None
        self.alarms: list[Alarm] = []


def split_sections(output: str) -> dict[str, tuple[int, str, str]]:
    """@@-marked output → {section: (exit code, stdout, its non-empty stderr lines)}."""
    sections: dict[str, tuple[int, str, str]] = {}
    name: str | None = None
    body: list[str] = []
    stderr: list[str] = []
    rc, in_stderr = 0, False

    def close() -> None:
        if name:
            sections[name] = (
                rc,
                "\n".join(body),
                "\n".join(line for line in stderr if line.strip()),
            )

    for line in output.splitlines():
        if line.startswith("@@rc "):
            rc = int(line[5:].strip() or 1)
        elif line == "@@stderr":
            in_stderr = True
        elif line.startswith("@@") and line[2:] in SECTIONS:
            close()
            name, body, stderr, rc, in_stderr = line[2:], [], [], 0, False
        elif in_stderr:
            stderr.append(line)
        else:
            body.append(line)
    close()
    return sections


def host_facts_from_output(
    host: Host,
    output: str,
    cluster: ClusterView | None = None,
    known: dict[str, dict[str, str]] | None = None,
    fresh: dict[str, dict[str, str]] | None = None,
) -> HostFacts:
    assert host.etcd is not None
    return host_facts_from_sections(
        host, _from_gateway(host.etcd, split_sections(output)), cluster, known, fresh
    )


def host_facts_from_sections(
    host: Host,
    sec: dict[str, tuple[int, str, str]],
    cluster: ClusterView | None = None,
    known: dict[str, dict[str, str]] | None = None,
    fresh: dict[str, dict[str, str]] | None = None,
    through: str = "",
) -> HostFacts:
    """A host's facts from its sections (the facts script's, or its gateway's answers read through
    the member host `through`)."""
    assert host.etcd is not None
    etcd_version, ctl_version = installed.parse(
        host,
        sec.get("version", (1, "", ""))[1],
        known or {},
        fresh if fresh is not None else {},
    )
    status: EndpointStatus | None = None
    error = None
    cause = None
    member_ids: tuple[int, ...] | None = None
    certs = parse_certs(sec["certs"][1], host, known, fresh) if "certs" in sec else ()
    aside, data_fs = parse_listing(sec["aside"][1], host.etcd) if "aside" in sec else ((), None)
    try:
        rc, out, err = sec.get("status", (1, "", "no output"))
        if rc == 0:
            status = parse_endpoint_status(out)[0]
        elif (missing := missing_tool(err)) is not None:
            # etcd listens (a stopped etcd is named before etcdctl runs): it is etcdops' tool
            # that is not where the inventory says, not the member that is down
            cause = Cause(True, f"not read: {missing_tool_advice(missing)}")
            error = cause.text
        else:
            client = parse_client_check(sec["tls"][1]) if "tls" in sec else None
            cause = diagnose(err, client)
            last = _last(err) or f"etcdctl exited {rc}"
            if cause:
                if cause.reachable:
                    error = cause.text
                else:
                    error = f"{cause.text} (etcdctl: {last})"
            else:
                error = last
        rc, out, err = sec.get("health", (1, "", ""))
        healthy, health_error = (False, _last(err) or None)
        if status is not None and status.is_learner:
            # learners do not serve the linearizable read of `endpoint health`: answering status is
            # it
            healthy, health_error = True, None
        elif status is not None and "health" not in sec and "members" in sec:
            # the linearizable member list stood for endpoint health (see facts_script)
            m_rc, _, m_err = sec["members"]
            healthy, health_error = (
                (True, None) if m_rc == 0 else (False, _last(m_err) or f"etcdctl exited {m_rc}")
            )
        elif rc == 0 or out.strip().startswith("["):
            healthy, health_error = parse_endpoint_health(out).get(
                host.etcd.client_url, (False, None)
            )
            if not healthy and health_error and "Active Alarm" in health_error:
                # etcdctl calls a member with an alarm (NOSPACE) unhealthy; it is up and serving
                # reads, and the alarm is reported on its own
                healthy, health_error = True, None
        if status is not None and cluster is not None:
            cluster.alarms.extend(
                a for a in parse_status_alarms(status.errors) if a not in cluster.alarms
            )
        rc, out, _ = sec.get("members", (1, "", ""))
        if rc == 0:
            cluster_id, members = parse_member_list(out)
            member_ids = tuple(sorted(m.id for m in members))
            if cluster is not None and (
                cluster.members is None or (status is not None and status.is_leader)
            ):
                cluster.cluster_id, cluster.members = cluster_id, members  # the leader's list wins
    except (ParseError, KeyError, IndexError, ValueError) as exc:
        error = f"unexpected etcdctl output: {exc}"
        healthy, health_error = False, None
    return HostFacts(
        host=host.name,
        reachable=True,
        status=status,
        healthy=healthy and status is not None,
        health_error=health_error,
        error=error,
        etcd_version=etcd_version or (status.version if status is not None else None),
        etcdctl_version=ctl_version,
        member_ids=member_ids,
        answers=bool(cause and cause.reachable),
        certs=certs,
        aside=aside,
        data_fs=data_fs,
        through=through,
    )


class GatewayUnfit(Exception):
    """The gateway answered, but its member list does not stand for health (a 3.4 server running
    although the installed etcd is 3.5+): read again through etcdctl."""


def _from_gateway(
    etcd: EtcdConfig, sec: dict[str, tuple[int, str, str]]
) -> dict[str, tuple[int, str, str]]:
    """The gateway's answers as the etcdctl sections they stand for: status in endpoint status's
    shape, the member list as it is when it answered (it stands for health), its error otherwise,
    nothing for a learner (which serves no linearizable read, as the etcdctl path never asks it)."""
    if "gateway" not in sec:
        return sec
    # printed by the script only when status answered 200 (curl's stderr: none)
    _, body, _ = sec.pop("gateway")
    url = etcd.client_url
    answers = gateway.parse(body, gateway.requests_of([url], ("status", "members")))
    sec.update(gateway_sections(url, answers.get(("status", url)), answers.get(("members", url))))
    return sec


def gateway_sections(
    url: str, status_answer: gateway.Answer | None, members_answer: gateway.Answer | None
) -> dict[str, tuple[int, str, str]]:
    """A member's gateway answers as the etcdctl sections they stand for (see _from_gateway)."""
    status = gateway.status_of(status_answer)
    if status is None:
        raise GatewayUnfit("status is not etcd's")
    if not gateway.linearizable(status):
        raise GatewayUnfit("a 3.4 server's member list is not linearizable")
    sec = {"status": (0, json.dumps([{"Endpoint": url, "Status": status}]), "")}
    if status.get("isLearner"):
        return sec
    if gateway.proves_health(status, members_answer):
        assert members_answer is not None
        sec["members"] = (0, members_answer.body, "")
    else:
        sec["members"] = (1, "", gateway.error_of(members_answer))
    return sec


def _last(err: str) -> str:
    """etcdctl's last word (its own summary line), when no cause could be named."""
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
