"""The journal a resume relies on reaches the disk before the run goes on (fsync), the rest is only
flushed: a crash of the control node cannot take back a finished step's record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etcdops.execute.journal import Journal
from etcdops.runs import finished_steps


def test_finished_steps_and_the_run_files_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    journal = Journal(tmp_path / "run")
    events = str(tmp_path / "run" / "events.jsonl")
    journal.write("plan.json", {"steps": [1, 2]})
    assert synced == [str(tmp_path / "run" / "plan.json"), str(tmp_path / "run")]
    journal.event("step_started", step=1)
    journal.event("host_finished", step=1, host="node1")
    assert synced[2:] == []  # progress only: flushed, not synced
    journal.event("step_finished", step=1)
    journal.event("step_skipped", step=2)
    journal.event("run_finished", status="successful")
    assert synced[2:] == [events, events, events]
    assert finished_steps(tmp_path / "run") == frozenset({1, 2})
