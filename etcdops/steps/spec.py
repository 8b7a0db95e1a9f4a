"""Typed step specs: one frozen dataclass per step kind.

At load time a step's mapping is checked against its kind's Spec (unknown and missing keys,
the type and choices of every literal value, the syntax of every template), naming the file
and line. At plan time template values are rendered (natively: ``"{{ params.retain }}"`` is
the int itself, not its text) and coerced to the field's type, giving the Spec instance the
kind plans from. The JSON schema for editors (docs/runbook.schema.json) comes from the same
dataclasses.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from etcdops.errors import RunbookError
from etcdops.templating import Secret, check_syntax

_TEMPLATE = re.compile(r"\{\{|\{%")


def spec_field(
    doc: str,
    default: Any = dataclasses.MISSING,
    *,
    minimum: float | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A spec field with its documentation (shown by `runbooks show` and in the JSON schema)."""
    meta = {"doc": doc, "minimum": minimum}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and bool(_TEMPLATE.search(value))


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    name: str
    type: Any
    required: bool
    default: Any
    doc: str
    minimum: float | None


def fields_of(spec_cls: type) -> list[FieldInfo]:
    hints = typing.get_type_hints(spec_cls)
    out = []
    for f in dataclasses.fields(spec_cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif not required:
            default = f.default_factory()  # type: ignore[misc,operator]
        out.append(
            FieldInfo(
                f.name,
                hints[f.name],
                required,
                default,
                f.metadata.get("doc", ""),
                f.metadata.get("minimum"),
            )
        )
    return out


def validate(
    spec_cls: type, raw: Any, kind: str, file: str, line: int, shorthand: str | None = None
) -> dict[str, Any]:
    """Load time: the raw mapping, checked. Template values are checked for syntax only."""
    infos = {f.name: f for f in fields_of(spec_cls)}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping) and shorthand is not None:
        raw = {shorthand: raw}
    if not isinstance(raw, Mapping):
        raise RunbookError(
            file, line, f"'{kind}' must be a mapping ({', '.join(infos) or 'no keys'})"
        )
    extra = sorted(set(map(str, raw)) - set(infos))
    if extra:
        raise RunbookError(
            file, line, f"unknown key {extra[0]!r} in '{kind}' (allowed: {', '.join(infos)})"
        )
    for info in infos.values():
        if info.required and info.name not in raw:
            raise RunbookError(file, line, f"'{kind}' needs {info.name!r}")
    for name, value in raw.items():
        _check_literal(infos[str(name)], value, kind, file, line)
    return dict(raw)


def _check_literal(info: FieldInfo, value: Any, kind: str, file: str, line: int) -> None:
    if is_template(value):
        check_syntax(value, file, line)
        return
    if isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            if is_template(item):
                check_syntax(item, file, line)
        if any(is_template(i) for i in (value.values() if isinstance(value, dict) else value)):
            return
    coerce(info, value, kind, file, line)


def render(
    spec_cls: type,
    raw: Mapping[str, Any],
    native: Callable[[str], Any],
    kind: str,
    file: str,
    line: int,
) -> Any:
    """Plan time: templates rendered natively, every value coerced to its field's type."""
    values = {}
    for info in fields_of(spec_cls):
        value = raw.get(info.name, info.default)
        value = _render_value(value, native)
        values[info.name] = coerce(info, value, kind, file, line)
    return spec_cls(**values)


def _render_value(value: Any, native: Callable[[str], Any]) -> Any:
    if is_template(value):
        return native(value)
    if isinstance(value, list):
        return [_render_value(v, native) for v in value]
    if isinstance(value, dict):
        return {k: _render_value(v, native) for k, v in value.items()}
    return value


def coerce(info: FieldInfo, value: Any, kind: str, file: str, line: int) -> Any:
    try:
        result = _coerce(info.type, value)
    except (TypeError, ValueError) as exc:
        raise RunbookError(file, line, f"{kind}.{info.name}: {exc}") from None
    if info.minimum is not None and isinstance(result, (int, float)) and result < info.minimum:
        raise RunbookError(
            file, line, f"{kind}.{info.name}: {result} is below the minimum {info.minimum:g}"
        )
    return result


def _coerce(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {_what(value)}")
        return tuple(_coerce(args[0], v) for v in value) if args else tuple(value)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping, got {_what(value)}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeError(f"expected true or false, got {_what(value)}")
    if tp is int:
        if isinstance(value, bool):
            raise TypeError(f"expected an integer, got {_what(value)}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return int(value)
        raise TypeError(f"expected an integer, got {_what(value)}")
    if tp is float:
        if isinstance(value, bool):
            raise TypeError(f"expected a number, got {_what(value)}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise TypeError(f"expected a number, got {_what(value)}")
    if tp is str:
        if value is None or isinstance(value, (list, dict)):
            raise TypeError(f"expected text, got {_what(value)}")
        if isinstance(value, Secret):
            return value
        if value is True:
            text = "true"
        elif value is False:
            text = "false"
        else:
            text = str(value)
        if "\x00" in text:
            raise ValueError("control characters are not allowed")
        return text
    raise TypeError(f"unsupported field type {tp!r}")


def _what(value: Any) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


# ----- JSON schema ------------------------------------------------------------
def json_type(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [json_type(a) for a in args if a is not type(None)]
        nullable = type(None) in args
        if nullable or len(inner) > 1:
            return {"anyOf": inner + ([{"type": "null"}] if nullable else [])}
        else:
            return inner[0]
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (list, tuple):
        return {"type": "array", "items": json_type(args[0]) if args else {}}
    if origin in (dict, Mapping) or tp is dict:
        return {"type": "object"}
    return {
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        float: {"type": "number"},
        str: {"type": "string"},
    }.get(tp, {})


TEMPLATE_SCHEMA = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "a jinja2 template rendered at plan time",
}


def spec_schema(spec_cls: type, shorthand: str | None) -> dict[str, Any]:
    props = {}
    for info in fields_of(spec_cls):
        typed = json_type(info.type)
        entry: dict[str, Any] = {"description": info.doc}
        entry["anyOf"] = [typed, TEMPLATE_SCHEMA] if typed.get("type") != "string" else [typed]
        if not info.required and info.default not in (None, (), {}):
            entry["default"] = (
                list(info.default) if isinstance(info.default, tuple) else info.default
            )
        props[info.name] = entry
    obj: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    required = [f.name for f in fields_of(spec_cls) if f.required]
    if required:
        obj["required"] = required
    if shorthand is not None:
        return {"anyOf": [obj, props[shorthand]]}
    if not required:
        return {"anyOf": [obj, {"type": "null"}]}
    return obj
