"""Each run's artifacts under .etcdops/runs/ID/: the plan and its events, flushed as they happen."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

from etcdops.durable import durable


class Journal:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: Any) -> None:
        if self.folder is not None:
            (self.folder / name).write_text(json.dumps(data, indent=2, default=str) + "\n")
            durable(self.folder / name)
            durable(self.folder)

    def events(self) -> list[dict[str, Any]]:
        """Every event journaled so far in this run's folder (earlier attempts of it included)."""
        if self.folder is None or not (self.folder / "events.jsonl").is_file():
            return []
        found = []
        for line in (self.folder / "events.jsonl").read_text().splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # cut short by a kill -9
        return found

    def write_text(self, name: str, text: str) -> None:
        if self.folder is not None:
            (self.folder / name).write_text(text)
            durable(self.folder / name)

    def event(self, kind: str, **data: Any) -> None:
        if self.folder is None:
            return
        record = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "event": kind,
            **data,
        }
        with self._lock, open(self.folder / "events.jsonl", "a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            if kind in DURABLE:
                os.fsync(fh.fileno())


# what a resume relies on (runs.finished_steps): on disk before the run goes on, so that a crash of
# the control node cannot take back the record of a step that finished
DURABLE = frozenset({"step_finished", "step_skipped", "run_finished"})
