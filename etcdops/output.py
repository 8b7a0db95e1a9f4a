"""Plans and cluster status as text people read, and markdown for a review. Their data (JSON)
is serialize.py's."""

from __future__ import annotations

from typing import Any

from etcdops import units
from etcdops.facts.aside import WARN_SHARE
from etcdops.facts.certs import WARN_DAYS
from etcdops.facts.model import ClusterFacts
from etcdops.plan import Plan
from etcdops.serialize import plan_dict, status_dict


def status_text(facts: ClusterFacts) -> str:
    d = status_dict(facts)
    lines = [
        f"cluster {d['cluster_id'] or '?'}: {'HEALTHY' if d['healthy'] else 'NOT HEALTHY'}, "
        f"leader {d['leader'] or 'none'}",
        f"voters {d['voters']} (healthy {d['healthy_voters']}), learners {d['learners']}, "
        f"quorum {d['quorum']}, failures tolerated {d['failures_tolerated']}",
        "",
        "MEMBERS",
        f"  {'ID':<17} {'NAME':<12} {'ROLE':<8} {'STARTED':<8} {'PEER URLS':<26} CLIENT URLS",
    ]
    for m in d["members"]:
        lines.append(
            f"  {m['id']:<17} {m['name'] or '(unstarted)':<12} {m['role']:<8} "
            f"{'yes' if m['started'] else 'no':<8} {','.join(m['peer_urls']):<26} "
            f"{','.join(m['client_urls'])}"
        )
    lines += [
        "",
        "ENDPOINTS",
        f"  {'HOST':<8} {'VERSION':<8} {'DB SIZE':>9} {'IN USE':>9} {'LEADER':<6} {'TERM':>5} "
        f"{'INDEX':>7} {'APPLIED':>7} {'REV':>7}  STATE",
    ]
    for e in d["endpoints"]:
        if e["endpoint"] is None:
            state = (
                "UNREACHABLE: "
                if not e["reachable"]
                else "REACHABLE, "
                if e["answers"]
                else "DOWN: "
            )
            lines.append(f"  {e['host']:<8} {state}{e['error'] or ''}")
            continue
        state = "healthy" if e["healthy"] else f"unhealthy: {e['error'] or ''}"
        if not e["reachable"]:  # read through another member host
            state = (
                f"host unreachable ({e['ssh_error']}), etcd {state}, read through {e['through']}"
            )
        lines.append(
            f"  {e['host']:<8} {e['version']:<8} {units.size(e['db_size']):>9} "
            f"{units.size(e['db_size_in_use']):>9} "
            f"{'*' if e['is_leader'] else '':<6} {e['raft_term']:>5} {e['raft_index']:>7} "
            f"{e['applied_index']:>7} {e['revision']:>7}  {state}"
            + (f" errors: {'; '.join(e['errors'])}" if e["errors"] else "")
        )
    lines.append("")
    lines.append(
        "ALARMS: " + (", ".join(f"{a['alarm']} on {a['member_id']}" for a in d["alarms"]) or "none")
    )
    lines += _cert_lines(d["endpoints"])
    lines += _aside_lines(d["endpoints"] + d["elsewhere"])
    return "\n".join(lines)


def _aside_lines(endpoints: list[dict[str, Any]]) -> list[str]:

    rows = [(e, i) for e in endpoints for i in e["set_aside"]]
    unread = [e for e in endpoints if "endpoint" not in e and e["error"]]
    if not rows and not unread:
        return []
    lines = ["", "SET ASIDE by etcdops (never deleted by it; `etcdops run prune` removes old ones)"]
    for e, i in rows:
        mark = "" if i["ours"] else "  (no etcdops marker: not etcdops', prune leaves it)"
        mark += "" if "endpoint" in e else "  (not a member)"
        lines.append(
            f"  {e['host']:<8} {units.size(i['bytes']):>10}  {i['age_days']:>6.1f} days  "
            f"{i['path']}{mark}"
        )
    lines += [f"  {e['host']:<8} not a member, not read: {e['error']}" for e in unread]
    for e in endpoints:
        fs, total = e["data_fs"], sum(i["bytes"] for i in e["set_aside"])
        if fs and total > WARN_SHARE * fs["size"]:
            lines.append(
                f"  WARNING: {e['host']}: {units.size(total)} set aside on {fs['mount']}, "
                "more than "
                f"{WARN_SHARE:.0%} of it ({units.size(fs['size'])}; {units.size(fs['free'])} free)"
            )
    return lines


def _cert_lines(endpoints: list[dict[str, Any]]) -> list[str]:

    rows = [(e["host"], c) for e in endpoints for c in e["certs"]]
    if not rows:
        return []
    lines = ["", "CERTIFICATES (read on each host, from the files its etcd.env names)"]
    for host, c in rows:
        if c["days_left"] is None:
            lines.append(f"  {host:<8} {c['kind']:<6} {c['path']}: cannot read: {c['error']}")
            continue
        left = c["days_left"]
        warn = (
            "  WARNING: expired"
            if left < 0
            else f"  WARNING: expires in {left} days"
            if left < WARN_DAYS
            else ""
        )
        lines.append(
            f"  {host:<8} {c['kind']:<6} expires {c['not_after'][:10]} ({left} days left){warn}"
        )
    return lines


