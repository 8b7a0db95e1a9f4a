"""The page's sections about what happened: the timeline, the window without etcd, db sizes,
leaders, predicted vs actual, what the plan said, every step. Each returns escaped HTML (an empty
string when it has nothing to show)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from etcdops.htmlreport import charts
from etcdops.htmlreport.fmt import clock, e, mb, secs
from etcdops.htmlreport.timeline import (
    Attempt,
    Downtime,
    Outage,
    host_order,
    leader_segments,
    member_sizes,
    predictions,
)


def timeline_section(
    report: dict[str, Any],
    plan: dict[str, Any] | None,
    runs: list[Attempt],
    lost: list[Outage],
    changes: list[tuple[dt.datetime, str | None]],
) -> str:
    out = ['<section id="timeline"><h2>Timeline: steps per host</h2>']
    if not runs or not any(a.spans for a in runs):
        out.append(
            '<p class="note">The journal has no host events for this run (events.jsonl is missing '
            "or "
            "the run stopped before its first step), so there is no timeline.</p></section>"
        )
        return "\n".join(out)
    names = {
        int(s["index"]): str(s.get("name", "")) for s in report.get("steps", []) if "index" in s
    }
    for a in runs:
        if not a.spans:
            continue
        rows = host_order(list(a.spans), plan)
        mine = [o for o in lost if a.start <= o.lost_late <= a.end]
        leaders = [
            (max(t0, a.start), min(t1, a.end), who)
            for t0, t1, who in leader_segments(changes, a.end, lost)
            if t1 > a.start and t0 < a.end
        ]
        if len(runs) > 1:
            out.append(
                f"<h3>Attempt {a.number}{' (resumed)' if a.resumed else ''}, "
                f"{e(f'{a.start:%Y-%m-%d %H:%M:%S}')} UTC</h3>"
            )
        out.append(
            '<div class="chart '
            f'gantt">{charts.gantt_svg(a, rows, names, mine, leaders, f"g{a.number}")}</div>'
        )
    out.append(
        "<p class=\"note\">Each bar is one host's part of a step, from the journal's "
        "<code>host_started</code> "
        "to its <code>host_finished</code> (millisecond times, UTC); the number on a bar is the "
        "step. "
        "Steps on <code>control</code> run on this machine (waits and checks). The leader lane "
        "shows "
        "the leader as etcdops read it (at the start, before steps aimed at the leader, and in "
        "waits); "
        "it is cut to <i>no leader</i> while quorum was certainly gone. Red bands: clients had no "
        "etcd "
        "(see below).</p></section>"
    )
    return "\n".join(out)


def clients_section(lost: list[Outage], down: list[Downtime], report: dict[str, Any]) -> str:
    out = ['<section id="clients"><h2>When clients had no etcd</h2>']
    if not lost and not down:
        out.append(
            "<p>No step of this run stopped etcd: the cluster kept its quorum and its clients "
            "throughout.</p>"
        )
        out.append(_defrag_note(report))
        out.append(
            '<p class="note">Derived from the journal\'s <code>etcd_service</code> steps: this '
            "run has none "
            "that stopped or restarted etcd.</p>"
        )
        return "\n".join(out) + "</section>"
    if lost:
        out.append(_outage_table(lost))
    else:
        out.append(
            "<p>Quorum was kept throughout: this run never had more members stopped at once than "
            "the "
            "cluster tolerates. Clients that know every member's URL kept their cluster; a client "
            "that "
            "only talks to one member lost it while that member was down (below).</p>"
        )
    out.append(DERIVED)
    out.append(_downtimes(down))
    return "\n".join(out) + "</section>"


DERIVED = (
    '<p class="note">How this is derived: from the journal\'s times of the '
    "<code>etcd_service</code> "
    "steps. A member is down from the moment its stop began (the stop returns once the process has "
    "exited and its ports are closed) until its start command returned. Clients have no etcd while "
    "more voters are down than the cluster tolerates ((voters − 1) / 2, following the plan's "
    "membership changes). <i>At most</i>: from the beginning of the stop that took quorum away to "
    "the end of the next health wait (a leader and every member healthy); <i>certainly</i>: from "
    "that "
    "stop's verified end to the start that gave quorum back. A member being defragmented keeps "
    "quorum but answers no requests of its own clients while it runs.</p>"
)


def _outage_table(lost: list[Outage]) -> str:
    rows = []
    for o in lost:
        if o.open:
            back = "not within this run: etcd was not started again by the end of its journal"
        else:
            back = f"{clock(o.back, True)} ({o.back_by})"
        if o.healthy:
            healthy = f"{clock(o.healthy, True)} (step {o.healthy_step}, the health wait)"
        else:
            healthy = "no health wait followed"
        rows.append(
            f"<tr><td>{e(clock(o.lost_early, True))}–{e(clock(o.lost_late, True))} (etcd stopped "
            "on "
            f"{e(o.lost_host)}: more than {o.tolerated} of {o.voters} voters down)</td>"
            f"<td>{e(back)}</td><td>{e(healthy)}</td>"
            + (
                f"<td><b>since {e(clock(o.lost_late, True))}</b>: still no quorum when the "
                "journal ends</td>"
                if o.open
                else f"<td><b>at most {e(secs(o.at_most))}</b>, certainly "
                f"{e(secs(o.at_least))}</td>"
            )
            + "</tr>"
        )
    return (
        "<table><tr><th>quorum lost</th><th>quorum back</th><th>healthy again</th><th>no etcd for "
        "clients</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def _downtimes(down: list[Downtime]) -> str:
    rows = "".join(
        f"<tr><td>{e(d.host)}</td><td>{e(clock(d.stop_began, True))}</td>"
        f"<td>{e(clock(d.stopped, True))}</td>"
        f"<td>{e(clock(d.started, True) if d.started else 'not in this run')}</td>"
        f"<td>{e(secs(d.seconds) if d.started else 'still down at the end of the run')}</td></tr>"
        for d in down
    )
    return (
        "<h3>etcd down per member</h3><table><tr><th>member</th><th>stop began</th><th>stopped "
        "(verified)</th>"
        f"<th>started again</th><th>down for</th></tr>{rows}</table>"
    )


def _defrag_note(report: dict[str, Any]) -> str:
    busy = [m for m in member_sizes(report) if m.defrag]
    if not busy:
        return ""
    return (
        "<p>Each defragmented member answered none of its own clients' requests while it was "
        "defragmented: "
        + ", ".join(f"{e(m.host)} {m.defrag[2]:.2f} s" for m in busy if m.defrag)
        + ".</p>"
    )


def impact_header(plan: dict[str, Any] | None) -> str:
    """The plan's own statement of impact, when it has one, right under the outcome."""
    if not plan or not plan.get("impact"):
        return ""
    return (
        f'<section id="impact-header"><h2>Impact, as planned</h2>{_any(plan["impact"])}</section>'
    )


