"""What an operator sees on a real terminal (issue 30): runs on the lab through a pseudo-terminal of
80 columns, replayed on a screen model (tests/terminal.py). Colours and a live region on a
terminal; no escape sequence with NO_COLOR or without a terminal (a CI log keeps its UTC-stamped
lines); never a line wider than the terminal, never two lines glued together; a closing summary."""

from __future__ import annotations

import re

import pytest

from tests.integration.helpers import ETCDOPS, LabEnv, fill
from tests.terminal import SPINNER, Screen, run_on_pty

pytestmark = pytest.mark.lab

COLUMNS = 80


def on_terminal(
    lab: LabEnv, *args: str, reply: tuple[str, str] | None = None, **env: str
) -> tuple[int, Screen, str]:
    return run_on_pty(
        [str(ETCDOPS), *args], COLUMNS, {**lab.env, **env}, lab.root, timeout=300, reply=reply
    )


def not_glued(screen: Screen) -> None:
    """Each host's result starts a line of its own (was: `waiting 3.5s / 300s: ... node1: ok`
    on one line)."""
    for line in screen.lines:
        for m in re.finditer(r"node\d: (changed|ok|failed) \(", line):
            assert line[: m.start()].strip() == "", line
    assert not any(SPINNER & set(line) for line in screen.lines), screen.text  # the region is gone


def test_a_restore_on_a_terminal_is_coloured_fits_and_ends_with_a_summary(lab: LabEnv) -> None:
    # ~30 MB: the copy and the restore last long enough for the live region to draw their bars
    assert fill(lab, 300, 1, 100_000).returncode == 0
    code, screen, raw = on_terminal(lab, "run", "snapshot", "-i", "lab", "--yes")
    assert code == 0, screen.text
    code, screen, raw = on_terminal(lab, "run", "restore", "-i", "lab", "--yes")
    assert code == 0, screen.text
    assert screen.escapes > 0 and "\x1b[33mchanged" in raw  # `changed` in yellow
    assert screen.widest <= COLUMNS, [line for line in screen.lines if len(line) > COLUMNS]
    not_glued(screen)
    text = screen.text
    assert "IMPACT (what this run does to the cluster)" in text
    assert re.search(
        r"clients have no etcd \(no quorum serving them\) from step 4", " ".join(text.split())
    )
    # the closing summary: the outage window from the journal, leaders, sizes, predictions
    summary = " ".join(text[text.index("SUMMARY restore on lab: SUCCESSFUL") :].split())
    assert re.search(r"etcd unavailable to clients: [\d.]+s to [\d.]+s \(from the stop of", summary)
    assert "leader: " in summary and "db size per member, before -> after:" in summary
    assert "predicted vs actual:" in summary and "step 2 Copy the snapshot" in summary
    # the live region showed the copy and the restore with bars and figures while they ran
    assert "━" in raw and re.search(r"of ~[\d.]+s", raw)


def test_no_color_and_no_terminal_write_no_escape_sequence(lab: LabEnv) -> None:
    code, screen, raw = on_terminal(
        lab, "run", "compact-defrag", "-i", "lab", "--yes", NO_COLOR="1"
    )
    assert code == 0, screen.text
    assert "\x1b" not in raw
    assert screen.widest <= COLUMNS, [line for line in screen.lines if len(line) > COLUMNS]
    not_glued(screen)
    assert "SUMMARY compact-defrag on lab: SUCCESSFUL" in screen.text
    assert "etcd unavailable to clients: never" in screen.text

    logged = lab.etcdops("run", "compact-defrag", "-i", "lab", "--yes", check=True)
    assert "\x1b" not in logged.stdout + logged.stderr and "SUMMARY" not in logged.stderr
    progress = [line for line in logged.stderr.splitlines() if line.strip()]
    assert progress and all(re.match(r"\d\d:\d\d:\d\dZ ", line) for line in progress), progress


def test_status_is_coloured_on_a_terminal_only(lab: LabEnv) -> None:
    code, screen, raw = on_terminal(lab, "status", "-i", "lab")
    assert code == 0 and "\x1b[32mHEALTHY" in raw, raw
    code, screen, raw = on_terminal(lab, "status", "-i", "lab", NO_COLOR="1")
    assert code == 0 and "\x1b" not in raw and "HEALTHY" in raw


def test_a_failed_pre_flight_is_exit_3_and_says_what_it_found(lab: LabEnv) -> None:
    missing = lab.root / "no-such-snapshot.db"
    proc = lab.etcdops("run", "restore", "-i", "lab", "-p", f"snapshot={missing}", "--yes")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"refused: pre-flight check failed: no snapshot at {missing}" in proc.stderr
    assert "[ok] a snapshot was found" not in proc.stdout
    assert not re.search(r"\[ok\] the snapshot('s)? .*(sha256|metadata)", proc.stdout)


def test_the_impact_header_is_shown_again_next_to_the_question(lab: LabEnv) -> None:
    code, screen, raw = on_terminal(
        lab, "run", "compact-defrag", "-i", "lab", reply=("[y/N]", "n\n")
    )
    text = screen.text
    assert text.count("IMPACT (what this run does to the cluster)") == 2, text
    question = text.index("Run compact-defrag on lab?")
    last = text.rindex("IMPACT (what this run does to the cluster)")
    between = text[last:question]
    assert "[1/" not in between and "quorum:" in between and "removed:" in between, between
    assert "not confirmed; nothing was changed" in text
