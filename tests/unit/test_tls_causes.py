"""TLS failures named from etcdctl's stderr (captured on the TLS lab) and the host's own checks
of the
client certificate: a member that refuses our certificate is reachable, not down."""

from __future__ import annotations

import pytest

from etcdops.facts.tls import ClientCert, diagnose, parse_client_check
from tests.helpers import FIXTURES

TLS = FIXTURES / "etcdctl" / "tls"


@pytest.mark.parametrize(
    ("file", "client", "reachable", "words"),
    [
        ("expired-client.stderr", None, True, "client certificate refused: it has expired"),
        (
            "expired-client-pipe.stderr",
            ClientCert(True, expired=True, not_after="Jan  1 00:00:00 2025 GMT"),
            True,
            "it has expired (on Jan  1 00:00:00 2025 GMT)",
        ),
        ("other-ca-client.stderr", None, True, "signed by a CA the member does not trust"),
        (
            "no-client-cert.stderr",
            ClientCert(False),
            True,
            "none was given and the member requires one",
        ),
        (
            "expired-client-pipe.stderr",
            ClientCert(True, verifies=False, detail="error 20"),
            True,
            "not signed by the CA in etcd_cacert",
        ),
        (
            "server-other-ca.stderr",
            None,
            True,
            "server certificate is signed by a CA the client does not trust",
        ),
        (
            "http-against-https.stderr",
            None,
            True,
            "the member speaks https, the inventory says http",
        ),
    ],
)
def test_each_tls_failure_is_named(
    file: str, client: ClientCert | None, reachable: bool, words: str
) -> None:
    found = diagnose((TLS / file).read_text(), client)
    assert found is not None and found.reachable == reachable and words in found.text, found


def test_a_refused_connection_and_a_timeout_are_down() -> None:
    refused = diagnose(
        "Error: dial tcp 127.0.1.3:2379: connect: connection refused\ncontext deadline exceeded",
        None,
    )
    assert refused is not None and not refused.reachable and "connection refused" in refused.text
    timeout = diagnose("Failed to get the status of endpoint x (context deadline exceeded)", None)
    assert timeout is not None and not timeout.reachable and "timed out" in timeout.text


def test_the_hosts_checks_of_the_client_certificate_parse() -> None:
    check = parse_client_check(
        "given=yes\nnotAfter=Jan  1 00:00:00 2025 GMT\ncheckend=1\nverify=/x.pem: OK\n"
    )
    assert check.given and check.expired and check.verifies and check.not_after.startswith("Jan")
    assert not parse_client_check("given=no\n").given
