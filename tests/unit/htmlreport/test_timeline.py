"""What the journal says happened when, on journals of real lab runs (tests/fixtures/runs/) and on
small made-up ones for the cases the lab runs do not show (rolling restarts, a member removed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from etcdops.htmlreport.source import load_run
from etcdops.htmlreport.timeline import (
    attempts,
    downtimes,
    host_order,
    leader_changes,
    leader_segments,
    member_sizes,
    outages,
    predictions,
    service_states,
    when,
)

RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "runs"


def _spans(name: str) -> tuple[Any, list[Any]]:
    files = load_run(RUNS / name)
    return files, [s for a in attempts(files.events) for s in a.spans]


def test_a_restore_has_one_outage_from_the_stop_that_took_quorum_to_the_health_wait() -> None:
    files, spans = _spans("restore")
    (o,) = outages(spans, files.plan, when("2026-12-07T04:30:38.114+00:00"))
    # node2 stopped first (1 of 3 down: tolerated), node3 second: quorum gone
    assert (o.lost_host, o.lost_early, o.lost_late) == (
        "node3",
        when("2026-12-07T04:30:33.400+00:00"),
        when("2026-12-07T04:30:34.600+00:00"),
    )
    # node3 started first (still 2 down), node2 second: quorum back; step 8 saw it healthy
    assert (o.back_by, o.back) == ("etcd started on node2", when("2026-12-07T04:30:37.558+00:00"))
    assert (o.healthy_step, o.healthy) == (8, when("2026-12-07T04:30:37.761+00:00"))
    assert o.at_most == pytest.approx(4.361) and o.at_least == pytest.approx(2.958)
    assert (o.voters, o.tolerated, o.open) == (3, 1, False)


def test_a_restore_has_every_member_down_from_its_stop_to_its_start() -> None:
    files, spans = _spans("restore")
    down = {d.host: d for d in downtimes(spans, files.plan)}
    assert set(down) == {"node1", "node2", "node3"}
    assert down["node1"].stop_began == when("2026-12-07T04:30:34.601+00:00")  # the leader, last
    assert down["node1"].seconds == pytest.approx(37.664 - 34.601)


def test_the_plan_record_says_which_service_steps_stop_and_start() -> None:
    states = service_states(load_run(RUNS / "restore").plan)
    assert {(step, state) for (step, _h), state in states.items()} == {
        (2, "stopped"),
        (7, "started"),
    }


def test_compact_defrag_stops_nothing_and_reports_sizes_per_member() -> None:
    files, spans = _spans("compact-defrag")
    assert outages(spans, files.plan, spans[-1].end) == [] and downtimes(spans, files.plan) == []
    sizes = {m.host: m for m in member_sizes(files.report)}
    assert set(sizes) == {"node1", "node2", "node3"}
    assert sizes["node2"].defrag == (184938496, 30838784, 0.616)
    assert sizes["node2"].before == 184938496 and sizes["node2"].after is not None
    assert [p.step for p in predictions(files.report)] == [2, 4]


def test_rows_are_members_in_natural_order_then_control() -> None:
    files, spans = _spans("restore")
    assert host_order(spans, files.plan) == ["node1", "node2", "node3", "control"]


def test_a_failed_stop_keeps_quorum_and_leaves_a_member_down() -> None:
    files, spans = _spans("restore-failed")
    assert outages(spans, files.plan, spans[-1].end) == []
    (d,) = downtimes(spans, files.plan)
    assert (d.host, d.started, d.seconds) == ("node1", None, None)
    assert [s.status for s in spans if s.step == 2 and s.host == "node3"] == ["failed"]


def test_a_killed_run_leaves_an_open_outage_and_unfinished_spans() -> None:
    files, spans = _spans("restore-killed")
    end = attempts(files.events)[-1].end
    (o,) = outages(spans, files.plan, end)
    assert o.open and o.back == end and o.healthy is None
    assert {s.host for s in spans if s.status == "unfinished"} == {
        "node1",
        "node2",
        "node3",
    }  # inside step 3


def test_a_resumed_run_has_two_attempts_and_its_outage_in_the_second() -> None:
    files, spans = _spans("restore-resumed")
    first, second = attempts(files.events)
    assert not first.resumed and second.resumed
    assert second.start == when(
        "2026-12-07T04:37:45.292+00:00"
    )  # its run_resumed note belongs to it
    (o,) = outages(spans, files.plan, second.end)
    # node1 has been down since the first attempt; node3's stop in the second takes quorum away
    assert o.lost_host == "node3" and second.start <= o.lost_late <= second.end
    node1 = next(d for d in downtimes(spans, files.plan) if d.host == "node1")
    assert node1.stop_began < second.start and node1.started is not None


def test_leader_segments_have_no_leader_while_quorum_was_certainly_gone() -> None:
    files, spans = _spans("restore")
    end = when("2026-12-07T04:30:38.114+00:00")
    lost = outages(spans, files.plan, end)
    changes = leader_changes(files.report, files.events)
    assert [leader for _t, leader in changes] == ["node1"]
    segments = leader_segments(changes, end, lost)
    assert [leader for _a, _b, leader in segments] == ["node1", None, "node1"]
    assert (segments[1][0], segments[1][1]) == (lost[0].lost_late, lost[0].back)


# ----- made-up journals ----------------------------------------------------------------
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _ev(seconds: float, event: str, **data: Any) -> dict[str, Any]:
    return {
        "time": (T0 + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds"),
        "event": event,
        **data,
    }


def _plan(
    steps: list[dict[str, Any]], members: tuple[str, ...] = ("a", "b", "c")
) -> dict[str, Any]:
    return {"cluster": {"members": [{"host": m, "role": "voter"} for m in members]}, "steps": steps}


def _service(index: int, verb: str, hosts: tuple[str, ...]) -> dict[str, Any]:
    return {
        "index": index,
        "kind": "etcd_service",
        "actions": [{"host": h, "describe": [f"{verb} etcd on {h} ..."]} for h in hosts],
    }


def _host(
    step: int, host: str, start: float, end: float, status: str = "changed"
) -> list[dict[str, Any]]:
    return [
        _ev(start, "host_started", step=step, host=host),
        _ev(end, "host_finished", step=step, host=host, status=status),
    ]


def test_a_rolling_restart_keeps_quorum() -> None:
    plan = _plan([_service(1, "restart", ("a", "b", "c"))])
    events = [
        _ev(0, "run_started"),
        *_host(1, "a", 0, 1),
        *_host(1, "b", 1, 2),
        *_host(1, "c", 2, 3),
    ]
    spans = attempts(events)[0].spans
    assert outages(list(spans), plan, T0 + dt.timedelta(seconds=3)) == []
    assert len(downtimes(list(spans), plan)) == 3


def test_two_restarts_at_once_lose_quorum_for_their_overlap() -> None:
    plan = _plan([_service(1, "restart", ("a", "b", "c"))])
    events = [
        _ev(0, "run_started"),
        *_host(1, "a", 0, 2),
        *_host(1, "b", 1, 3),
        *_host(1, "c", 4, 5),
    ]
    (o,) = outages(list(attempts(events)[0].spans), plan, T0 + dt.timedelta(seconds=5))
    assert (o.lost_host, o.at_least, o.back_by) == ("b", 1.0, "etcd started on a")


def test_stopping_a_member_that_was_removed_first_is_no_outage() -> None:
    # scale-in: remove c (3 -> 2 voters, tolerates 0), then stop etcd on c
    remove = {
        "index": 1,
        "kind": "etcd_member",
        "quorum": {"change": "remove", "host": "c"},
        "actions": [],
    }
    plan = _plan([remove, _service(2, "stop", ("c",))])
    events = [_ev(0, "run_started"), *_host(1, "a", 0, 1), *_host(2, "c", 1, 2)]
    spans = list(attempts(events)[0].spans)
    assert outages(spans, plan, T0 + dt.timedelta(seconds=2)) == []
    # the same stop without the removal before it: one of three down, tolerated
    assert outages(spans, _plan([_service(2, "stop", ("c",))]), T0 + dt.timedelta(seconds=2)) == []


def test_a_stop_on_a_two_member_cluster_is_an_outage() -> None:
    plan = _plan([_service(1, "stop", ("a",)), _service(2, "start", ("a",))], members=("a", "b"))
    events = [_ev(0, "run_started"), *_host(1, "a", 0, 1), *_host(2, "a", 5, 6)]
    (o,) = outages(list(attempts(events)[0].spans), plan, T0 + dt.timedelta(seconds=6))
    assert (o.tolerated, o.at_least, o.healthy) == (0, 5.0, None)
    assert o.at_most == 6.0  # no health wait: up to the start's end


def test_a_journal_cut_short_ends_open_spans_at_its_last_event() -> None:
    events = [
        _ev(0, "run_started"),
        _ev(1, "host_started", step=1, host="a"),
        _ev(2, "command", step=1, host="a"),
    ]
    (span,) = attempts(events)[0].spans
    assert (span.status, span.seconds) == ("unfinished", 1.0)