def plan_section(plan: dict[str, Any] | None) -> str:
    out = ['<section id="plan"><h2>What the plan said</h2>']
    if not plan:
        return (
            out[0]
            + '<p class="note">No plan record (plan.json) was found for this run.</p></section>'
        )
    if plan.get("warnings"):
        out.append(
            "<h3>Warnings</h3><ul>"
            + "".join(f"<li>{e(w)}</li>" for w in plan["warnings"])
            + "</ul>"
        )
    out.append(_checks(plan.get("checks") or []))
    if plan.get("summary"):
        out.append(f"<h3>Summary</h3><pre>{e(str(plan['summary']).rstrip())}</pre>")
    quorum = [s for s in plan.get("steps", []) if s.get("quorum")]
    if quorum:
        out.append(
            "<h3>Quorum per membership "
            "step</h3><table><tr><th>step</th><th>change</th><th>voters</th>"
            "<th>quorum</th><th>failures tolerated</th></tr>"
            + "".join(_quorum_row(s) for s in quorum)
            + "</table>"
        )
    cluster = plan.get("cluster") or {}
    if cluster:
        out.append(
            f"<p>Cluster when planned: <code>{e(cluster.get('cluster_id'))}</code>, leader "
            f"{e(cluster.get('leader') or 'none')}, {e(cluster.get('voters'))} voters (quorum "
            f"{e(cluster.get('quorum'))}, failures tolerated "
            f"{e(cluster.get('failures_tolerated'))}).</p>"
        )
    if plan.get("disk"):
        out.append(
            "<h3>Disk</h3><table><tr><th>host</th><th>step</th><th>what</th><th>bytes</th>"
            "<th>free before</th><th>free after</th></tr>"
            + "".join(
                f"<tr><td>{e(r.get('host'))}</td><td>{e(r.get('step'))}</td><td>{e(r.get('what'))} "
                f"<code>{e(r.get('path'))}</code></td><td>{e(mb(r.get('bytes')))}</td>"
                f"<td>{e(mb(r.get('free_before')))}</td><td>{e(mb(r.get('free_after')))}</td></tr>"
                for r in plan["disk"]
            )
            + "</table>"
        )
    if plan.get("predicted_seconds"):
        out.append(
            f"<p>The long steps' work was expected to take ~{e(plan['predicted_seconds'])} s in "
            "all "
            "(waits, restarts and health checks come on top).</p>"
        )
    return "\n".join(out) + "</section>"


