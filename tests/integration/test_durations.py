"""The plan predicts how long the long steps take; the run records predicted and actual, and the
next plan uses what was measured (issue 16). A real upload of 96 MB to three members over SSH."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from tests.integration.helpers import REPO, LabEnv

pytestmark = pytest.mark.lab
MB = 1 << 20

BOOK = """name: spread
description: copy one file to every member
lock: none
params:
  file: {type: path, required: true}
steps:
  - name: Copy the file to every member
    target: members
    parallel: true
    upload: {src: "{{ params.file }}", dest: "{{ dirname(host.etcd.data_dir) }}/spread.bin"}
  - name: Remove it again
    target: members
    parallel: true
    remove_file: {path: "{{ dirname(host.etcd.data_dir) }}/spread.bin"}
"""


def plan(lab: LabEnv, books: Path, big: Path) -> dict:
    proc = lab.etcdops(
        "plan",
        "spread",
        "-i",
        "lab",
        "--runbooks",
        str(books),
        "-p",
        f"file={big}",
        "-o",
        "json",
        check=True,
    )
    return json.loads(proc.stdout)


def test_a_copy_is_predicted_then_measured(lab: LabEnv, tmp_path: Path) -> None:
    (lab.root / ".etcdops" / "rates.json").unlink(missing_ok=True)
    books = tmp_path / "books"
    books.mkdir()
    (books / "spread.yml").write_text(BOOK)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(96 * MB))

    planned = plan(lab, books, big)
    jsonschema.validate(planned, json.loads((REPO / "docs" / "plan.schema.json").read_text()))
    assert planned["predicted_seconds"] == planned["steps"][0]["predicted"]["seconds"]
    first = planned["steps"][0]["predicted"]
    assert (
        first["bytes"] == 96 * MB and first["samples"] == 0
    )  # nothing measured yet: the default rate
    assert first["seconds"] == pytest.approx(96 * MB / first["rate"], abs=0.06)  # rounded to 0.1 s
    text = lab.etcdops(
        "plan", "spread", "-i", "lab", "--runbooks", str(books), "-p", f"file={big}", check=True
    ).stdout
    assert (
        "expected: ~" in text and "a default rate: nothing measured on this inventory yet" in text
    )

    report = tmp_path / "report.json"
    lab.etcdops(
        "run",
        "spread",
        "-i",
        "lab",
        "--runbooks",
        str(books),
        "-p",
        f"file={big}",
        "--yes",
        "--report",
        str(report),
        check=True,
    )
    jsonschema.validate(
        json.loads(report.read_text()),
        json.loads((REPO / "docs" / "report.schema.json").read_text()),
    )
    copy = json.loads(report.read_text())["steps"][0]
    assert copy["predicted"] == first and copy["elapsed"] > 0
    slowest = max(h["elapsed"] for h in copy["hosts"])

    second = plan(lab, books, big)["steps"][0]["predicted"]
    assert second["samples"] == 3  # one sample per member's copy
    # the measured rate: each host's bytes over its own seconds, averaged; so the prediction is of
    # the
    # order of what the copies took (never the default's)
    assert second["rate"] != first["rate"]
    assert 0.3 * slowest < second["seconds"] < 3 * slowest
    text = lab.etcdops(
        "plan", "spread", "-i", "lab", "--runbooks", str(books), "-p", f"file={big}", check=True
    ).stdout
    assert "measured on this inventory (3 earlier measurements)" in text
