"""make bench: figures measured side by side in one run, on a fresh local lab (3 members, 2 spares).

1. `etcdops status --inventory lab` vs a minimal paramiko script making the same SSH calls
   (one connection and one facts command per member, in threads). Median of RUNS each.
2. `etcdops --help` start-up time (target < 0.3 s, issue 15).
3. restore of a ~25 MB snapshot: `etcdops run restore` vs bench/hand/restore.sh (target ratio
<= 1.25),
   median of RESTORES alternating pairs.
4. scale-out of one learner with ~25 MB of data, on a fresh lab: `etcdops run scale-out -p
install=false`
   vs bench/hand/scale-out.sh (target ratio <= 1.5), which runs every command on the control
   node (only
   the lab allows that). For reference (no target): the same script over OpenSSH, host by host
   (scale-out-ssh.sh); the issue's checks by hand (scale-out-checked.sh); and those checks
   over SSH with
   paramiko and nothing else (scale-out-least.py), the least a Python tool over SSH can take.
   The first
   run with the install playbook is shown too. Median of SCALE_OUTS rounds. Then the same
   rounds after a
   restore, where the learner gets a snapshot from the leader (no target).
5. compact-defrag of a ~130 MB database: `etcdops run compact-defrag -p rule=always
   -p latency=false` (the hand script measures no latency) vs
   bench/hand/compact-defrag.sh (target ratio <= 1.25), each with a concurrent writer whose
   longest write stall is reported; for reference, bench/hand/compact-defrag-checked.sh does
   by hand the checks the issue asks of etcdops (no target), and bench/hand/compact-then-defrag.sh
   only waits for the compaction before defragmenting: the least any such run can take. Median of
   COMPACTIONS rounds.
6. big (issue 16): a ~1.2 GB database; one and three parallel copies of 512 MB (etcdops' copier vs
   scp and an ssh pipe, with the machine's CPU time), snapshot vs save + scp, restore on 3
   members vs
   parallel scp + the same commands over OpenSSH, compact-defrag vs compact-then-defrag.sh with the
   writer's longest stall; a per-phase timeline of one run of each. Medians of BIG_RUNS.
7. tls (issue 15): status, restore, scale-out and compact-defrag ratios on the plaintext lab and on
   the TLS lab, side by side; TLS may add at most 10% to any ratio.
8. drill (issue 31.4): a restore drill of a ~1.2 GB snapshot on the two spares (restore-drill: a
   throwaway cluster on its own ports and token, checked against the snapshot's metadata and the
   source's hashkv, stopped and moved aside) vs bench/hand/drill-ssh.sh, the same over OpenSSH
   (target <= 1.2). Medians of BIG_RUNS; the spares get etcd once, untimed, by a first drill.
9. wide (issue 16): status, plan and every wait step (run status' health wait, restore's two waits,
   each step's own seconds from its run's report) on 7 members vs 3 (target <= 1.3), a 50-host
   inventory vs its 3 members alone (target <= 1.10).
10. rotate-certs (issue 32.2): new server, peer and client certificates on the 3-member TLS lab,
   `etcdops run rotate-certs -p dir=...` vs bench/hand/rotate-certs-ssh.sh (the same restarts,
   health waits and serial checks over OpenSSH; target ratio <= 1.2), each with the writer's
   longest stall. Median of ROTATIONS alternating rounds, new certificates for every run.
11. upgrade (issue 32.1): a rolling patch upgrade 3.5.16 ->
   3.5.30 of 3 members vs bench/hand/upgrade-ssh.sh over OpenSSH (target <= 1.2).
At the end, what make bench left behind (target < 1 GB) and how long each part took.
Every figure is printed with the runs it came from. `bench/run.py NAME ...` runs only those.
The lab is brought up fresh at the start; `etcdops lab down` stops it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ETCDOPS = str(ROOT / ".venv" / "bin" / "etcdops")
PY = str(ROOT / ".venv" / "bin" / "python")
RUNS = 7
# the bench's runs, snapshots and rates stay in the project it measures (etcdops/paths.py)
os.environ.setdefault("ETCDOPS_HOME", str(ROOT))

BASELINE = r"""
import sys, threading, paramiko
from pathlib import Path
from etcdops.inventory import load_inventory
from etcdops.facts.script import facts_script
inv = load_inventory(Path("inventories/lab"))
def one(h):
    c = paramiko.SSHClient(); c.load_host_keys(h.known_hosts)
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(h.address, port=h.port, username=h.user, key_filename=h.key_file,
              look_for_keys=False, allow_agent=False)
    _, out, _ = c.exec_command(facts_script(h)); out.read(); c.close()
ts = [threading.Thread(target=one, args=(h,)) for h in inv.members]
[t.start() for t in ts]; [t.join(timeout=30) for t in ts]
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd)} exited {proc.returncode}\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return time.perf_counter() - start


