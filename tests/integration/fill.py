"""Fill the lab with revisions: KEYS keys of SIZE bytes, each written ROUNDS times (aetcd, concurrent).

`python fill.py ENDPOINT KEYS ROUNDS SIZE [PREFIX]`; bounded by the counts it is given.
"""

from __future__ import annotations

import asyncio
import sys

from etcd_client import client  # noqa: I001 - beside this script

CONCURRENCY = 64


async def fill(endpoint: str, keys: int, rounds: int, size: int, prefix: str = "fill/") -> None:
    async with client(endpoint, timeout=30) as etcd:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def put(key: bytes, value: bytes) -> None:
            async with sem:
                await etcd.put(key, value)

        for r in range(rounds):
            value = bytes([65 + r % 26]) * size
            await asyncio.gather(*(put(f"{prefix}{i:06d}".encode(), value) for i in range(keys)))


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(fill(args[0], int(args[1]), int(args[2]), int(args[3]), *(args[4:5])))
