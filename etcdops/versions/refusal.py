"""A version rule that says no: which rule, one sentence for the operator, and its source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    rule: str  # short and stable: tests, the journal and the runbook match on it
    message: str  # one sentence: the rule, what it concerns, the source
    source: str

    def __str__(self) -> str:
        return self.message
