"""The run report as one self-contained HTML page: inline CSS, charts as inline SVG, no script and
no external resource (the page's own Content-Security-Policy forbids both). Every value from the
report, the plan or the journal is escaped: they come from inventories and clusters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from etcdops.htmlreport.fmt import clock, e, mb, or_, secs, time_of
from etcdops.htmlreport.sections import (
    clients_section,
    impact_header,
    leaders_section,
    plan_section,
    predictions_section,
    sizes_section,
    steps_section,
    timeline_section,
)
from etcdops.htmlreport.timeline import (
    Attempt,
    Downtime,
    Outage,
    attempts,
    downtimes,
    leader_changes,
    leader_segments,
    member_sizes,
    outages,
    predictions,
)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
OK_STATES = ("successful",)


def render(
    report: dict[str, Any],
    plan: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    generated: dt.datetime | None = None,
) -> str:
    """The page for one run: its report (report.json / --report), plan record (plan.json) and
    journal."""
    events = events or []
    runs = attempts(events)
    spans = [s for a in runs for s in a.spans]
    end = runs[-1].end if runs else time_of(report.get("finished"))
    lost = outages(spans, plan, end) if end else []
    down = downtimes(spans, plan)
    changes = leader_changes(report, events)
    leaders = leader_segments(changes, end, lost) if end else []
    body = [
        _header(report, runs),
        _glance(report, lost, down, leaders),
        _failures(report, events, runs),
        impact_header(plan),
        timeline_section(report, plan, runs, lost, changes),
        clients_section(lost, down, report),
        sizes_section(report),
        leaders_section(changes, runs),
        predictions_section(report),
        plan_section(plan),
        steps_section(report, plan),
        _footer(report, plan, events, generated or dt.datetime.now(dt.UTC)),
    ]
    what = f"{report.get('runbook', '?')} on {report.get('inventory', '?')}"
    title = f"etcdops {what}: {report.get('status', '?')}"
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )


def _header(report: dict[str, Any], runs: list[Attempt]) -> str:
    status = str(report.get("status", "?"))
    started = runs[0].start if runs else time_of(report.get("started"))
    finished = time_of(report.get("finished")) or (runs[-1].end if runs else None)
    took = (finished - started).total_seconds() if started and finished else None
    params = report.get("params") or {}
    tries = f", {len(runs)} attempts (resumed)" if len(runs) > 1 else ""
    return (
        f'<header class="{"good" if status in OK_STATES else "bad"}">'
        f"<h1>etcdops <span>{e(report.get('runbook', '?'))}</span> on "
        f"<span>{e(report.get('inventory', '?'))}"
        f'</span></h1>\n<p class="meta"><span class="badge {_badge(status)}">{e(status)}</span> '
        f"exit code {e(or_(report.get('exit_code'), '?'))} &middot; run "
        f"<code>{e(report.get('run_id', '?'))}</code>"
        f" &middot; started {e(f'{started:%Y-%m-%d %H:%M:%S} UTC' if started else '?')} &middot; "
        f"took {e(secs(took))}{e(tries)}</p>\n"
        + (
            '<p class="meta">params: '
            f"{' '.join(f'<code>{e(k)}={e(v)}</code>' for k, v in params.items())}</p>"
            if params
            else ""
        )
        + "</header>"
    )


def _badge(status: str) -> str:
    return {
        "successful": "ok",
        "failed": "fail",
        "stale": "warn",
        "refused": "warn",
        "interrupted": "warn",
        "window_closed": "warn",
    }.get(status, "warn")


def _glance(
    report: dict[str, Any],
    lost: list[Outage],
    down: list[Downtime],
    leaders: list[tuple[dt.datetime, dt.datetime, str | None]],
) -> str:
    """One line of cards: what an operator asks first."""
    cards = [
        (
            "Outcome",
            str(report.get("status", "?")),
            f"exit code {or_(report.get('exit_code'), '?')}",
        ),
        ("Clients without etcd", *_clients_card(lost, down)),
        ("Leader", *_leader_card(leaders)),
    ]
    sizes = member_sizes(report)
    both = [m for m in sizes if m.before and m.after is not None]
    before, after = sum(m.before or 0 for m in both), sum(m.after or 0 for m in both)
    if before:
        cards.append(
            (
                "Database, all members"
                if len(both) == len(sizes)
                else f"Database, {len(both)} of {len(sizes)} members",
                f"{mb(before)} → {mb(after)}",
                f"{(after - before) / before:+.0%}",
            )
        )
    preds = predictions(report)
    if preds:
        cards.append(
            (
                "Long steps",
                f"{sum(p.actual for p in preds):.1f} s actual",
                f"{sum(p.predicted for p in preds):.1f} s predicted",
            )
        )
    return (
        '<section class="glance">'
        + "".join(
            f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div><div '
            f'class="s">{e(s)}</div></div>'
            for k, v, s in cards
        )
        + "</section>"
    )


def _clients_card(lost: list[Outage], down: list[Downtime]) -> tuple[str, str]:
    if lost and lost[-1].open:
        return (
            f"since {clock(lost[-1].lost_late)}",
            "no quorum when the journal ends: not started again",
        )
    if lost:
        return (
            f"at most {secs(sum(o.at_most for o in lost))}",
            f"certainly {secs(sum(o.at_least for o in lost))}",
        )
    if down:
        still = [d.host for d in down if d.started is None]
        return "none", (
            f"quorum kept; {len({d.host for d in down})} member(s) stopped"
            + (f", {len(still)} still down at the end" if still else "")
        )
    return "none", "no step stopped etcd"


def _leader_card(leaders: list[tuple[dt.datetime, dt.datetime, str | None]]) -> tuple[str, str]:
    seen = [who for i, (_a, _b, who) in enumerate(leaders) if i == 0 or leaders[i - 1][2] != who]
    leaderless = sum((b - a).total_seconds() for a, b, who in leaders if who is None)
    return (
        " → ".join(who or "none" for who in seen[:4]) + (" …" if len(seen) > 4 else ""),
        f"{max(0, len(seen) - 1)} change(s)"
        + (f"; no leader for {secs(leaderless)}" if leaderless else ""),
    )


def _failures(report: dict[str, Any], events: list[dict[str, Any]], runs: list[Attempt]) -> str:
    """The run's own failure (its error, the hosts' errors, the advice), then those of earlier
    attempts of a resumed run."""
    last = runs[-1].start if runs else None

    def earlier(ev: dict[str, Any]) -> bool:
        t = time_of(ev.get("time"))
        return last is not None and t is not None and t < last

    failed_here = [ev for ev in events if ev.get("event") == "host_failed" and not earlier(ev)]
    out = []
    if report.get("status") not in OK_STATES or failed_here:
        out.append(_final_failure(report, failed_here))
    past = [ev for ev in events if ev.get("event") == "step_failed" and earlier(ev)]
    if past:
        out.append(_earlier_failures(past, report, runs))
    return "\n".join(out)


def _final_failure(report: dict[str, Any], failed_hosts: list[dict[str, Any]]) -> str:
    error = str(report.get("error") or "")
    what, advice = _split_advice(error)
    hosts = [(ev.get("step"), ev.get("host"), str(ev.get("error") or "")) for ev in failed_hosts]
    # the one the run's error already quotes is not repeated
    hosts = [h for h in hosts if h[2] not in what]
    stopped = next(
        (s for s in report.get("steps", []) if s.get("status") in ("failed", "not started")), None
    )
    out = ['<section class="failures"><h2>What went wrong</h2>']
    if stopped:
        out.append(
            f"<p>The run stopped at step {e(stopped.get('index'))} <b>{e(stopped.get('name'))}</b> "
            f"({e(stopped.get('status'))}).</p>"
        )
    if what:
        out.append(f'<pre class="error">{e(what)}</pre>')
    if hosts:
        out.append(
            "<table><tr><th>step</th><th>host</th><th>error on that host</th></tr>"
            + "".join(
                f"<tr><td>{e(st)}</td><td>{e(h)}</td><td><pre>{e(msg)}</pre></td></tr>"
                for st, h, msg in hosts
            )
            + "</table>"
        )
    if advice:
        out.append(f'<h3>What to do</h3><pre class="advice">{e(advice)}</pre>')
    return "\n".join(out) + "</section>"


def _earlier_failures(
    past: list[dict[str, Any]], report: dict[str, Any], runs: list[Attempt]
) -> str:
    names = {s.get("index"): s.get("name") for s in report.get("steps", [])}
    out = [
        '<section class="earlier"><h2>Failures of earlier attempts</h2>'
        "<p>The run was resumed (<code>etcdops run --resume</code>) after each of these.</p>"
    ]
    for ev in past:
        t = time_of(ev.get("time"))
        number = next((a.number for a in runs if t is not None and a.start <= t <= a.end), "?")
        what, advice = _split_advice(str(ev.get("error") or ""))
        out.append(
            f"<h3>Attempt {e(number)} stopped at step {e(ev.get('step'))} "
            f"{e(names.get(ev.get('step'), ''))}"
            f' ({e(clock(t, True))} UTC)</h3><pre class="error">{e(what)}</pre>'
        )
        if advice:
            out.append(
                "<details><summary>what the run advised "
                f"then</summary><pre>{e(advice)}</pre></details>"
            )
    return "\n".join(out) + "</section>"


def _split_advice(error: str) -> tuple[str, str]:
    """The runner appends the step's (else the runbook's) on_failure text after a blank line."""
    what, sep, advice = error.partition("\n\n")
    return (what, advice.strip()) if sep else (error, "")


def _footer(
    report: dict[str, Any],
    plan: dict[str, Any] | None,
    events: list[dict[str, Any]],
    generated: dt.datetime,
) -> str:
    sources = (
        ["the run report"]
        + (["its plan record"] if plan else [])
        + ([f"its journal ({len(events)} events)"] if events else [])
    )
    return (
        f"<footer>Made by etcdops at {e(f'{generated:%Y-%m-%d %H:%M:%S}')} UTC from "
        f"{e(', '.join(sources))} "
        f"of run <code>{e(report.get('run_id'))}</code> "
        f"(<code>.etcdops/runs/{e(report.get('run_id'))}/</code>). "
        "One self-contained file: no script, nothing fetched.</footer>"
    )


STYLE = """
:root { --fg:#212529; --dim:#6c757d; --line:#dee2e6; --bad:#c92a2a; --good:#2b8a3e;
       --warn:#e67700; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       color:var(--fg);
       background:#f8f9fa; }
main { max-width:1160px; margin:0 auto; padding:16px 20px 40px; background:#fff; }
header { border-left:6px solid var(--good); padding:4px 0 4px 14px; margin-bottom:12px; }
header.bad { border-left-color:var(--bad); }
h1 { font-size:22px; margin:0 0 4px; } h1 span { font-family:"DejaVu Sans Mono", monospace; }
h2 { font-size:17px; margin:26px 0 8px; border-bottom:1px solid var(--line); padding-bottom:3px; }
h3 { font-size:14px; margin:14px 0 6px; }
.meta { margin:2px 0; color:var(--dim); }
code, pre { font-family:"DejaVu Sans Mono", monospace; font-size:12px; }
pre { white-space:pre-wrap; word-break:break-word; background:#f1f3f5; padding:8px 10px;
       margin:6px 0; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-weight:bold; }
.badge.ok { background:var(--good); }
.badge.fail { background:var(--bad); }
.badge.warn { background:var(--warn); }
.glance { display:flex; flex-wrap:wrap; gap:10px; margin:10px 0; }
.card { flex:1 1 170px; border:1px solid var(--line); border-radius:6px; padding:8px 12px; }
.card .k { color:var(--dim); font-size:12px; } .card .v { font-size:18px; font-weight:bold; }
.card .s { color:var(--dim); font-size:12px; }
.failures { border:2px solid var(--bad); border-radius:6px; padding:0 14px 8px; margin-top:14px; }
.failures h2 { color:var(--bad); border:0; }
.earlier { border:1px solid var(--warn); border-radius:6px; padding:0 14px 8px; margin-top:14px; }
.earlier h2 { color:var(--warn); border:0; }
pre.error { background:#fff5f5; }
pre.advice { background:#fff9db; }
.chart svg { width:100%; height:auto; display:block; }
table { border-collapse:collapse; margin:6px 0; width:100%; }
th, td { text-align:left; vertical-align:top; padding:3px 8px;
       border-bottom:1px solid var(--line); }
th { background:#f1f3f5; font-weight:600; } td pre { margin:0; padding:2px 4px; }
.steps tr.host td { color:var(--dim); font-size:12px; border-bottom:0; }
.steps tr.fail td { color:var(--bad); font-weight:bold; } .steps tr.dim td { color:var(--dim); }
.checks { list-style:none; padding-left:4px; }
.checks .ok { color:var(--good); }
.checks .fail { color:var(--bad); }
.note { color:var(--dim); font-size:12px; }
details { margin:8px 0; } summary { cursor:pointer; }
footer { margin-top:30px; color:var(--dim); font-size:12px; border-top:1px solid var(--line);
       padding-top:6px; }
"""
