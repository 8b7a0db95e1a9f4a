"""docs/runbook.schema.json, generated from the step kinds' specs: `python -m etcdops.schema`.

Editors (the YAML language server) use it to complete and check runbooks; the tests check
that the committed file is what this module generates and that every built-in runbook
validates against it.
"""

from __future__ import annotations

import json
from typing import Any

from etcdops.preflight import PROBES
from etcdops.runbook.model import PARAM_TYPES, TARGETS
from etcdops.steps.registry import KINDS
from etcdops.steps.spec import TEMPLATE_SCHEMA

_TEXT = {"type": "string"}
_SECONDS = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, TEMPLATE_SCHEMA]}
_TARGET = {
    "anyOf": [
        {"enum": list(TARGETS)},
        {"type": "string", "pattern": "^(host|hosts|group|param):.+"},
    ]
}


def _step() -> dict[str, Any]:
    common: dict[str, Any] = {
        "name": {
            **_TEXT,
            "description": "shown in the plan and the progress; may use {{ templates }}",
        },
        "target": {**_TARGET, "description": "the hosts the step runs on"},
        "parallel": {"type": "boolean"},
        "serial": {"type": "boolean"},
        "leader_last": {
            "type": "boolean",
            "description": "parallel: the plan-time leader after the others",
        },
        "clients": {
            "enum": ["stop", "back"],
            "description": "clients lose etcd when this step starts (stop) or have it back once it "
            "has finished (back): the plan predicts the window, the report measures it",
        },
        "fenced": {
            "type": "boolean",
            "description": "against the members' fenced client URLs (client port + 10000)",
        },
        "timeout": {**_SECONDS, "description": "seconds for the whole step"},
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "attempts": {"type": "integer", "minimum": 1, "maximum": 100},
                "delay": {"type": "number"},
                "backoff": {"type": "number"},
                "max_delay": {"type": "number"},
                "on": {
                    "type": "array",
                    "items": _TEXT,
                    "description": "stderr markers of transient errors",
                },
            },
        },
        "when": {**_TEXT, "description": "an expression decided at plan time; false = skipped"},
        "only_if": {
            **_TEXT,
            "description": "an expression decided per host on live facts just before",
        },
        "requires": {
            "type": "array",
            "items": _TEXT,
            "description": "re-checked on live facts before the step",
        },
        "on_failure": {**_TEXT, "description": "advice printed when the step fails"},
        "on_unreachable": {"enum": ["fail", "skip"]},
    }
    variants = []
    for name, kind in sorted(KINDS.items()):
        variants.append(
            {
                "type": "object",
                "description": kind.summary,
                "required": [name],
                "properties": {**common, name: kind.schema()},
                "additionalProperties": False,
            }
        )
    include = {
        "type": "object",
        "required": ["include"],
        "additionalProperties": False,
        "properties": {
            "include": {**_TEXT, "description": "a file of steps below the runbook's folder"}
        },
    }
    loop = {
        "type": "object",
        "required": ["for_each", "as"],
        "additionalProperties": False,
        "description": "repeat steps for each item of a list, in order; vars.AS is the item",
        "properties": {
            "for_each": {**_TEXT, "description": "a template rendered at plan time to a list"},
            "as": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "with": {
                "type": "object",
                "description": "vars of each item, rendered in order with the item known",
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                "additionalProperties": _TEXT,
            },
            "steps": {"type": "array", "items": {"oneOf": variants}, "minItems": 1},
            "include": {**_TEXT, "description": "a file of steps below the runbook's folder"},
        },
        "oneOf": [{"required": ["steps"]}, {"required": ["include"]}],
    }
    return {"oneOf": [*variants, include, loop]}


def _check() -> dict[str, Any]:
    base = {
        "message": {**_TEXT, "description": "what the check wants, as a statement"},
        "fails": {**_TEXT, "description": "what was found when it fails, in words"},
        "exit_code": {"type": "integer"},
        "unless": _TEXT,
        "warn": {
            "type": "boolean",
            "description": "a failed check is a warning in the plan, not a refusal",
        },
    }
    variants = [
        {"required": ["assert", "message"], "properties": {**base, "assert": _TEXT}},
        {"required": ["run", "message"], "properties": {**base, "run": _TEXT, "on": _TEXT}},
        *(
            {
                "required": [name, "message"],
                "properties": {**base, name: {**_TEXT, "description": "the host"}},
            }
            for name in PROBES
        ),
    ]
    return {"oneOf": [{"type": "object", "additionalProperties": False, **v} for v in variants]}


def runbook_schema() -> dict[str, Any]:
    param = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": {"enum": list(PARAM_TYPES)},
            "default": {},
            "required": {"type": "boolean"},
            "description": _TEXT,
            "choices": {"type": "array"},
            "secret": {"type": "boolean"},
            "pattern": _TEXT,
            "min": {"type": "integer"},
            "max": {"type": "integer"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://etcdops.invalid/runbook.schema.json",
        "title": "etcdops runbook",
        "description": "Generated by `python -m etcdops.schema` from the step kinds' specs; do "
        "not edit.",
        "type": "object",
        "required": ["name", "steps"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"},
            "description": _TEXT,
            "lock": {"enum": ["etcd", "files", "none"]},
            "runs_on_corrupt": {
                "type": "boolean",
                "description": "runs on a cluster with a CORRUPT alarm (others refuse: exit 3)",
            },
            "confirm": {
                "enum": ["yes", "inventory"],
                "description": "how a person confirms a run: y, or by typing the inventory's name",
            },
            "unattended_requires": {
                "type": "array",
                "items": _TEXT,
                "description": "params --yes without a reviewed plan must give explicitly",
            },
            "params": {"type": "object", "additionalProperties": param},
            "vars": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "preflight": {"type": "array", "items": _check()},
            "summary": _TEXT,
            "impact": {
                "type": "array",
                "items": _TEXT,
                "description": "lines added to the plan's impact header (templates rendered at "
                "plan time; a line that renders empty is left out)",
            },
            "on_failure": _TEXT,
            "on_success": _TEXT,
            "steps": {"type": "array", "minItems": 1, "items": _step()},
        },
    }


def step_list_schema() -> dict[str, Any]:
    """An included file of steps (runbooks/include/*.yml)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "minItems": 1,
        "items": _step(),
    }


def main() -> None:
    print(json.dumps(runbook_schema(), indent=2))


if __name__ == "__main__":
    main()
