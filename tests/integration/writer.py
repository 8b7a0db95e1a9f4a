"""A continuous writer for the lab (aetcd over gRPC): puts w/NNNNNNNN = N in a bounded loop.

Runs as its own process: `python writer.py OUT.json ENDPOINT...`. It stops when OUT.json.stop
exists or after MAX_SECONDS. It writes OUT.json with the keys etcd acknowledged, the writes
that failed, and the longest stretch during which no write succeeded (the write stall).
On a failure it moves on to the next endpoint, the way a client with several endpoints does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aetcd

MAX_SECONDS = 600.0
PUT_TIMEOUT = 2
PAUSE = 0.005


async def write(out: Path, endpoints: list[str]) -> None:
    stop = out.with_name(out.name + ".stop")
    acked: list[int] = []
    failures = 0
    longest_stall = 0.0
    last_ok = time.monotonic()
    start = last_ok
    which = 0
    client = None
    i = 0
    while not stop.exists() and time.monotonic() - start < MAX_SECONDS:
        host, port = endpoints[which % len(endpoints)].rsplit(":", 1)
        try:
            if client is None:
                client = aetcd.Client(host, int(port), timeout=PUT_TIMEOUT, connect_wait_timeout=1, **credentials())
                await client.connect()
            await client.put(f"w/{i:08d}".encode(), str(i).encode())
            acked.append(i)
            now = time.monotonic()
            longest_stall = max(longest_stall, now - last_ok)
            last_ok = now
        except Exception:  # noqa: BLE001 - any failed write counts as failed; try the next endpoint
            failures += 1
            which += 1
            if client is not None:
                try:
                    await client.close()
                except Exception:  # noqa: BLE001
                    pass
                client = None
            await asyncio.sleep(0.05)
        i += 1
        await asyncio.sleep(PAUSE)
    if client is not None:
        await client.close()
    out.write_text(json.dumps({"acked": acked, "attempted": i, "failures": failures,
                               "longest_stall": round(longest_stall, 3),
                               "seconds": round(time.monotonic() - start, 3)}))


def credentials() -> dict[str, str]:
    """etcd auth from ETCDCTL_USER=NAME:PASSWORD in the environment (never from the command line)."""
    user, _, password = os.environ.get("ETCDCTL_USER", "").partition(":")
    return {"username": user, "password": password} if user else {}


if __name__ == "__main__":
    asyncio.run(write(Path(sys.argv[1]), [e.removeprefix("http://") for e in sys.argv[2:]]))
