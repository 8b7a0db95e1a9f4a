"""The latency comparison within a run: what counts as a member that got slower."""

from __future__ import annotations

from etcdops.facts.latency import worse


def test_a_p99_that_more_than_doubled_by_several_ms_is_said() -> None:
    before = {"node1": {"put_p99_ms": 4.0, "get_p99_ms": 1.0}}
    after = {"node1": {"put_p99_ms": 12.5, "get_p99_ms": 1.1}}
    (said,) = worse(before, after)
    assert said.startswith("WARNING: node1 put_p99_ms 4.0 -> 12.5 ms") and "+8.5 ms" in said


def test_noise_on_a_fast_member_is_not_said() -> None:
    # with 20 samples a p99 is one request: 1.1 -> 2.4 ms is more than double, and nothing
    before = {"node1": {"put_p99_ms": 1.1, "get_p99_ms": 0.4}}
    after = {"node1": {"put_p99_ms": 2.4, "get_p99_ms": 3.9}}
    assert worse(before, after) == []


def test_a_member_without_a_before_figure_is_not_compared() -> None:
    assert worse({}, {"node2": {"put_p99_ms": 50.0}}) == []
