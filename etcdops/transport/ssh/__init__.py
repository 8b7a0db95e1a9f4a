"""SSH with paramiko, in the shape of fabric: a connection per host (connection.py) that runs
commands (remote.py) and copies files (transfer.py), its host keys and identity read once
(keys.py). The only package that imports paramiko; its errors become ConnectError on the spot.
"""

from __future__ import annotations

import sys

if "invoke" not in sys.modules:
    # paramiko.config imports invoke only to run ssh_config's `Match exec`, and etcdops never reads
    # an
    # ssh_config: importing it anyway cost ~90 ms of every etcdops command's start-up (measured)
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` raise ImportError
    try:
        import paramiko  # noqa: F401
    finally:
        del sys.modules["invoke"]

from etcdops.transport.ssh.connection import SSHTransport  # noqa: E402

__all__ = ["SSHTransport"]
