"""aetcd clients for the test writer and fill, with the lab's credentials taken from the environment
the way etcdctl takes them (never from the command line): ETCDCTL_USER=NAME:PASSWORD, and
ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY for a TLS lab (aetcd 1.0 speaks only plaintext gRPC:
its channel is made a TLS one here)."""

from __future__ import annotations

import os
from pathlib import Path

import aetcd
import grpc
from aetcd import client as aetcd_client


def _tls_channel(target: str, options: object = None) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=Path(os.environ["ETCDCTL_CACERT"]).read_bytes(),
        private_key=Path(os.environ["ETCDCTL_KEY"]).read_bytes(),
        certificate_chain=Path(os.environ["ETCDCTL_CERT"]).read_bytes(),
    )
    return grpc.aio.secure_channel(target, creds, options=options)


def client(endpoint: str, **kwargs: object) -> aetcd.Client:
    host, port = endpoint.removeprefix("https://").removeprefix("http://").rsplit(":", 1)
    if endpoint.startswith("https://"):
        aetcd_client.rpc.insecure_channel = _tls_channel  # type: ignore[attr-defined]
    user, _, password = os.environ.get("ETCDCTL_USER", "").partition(":")
    creds = {"username": user, "password": password} if user else {}
    return aetcd.Client(host, int(port), **creds, **kwargs)  # type: ignore[arg-type]
