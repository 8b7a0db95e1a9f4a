"""The local lab: real sshd + real etcd per loopback address, under .lab/."""

from __future__ import annotations

import os

LAB_NET = "127.0.1."  # the lab's loopback /24 unless ETCDOPS_LAB_NET names another


def lab_net() -> str:
    """The /24 prefix the lab uses (`127.0.1.`), as ETCDOPS_LAB_NET sets it; --help says it too."""
    return os.environ.get("ETCDOPS_LAB_NET") or LAB_NET
