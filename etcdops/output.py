"""Plans and cluster status as text people read, and markdown for a review. Their data (JSON) is
serialize.py's."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from etcdops import units
from etcdops.facts.aside import WARN_SHARE
from etcdops.facts.certs import WARN_DAYS
from etcdops.facts.model import ClusterFacts
from etcdops.htmlreport import timeline
from etcdops.impact import LABEL
from etcdops.plan import Plan, PlannedStep
from etcdops.serialize import plan_dict, status_dict
from etcdops.steps.base import Action
from etcdops.steps.wait import WaitAction


def _no_quorum(d: dict[str, Any]) -> list[str]:
    if not d["members_from"]:
        return []
    return [
        f"NO QUORUM: no leader serves the member list; the one above is {d['members_from']}'s own "
        f"(read without a leader). {d['healthy_voters']} healthy of {d['voters']} voters, "
        f"{d['quorum']} needed: start etcd where it is stopped; once that cannot be, `etcdops run "
        "recover` makes a new cluster from the member with the most data"
    ]


def status_text(facts: ClusterFacts) -> str:
    d = status_dict(facts)
    lines = [
        f"cluster {d['cluster_id'] or '?'}: {'HEALTHY' if d['healthy'] else 'NOT HEALTHY'}, "
        f"leader {d['leader'] or 'none'}",
        f"voters {d['voters']} (healthy {d['healthy_voters']}), learners {d['learners']}, "
        f"quorum {d['quorum']}, failures tolerated {d['failures_tolerated']}"
        if facts.read_any
        else "NOT READ: no member's etcd answered (see ENDPOINTS)",
        *_no_quorum(d),
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
            if not e["reachable"]:
                state = "UNREACHABLE over SSH (its etcd not read): "
            elif e["answers"]:
                state = "REACHABLE, "
            else:
                state = "DOWN: "
            lines.append(f"  {e['host']:<8} {state}{e['error'] or ''}")
            continue
        state = "healthy" if e["healthy"] else f"unhealthy: {e['error'] or ''}"
        if e["ssh_error"]:  # SSH failed: its etcd was read through another member host
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
        if facts.read_any
        else "ALARMS: not read"
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
        if left < 0:
            warn = "  WARNING: expired"
        elif left < WARN_DAYS:
            warn = f"  WARNING: expires in {left} days"
        else:
            warn = ""
        lines.append(
            f"  {host:<8} {c['kind']:<6} expires {c['not_after'][:10]} ({left} days left){warn}"
        )
    return lines


def plan_text(plan: Plan, width: int | None = None) -> str:
    """The plan as people read it. `width` (a terminal's): intent and other text wrapped to it,
    each command cut to one line, reads counted; None (-v/--commands, a pipe, a file): every
    command whole. JSON, markdown and saved plans always hold every command whole."""
    d = plan_dict(plan)
    c = d["cluster"]
    lines = [
        f"PLAN {plan.runbook} on inventory {plan.inventory} (run {plan.run_id})",
        f"cluster {c['cluster_id'] or '?'}: leader {c['leader'] or 'none'}, voters {c['voters']} "
        f"(healthy {c['healthy_voters']}), quorum {c['quorum']}, failures tolerated "
        f"{c['failures_tolerated']}",
    ]
    if d["params"]:
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in d["params"].items()))
    lines += impact_text(d["impact"], width)
    lines += ["", *check_lines(plan)] if any(c.checked for c in plan.checks) else []
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
    for step in plan.steps:
        lines += ["", *step_lines(plan, step, width)]
    if width is not None:
        lines = [folded for line in lines for folded in fold(line, width)]
    return "\n".join(lines)


def impact_text(impact: list[str], width: int | None = None) -> list[str]:
    """The plan's impact header (impact.py), under its own title; nothing when there is none.
    Folded to `width`, a line goes on under its text, right of the labels."""
    if not impact:
        return []
    out = ["", "IMPACT (what this run does to the cluster)"]
    for line in impact:
        out += fold(f"  {line}", width, indent=LABEL + 3) if width else [f"  {line}"]
    return out


def check_lines(plan: Plan) -> list[str]:
    """Each pre-flight check made: what it wants when it holds, the problem found when it fails.
    A check that was not made (its `unless:` held: a param not asked for) is not shown."""
    out = []
    for check in plan.checks:
        if not check.checked:
            continue
        if check.ok:
            out.append(f"pre-flight [ok] {check.message}")
        else:
            out.append(f"pre-flight [FAILED] {check.said()}")
    return out


def step_lines(plan: Plan, step: PlannedStep, width: int | None) -> list[str]:
    total = len(plan.steps)
    head = f"[{step.index}/{total}] {step.name}"
    if step.skipped:
        return [f"{head}: SKIPPED ({skip_words(plan, step.skipped)})"]
    mode = "parallel" if step.parallel else "serial"
    if step.last:
        mode += f", the leader {step.last} last"
    retry = step.retry
    retries = f"; retries {retry.attempts} on {', '.join(retry.on)}" if retry.attempts > 1 else ""
    lines = [f"{head}  ({step.kind}; {mode}; timeout {timeout_of(step):g}s{retries})"]
    if step.quorum is not None:
        q = step.quorum
        lines.append(
            f"    quorum: {q.change} {q.host}: voters {q.voters_before} -> {q.voters_after}, "
            f"quorum {q.quorum_before} -> {q.quorum_after}, failures tolerated "
            f"{q.tolerance_before} -> {q.tolerance_after}; healthy voters now {q.healthy_voters}"
        )
    if step.predicted:
        lines.append(f"    expected: {step.predicted.describe()}")
    for req in step.requires:
        lines.append(
            "    re-checked on the live cluster right before it runs (else it stops, exit 6): "
            + in_words(req, plan)
        )
    if step.only_if:
        lines.append(
            "    per host, decided on live facts just before it runs: only if "
            + in_words(step.only_if, plan)
        )
    for a in step.actions:
        lines += action_lines(a.host, a.action, plan, width)
    return lines


def _cut(line: str, width: int | None) -> str:
    """A command on one line: cut with `…` when folded (--commands shows it whole)."""
    if width is None or len(line) <= width:
        return line
    return line[: max(1, width - 1)] + "…"


def timeout_of(step: PlannedStep) -> float:
    """The step's own timeout, or the shorter one its waits give themselves: what bounds it."""
    waits = [a.action.timeout for a in step.actions if isinstance(a.action, WaitAction)]
    return min([step.timeout, max(waits)]) if waits else step.timeout


def action_lines(host: str, action: Action, plan: Plan, width: int | None) -> list[str]:
    """`  HOST: intent`, then `run  COMMAND` for what changes and `read COMMAND` for what only
    reads (whole, or one line each and the reads counted when folded), other text as it is."""
    if isinstance(action, WaitAction):
        return [f"  {host}: {wait_words(action, plan)}"]
    first, *rest = action.describe()
    out = [f"  {host}: {first}"]
    reads = 0
    kind = ""
    for line in rest:
        if line.startswith(("$ ", "? ")):
            kind = "run " if line[0] == "$" else "read"
            if kind == "read" and width is not None:
                reads += 1
                continue
            out.append(_cut(f"      {kind}  {line[2:]}", width))
        elif line.startswith("  ") and kind:
            if not (kind == "read" and width is not None):
                out.append(_cut(f"            {line[2:]}", width))
        else:
            kind = ""
            out.append(f"    {line}")
    if reads:
        out.append(
            f"      and {reads} read{'s' if reads != 1 else ''} (--commands shows every command)"
        )
    return out


def fold(line: str, width: int, indent: int | None = None) -> list[str]:
    """Text as lines no wider than `width`, going on under its own indentation (+4, or
    `indent`); a word longer than a line is broken."""
    if len(line) <= width or width < 20:
        return [line]
    body = line.lstrip()
    if indent is None:
        indent = len(line) - len(body) + 4
    return textwrap.wrap(
        line,
        width,
        subsequent_indent=" " * min(indent, width // 2),
        break_on_hyphens=False,
        replace_whitespace=False,
    ) or [line[:width]]


# ----- template expressions said in words -----------------------------------------------
_VALUE = r"(?P<v>[\w.]+)"
CLAUSES: tuple[tuple[str, str], ...] = (
    (r"facts\.healthy", "every member is healthy"),
    (r"facts\.has_quorum", "a quorum of voters is healthy"),
    (r"facts\.leader_host", "there is a leader"),
    (r"facts\.member_lists_agree", "every member reports the same member list"),
    (
        r"facts\.members \| length == members \| length",
        "every inventory member is in the member list",
    ),
    (r"facts\.cluster_ids \| length == 1", "every member reports the same cluster id"),
    (r"facts\.peers_are\(vars\.initial_cluster\)", "the members are the ones planned"),
    (rf"facts\.caught_up\({_VALUE}\)", "{v} has caught up with the leader"),
    (rf"not facts\.member_of\({_VALUE}\)\.is_learner", "{v} is a voter"),
    (rf"facts\.member_of\({_VALUE}\)\.started", "{v} has started"),
    (rf"not facts\.member_of\({_VALUE}\)", "{v} is not a member"),
    (rf"facts\.member_of\({_VALUE}\)", "{v} is a member"),
    (rf"facts\.leader_host == {_VALUE}", "{v} leads"),
)


def in_words(expr: str, plan: Plan) -> str:
    """A runbook's condition in words, clause by clause (`a and b`), for the clauses etcdops
    knows; else a pointer to where the expression is written (JSON plan, the runbook)."""
    said = []
    for clause in re.split(r"\s+and\s+", " ".join(expr.split())):
        words = _clause(clause.strip(), plan)
        if words is None:
            return "a condition of the runbook holds (plan -o json shows it)"
        said.append(words)
    return ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1]


def _clause(clause: str, plan: Plan) -> str | None:
    for pattern, words in CLAUSES:
        m = re.fullmatch(pattern, clause)
        if m is not None:
            value = m.groupdict().get("v")
            return words.format(v=_value(value, plan)) if value else words
    return None


def _value(name: str, plan: Plan) -> str:
    """params.host → its value; vars.new → its value; anything else as written."""
    scope, _, key = name.partition(".")
    found: Any = None
    if scope == "params":
        found = plan.params.get(key)
    elif scope == "vars":
        found = plan.variables.get("vars", {}).get(key)
    return str(found) if isinstance(found, (str, int)) and str(found) else name


def wait_words(action: WaitAction, plan: Plan) -> str:
    what = action.message or in_words(action.until, plan)
    return f"wait up to {action.timeout:g}s until {what}"


def skip_words(plan: Plan, skipped: str) -> str:
    """Why a step is skipped: the params that decided it, else its condition in words."""
    m = re.fullmatch(r"when: (.*) is false", skipped, re.S)
    if m is None:
        return skipped
    expr = m.group(1)
    names = re.findall(r"params\.(\w+)", expr)
    if names and not re.search(r"\b(facts|vars)\.", expr):
        return "not asked: " + ", ".join(
            f"-p {n}={plan.params.get(n)}" for n in dict.fromkeys(names)
        )
    words = in_words(expr, plan)
    if words.startswith("a condition of the runbook"):
        return "its condition is false (plan -o json shows it)"
    return f"not the case now: {words}"


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
    if d["impact"]:
        out += ["", "### Impact", "", *(f"- {line}" for line in d["impact"])]
    made = [ch for ch in plan.checks if ch.checked]
    if made:
        out += ["", "### Pre-flight", ""]
        out += [
            f"- [x] {ch.message}" if ch.ok else f"- [ ] {ch.message}: **{ch.said()}**"
            for ch in made
        ]
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


# ----- the closing summary of a run (a terminal shows it) ---------------------------------
def run_summary(
    report: dict[str, Any], plan: dict[str, Any] | None, events: list[dict[str, Any]]
) -> list[str]:
    """What the run did, in a few lines: the outcome, the time etcd was unavailable to clients
    (htmlreport/timeline.py derives it from the journal, as the HTML page shows it), leader
    changes, db size per member before and after, and predicted vs actual for the long steps."""
    runs = timeline.attempts(events)
    spans = [s for a in runs for s in a.spans]
    end = runs[-1].end if runs else None
    lost = timeline.outages(spans, plan, end) if end is not None else []
    counts: dict[str, int] = {}
    for s in report.get("steps", []):
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    took = f" in {units.seconds((end - runs[0].start).total_seconds())}" if runs and end else ""
    lines = [
        f"SUMMARY {report.get('runbook')} on {report.get('inventory')}: "
        f"{_status_word(report.get('status'))}{took} ("
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + ")",
        *_outage_lines(lost),
        *_leader_lines(report, events),
        *_size_lines(report),
        *_prediction_lines(report),
    ]
    return lines


def _status_word(status: Any) -> str:
    return str(getattr(status, "value", status) or "?").upper()


def _outage_lines(lost: list[timeline.Outage]) -> list[str]:
    if not lost:
        return ["  etcd unavailable to clients: never (a quorum of voters ran etcd throughout)"]
    out = []
    for o in lost:
        if o.open:
            out.append(
                f"  etcd unavailable to clients: since the stop of {o.lost_host}, still at the end "
                "of the run"
            )
            continue
        out.append(
            f"  etcd unavailable to clients: {units.seconds(o.at_least)} to "
            f"{units.seconds(o.at_most)} (from the stop of {o.lost_host} until {o.back_by}"
            + (f", healthy at step {o.healthy_step}" if o.healthy_step else "")
            + ")"
        )
    return out


def _leader_lines(report: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    changes = timeline.leader_changes(report, events)
    if not changes:
        return []
    chain = " -> ".join(leader or "(none)" for _t, leader in changes)
    moves = len(changes) - 1
    return [f"  leader: {chain} ({moves} change{'s' if moves != 1 else ''})"]


def _size_lines(report: dict[str, Any]) -> list[str]:
    sizes = timeline.member_sizes(report)
    if not sizes:
        return []
    out = ["  db size per member, before -> after:"]
    for m in sizes:
        out.append(f"    {m.host:<8} {units.size(m.before):>10} -> {units.size(m.after)}")
    return out


def _prediction_lines(report: dict[str, Any]) -> list[str]:
    preds = timeline.predictions(report)
    if not preds:
        return []
    out = ["  predicted vs actual:"]
    for p in preds:
        out.append(
            f"    step {p.step} {p.name}: ~{units.seconds(p.predicted)} predicted, "
            f"{units.seconds(p.actual)} actual"
        )
    return out
