"""Turn `-p key=value` strings into typed runbook params, or one clear error."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from etcdops.errors import ParamError
from etcdops.facts.space import RULE_HELP, rule_problem
from etcdops.inventory import Inventory
from etcdops.runbook import Param, Runbook
from etcdops.templating import Secret

TRUE = {"true", "yes", "1", "on"}
FALSE = {"false", "no", "0", "off"}


def split_assignments(items: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamError(f"-p {item!r}: expected key=value")
        if key in result:
            raise ParamError(f"-p {key}: given twice")
        result[key] = value
    return result


def parse_params(runbook: Runbook, raw: dict[str, str], inventory: Inventory) -> dict[str, Any]:
    unknown = sorted(set(raw) - {p.name for p in runbook.params})
    if unknown:
        known = ", ".join(p.name for p in runbook.params) or "none"
        raise ParamError(f"runbook {runbook.name}: unknown param {unknown[0]!r} (params: {known})")
    values: dict[str, Any] = {}
    for param in runbook.params:
        if param.name in raw:
            value = _convert(param, raw[param.name], inventory, runbook.name)
        elif param.required:
            raise ParamError(
                f"runbook {runbook.name}: param {param.name!r} is required (-p {param.name}=...)"
            )
        else:
            value = param.default
        values[param.name] = Secret(value) if param.secret and value is not None else value
    return values


def _convert(param: Param, text: str, inventory: Inventory, runbook: str) -> Any:
    where = f"runbook {runbook}: param {param.name}"
    if param.type == "int":
        try:
            value: Any = int(text)
        except ValueError:
            raise ParamError(f"{where}: expected an integer, got {text!r}") from None
        if param.minimum is not None and value < param.minimum:
            raise ParamError(f"{where}: {value} is below the minimum {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise ParamError(f"{where}: {value} is above the maximum {param.maximum}")
        return value
    if param.type == "bool":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ParamError(f"{where}: expected true or false, got {text!r}")
    if param.type == "host" and text not in inventory.hosts:
        raise ParamError(
            f"{where}: {text!r} is not a host of inventory {inventory.name} "
            f"(hosts: {', '.join(inventory.hosts)})"
        )
    if param.type == "defrag_rule" and rule_problem(text):
        raise ParamError(f"{where}: {text!r} is not a defrag rule: {RULE_HELP}")
    if param.type == "choice" and text not in param.choices:
        raise ParamError(f"{where}: {text!r} is not one of {', '.join(param.choices)}")
    if param.pattern and not re.fullmatch(param.pattern, text):
        raise ParamError(f"{where}: {text!r} does not match {param.pattern}")
    if "\x00" in text or "\n" in text:
        raise ParamError(f"{where}: control characters are not allowed")
    if param.type == "path":
        _check_path(text, where)
    return text


def _check_path(text: str, where: str) -> None:
    """A path on the control node cannot lie under something that is not a directory: refused
    here, before anything is touched (not once a snapshot was saved on a member)."""
    for folder in Path(os.path.abspath(text)).parents:
        if folder.exists() and not folder.is_dir():
            raise ParamError(f"{where}: {text!r} cannot exist: {folder} is not a directory")


def display_params(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Secret) else v) for k, v in values.items()}