def timed_output(cmd: list[str]) -> tuple[float, str]:
    """Seconds and stderr of a command that must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd)} exited {proc.returncode}\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return time.perf_counter() - start, proc.stderr


def median(cmd: list[str]) -> float:
    timed(cmd)  # warm-up
    return statistics.median(timed(cmd) for _ in range(RUNS))


def alternating(*cmds: list[str]) -> list[list[float]]:
    """RUNS runs of each command, taking turns (after one warm-up each): every run, per command."""
    for cmd in cmds:
        timed(cmd)
    runs: list[list[float]] = [[] for _ in cmds]
    for _ in range(RUNS):
        for cmd, out in zip(cmds, runs, strict=True):
            out.append(timed(cmd))
    return runs


NET = os.environ.get("ETCDOPS_LAB_NET", "127.0.1.")  # the lab's /24, as `lab up` reads it
LAB = ROOT / ".lab"
HAND = ROOT / "bench" / "hand"
TESTS = ROOT / "tests" / "integration"
ETCDCTL = str(LAB / "hosts" / "node1" / "bin" / "etcdctl")  # the lab's, run on the control node
results: list[bool] = []
rows: list[
    tuple[str, ...]
] = []  # the summary table printed at the end (Markdown, as in the README)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def row(what: str, ours: str, base: str, ratio: str, target: str, ok: bool) -> None:
    results.append(ok)
    rows.append((what.split(" [")[0], ours, base, ratio, f"{target}: {verdict(ok)}"))


def report(
    what: str,
    ours: float,
    base: float,
    target: float,
    extra: str = "",
    names: tuple[str, str] = ("etcdops", "by hand"),
) -> None:
    ok = ours / base <= target
    row(what, duration(ours), duration(base), f"{ours / base:.2f}", f"<= {target}", ok)
    print(
        f"{what}: {names[0]} {duration(ours)}, {names[1]} {duration(base)}, ratio "
        f"{ours / base:.2f} "
        f"(target <= {target}: {'met' if ok else 'MISSED'}){extra}",
        flush=True,
    )


def duration(seconds: float) -> str:
    """Seconds, or milliseconds under a tenth of a second (a wait's poll)."""
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


def etcdops(*args: str) -> float:
    return timed([ETCDOPS, *args])


def scheme() -> str:
    return os.environ.get("SCHEME", "http")


def fill(keys: int, rounds: int, size: int = 1024, batch: int = 0) -> None:
    """Revisions for a part: one put per request (a learner replays them one by one), or, for the
    history
    a compaction removes, transactions of `batch` puts: the same key versions, ~4x faster to
    write."""
    subprocess.run(
        [
            PY,
            str(TESTS / "fill.py"),
            *([f"--batch={batch}"] if batch else []),
            f"{scheme()}://{NET}1:2379",
            str(keys),
            str(rounds),
            str(size),
        ],
        cwd=ROOT,
        check=True,
        timeout=1800,
    )


def with_writer(cmd: list[str]) -> tuple[float, float]:
    """Run cmd while tests/integration/writer.py writes; (seconds, longest write stall)."""
    out = LAB / "bench-writes.json"
    stop = out.with_name(out.name + ".stop")
    stop.unlink(missing_ok=True)
    writer = subprocess.Popen(
        [PY, str(TESTS / "writer.py"), str(out)]
        + [f"{scheme()}://{NET}{i}:2379" for i in (1, 2, 3)],
        cwd=ROOT,
    )
    time.sleep(1.0)
    try:
        seconds = timed(cmd)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    return seconds, float(json.loads(out.read_text())["longest_stall"])


def bench_status() -> None:
    ours = median([ETCDOPS, "status", "--inventory", "lab"])
    base = median([PY, "-c", BASELINE])
    report(f"status --inventory lab (3 members) [median of {RUNS}]", ours, base, 1.5)
    helps = median([ETCDOPS, "--help"])
    row("etcdops --help start-up", f"{helps:.3f} s", "", "", "< 0.3 s", helps < 0.3)
    print(
        f"etcdops --help: {helps:.3f}s (target < 0.3s: {'met' if helps < 0.3 else 'MISSED'}) "
        f"[median of {RUNS}]",
        flush=True,
    )


RESTORES = 5  # alternating pairs
SCALE_OUTS = 3
COMPACTIONS = 3


def bench_restore() -> None:
    fill(20000, 1)
    etcdops("run", "snapshot", "-i", "lab", "--yes")
    snap = max((ROOT / "snapshots" / "lab").glob("*.db"), key=lambda p: p.stat().st_mtime)
    ours, base = [], []
    for _ in range(RESTORES):  # alternating, so neither side always runs on a warmer cache
        ours.append(etcdops("run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={snap}"))
        base.append(timed([str(HAND / "restore.sh"), str(LAB), str(snap), NET]))
        # the snapshot was taken under etcdops' lock: the hand restore brought the key back with
        # its lease (the etcdops restore removes it); remove it here, untimed
        subprocess.run(
            [ETCDCTL, f"--endpoints={scheme()}://{NET}1:2379", "del", "etcdops/lock"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    report(
        f"restore of a {snap.stat().st_size / 2**20:.0f} MB snapshot on 3 members [median of "
        f"{RESTORES}]",
        statistics.median(ours),
        statistics.median(base),
        1.25,
        spread(ours, base),
    )


def spread(ours: list[float], base: list[float]) -> str:
    return f"; all runs: etcdops {seconds(ours)}, by hand {seconds(base)}"


def seconds(runs: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in runs)


def milliseconds(runs: list[float]) -> str:
    return " ".join(f"{x * 1000:.0f}" for x in runs)


def lab_up(tls: bool = False, members: int = 3, spares: int = 2) -> None:
    """The lab for a part: plaintext by default (the hand scripts' baselines), TLS for the TLS
    part."""
    subprocess.run(
        [
            ETCDOPS,
            "lab",
            "up",
            "--members",
            str(members),
            "--spares",
            str(spares),
            *([] if tls else ["--plaintext"]),
        ],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    os.environ.pop("SCHEME", None)
    for key in ("ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"):
        os.environ.pop(key, None)
    if (
        tls
    ):  # the hand scripts' etcdctl finds the lab's client certificate here, as etcdctl reads it
        certs = LAB / "hosts" / "node1" / "etc" / "ssl" / "etcd" / "ssl"
        os.environ.update(
            SCHEME="https",
            ETCDCTL_CACERT=str(certs / "ca.pem"),
            ETCDCTL_CERT=str(certs / "admin-node1.pem"),
            ETCDCTL_KEY=str(certs / "admin-node1-key.pem"),
        )


def scale_in() -> None:
    etcdops("run", "scale-in", "-i", "lab", "--yes", "-p", "host=node4")


SCALE_OUT_RUNS = {  # name: command, one scale-out of node4 each; "hand" is the target's baseline
    "etcdops": [
        ETCDOPS,
        "run",
        "scale-out",
        "-i",
        "lab",
        "--yes",
        "-p",
        "host=node4",
        "-p",
        "install=false",
    ],
    "hand": [str(HAND / "scale-out.sh"), str(LAB), NET],
    "hand over ssh": [str(HAND / "scale-out-ssh.sh"), str(LAB), NET],
    "checked": [str(HAND / "scale-out-checked.sh"), str(LAB), NET],
    "least over ssh": [PY, str(HAND / "scale-out-least.py"), str(LAB), NET],
}


def scale_out_rounds(rounds: int) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Every SCALE_OUT_RUNS command once per round, in turn; each followed by a scale-in
    (untimed)."""
    times: dict[str, list[float]] = {name: [] for name in SCALE_OUT_RUNS}
    answers: dict[str, list[str]] = {name: [] for name in SCALE_OUT_RUNS}
    for _ in range(rounds):
        for name, cmd in SCALE_OUT_RUNS.items():
            times[name].append(timed(cmd))
            answers[name].append(serving())
            scale_in()
    return times, answers


def bench_scale_out() -> None:
    # a fresh lab holding ~25 MB: the leader still has its whole log, and the learner replays it
    lab_up()
    fill(20000, 1)
    first = etcdops("run", "scale-out", "-i", "lab", "--yes", "-p", "host=node4")
    scale_in()
    times, answers = scale_out_rounds(SCALE_OUTS)
    med = {name: statistics.median(t) for name, t in times.items()}
    o, b = med["etcdops"], med["hand"]
    report(
        "scale-out of one learner (~25 MB of data, etcd already installed) [median of "
        f"{SCALE_OUTS}]",
        o,
        b,
        1.5,
        spread(times["etcdops"], times["hand"])
        + f"; the first scale-out with the install playbook took {first:.2f}s",
    )
    # the hand script runs every command on the control node, which only the lab allows (its hosts
    # share this machine's file system); on real hosts the same commands go over SSH
    print("  for reference (no target), median s, x the hand run, x etcdops' time:", flush=True)
    for name, why in (
        ("hand over ssh", "scale-out-ssh.sh: the same commands, each over OpenSSH on its host"),
        ("checked", "scale-out-checked.sh: the issue's checks, on the control node"),
        (
            "least over ssh",
            "scale-out-least.py: the issue's checks over SSH with paramiko, "
            "nothing else: the least a Python tool over SSH can take",
        ),
    ):
        print(
            f"    {name}: {med[name]:.2f}s = {med[name] / b:.2f} x hand; etcdops/{name} "
            f"{o / med[name]:.2f} "
            f"({why}; runs {seconds(times[name])})",
            flush=True,
        )
    print(
        "  the new member serves clients right after each run: "
        + ", ".join(f"{k} {' '.join(v)}" for k, v in answers.items()),
        flush=True,
    )
    # after a restore the leader's log starts at the snapshot, so a learner gets a snapshot:
    # etcd 3.5 then often loses its first publish and serves clients only ~7 s after it started
    etcdops("run", "snapshot", "-i", "lab", "--yes")
    snap = max((ROOT / "snapshots" / "lab").glob("*.db"), key=lambda p: p.stat().st_mtime)
    etcdops("run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={snap}")
    # etcd refuses member add ("unhealthy cluster") for ~5 s after a restart; the hand scripts would
    # fail
    time.sleep(6)
    times, answers = scale_out_rounds(SCALE_OUTS)
    print(
        "  after a restore (no target): "
        + ", ".join(f"{k} {seconds(v)}" for k, v in times.items())
        + "; serving right after: "
        + ", ".join(f"{k} {' '.join(v)}" for k, v in answers.items()),
        flush=True,
    )


def serving() -> str:
    """Does node4 answer `endpoint health` (1 s) right after a run: the issue's started, healthy
    voter."""
    ok = (
        subprocess.run(
            [
                ETCDCTL,
                f"--endpoints={scheme()}://{NET}4:2379",
                "--dial-timeout=1s",
                "--command-timeout=1s",
                "endpoint",
                "health",
            ],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    return "yes" if ok else "no"


def shrunk() -> int:
    """Members whose db size is within 10% (+1 MB) of its size in use: the issue's outcome."""
    out = subprocess.run(
        [
            ETCDCTL,
            "-w",
            "json",
            "endpoint",
            "status",
            "--endpoints=" + ",".join(f"{scheme()}://{NET}{i}:2379" for i in (1, 2, 3)),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return sum(
        1
        for e in json.loads(out)
        if e["Status"]["dbSize"] <= 1.1 * e["Status"]["dbSizeInUse"] + 2**20
    )


def bench_compact_defrag() -> None:
    runs: dict[str, list[tuple[float, float]]] = {
        "ours": [],
        "base": [],
        "checked": [],
        "least": [],
    }
    outcome: dict[str, list[int]] = {name: [] for name in runs}
    commands = {
        "ours": [
            ETCDOPS,
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "-p",
            "rule=always",
            "-p",
            "latency=false",
        ],
        "base": [str(HAND / "compact-defrag.sh"), str(LAB), NET],
        "checked": [str(HAND / "compact-defrag-checked.sh"), str(LAB), NET],
        "least": [str(HAND / "compact-then-defrag.sh"), str(LAB), NET],
    }
    for _ in range(COMPACTIONS):
        for name, cmd in commands.items():
            fill(20000, 5, batch=100)
            runs[name].append(with_writer(cmd))
            outcome[name].append(shrunk())  # right after the run
    (o, o_stall), (b, b_stall), (c, c_stall), (least, _) = (
        (statistics.median(t for t, _ in runs[n]), max(s for _, s in runs[n]))
        for n in ("ours", "base", "checked", "least")
    )
    report(
        f"compact-defrag of a ~130 MB database on 3 members [median of {COMPACTIONS}]",
        o,
        b,
        1.25,
        f"; longest write stall: etcdops {o_stall:.3f}s, by hand {b_stall:.3f}s"
        + spread([t for t, _ in runs["ours"]], [t for t, _ in runs["base"]]),
    )
    print(
        f"  for reference (no target): by hand with the same checks (compact-defrag-checked.sh) "
        f"{c:.2f}s, etcdops/that {o / c:.2f}; its longest write stall {c_stall:.3f}s",
        flush=True,
    )
    print(
        f"  the least a run can take that waits for the compaction before defragmenting "
        "(compact-then-defrag.sh: compact --physical, then defrag, nothing checked): "
        f"{least:.2f}s, "
        f"{least / b:.2f} x the hand run",
        flush=True,
    )
    print(
        "  members within 10% (+1 MB) of their size in use right after each run (of 3): "
        + ", ".join(
            f"{n} {' '.join(map(str, outcome[k]))}"
            for k, n in (
                ("ours", "etcdops"),
                ("base", "by hand"),
                ("checked", "checked"),
                ("least", "least"),
            )
        ),
        flush=True,
    )


# ----- production size (issue 16): ~1.2 GB of revisions on 3 members ---------------------------
BIG_RUNS = 3
MB = 1 << 20


def set_aside_cleanup() -> None:
    """Untimed, between runs: the data dirs both sides set aside (GBs at this size) are removed."""
    for host in (LAB / "hosts").iterdir():
        lib = host / "var" / "lib"
        for old in (
            list(lib.glob("etcd.hand-*"))
            + list(lib.glob("etcd.pre-restore-*"))
            + list(lib.glob("etcd.*-20*"))
        ):
            subprocess.run(["rm", "-rf", "--", str(old)], check=True, timeout=300)
        for old in lib.glob("etcdops-*.db*"):
            old.unlink()


def cpu_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def transfer(label: str, hosts: list[str], size_mb: int) -> None:
    """One file of size_mb to each of `hosts` at once: etcdops' copy (sha256 on both ends) vs scp.

    etcdops' figure is the copies alone (the paramiko connections, which check the host keys, are
    made first, as in a run); scp's includes its own connection. For where the time goes: the CPU
    seconds the whole machine spent busy during each (both ends share this machine's cores), and
    the same OpenSSH pipe without any hashing (`ssh host 'cat > FILE' < FILE`)."""
    src = LAB / f"bench-{size_mb}.bin"
    with open(src, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(MB))
    script = (
        "import sys, threading, time, json\nfrom pathlib import Path\nfrom etcdops.inventory "
        "import load_inventory\n"
        "from etcdops.transport.pool import Pool\nsys.path.insert(0, 'bench')\nfrom run import "
        "cpu_busy\n"
        "inv = load_inventory(Path('inventories/lab'))\n"
        "with Pool(inv) as pool:\n"
        "    hosts = sys.argv[2:]\n"
        "    [pool.get(h).connect() for h in hosts]\n"
        "    def one(h):\n"
        "        dest = str(Path(inv.host(h).etcd.data_dir).parent / 'bench.bin')\n"
        "        c = pool.get(h).stream_put(sys.argv[1], dest, 600)\n"
        "        assert c.local_sha256 == c.remote_sha256\n"
        "    ts = [threading.Thread(target=one, args=(h,)) for h in hosts]\n"
        "    t0, c0 = time.perf_counter(), cpu_busy()\n"
        "    [t.start() for t in ts]; [t.join() for t in ts]\n"
        "    print(json.dumps([time.perf_counter() - t0, cpu_busy() - c0]))\n"
    )
    ssh = (
        "-o BatchMode=yes -o StrictHostKeyChecking=yes -o "
        f"UserKnownHostsFile={LAB}/ssh/known_hosts "
        f"-i {LAB}/ssh/id_ed25519"
    )
    numbers = " ".join(h.removeprefix("node") for h in hosts)
    # a failed copy fails the run
    every = 'pids="$pids $!"; done; for p in $pids; do wait "$p" || exit 1; done'
    hand = (
        f"pids=; for h in {numbers}; do scp -q {ssh} -P 2222 {src} "
        f"root@{NET}$h:{LAB}/hosts/node$h/var/lib/bench.bin & {every}"
    )
    pipe = (
        f"pids=; for h in {numbers}; do ssh {ssh} -p 2222 -c aes128-gcm@openssh.com root@{NET}$h "
        f"'cat > {LAB}/hosts/node'$h'/var/lib/bench.bin' < {src} & {every}"
    )
    dests = [LAB / "hosts" / h / "var" / "lib" / "bench.bin" for h in hosts]

    def fresh() -> None:
        """Each copy writes a new file, as a restore's .part is, and starts with no writeback under
        way: overwriting the last run's 512 MB made whoever opened it with O_TRUNC wait for its
        writeback (etcdops' copier did, scp does not truncate), which measured the disk, not
        the copy."""
        for dest in dests:
            dest.unlink(missing_ok=True)
        os.sync()

    ours, base, raw = [], [], []
    for _ in range(BIG_RUNS):
        fresh()
        out = subprocess.run(
            [PY, "-c", script, str(src), *hosts],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        ).stdout
        ours.append(tuple(json.loads(out.strip().splitlines()[-1])))
        for into, cmd in ((base, hand), (raw, pipe)):
            fresh()
            c0 = cpu_busy()
            into.append((timed(["sh", "-c", cmd]), cpu_busy() - c0))
    o, b, r = (statistics.median(t for t, _ in x) for x in (ours, base, raw))
    cpu = lambda x: statistics.median(c for _, c in x)  # noqa: E731
    rate = lambda t: f"{size_mb * len(hosts) / t:.0f} MB/s"  # noqa: E731
    report(
        f"{label}: {size_mb} MB to {len(hosts)} host(s) at once [median of {BIG_RUNS}]",
        o,
        b,
        round(1 / 0.9, 2) if len(hosts) == 1 else 1.1,
        f"; etcdops {rate(o)} (sha256 on both ends), scp {rate(b)}"
        + spread([t for t, _ in ours], [t for t, _ in base]),
    )
    print(
        f"  where the time goes: machine CPU busy (of {os.cpu_count()} cores x wall) etcdops "
        f"{cpu(ours):.1f}s "
        f"of {os.cpu_count() * o:.1f}s, scp {cpu(base):.1f}s of {os.cpu_count() * b:.1f}s; the "
        "same OpenSSH "
        f"pipe without hashing {r:.2f}s ({rate(r)}, CPU {cpu(raw):.1f}s)",
        flush=True,
    )
    src.unlink()
    for dest in dests:
        dest.unlink(missing_ok=True)


def bench_big() -> None:
    lab_up()
    start = time.perf_counter()
    fill(
        10000, 20, 5120, batch=100
    )  # ~1.2 GB of revisions (tests/integration/fill.py), under the 2 GiB quota
    size = json.loads(
        subprocess.run(
            [ETCDCTL, "-w", "json", "endpoint", "status", f"--endpoints={NET_URL(1)}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]["Status"]["dbSize"]
    print(
        f"big: filled the lab to {size / MB:.0f} MB in {time.perf_counter() - start:.0f}s",
        flush=True,
    )
    transfer("one copy", ["node2"], 512)
    transfer("parallel copies", ["node1", "node2", "node3"], 512)
    # snapshot: etcdops (save, verify on the member while it streams, sha256 both ends) vs by hand
    dest = LAB / "bench-snaps"
    ours, base = [], []
    for _ in range(BIG_RUNS):
        ours.append(etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"dest={dest}"))
        base.append(timed([str(HAND / "snapshot-ssh.sh"), str(LAB), NET, str(LAB / "hand.db")]))
    report(
        f"snapshot of a {size / MB:.0f} MB database [median of {BIG_RUNS}]",
        statistics.median(ours),
        statistics.median(base),
        1.25,
        spread(ours, base) + "; by hand: save and etcdutl snapshot status on the "
        "member, scp to the control node",
    )
    print("  one etcdops snapshot, step by step: " + timeline(), flush=True)
    snap = max(dest.glob("*.db"), key=lambda p: p.stat().st_mtime)
    # restore of that snapshot on 3 members (issue 29: fenced start, leases revoked, revision
    # bumped), against the plain hand run over OpenSSH and the hand run with the same guarantees
    # (restore-ssh-fenced.sh); the time clients had no etcd is printed for each
    ours, base, fenced = [], [], []
    ours_out: list[tuple[float, float]] = []
    fenced_out: list[float] = []
    for _ in range(BIG_RUNS):
        ours.append(etcdops("run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={snap}"))
        line = timeline()
        ours_out.append(last_outage())
        set_aside_cleanup()
        base.append(timed([str(HAND / "restore-ssh.sh"), str(LAB), str(snap), NET]))
        set_aside_cleanup()
        took, stderr = timed_output([str(HAND / "restore-ssh-fenced.sh"), str(LAB), str(snap), NET])
        fenced.append(took)
        fenced_out += [float(w.split()[1]) for w in stderr.splitlines() if w.startswith("outage ")]
        subprocess.run(
            [ETCDCTL, f"--endpoints={NET_URL(1)}", "del", "etcdops/lock"],
            capture_output=True,
            timeout=60,
        )
        set_aside_cleanup()
    report(
        f"restore of a {snap.stat().st_size / MB:.0f} MB snapshot on 3 members [median of "
        f"{BIG_RUNS}]",
        statistics.median(ours),
        statistics.median(base),
        1.0,
        spread(ours, base)
        + "; by hand over OpenSSH: parallel scp, then stop, restore, swap, token, start, healthy",
    )
    report(
        f"restore of a {snap.stat().st_size / MB:.0f} MB snapshot vs by hand with the same "
        f"guarantees for clients [median of {BIG_RUNS}]",
        statistics.median(ours),
        statistics.median(fenced),
        1.0,
        f"; all runs: by hand fenced {seconds(fenced)}",
        names=("etcdops", "by hand, fenced"),
    )
    low = statistics.median(o[0] for o in ours_out)
    high = statistics.median(o[1] for o in ours_out)
    hand = f"{statistics.median(fenced_out):.1f} s" if fenced_out else "not printed"
    print(
        f"  clients had no etcd: etcdops {low:.1f} to {high:.1f} s (from its journal: the first "
        f"stop until healthy on the client URLs), by hand fenced {hand} (first stop until "
        "healthy), by hand unfenced: from the first stop until healthy, not measured apart",
        flush=True,
    )
    print(f"  one etcdops restore, step by step: {line}", flush=True)
    subprocess.run(["rm", "-rf", str(dest), str(LAB / "hand.db")], check=True)
    # compact-defrag with ~1 GB of history, move_leader off and on, against compact-then-defrag.sh;
    # first (untimed) back to the live data alone, so that each fill stays under the 2 GiB quota
    etcdops(
        "run", "compact-defrag", "-i", "lab", "--yes", "-p", "rule=always", "-p", "latency=false"
    )
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "ours move_leader": [], "least": []}
    commands = {
        "ours": [
            ETCDOPS,
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "-p",
            "rule=always",
            "-p",
            "latency=false",
        ],
        "ours move_leader": [
            ETCDOPS,
            "run",
            "compact-defrag",
            "-i",
            "lab",
            "--yes",
            "-p",
            "rule=always",
            "-p",
            "move_leader=true",
            "-p",
            "latency=false",
        ],
        "least": [str(HAND / "compact-then-defrag.sh"), str(LAB), NET],
    }
    for _ in range(BIG_RUNS):
        for name, cmd in commands.items():
            # ~1 GB of history to compact, one put per request: with transactions of 100 puts the
            # hand script's defrag of a member still compacting stalled it for 13 min once
            # (etcd 3.5)
            fill(10000, 16, 5120)
            runs[name].append(with_writer(cmd))
    med = {n: statistics.median(t for t, _ in r) for n, r in runs.items()}
    stall = {n: max(s for _, s in r) for n, r in runs.items()}
    for name in ("ours", "ours move_leader"):
        report(
            f"compact-defrag with ~1 GB of history ({name.replace('ours', 'etcdops')}) [median of "
            f"{BIG_RUNS}]",
            med[name],
            med["least"],
            1.15,
            f"; longest write stall: etcdops {stall[name]:.3f}s, compact-then-defrag.sh "
            f"{stall['least']:.3f}s"
            + spread([t for t, _ in runs[name]], [t for t, _ in runs["least"]]),
        )
    print("  one etcdops compact-defrag, step by step: " + timeline(), flush=True)


def bench_drill() -> None:
    """restore-drill of a ~1.2 GB snapshot (issue 31.4) vs the same by hand over OpenSSH."""
    lab_up()
    fill(10000, 20, 5120, batch=100)  # ~1.2 GB, as bench_big
    dest = LAB / "bench-snaps"
    etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"dest={dest}")
    snap = max(dest.glob("*.db"), key=lambda p: p.stat().st_mtime)
    meta = json.loads(snap.with_suffix(".json").read_text())
    drill = [ETCDOPS, "run", "restore-drill", "-i", "lab", "--yes", "-p", "hosts=spares"]
    drill += ["-p", f"snapshot={snap}"]
    timed([*drill, "-p", "install=true"])  # untimed: etcd onto the spares (the playbook), warm-up
    set_aside_cleanup()
    hand = [str(HAND / "drill-ssh.sh"), str(LAB), str(snap), NET]
    hand += [str(meta["revision"]), str(meta["keys"])]
    ours, base = [], []
    for _ in range(BIG_RUNS):
        ours.append(timed([*drill, "-p", "install=false"]))
        line = timeline()
        set_aside_cleanup()
        base.append(timed(hand))
        set_aside_cleanup()
    report(
        f"restore drill of a {snap.stat().st_size / MB:.0f} MB snapshot on 2 spares [median of "
        f"{BIG_RUNS}]",
        statistics.median(ours),
        statistics.median(base),
        1.2,
        spread(ours, base) + "; by hand over OpenSSH: parallel scp, restore, start, healthy, "
        "cluster id, revision, keys, hashkv vs the source, stop, move aside",
    )
    print(f"  one etcdops drill, step by step: {line}", flush=True)
    subprocess.run(["rm", "-rf", str(dest)], check=True)


def NET_URL(n: int) -> str:  # noqa: N802 - reads like the URL it is
    return f"{scheme()}://{NET}{n}:2379"


def last_report() -> dict:
    """The report of the newest run in the journal."""
    runs_dir = ROOT / ".etcdops" / "runs"
    last = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    return json.loads((last / "report.json").read_text())


def last_outage() -> tuple[float, float]:
    """The seconds clients had no etcd in the newest run (at least, at most), from its journal as
    the run's summary reads it (htmlreport/timeline.py)."""
    from etcdops.htmlreport import timeline as spans_of

    runs_dir = ROOT / ".etcdops" / "runs"
    last = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    events = []
    for text in (last / "events.jsonl").read_text().splitlines():
        try:
            events.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    plan = json.loads((last / "plan.json").read_text())
    runs = spans_of.attempts(events)
    if not runs:
        return 0.0, 0.0
    lost = spans_of.outages([s for a in runs for s in a.spans], plan, runs[-1].end)
    return sum(o.at_least for o in lost), sum(o.at_most for o in lost)


def timeline() -> str:
    """The last run's steps and their seconds, from its journal (where the time went), with the
    phases
    a step reports (e.g. a snapshot's save, check and copy seconds) and predicted vs actual."""
    report = last_report()
    parts = []
    for s in report["steps"]:
        if s["elapsed"] < 0.05:
            continue
        reports = [r for h in s["hosts"] for r in (h.get("report") or []) if isinstance(r, dict)]
        phases = {
            k: v
            for r in reports
            for k, v in r.items()
            if k.endswith("_seconds") and isinstance(v, (int, float))
        }
        text = f"{s['name'][:48]} {s['elapsed']:.1f}s"
        if phases:
            text += (
                " ("
                + ", ".join(f"{k.removesuffix('_seconds')} {v:.1f}s" for k, v in phases.items())
                + ")"
            )
        if s.get("predicted"):
            text += f" [predicted {s['predicted']['seconds']:.1f}s]"
        parts.append(text)
    return "; ".join(parts)


# ----- TLS (issue 15): the same ratios on the TLS lab next to the plaintext ones ----------------
def bench_tls() -> None:
    figures = {}
    for tls in (False, True):
        lab_up(tls=tls)
        mode = "TLS" if tls else "plaintext"
        ours = median([ETCDOPS, "status", "--inventory", "lab"])
        base = median([PY, "-c", BASELINE])
        fill(20000, 1)
        # scale-outs first, on both labs: right after a restore, etcd 3.5 often serves a new
        # learner's clients only ~7 s after it started (its first publish lost), which would
        # decide the ratio
        s_ours, s_base = [], []
        etcdops(
            "run", "scale-out", "-i", "lab", "--yes", "-p", "host=node4"
        )  # installs etcd on node4, untimed
        scale_in()
        for _ in range(
            3
        ):  # node4 joins and leaves; the hand script writes node4's certificates on TLS
            s_ours.append(timed(SCALE_OUT_RUNS["etcdops"]))
            scale_in()
            s_base.append(timed(SCALE_OUT_RUNS["hand"]))
            scale_in()
        etcdops("run", "snapshot", "-i", "lab", "--yes")
        snap = max((ROOT / "snapshots" / "lab").glob("*.db"), key=lambda p: p.stat().st_mtime)
        r_ours, r_base = [], []
        for _ in range(
            RESTORES
        ):  # the stop step alone varies by ~0.4 s run to run (etcd's peer server close)
            r_ours.append(etcdops("run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={snap}"))
            r_base.append(timed([str(HAND / "restore-ssh.sh"), str(LAB), str(snap), NET]))
            subprocess.run(
                [ETCDCTL, f"--endpoints={NET_URL(1)}", "del", "etcdops/lock"],
                capture_output=True,
                timeout=60,
            )
        c_ours, c_base = [], []
        for _ in range(3):
            fill(20000, 5, batch=100)
            c_ours.append(
                with_writer(
                    [
                        ETCDOPS,
                        "run",
                        "compact-defrag",
                        "-i",
                        "lab",
                        "--yes",
                        "-p",
                        "rule=always",
                        "-p",
                        "latency=false",
                    ]
                )[0]
            )
            fill(20000, 5, batch=100)
            c_base.append(with_writer([str(HAND / "compact-then-defrag.sh"), str(LAB), NET])[0])
        figures[mode] = {
            "status": ours / base,
            "restore": statistics.median(r_ours) / statistics.median(r_base),
            "scale-out": statistics.median(s_ours) / statistics.median(s_base),
            "compact-defrag": statistics.median(c_ours) / statistics.median(c_base),
        }
        print(
            f"tls part, {mode}: status {ours:.2f}s vs {base:.2f}s; restore "
            f"{statistics.median(r_ours):.2f}s vs "
            f"{statistics.median(r_base):.2f}s; scale-out {statistics.median(s_ours):.2f}s vs "
            f"{statistics.median(s_base):.2f}s; compact-defrag {statistics.median(c_ours):.2f}s vs "
            f"{statistics.median(c_base):.2f}s (runs {seconds(r_ours)} / {seconds(r_base)}; "
            f"{seconds(s_ours)} / {seconds(s_base)}; {seconds(c_ours)} / {seconds(c_base)})",
            flush=True,
        )
        set_aside_cleanup()
    for what in ("status", "restore", "scale-out", "compact-defrag"):
        plain, tls_ratio = figures["plaintext"][what], figures["TLS"][what]
        ok = tls_ratio <= plain * 1.10
        row(
            f"{what}: ratio on TLS vs on plaintext",
            f"{tls_ratio:.2f}",
            f"{plain:.2f}",
            f"{tls_ratio / plain:.2f}",
            "<= 1.10",
            ok,
        )
        print(
            f"{what} on TLS: ratio {tls_ratio:.2f} vs {plain:.2f} plaintext "
            f"({tls_ratio / plain:.2f} x; target "
            f"<= 1.10 x: {'met' if ok else 'MISSED'})",
            flush=True,
        )


# ----- wide clusters (issue 16): 7 members against 3, a 50-host inventory ----------------------
def bench_wide() -> None:
    lab_up(members=3, spares=0)
    big_inv = ROOT / "inventories" / "bench-50"
    if big_inv.exists():
        subprocess.run(["rm", "-rf", str(big_inv)], check=True)
    subprocess.run(["cp", "-r", str(ROOT / "inventories" / "lab"), str(big_inv)], check=True)
    with open(
        big_inv / "inventory.ini", "a"
    ) as fh:  # 47 more hosts that are not members: 50 in all
        fh.write(
            "\n[spares]\n"
            + "".join(f"spare{i} ansible_host=127.0.2.{i} ip=127.0.2.{i}\n" for i in range(1, 48))
        )
    plan = [ETCDOPS, "plan", "compact-defrag", "--inventory"]
    three, plan3, plan50 = alternating(
        [ETCDOPS, "status", "--inventory", "lab"], plan + ["lab"], plan + [str(big_inv)]
    )
    subprocess.run(["rm", "-rf", str(big_inv)], check=True)
    waits3 = wait_steps()
    lab_up(members=7, spares=0)
    seven, plan7 = alternating([ETCDOPS, "status", "--inventory", "lab"], plan + ["lab"])
    waits7 = wait_steps()
    sides = ("7 members", "3 members")
    for what, ours, base, names in (
        ("status on 7 members vs 3", seven, three, sides),
        ("plan compact-defrag on 7 members vs 3", plan7, plan3, sides),
        (
            "plan with a 50-host inventory vs its 3 members alone",
            plan50,
            plan3,
            ("50 hosts", "3 hosts"),
        ),
    ):
        report(
            f"{what} [median of {RUNS}]",
            statistics.median(ours),
            statistics.median(base),
            1.10 if "50-host" in what else 1.3,
            f"; all runs: {names[0]} {seconds(ours)}, {names[1]} {seconds(base)}",
            names=names,
        )
    for what in waits3:
        report(
            f"wait step on 7 members vs 3: {what} [median of {len(waits3[what])}]",
            statistics.median(waits7[what]),
            statistics.median(waits3[what]),
            1.3,
            f"; all runs (ms): 7 members {milliseconds(waits7[what])}, 3 members "
            f"{milliseconds(waits3[what])}",
            names=("7 members", "3 members"),
        )
    lab_up()


WAITS = {  # (runbook, the wait step's name as its report gives it): what it waits for, in words
    (
        "status",
        "Cluster has a leader and every member is healthy",
    ): "run status' health wait (true at once: one poll)",
    (
        "restore",
        "Wait for a leader and every member healthy",
    ): "restore's wait for a leader and every member healthy",
    (
        "restore",
        "Verify one cluster id and the snapshot's revision on every member",
    ): "restore's verification wait",
}
WAIT_RUNS = 3


def wait_steps() -> dict[str, list[float]]:
    """Every wait step of `run status` (RUNS runs) and of `run restore` of a small snapshot
    (WAIT_RUNS
    runs) on the lab as it is, from each run's report: {what: seconds of each run}."""
    found: dict[str, list[float]] = {what: [] for what in WAITS.values()}
    dest = LAB / "bench-wait-snaps"
    etcdops("run", "snapshot", "-i", "lab", "--yes", "-p", f"dest={dest}")
    snap = max(dest.glob("*.db"), key=lambda p: p.stat().st_mtime)
    runs = [("status", ["run", "status", "-i", "lab", "--yes"])] * RUNS + [
        ("restore", ["run", "restore", "-i", "lab", "--yes", "-p", f"snapshot={snap}"])
    ] * WAIT_RUNS
    for runbook, args in runs:
        etcdops(*args)
        for step in last_report()["steps"]:
            what = WAITS.get((runbook, step["name"]))
            if what is not None:
                found[what].append(step["elapsed"])
    set_aside_cleanup()
    subprocess.run(["rm", "-rf", str(dest)], check=True)
    missing = [what for what, runs in found.items() if not runs]
    if missing:
        raise SystemExit(f"bench: no wait step found in the reports for {', '.join(missing)}")
    return found


def leftover() -> None:
    """What make bench leaves behind, after taking the lab down and removing what it made."""
    subprocess.run([ETCDOPS, "lab", "down"], cwd=ROOT, capture_output=True, timeout=120)
    subprocess.run([ETCDOPS, "lab", "prune"], cwd=ROOT, capture_output=True, timeout=600)
    subprocess.run(["rm", "-rf", str(ROOT / "snapshots" / "lab")], check=True)
    total = 0
    for folder in (LAB, ROOT / "snapshots", ROOT / ".etcdops"):
        if folder.exists():
            total += int(
                subprocess.run(
                    ["du", "-sb", str(folder)], capture_output=True, text=True
                ).stdout.split()[0]
            )
    ok = total < 1 << 30
    row(
        "left behind by make bench (.lab, snapshots, .etcdops)",
        f"{total / MB:.0f} MB",
        "",
        "",
        "< 1 GB",
        ok,
    )
    print(
        f"left behind by make bench: {total / MB:.0f} MB in .lab, snapshots, .etcdops "
        f"(target < 1 GB: {'met' if ok else 'MISSED'})",
        flush=True,
    )


ROTATIONS = 3


def new_certs(folder: Path) -> Path:
    """Untimed: new member and admin certificates of every member from the lab's CA, in kubespray's
    names (what an operator hands over)."""
    import shutil

    from etcdops.lab import pki

    shutil.rmtree(folder, ignore_errors=True)
    ca, ca_key = LAB / "pki" / "ca.pem", LAB / "pki" / "ca-key.pem"
    for n in (1, 2, 3):
        host = f"node{n}"
        sans = [f"IP:{NET}{n}", "IP:127.0.0.1", "DNS:localhost", f"DNS:{host}"]
        pki.make_cert(ca, ca_key, folder, f"member-{host}", f"etcd-member-{host}", sans, True, 365)
        pki.make_cert(ca, ca_key, folder, f"admin-{host}", f"etcd-admin-{host}", [], False, 365)
    return folder


def bench_rotate_certs() -> None:
    lab_up(tls=True, spares=0)
    ours: list[float] = []
    base: list[float] = []
    stalls: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROTATIONS):
        given = new_certs(LAB / "bench-certs-etcdops")
        seconds, stall = with_writer(
            [ETCDOPS, "run", "rotate-certs", "-i", "lab", "--yes", "-p", f"dir={given}"]
        )
        ours.append(seconds)
        stalls[0].append(stall)
        given = new_certs(LAB / "bench-certs-hand")
        seconds, stall = with_writer([str(HAND / "rotate-certs-ssh.sh"), str(LAB), NET, str(given)])
        base.append(seconds)
        stalls[1].append(stall)
    print(f"rotate-certs runs: etcdops {seconds_of(ours)}, by hand {seconds_of(base)}", flush=True)
    report(
        f"rotate-certs: server, peer and client certificates of 3 members [median of {ROTATIONS}]",
        statistics.median(ours),
        statistics.median(base),
        1.2,
        f"; writer's longest stall: etcdops {max(stalls[0]):.2f} s, by hand {max(stalls[1]):.2f} s",
    )
    lab_up()


UPGRADES = 2  # rounds of the upgrade part (each: a fresh 3.5.16 lab for either side)


def bench_upgrade() -> None:
    """Issue 32: a rolling patch upgrade 3.5.16 -> 3.5.30 of 3 members under a writer: `etcdops run
    upgrade -p version=3.5.30 -p source=DIR` vs bench/hand/upgrade-ssh.sh (the same binaries
    copied with scp and the same restarts and health waits, followers first, leader last),
    target <= 1.2; each round on a fresh lab (the upgrade cannot be undone in place)."""
    new = ROOT / ".tools" / "etcd-3.5.30"
    source = LAB.parent / "bench-upgrade-src"
    ours: list[float] = []
    base: list[float] = []
    stalls: tuple[list[float], list[float]] = ([], [])
    for _ in range(UPGRADES):
        lab_up(spares=0)
        subprocess.run(["rm", "-rf", str(source)], check=True)
        (source / "bin").mkdir(parents=True)
        for tool in ("etcd", "etcdctl", "etcdutl"):
            (source / "bin" / tool).symlink_to(new / tool)
        seconds, stall = with_writer(
            [
                ETCDOPS, "run", "upgrade", "-i", "lab", "--yes",
                "-p", "version=3.5.30", "-p", f"source={source}",
            ]
        )  # fmt: skip
        ours.append(seconds)
        stalls[0].append(stall)
        print(f"  one etcdops upgrade, step by step: {timeline()}", flush=True)
        lab_up(spares=0)
        seconds, stall = with_writer(
            [str(HAND / "upgrade-ssh.sh"), str(LAB), str(new), NET, "3.5.30"]
        )
        base.append(seconds)
        stalls[1].append(stall)
    subprocess.run(["rm", "-rf", str(source)], check=True)
    print(f"upgrade runs: etcdops {seconds_of(ours)}, by hand {seconds_of(base)}", flush=True)
    report(
        f"upgrade 3.5.16 -> 3.5.30 of 3 members [median of {UPGRADES}]",
        statistics.median(ours),
        statistics.median(base),
        1.2,
        f"; writer's longest stall: etcdops {max(stalls[0]):.2f} s, by hand {max(stalls[1]):.2f} s",
    )
    lab_up()


def seconds_of(runs: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in runs) + " s"


BENCHES = {
    "status": bench_status,
    "restore": bench_restore,
    "scale-out": bench_scale_out,
    "compact-defrag": bench_compact_defrag,
    "big": bench_big,
    "drill": bench_drill,
    "tls": bench_tls,
    "wide": bench_wide,
    "rotate-certs": bench_rotate_certs,
    "upgrade": bench_upgrade,
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"bench: unknown {', '.join(unknown)} (known: {', '.join(BENCHES)})")
    started = time.perf_counter()
    lab_up()
    for name in names or list(BENCHES):
        part = time.perf_counter()
        BENCHES[name]()
        print(f"[bench part {name}: {time.perf_counter() - part:.0f}s]", flush=True)
    leftover()
    total = time.perf_counter() - started
    print(f"[make bench: {total:.0f}s in all]", flush=True)
    if not names:
        row("make bench, every part", f"{total / 60:.1f} min", "", "", "< 30 min", total < 1800)
    print("\n| figure | etcdops | by hand | ratio | target |\n|---|---|---|---|---|", flush=True)
    for r in rows:
        print("| " + " | ".join(r) + " |", flush=True)
    return 0 if all(results) else 1


if (
    __name__ == "__main__"
):  # bench/run.py [status|restore|scale-out|compact-defrag ...] (default: all)
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
