"""How long the long steps will take, so that an operator can size a maintenance window.

A step's action says how many bytes it moves or rewrites on its host (`Action.work`: a copy's
size, a snapshot's, a restore's, a member's database for a defragmentation). The plan predicts
bytes / rate per host (the slowest host for a parallel step, the sum for a serial one). The rate
is what this project measured for that step kind on that inventory in earlier runs (each run
records bytes / seconds of every host action that did its work), else a conservative default.
Predicted and actual seconds both go into the report.

Rates live in .etcdops/rates.json of the project: per inventory, per step kind, a moving average.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from etcdops import paths, units
from etcdops.limits import MAX_BYTES

MB = 1 << 20
# bytes per second before anything was measured: below what this lab measured (2 cores, both ends
# on one machine), so that a first window is sized generously rather than short
DEFAULT_RATES = {
    "upload": 100 * MB,  # a verified copy over OpenSSH (sha256 on both ends)
    "download": 100 * MB,
    "etcd_snapshot_save": 60 * MB,  # save on the member, then the verified copy to the control node
    "etcd_snapshot_restore": 150 * MB,  # etcdutl snapshot restore (rewrites the db, writes the WAL)
    "etcd_defrag": 80 * MB,  # bbolt writes a compacted copy of the database
}
# seconds a step of a kind without bytes to size takes, before anything was measured here: what
# this lab measured (stop and start of etcd, a template, a health wait), rounded up
DEFAULT_STEP_SECONDS = {"etcd_service": 3.0, "wait": 1.0, "template": 0.5, "swap_dir": 0.5}
OTHER_STEP_SECONDS = 0.5
# a sample smaller or shorter than this says more about start-up than about throughput
MIN_BYTES = 32 * MB
MIN_SECONDS = 0.2
WEIGHT = 0.5  # a new sample's weight in the moving average


@dataclass(frozen=True)
class Prediction:
    seconds: float
    bytes: int
    rate: float  # bytes per second used
    samples: int  # earlier measurements behind the rate, one per host action (0: the default)

    def describe(self) -> str:
        if self.samples:
            plural = "s" if self.samples != 1 else ""
            basis = f"measured on this inventory ({self.samples} earlier measurement{plural})"
        else:
            basis = "a default rate: nothing measured on this inventory yet"
        what = f"{units.size(self.bytes)} at {units.rate(self.rate)}"
        return f"~{_seconds(self.seconds)} ({what}, {basis})"

    def as_dict(self) -> dict[str, float | int]:
        return {
            "seconds": round(self.seconds, 1),
            "bytes": self.bytes,
            "rate": round(self.rate),
            "samples": self.samples,
        }


def _path() -> Path:
    return paths.rates_file()


class Rates:
    def __init__(
        self, inventory: str, data: dict[str, dict[str, dict[str, float]]] | None = None
    ) -> None:
        self.inventory = inventory
        self.data = data if data is not None else {}

    @classmethod
    def load(cls, inventory: str) -> Rates:
        path = _path()
        try:
            if path.stat().st_size > MAX_BYTES:
                return cls(inventory)
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(inventory)
        return cls(inventory, data if isinstance(data, dict) else {})

    def rate(self, kind: str) -> tuple[float, int] | None:
        """(bytes per second, samples) for a step kind, or None for a kind without a rate."""
        seen = self.data.get(self.inventory, {}).get(kind)
        if isinstance(seen, dict) and float(seen.get("rate", 0)) > 0:
            return float(seen["rate"]), int(seen.get("samples", 1))
        return (float(DEFAULT_RATES[kind]), 0) if kind in DEFAULT_RATES else None

    def predict(self, kind: str, work: Iterable[int], parallel: bool) -> Prediction | None:
        """The step's seconds from its hosts' work (bytes), or None when it has none or no rate."""
        sizes = [w for w in work if w > 0]
        rate = self.rate(kind)
        if not sizes or rate is None:
            return None
        per_host = [w / rate[0] for w in sizes]
        return Prediction(
            max(per_host) if parallel else sum(per_host),
            max(sizes) if parallel else sum(sizes),
            rate[0],
            rate[1],
        )

    def step_seconds(self, kind: str) -> float:
        """How long a step of a kind without bytes to size takes (learned, else a default)."""
        seen = self.data.get(self.inventory, {}).get(f"step:{kind}")
        if isinstance(seen, dict) and float(seen.get("seconds", 0)) > 0:
            return float(seen["seconds"])
        return DEFAULT_STEP_SECONDS.get(kind, OTHER_STEP_SECONDS)

    def learn_step(self, kind: str, seconds: float) -> None:
        kinds = self.data.setdefault(self.inventory, {})
        seen = kinds.get(f"step:{kind}")
        if isinstance(seen, dict) and float(seen.get("seconds", 0)) > 0:
            seconds = WEIGHT * seconds + (1 - WEIGHT) * float(seen["seconds"])
        kinds[f"step:{kind}"] = {"seconds": seconds}

    def learn(self, kind: str, work: int, seconds: float) -> None:
        if kind not in DEFAULT_RATES or work < MIN_BYTES or seconds < MIN_SECONDS:
            return
        sample = work / seconds
        kinds = self.data.setdefault(self.inventory, {})
        seen = kinds.get(kind)
        if isinstance(seen, dict) and float(seen.get("rate", 0)) > 0:
            kinds[kind] = {
                "rate": WEIGHT * sample + (1 - WEIGHT) * float(seen["rate"]),
                "samples": int(seen.get("samples", 1)) + 1,
            }
        else:
            kinds[kind] = {"rate": sample, "samples": 1}

    def save(self) -> None:
        """Atomically; a failure to write costs only the next prediction's accuracy."""
        path = _path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rates-")
            with os.fdopen(fd, "w") as fh:
                json.dump(self.data, fh, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            return


def _seconds(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f} min"
