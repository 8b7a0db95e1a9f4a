"""Fill the lab with revisions: KEYS keys of SIZE bytes, each written ROUNDS times (aetcd, concurrent).

`python fill.py ENDPOINT KEYS ROUNDS SIZE [PREFIX]`; bounded by the counts it is given.
"""

from __future__ import annotations

import asyncio
import os
import sys

import aetcd

CONCURRENCY = 64


async def fill(endpoint: str, keys: int, rounds: int, size: int, prefix: str = "fill/") -> None:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    async with aetcd.Client(host, int(port), timeout=30, **credentials()) as client:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def put(key: bytes, value: bytes) -> None:
            async with sem:
                await client.put(key, value)

        for r in range(rounds):
            value = bytes([65 + r % 26]) * size
            await asyncio.gather(*(put(f"{prefix}{i:06d}".encode(), value) for i in range(keys)))


def credentials() -> dict[str, str]:
    """etcd auth from ETCDCTL_USER=NAME:PASSWORD in the environment (never from the command line)."""
    user, _, password = os.environ.get("ETCDCTL_USER", "").partition(":")
    return {"username": user, "password": password} if user else {}


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(fill(args[0], int(args[1]), int(args[2]), int(args[3]), *(args[4:5])))