def _checks(checks: list[dict[str, Any]]) -> str:
    """Pre-flight checks: folded away when they all passed (no script: <details>)."""
    if not checks:
        return ""
    failed = [c for c in checks if not c.get("ok")]
    items = "".join(
        f'<li class="{"ok" if c.get("ok") else "fail"}">{"✔" if c.get("ok") else "✘"} '
        f"{e(c.get('message'))}"
        + (f" <i>({e(c.get('detail'))})</i>" if c.get("detail") and not c.get("ok") else "")
        + "</li>"
        for c in checks
    )
    head = f"{len(failed)} of {len(checks)} FAILED" if failed else f"all {len(checks)} passed"
    return (
        f"<details{' open' if failed else ''}><summary><b>Pre-flight checks</b>: {head}</summary>"
        f'<ul class="checks">{items}</ul></details>'
    )


def _quorum_row(s: dict[str, Any]) -> str:
    q = s["quorum"]
    b, a = q.get("before") or {}, q.get("after") or {}
    return (
        f"<tr><td>{e(s.get('index'))} {e(s.get('name'))}</td><td>{e(q.get('change'))} "
        f"{e(q.get('host'))}</td>"
        f"<td>{e(b.get('voters'))} → {e(a.get('voters'))}</td><td>{e(b.get('quorum'))} → "
        f"{e(a.get('quorum'))}</td>"
        f"<td>{e(b.get('failures_tolerated'))} → {e(a.get('failures_tolerated'))}</td></tr>"
    )


def _any(value: Any) -> str:
    """A plan field whose shape this page does not know yet: shown as it is, escaped."""
    if isinstance(value, dict):
        return (
            "<table>"
            + "".join(f"<tr><th>{e(k)}</th><td>{_any(v)}</td></tr>" for k, v in value.items())
            + "</table>"
        )
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_any(v)}</li>" for v in value) + "</ul>"
    text = str(value)
    return f"<pre>{e(text)}</pre>" if "\n" in text else e(text)


def sizes_section(report: dict[str, Any]) -> str:
    sizes = member_sizes(report)
    if not sizes:
        return ""
    rows = "".join(
        f"<tr><td>{e(m.host)}</td><td>{e(mb(m.before))}</td><td>{e(mb(m.in_use_before))}</td>"
        f"<td>{e(mb(m.after))}</td><td>{e(mb(m.in_use_after))}</td>"
        f"<td>{e(_change(m))}</td><td>{e(_defrag(m))}</td>"
        f"<td>{e(m.source)}</td></tr>"
        for m in sizes
    )
    return (
        '<section id="sizes"><h2>Database size per member</h2>'
        f'<div class="chart">{charts.sizes_svg(sizes, "s")}</div>'
        "<table><tr><th>member</th><th>before</th><th>in use</th><th>after</th><th>in "
        "use</th><th>change</th>"
        f"<th>defragmentation</th><th>after, from</th></tr>{rows}</table>"
        '<p class="note">Before: the cluster status read when the run was planned. After: the '
        "status read at "
        "the end of the run (read when a report is asked for), else the defragmentation's own "
        "figures.</p>"
        "</section>"
    )


