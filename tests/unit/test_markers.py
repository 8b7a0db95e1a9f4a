"""Every integration test file is marked `lab` (it drives the real lab): `-m "not lab"` must leave
exactly the hermetic tests."""

from __future__ import annotations

from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"


def test_every_integration_file_is_marked_lab() -> None:
    files = sorted(INTEGRATION.glob("test_*.py"))
    assert len(files) > 10
    unmarked = [f.name for f in files if "pytestmark = pytest.mark.lab" not in f.read_text()]
    assert unmarked == []