def plan_text(plan: Plan) -> str:
    d = plan_dict(plan)
    step_of = {s.index: s for s in plan.steps}
    c = d["cluster"]
    lines = [
        f"PLAN {plan.runbook} on inventory {plan.inventory} (run {plan.run_id})",
        f"cluster {c['cluster_id'] or '?'}: leader {c['leader'] or 'none'}, voters {c['voters']} "
        f"(healthy {c['healthy_voters']}), quorum {c['quorum']}, failures tolerated "
        f"{c['failures_tolerated']}",
    ]
    if d["params"]:
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in d["params"].items()))
    for check in d["checks"]:
        mark = "ok" if check["ok"] else "FAILED"
        lines.append(
            f"pre-flight [{mark}] {check['message']}"
            + (f" ({check['detail']})" if check["detail"] and not check["ok"] else "")
        )
    lines += [f"WARNING: {w}" for w in d["warnings"]]
    if d["summary"]:
        lines += [""] + d["summary"].rstrip().splitlines()
    lines += _disk_lines(d["disk"])
    if d["predicted_seconds"]:
        lines += [
            "",
            f"DURATION: the long steps' work is expected to take ~{d['predicted_seconds']:.0f}s "
            "in all "
            "(each below; waits, restarts and health checks come on top)",
        ]
    for s in d["steps"]:
        mode = "parallel" if s["parallel"] else "serial"
        if s["last"]:
            mode += f", the leader {s['last']} last"
        lines.append("")
        head = f"[{s['index']}/{len(d['steps'])}] {s['name']}"
        if s["skipped"]:
            lines.append(f"{head}: SKIPPED ({s['skipped']})")
            continue
        lines.append(
            f"{head}  ({s['kind']}; {mode}; timeout {s['timeout']:g}s"
            + (
                f"; retries {s['retry']['attempts']} on {', '.join(s['retry']['on'])}"
                if s["retry"]["attempts"] > 1
                else ""
            )
            + ")"
        )
        if "quorum" in s:
            q = s["quorum"]
            lines.append(
                f"    quorum: {q['change']} {q['host']}: voters {q['before']['voters']} -> "
                f"{q['after']['voters']}, quorum {q['before']['quorum']} -> "
                f"{q['after']['quorum']}, "
                f"failures tolerated {q['before']['failures_tolerated']} -> "
                f"{q['after']['failures_tolerated']}; healthy voters now {q['healthy_voters']}"
            )
        predicted = step_of[s["index"]].predicted
        if predicted:
            lines.append(f"    expected: {predicted.describe()}")
        for req in s["requires"]:
            lines.append(f"    re-checked before running: {req}")
        if s["only_if"]:
            lines.append(
                f"    per host, decided on live facts just before it runs: only if {s['only_if']}"
            )
        for a in s["actions"]:
            described = a["describe"]
            lines.append(f"  {a['host']}: {described[0]}")
            lines += [f"    {line}" for line in described[1:]]
    return "\n".join(lines)


def _disk_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []

    lines = ["", "DISK (what the steps write, and the free space before and after)"]
    for r in rows:
        lines.append(
            f"  {r['host']:<8} step {r['step']:<2} {units.size(r['bytes']):>10} {r['what']} "
            f"({r['path']}, on "
            f"{r['mount']}): free {units.size(r['free_before'])} -> {units.size(r['free_after'])}"
        )
    return lines


def plan_markdown(plan: Plan) -> str:
    d = plan_dict(plan)
    c = d["cluster"]
    out = [
        f"## etcdops plan: `{plan.runbook}` on `{plan.inventory}`",
        "",
        f"- run id: `{plan.run_id}`, created {plan.created}",
        f"- cluster `{c['cluster_id']}`: leader `{c['leader']}`, {c['voters']} voters "
        f"({c['healthy_voters']} healthy), quorum {c['quorum']}, tolerates "
        f"{c['failures_tolerated']}",
    ]
    if d["params"]:
        out.append("- params: " + ", ".join(f"`{k}={v}`" for k, v in d["params"].items()))
    if d["checks"]:
        out += ["", "### Pre-flight", ""]
        out += [f"- [{'x' if ch['ok'] else ' '}] {ch['message']}" for ch in d["checks"]]
    if d["summary"]:
        out += ["", "### Summary", "", "```", d["summary"].rstrip(), "```"]
    out += ["", "### Steps", ""]
    for s in d["steps"]:
        out.append(
            f"{s['index']}. **{s['name']}** ({s['kind']}, {', '.join(s['hosts']) or 'no hosts'})"
            + (f": skipped, {s['skipped']}" if s["skipped"] else "")
        )
        if "quorum" in s:
            q = s["quorum"]
            out.append(
                f"   - quorum: voters {q['before']['voters']} → {q['after']['voters']}, quorum "
                f"{q['before']['quorum']} → {q['after']['quorum']}, tolerates "
                f"{q['before']['failures_tolerated']} → {q['after']['failures_tolerated']}"
            )
        if s["actions"]:
            out.append("")
            lang = "diff" if any("diff" in a for a in s["actions"]) else "sh"
            out.append(f"   ```{lang}")
            for a in s["actions"]:
                out += [f"   # {a['host']}"] + [f"   {line}" for line in a["describe"]]
            out.append("   ```")
    return "\n".join(out) + "\n"
