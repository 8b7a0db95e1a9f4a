"""Plans and cluster status as plain data (JSON): what saved plans, journals, reports and `-o json`
hold. The text people read is output.py's."""

from __future__ import annotations

import json
from typing import Any

from etcdops.facts.model import ClusterFacts, hex_id, quorum, tolerance
from etcdops.impact import impact_lines
from etcdops.plan import Plan, PlannedStep
from etcdops.steps.template import WriteFileAction

PLAN_SCHEMA = 1


def status_dict(facts: ClusterFacts) -> dict[str, Any]:
    voters = len(facts.voters)
    return {
        "cluster_id": hex_id(facts.cluster_id) if facts.cluster_id else None,
        "healthy": facts.healthy,
        "leader": facts.leader_host,
        "leader_id": hex_id(facts.leader_id) if facts.leader_id else None,
        "voters": voters,
        "learners": len(facts.learners),
        "healthy_voters": len(facts.healthy_voters),
        "quorum": quorum(voters),
        "failures_tolerated": tolerance(voters),
        "has_quorum": len(facts.healthy_voters) >= quorum(voters) if voters else False,
        # without a quorum: the host whose own member list `members` is (read without a leader)
        "members_from": facts.members_from or None,
        "members": [
            {
                "id": m.id_hex,
                "name": m.name,
                "host": facts.member_hosts.get(m.id),
                "peer_urls": list(m.peer_urls),
                "client_urls": list(m.client_urls),
                "role": "learner" if m.is_learner else "voter",
                "started": m.started,
            }
            for m in facts.members
        ],
        "endpoints": [_endpoint(name, hf) for name, hf in facts.hosts.items()],
        "alarms": [{"member_id": hex_id(a.member_id), "alarm": a.alarm} for a in facts.alarms],
        # the inventory's hosts that are no members: what etcdops set aside there
        "elsewhere": [
            {"host": name, "reachable": hf.reachable, "error": hf.error, **_aside(hf)}
            for name, hf in facts.others.items()
        ],
    }


def _aside(hf: Any) -> dict[str, Any]:
    return {
        "set_aside": [
            {
                "path": i.path,
                "bytes": i.bytes,
                "age_days": round(i.age() / 86400, 1),
                "kind": i.kind,
                "ours": i.ours,
            }
            for i in hf.aside
        ],
        "data_fs": {"size": hf.data_fs[0], "free": hf.data_fs[1], "mount": hf.data_fs[2]}
        if hf.data_fs
        else None,
    }


def _endpoint(name: str, hf: Any) -> dict[str, Any]:
    s = hf.status
    return {
        "host": name,
        "reachable": hf.reachable,
        "healthy": hf.healthy,
        "endpoint": s.endpoint if s else None,
        "member_id": hex_id(s.member_id) if s else None,
        "version": s.version if s else hf.etcd_version,
        "db_size": s.db_size if s else None,
        "db_size_in_use": s.db_size_in_use if s else None,
        "is_leader": s.is_leader if s else False,
        "is_learner": s.is_learner if s else None,
        "raft_term": s.raft_term if s else None,
        "raft_index": s.raft_index if s else None,
        "applied_index": s.applied_index if s else None,
        "revision": s.revision if s else None,
        "errors": list(s.errors) if s else [],
        "error": hf.error or hf.health_error,
        "answers": hf.answers,
        # the member host whose curl read this etcd (a run's re-reads; in `status`: this host
        # could not be reached over SSH, ssh_error says why)
        "through": hf.through or None,
        "ssh_error": hf.ssh_error,
        **_aside(hf),
        "certs": [
            {
                "kind": c.kind,
                "path": c.path,
                "days_left": c.days_left(),
                "error": c.error or None,
                "not_after": c.not_after.isoformat() if c.not_after else None,
            }
            for c in hf.certs
        ],
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "schema": PLAN_SCHEMA,
        "run_id": plan.run_id,
        "created": plan.created,
        "runbook": plan.runbook,
        "runbook_file": plan.runbook_file,
        "inventory": plan.inventory,
        "inventory_path": plan.inventory_path,
        "params": dict(plan.params),
        "cluster": {
            k: v for k, v in status_dict(plan.facts).items() if k not in ("endpoints", "elsewhere")
        },
        "checks": [
            {
                "message": c.message,
                "ok": c.ok,
                "detail": c.detail,
                "problem": c.problem,
                "checked": c.checked,
            }
            for c in plan.checks
        ],
        "warnings": list(plan.warnings),
        "summary": plan.summary,
        "impact": impact_lines(plan),
        "disk": [
            {
                "host": r.host,
                "step": r.step,
                "what": r.what,
                "path": r.path,
                "bytes": r.bytes,
                "mount": r.mount,
                "free_before": r.free_before,
                "free_after": r.free_after,
            }
            for r in plan.disk
        ],
        "steps": [_step_dict(s) for s in plan.steps],
        "predicted_seconds": round(sum(s.predicted.seconds for s in plan.steps if s.predicted), 1),
        "on_failure": plan.on_failure,
    }


def _step_dict(step: PlannedStep) -> dict[str, Any]:
    d: dict[str, Any] = {
        "index": step.index,
        "name": step.name,
        "kind": step.kind,
        "target": step.target,
        "hosts": list(step.hosts),
        "parallel": step.parallel,
        "timeout": step.timeout,
        "retry": {"attempts": step.retry.attempts, "on": list(step.retry.on)},
        "skipped": step.skipped,
        "requires": list(step.requires),
        "leader": step.leader,
        "last": step.last,
        "only_if": step.only_if,
        "fenced": step.fenced,
        **({"scope": dict(step.scope)} if step.scope else {}),
        "predicted": step.predicted.as_dict() if step.predicted else None,
        "actions": [
            {
                "host": a.host,
                "kind": step.kind,
                "describe": a.action.describe(),
                "commands": [c.display for c in a.action.commands],
                "reads": [c.display for c in a.action.reads],
                **(
                    {"path": a.action.path, "diff": a.action.diff}
                    if isinstance(a.action, WriteFileAction)
                    else {}
                ),
            }
            for a in step.actions
        ],
    }
    if step.quorum:
        q = step.quorum
        d["quorum"] = {
            "change": q.change,
            "host": q.host,
            "healthy_voters": q.healthy_voters,
            "before": {
                "voters": q.voters_before,
                "quorum": q.quorum_before,
                "failures_tolerated": q.tolerance_before,
            },
            "after": {
                "voters": q.voters_after,
                "quorum": q.quorum_after,
                "failures_tolerated": q.tolerance_after,
            },
        }
    return d


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_dict(plan), indent=2)
