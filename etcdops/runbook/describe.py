"""A runbook as data and as words, before any inventory or param is known (`runbooks show`):
its params, checks and steps as they are declared, and their templated texts with each value
named instead of the jinja2 that computes it. Pure."""

from __future__ import annotations

import re
from typing import Any

from etcdops.runbook.model import Check, Param, Runbook, Step

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_REFERENCE = re.compile(r"^\s*(?:params|vars)\.([A-Za-z_][A-Za-z0-9_]*)\s*$")
_BLOCK = re.compile(r"\{%.*?%\}", re.S)


def readable(template: str) -> str:
    """`Install etcd on {{ params.host }}` → `Install etcd on <host>`: a param or var stands as
    <its name>; any other expression (a condition that adds a detail when a check fails, say) is
    left out, as is every {% block %}."""

    def one(match: re.Match[str]) -> str:
        ref = _REFERENCE.match(match.group(1))
        return f"<{ref.group(1)}>" if ref else ""

    text = _EXPRESSION.sub(one, _BLOCK.sub("", template))
    return re.sub(r"[ \t]+", " ", text).strip()


def param_dict(p: Param) -> dict[str, Any]:
    return {
        "name": p.name,
        "type": p.type,
        "required": p.required,
        "default": None if p.required else p.default,
        "choices": list(p.choices),
        "secret": p.secret,
        "pattern": p.pattern,
        "min": p.minimum,
        "max": p.maximum,
        "description": p.description,
    }


def check_dict(c: Check) -> dict[str, Any]:
    how = "assert" if c.expr is not None else ("probe" if c.probe else "command")
    return {
        "message": readable(c.message),
        "how": how,
        "assert": c.expr,
        "probe": c.probe,
        "run": c.run,
        "on": c.on,
        "unless": c.unless,
        "exit_code": c.exit_code,
        "line": c.line,
    }


def step_dict(index: int, s: Step, runbook_file: str) -> dict[str, Any]:
    return {
        "index": index,
        "name": readable(s.name),
        "kind": s.kind,
        "target": readable(s.target),
        "parallel": s.parallel,
        "timeout": s.timeout,
        "when": s.when,
        "requires": list(s.requires),
        "only_if": s.only_if,
        "on_unreachable": s.on_unreachable,
        "retry": {"attempts": s.retry.attempts, "on": list(s.retry.on)}
        if s.retry.attempts > 1
        else None,
        "file": s.file or runbook_file,
        "line": s.line,
        "spec": s.spec,
    }


def runbook_dict(rb: Runbook) -> dict[str, Any]:
    """Everything `runbooks show -o json` prints: the runbook as declared."""
    return {
        "name": rb.name,
        "file": rb.file,
        "description": rb.description.strip(),
        "lock": rb.lock,
        "includes": list(rb.includes),
        "params": [param_dict(p) for p in rb.params],
        "preflight": [check_dict(c) for c in rb.preflight],
        "steps": [step_dict(i, s, rb.file) for i, s in enumerate(rb.steps, 1)],
        "unattended_requires": list(rb.unattended_requires),
    }
