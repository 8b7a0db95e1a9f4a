"""The session's shared lab (its own project root and loopback /24, 127.OCTET.3.N), so a user's lab
on 127.0.1.N is never touched. Everything tests share lives in tests/integration/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.helpers import NET, LabEnv, running_lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabEnv]:
    with running_lab(tmp_path_factory.mktemp("lab"), NET) as labenv:
        yield labenv
