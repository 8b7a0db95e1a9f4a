"""Each run's artifacts under .etcdops/runs/ID/: the plan and its events, flushed as they happen."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: Any) -> None:
        if self.folder is not None:
            (self.folder / name).write_text(json.dumps(data, indent=2, default=str) + "\n")

    def event(self, kind: str, **data: Any) -> None:
        if self.folder is None:
            return
        record = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": kind, **data}
        with self._lock, open(self.folder / "events.jsonl", "a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
