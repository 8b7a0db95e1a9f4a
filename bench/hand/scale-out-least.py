"""The least a Python tool over SSH can do for a checked scale-out of lab host node4 (a `make bench`
reference, no target): the checks of scale-out-checked.sh, but each run on its host over SSH with
paramiko, as etcdops must (the hosts are separate machines), one command per host per phase, the
hosts of a phase in parallel. No inventory, templates, plan, lock, journal or progress: the same
commands, written out. etcd is already installed on node4.

Usage: python scale-out-least.py LAB_ROOT NET
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.modules["invoke"] = None  # type: ignore[assignment]  # as etcdops does: paramiko needs it only for ssh_config
import paramiko  # noqa: E402

LAB, NET = os.path.abspath(sys.argv[1]), sys.argv[2]
NODES = ("node1", "node2", "node3", "node4")
POOL = ThreadPoolExecutor(len(NODES))


def connect(name: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(f"{LAB}/ssh/known_hosts")
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        f"{NET}{name[-1]}",
        port=2222,
        username="root",
        key_filename=f"{LAB}/ssh/id_ed25519",
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def sh(name: str, command: str) -> tuple[int, str]:
    _, out, err = CLIENTS[name].exec_command(command, timeout=30)
    text = out.read().decode() + err.read().decode()
    return out.channel.recv_exit_status(), text


def on_all(commands: dict[str, str]) -> dict[str, tuple[int, str]]:
    return dict(zip(commands, POOL.map(lambda n: sh(n, commands[n]), commands), strict=True))


def ctl(name: str) -> str:
    return (
        f"{LAB}/hosts/{name}/bin/etcdctl --endpoints=http://{NET}{name[-1]}:2379 --dial-timeout=1s "
        "--command-timeout=2s"
    )


def until(what: str, attempts: int, fn) -> None:  # type: ignore[no-untyped-def]
    for _ in range(attempts):
        if fn():
            return
        time.sleep(0.25)
    sys.exit(f"{what}: gave up")


CLIENTS = dict(zip(NODES, POOL.map(connect, NODES), strict=True))
# pre-flight: every voter healthy, no learner pending, node4's data dir empty
pre = on_all(
    {n: f"{ctl(n)} endpoint health" for n in NODES[:3]}
    | {"node4": f'[ -z "$(ls -A {LAB}/hosts/node4/var/lib/etcd 2>/dev/null)" ]'}
)
assert all(rc == 0 for rc, _ in pre.values()), pre
rc, members = sh("node1", f"{ctl('node1')} member list")
assert rc == 0 and not re.search(r", true$", members, re.M), members
rc, out = sh("node1", f"{ctl('node1')} member add node4 --learner --peer-urls=http://{NET}4:2380")
assert rc == 0, out
cluster = re.search(r'^ETCD_INITIAL_CLUSTER="(.*)"$', out, re.M).group(1)  # type: ignore[union-attr]
H = f"{LAB}/hosts/node4"
env = f"""ETCD_NAME=node4
ETCD_DATA_DIR={H}/var/lib/etcd
ETCD_LISTEN_PEER_URLS=http://{NET}4:2380
ETCD_LISTEN_CLIENT_URLS=http://{NET}4:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://{NET}4:2380
ETCD_ADVERTISE_CLIENT_URLS=http://{NET}4:2379
ETCD_INITIAL_CLUSTER={cluster}
ETCD_INITIAL_CLUSTER_STATE=existing
"""
rc, out = sh("node4", f"cat > {H}/etc/etcd/etcd.env <<'ENV'\n{env}ENV\n{H}/bin/etcd-service start")
assert rc == 0, out


def applied(rc_out: tuple[int, str]) -> int:
    found = re.findall(r'"raftAppliedIndex":(\d+)', rc_out[1])
    return int(found[0]) if rc_out[0] == 0 and found else -1


def caught_up() -> bool:
    got = on_all({n: f"{ctl(n)} -w json endpoint status" for n in ("node1", "node4")})
    return applied(got["node4"]) >= 0 and applied(got["node4"]) >= applied(got["node1"]) - 100


until("node4 catching up", 1200, caught_up)
member_id = next(
    line.split(", ")[0]
    for line in sh("node1", f"{ctl('node1')} member list")[1].splitlines()
    if f"http://{NET}4:2380" in line
)
until("promote", 600, lambda: sh("node1", f"{ctl('node1')} member promote {member_id}")[0] == 0)


def verified() -> bool:
    got = on_all({n: f"{ctl(n)} endpoint health && {ctl(n)} member list" for n in NODES})
    lists = {
        "".join(sorted(out.splitlines(keepends=True)[1:])) for rc, out in got.values() if rc == 0
    }
    return (
        all(rc == 0 for rc, _ in got.values())
        and len(lists) == 1
        and f"{member_id}, started, node4, http://{NET}4:2380, http://{NET}4:2379, false"
        in lists.pop()
    )


until("node4 a started, healthy voter on whom every member agrees", 240, verified)
