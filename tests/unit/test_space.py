"""When a member's space figures after a compaction count what it freed (facts/space.py, Settling),
on sequences of reads shaped as measured on the lab: a quiet member's figure does not move until
it commits a later write transaction."""

from __future__ import annotations

from etcdops.facts.space import (
    COUNTERS,
    DEFAULT_QUOTA,
    MB,
    SPACE,
    Settling,
    Space,
    defrag_reason,
    judged_on,
)


def feed(reads: list[tuple[int, int | None, bool, bool]]) -> list[tuple[bool, bool]]:
    """(settled, stalled) after each (in use MiB, commits, counters say finished, nudged)."""
    track, seen = Settling(), []
    for in_use, commits, counters, nudged in reads:
        track.observe(in_use * MB, commits, counters, nudged)
        seen.append((track.settled, track.stalled))
    return seen


def test_a_quiet_member_is_not_settled_until_it_has_committed_twice_since() -> None:
    # the lab's follower: 128.0 MiB in use for as long as nothing was written, 70.6 after
    seen = feed(
        [
            (128.0, 1490, True, False),  # counters: finished; nothing committed since
            (128.0, 1490, False, False),  # still nothing: stalled, a write is needed
            (70.6, 1491, False, True),
            (70.6, 1492, False, False),
        ]
    )
    assert seen == [(False, True), (False, True), (False, False), (True, False)]


def test_a_figure_still_shrinking_after_a_commit_waits_for_the_next() -> None:
    # the member that needed two writes: up once, then down by the pages its compaction freed
    seen = feed(
        [
            (128.0, 100, True, False),
            (128.8, 101, False, True),
            (71.0, 102, False, False),  # two commits since, but still moving
            (71.0, 103, False, False),
        ]
    )
    assert [s for s, _ in seen] == [False, False, False, True]


def test_a_busy_member_settles_without_a_nudge() -> None:
    seen = feed([(60.0, 10, True, False), (40.0, 11, False, False), (40.1, 13, False, False)])
    assert seen[-1] == (True, False) and not seen[1][1]


def test_without_counters_three_calm_reads_each_after_a_nudge() -> None:
    track = Settling()
    for in_use, nudged in [(90, False), (90, False), (90, True), (30, True), (30, True)]:
        track.observe(in_use * MB, None, False, nudged)
    assert not track.settled  # no nudge, no commit: a quiet member's figure tells nothing
    for _ in range(2):
        track.observe(30 * MB, None, False, True)
    assert track.settled and track.finished == SPACE


def test_counters_without_a_commit_counter_fall_back_to_calm_reads() -> None:
    track = Settling()
    track.observe(50 * MB, None, True, False)
    assert track.finished == COUNTERS and not track.settled
    for _ in range(3):
        track.observe(20 * MB, None, False, True)
    assert not track.settled  # the shrink from 50 to 20 resets the count
    track.observe(20 * MB, None, False, True)
    assert track.settled


def test_judged_on_names_the_figures() -> None:
    space = Space("node3", int(79.1 * MB), int(68.8 * MB), DEFAULT_QUOTA, False, False)
    assert not defrag_reason(space, "default")
    text = judged_on(space, "settled after this run's compaction")
    assert "db size 79.1 MiB, in use 68.8 MiB, 10.3 MiB reclaimable (13%)" in text
    assert text.endswith("settled after this run's compaction")
