"""Members hold the same data, checked by hash (issue 31.5): `status --consistency` compares every
member's keyspace hash at one revision; a member whose database the test changes under etcd (a
flipped value in its bbolt file, as a bad disk would) is found and named, exit 1."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.helpers import LabEnv, net, running_lab

pytestmark = pytest.mark.lab

VALUE, FLIPPED = b"value-as-written-AAAA", b"value-as-written-ZZZZ"


@pytest.fixture(scope="module")
def clab(tmp_path_factory: pytest.TempPathFactory) -> LabEnv:
    with running_lab(tmp_path_factory.mktemp("consistency"), net(27), spares=0) as lab:
        yield lab


def test_a_member_whose_data_differs_is_named(clab: LabEnv) -> None:
    for i in range(20):
        clab.ctl("put", f"c/{i:02d}", str(i))
    clab.ctl("put", "probe/silent", VALUE.decode())
    same = clab.etcdops("status", "-i", "lab", "--check", "--consistency")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "CONSISTENCY: every member (3) hashes its keyspace at revision" in same.stdout
    time.sleep(1)  # every member has applied the put

    clab.service("node3", "stop")
    db = clab.host_root("node3") / "var" / "lib" / "etcd" / "member" / "snap" / "db"
    data = db.read_bytes()
    assert VALUE in data
    db.write_bytes(data.replace(VALUE, FLIPPED))  # bbolt keeps no checksum of its data pages
    clab.service("node3", "start")
    clab.wait_healthy()  # etcd does not notice: healthy, serving the changed value

    differ = clab.etcdops("status", "-i", "lab", "--check", "--consistency")
    assert differ.returncode == 1, differ.stdout + differ.stderr
    assert "node3 (" in differ.stderr and "its data differs" in differ.stderr
    data = json.loads(clab.etcdops("status", "-i", "lab", "-o", "json", "--consistency").stdout)
    assert data["consistency"]["differ"] == ["node3"]
    assert len(set(data["consistency"]["hashes"].values())) == 2
