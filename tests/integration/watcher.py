"""A watch on a key prefix from a given revision, kept across etcd restarts as etcd's own
clientv3 keeps it:
when the stream breaks, it watches again from the revision after the last event it got (or
from its first
revision if it got none). It records every event, every (re)start of the watch and every error; a
"revision compacted" error ends it (a real client would list again and start over).

Runs as its own process, like writer.py (aetcd reads the lab's certificates from the environment):
`python watcher.py OUT.json PREFIX START_REVISION ENDPOINT...`; it stops when OUT.json.stop
exists or
after MAX_SECONDS and then writes OUT.json. From a test:

    watch = Watch(lab, tmp_path / "watch.json", "/service/", start_revision=rev + 1)
    ...                                     # the restore
    result = watch.stop()                   # {"events": [...], "errors": [...], "watches": [...]}
    compacted(result), reused_revisions(result, t), events_after_break(result, t)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.helpers import LabEnv

MAX_SECONDS = 900.0
RETRY_PAUSE = 0.2


async def watch(
    out: Path, prefix: bytes, start_revision: int, endpoints: list[str], result: dict
) -> None:
    import aetcd
    from etcd_client import client  # noqa: I001 - beside this script

    stop = out.with_name(out.name + ".stop")
    next_rev, which, started = start_revision, 0, time.monotonic()
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    while not stop.exists() and time.monotonic() - started < MAX_SECONDS:
        endpoint = endpoints[which % len(endpoints)]
        etcd = client(endpoint, timeout=2, connect_wait_timeout=1)
        try:
            await etcd.connect()
            stream = await etcd.watch(prefix, range_end=end, start_revision=next_rev)
            result["watches"].append({"t": time.time(), "from": next_rev, "endpoint": endpoint})
            out.with_name(out.name + ".started").touch()
            async for event in stream:
                kv = event.kv
                result["events"].append(
                    {
                        "t": time.time(),
                        "key": kv.key.decode(errors="replace"),
                        "type": str(event.kind),
                        "mod_revision": kv.mod_revision,
                        "create_revision": kv.create_revision,
                        "version": kv.version,
                    }
                )
                next_rev = kv.mod_revision + 1
        except aetcd.exceptions.RevisionCompactedError as err:
            result["errors"].append(
                {
                    "t": time.time(),
                    "type": type(err).__name__,
                    "message": str(err),
                    "compact_revision": err.compacted_revision,
                    "watching_from": next_rev,
                }
            )
            break
        except Exception as err:  # noqa: BLE001 - any broken stream: watch again, as clientv3 does
            result["errors"].append(
                {
                    "t": time.time(),
                    "type": type(err).__name__,
                    "message": str(err)[:300],
                    "watching_from": next_rev,
                }
            )
            which += 1
            await asyncio.sleep(RETRY_PAUSE)
        finally:
            try:
                await etcd.close()
            except Exception:  # noqa: BLE001
                pass


async def main(out: Path, prefix: bytes, start_revision: int, endpoints: list[str]) -> None:
    stop = out.with_name(out.name + ".stop")
    result: dict = {"events": [], "errors": [], "watches": [], "start_revision": start_revision}
    task = asyncio.ensure_future(watch(out, prefix, start_revision, endpoints, result))
    while not task.done() and not stop.exists():
        await asyncio.sleep(0.1)
    if not task.done():  # stopped from outside while the stream waits: cancel it, keep what it got
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    out.write_text(json.dumps(result))


class Watch:
    """The watcher process of one test, with the lab's credentials in its environment."""

    def __init__(
        self,
        lab: LabEnv,
        out: Path,
        prefix: str,
        start_revision: int,
        endpoints: list[str] | None = None,
    ) -> None:
        self.out = out
        eps = endpoints or [lab.client_url(m["name"]) for m in lab.status()["members"]]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(out), prefix, str(start_revision), *eps],
            cwd=Path(__file__).parent,
            env=lab.ctl_env,
        )
        started = out.with_name(out.name + ".started")
        for _ in range(300):  # up to 30 s for the first watch to be created
            if started.exists() or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if not started.exists():
            code = self.proc.poll()
            self.stop()
            raise AssertionError(f"the watcher did not start watching (exit code {code})")

    def stop(self) -> dict:
        self.out.with_name(self.out.name + ".stop").touch()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return (
            json.loads(self.out.read_text())
            if self.out.exists()
            else {"events": [], "errors": [], "watches": []}
        )


def compacted(result: dict) -> list[dict]:
    return [e for e in result["errors"] if e["type"] == "RevisionCompactedError"]


def first_break(result: dict, after_wall: float) -> float | None:
    """When the stream first broke at or after `after_wall` (etcd stopped): None if it never did."""
    return min((e["t"] for e in result["errors"] if e["t"] >= after_wall), default=None)


def highest_before_break(result: dict, after_wall: float) -> int:
    """The highest revision the watch had got before its stream broke (at or after `after_wall`)."""
    cut = first_break(result, after_wall) or float("inf")
    return max(
        [e["mod_revision"] for e in result["events"] if e["t"] < cut]
        + [result["start_revision"] - 1]
    )


def events_after_break(result: dict, after_wall: float) -> list[dict]:
    cut = first_break(result, after_wall)
    return [] if cut is None else [e for e in result["events"] if e["t"] >= cut]


def reused_revisions(result: dict, after_wall: float) -> list[dict]:
    """Events delivered after the break at a revision the watch had already passed before it: the
    old revision numbers of another history."""
    highest = highest_before_break(result, after_wall)
    return [e for e in events_after_break(result, after_wall) if e["mod_revision"] <= highest]


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4:]))