def leaders_section(changes: list[tuple[dt.datetime, str | None]], runs: list[Attempt]) -> str:
    if not changes:
        return ""
    t0 = runs[0].start if runs else changes[0][0]
    rows = "".join(
        f"<tr><td>{e(clock(t, True))}</td><td>+{(t - t0).total_seconds():.1f} s</td>"
        f"<td>{e(leader or 'no leader')}</td></tr>"
        for t, leader in changes
    )
    return (
        '<section id="leaders"><h2>Leader changes</h2>'
        f"<table><tr><th>seen at (UTC)</th><th>since start</th><th>leader</th></tr>{rows}</table>"
        '<p class="note">As etcdops read it: at the start, before steps aimed at the leader and '
        "in waits. "
        "A change between two reads is seen at the second.</p></section>"
    )


def predictions_section(report: dict[str, Any]) -> str:
    preds = predictions(report)
    if not preds:
        return ""
    rows = "".join(
        f"<tr><td>{p.step} {e(p.name)}</td><td>{e(mb(p.bytes))}</td><td>{e(mb(int(p.rate)))}/s "
        f"({'default rate' if not p.samples else f'{p.samples} earlier measurements'})</td>"
        f"<td>{p.predicted:.1f} s</td><td>{p.actual:.1f} s</td>"
        f"<td>{e(f'{p.actual / p.predicted:.2f}x' if p.predicted else '-')}</td></tr>"
        for p in preds
    )
    return (
        '<section id="predictions"><h2>Predicted and actual, per long step</h2>'
        f'<div class="chart">{charts.predictions_svg(preds, "p")}</div>'
        "<table><tr><th>step</th><th>work</th><th>rate</th><th>predicted</th><th>actual</th>"
        f"<th>actual / predicted</th></tr>{rows}</table>"
        '<p class="note">Predicted: the step\'s work (bytes copied, restored or defragmented) at '
        "the rate "
        "measured on this inventory; actual: the whole step, checks included.</p></section>"
    )


def steps_section(report: dict[str, Any], plan: dict[str, Any] | None) -> str:
    kinds = {s.get("index"): s.get("kind") for s in (plan or {}).get("steps", [])}
    rows = []
    for s in report.get("steps", []):
        rows.append(
            f'<tr class="step {_badge_step(str(s.get("status")))}"><td>{e(s.get("index"))}</td>'
            f"<td>{e(s.get('name'))}</td><td>{e(kinds.get(s.get('index'), ''))}</td>"
            f"<td>{e(s.get('status'))}</td><td>{e(secs(s.get('elapsed')))}</td></tr>"
        )
        for h in s.get("hosts", []):
            rows.append(
                f'<tr class="host"><td></td><td colspan="2">{e(h.get("host"))}: '
                f"{e(h.get('detail'))}</td>"
                f"<td>{e(h.get('status'))}</td><td>{e(secs(h.get('elapsed')))}</td></tr>"
            )
    widths = "".join(f'<col style="width:{w}%">' for w in (3, 67, 14, 8, 8))
    return (
        '<section id="steps"><h2>Steps</h2><table '
        f'class="steps"><colgroup>{widths}</colgroup><tr><th>#</th>'
        "<th>step / host: "
        f"detail</th><th>kind</th><th>status</th><th>elapsed</th></tr>{''.join(rows)}</table>"
        "</section>"
    )


def _badge_step(status: str) -> str:
    return {
        "failed": "fail",
        "skipped": "dim",
        "pending": "dim",
        "not started": "dim",
        "done before": "dim",
    }.get(status, "")


def _change(m: Any) -> str:
    if not m.before or m.after is None:
        return "-"
    return f"{(m.after - m.before) / m.before:+.0%}"


def _defrag(m: Any) -> str:
    if not m.defrag:
        return "-"
    return f"{mb(m.defrag[0])} → {mb(m.defrag[1])} in {m.defrag[2]:.2f} s"
