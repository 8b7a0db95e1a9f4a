"""A continuous writer for the lab (aetcd over gRPC): puts w/NNNNNNNN = N in a bounded loop.

Runs as its own process: `python writer.py OUT.json ENDPOINT...`. It stops when OUT.json.stop
exists or after MAX_SECONDS. It writes OUT.json with the keys etcd acknowledged, the writes
that failed, and the longest stretch during which no write succeeded (the write stall).
On a failure it moves on to the next endpoint, the way a client with several endpoints does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from etcd_client import client  # noqa: I001 - beside this script

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
    etcd = None
    i = 0
    while not stop.exists() and time.monotonic() - start < MAX_SECONDS:
        try:
            if etcd is None:
                etcd = client(
                    endpoints[which % len(endpoints)], timeout=PUT_TIMEOUT, connect_wait_timeout=1
                )
                await etcd.connect()
            await etcd.put(f"w/{i:08d}".encode(), str(i).encode())
            acked.append(i)
            now = time.monotonic()
            longest_stall = max(longest_stall, now - last_ok)
            last_ok = now
        except Exception:  # noqa: BLE001 - any failed write counts as failed; try the next endpoint
            failures += 1
            which += 1
            if etcd is not None:
                try:
                    await etcd.close()
                except Exception:  # noqa: BLE001
                    pass
                etcd = None
            await asyncio.sleep(0.05)
        i += 1
        await asyncio.sleep(PAUSE)
    if etcd is not None:
        await etcd.close()
    out.write_text(
        json.dumps(
            {
                "acked": acked,
                "attempted": i,
                "failures": failures,
                "longest_stall": round(longest_stall, 3),
                "seconds": round(time.monotonic() - start, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(write(Path(sys.argv[1]), sys.argv[2:]))
