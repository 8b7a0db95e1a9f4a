"""Fill the lab with revisions: KEYS keys of SIZE bytes, each written ROUNDS times (aetcd,
concurrent).

`python fill.py [--batch=N] ENDPOINT KEYS ROUNDS SIZE [PREFIX]`; bounded by the counts it is given.
One put per request by default (one raft entry per key version, as a Kubernetes apiserver writes);
with --batch=N, transactions of N puts (etcd's --max-txn-ops is 128 by default): the same key
versions, written ~4x faster (measured: 100 MB in 5.8 s -> 1.3 s); the bench uses it for its 1.2 GB
fill and the small compaction parts. A learner replaying the log sees fewer, larger entries, and a
compaction of such history ran much longer on one member once (see the README's bench section).
"""

from __future__ import annotations

import asyncio
import sys

from etcd_client import client  # noqa: I001 - beside this script

CONCURRENCY = 64
TXN_CONCURRENCY = 16


async def fill(
    endpoint: str, keys: int, rounds: int, size: int, prefix: str = "fill/", batch: int = 0
) -> None:
    async with client(endpoint, timeout=30) as etcd:
        sem = asyncio.Semaphore(TXN_CONCURRENCY if batch else CONCURRENCY)

        async def put(key: bytes, value: bytes) -> None:
            async with sem:
                await etcd.put(key, value)

        async def txn(names: list[bytes], value: bytes) -> None:
            async with sem:
                await etcd.transaction(
                    compare=[], success=[etcd.transactions.put(k, value) for k in names], failure=[]
                )

        for r in range(rounds):
            value = bytes([65 + r % 26]) * size
            names = [f"{prefix}{i:06d}".encode() for i in range(keys)]
            if batch:
                await asyncio.gather(
                    *(txn(names[i : i + batch], value) for i in range(0, keys, batch))
                )
            else:
                await asyncio.gather(*(put(name, value) for name in names))


if __name__ == "__main__":
    args = sys.argv[1:]
    batch = 0
    if args and args[0].startswith("--batch="):
        batch = max(1, min(128, int(args.pop(0).split("=", 1)[1])))
    asyncio.run(fill(args[0], int(args[1]), int(args[2]), int(args[3]), *(args[4:5]), batch=batch))
