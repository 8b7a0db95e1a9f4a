"""Unit tests are hermetic: whatever etcdops keeps in a project's .etcdops/ (its caches, the
measured rates) goes to a fresh folder per test, never the checkout's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "etcdops-home"
    home.mkdir()
    monkeypatch.setenv("ETCDOPS_HOME", str(home))
