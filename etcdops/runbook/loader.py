"""Load and validate runbook YAML; every error names the file and line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from etcdops.errors import RunbookError
from etcdops.limits import LimitError, check_yaml, read_config
from etcdops.preflight import PROBES
from etcdops.runbook.model import PARAM_TYPES, TARGETS, Check, Loop, Param, Retry, Runbook, Step
from etcdops.steps.registry import KINDS
from etcdops.templating import check_syntax

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
TOP_KEYS = {
    "name",
    "description",
    "params",
    "vars",
    "preflight",
    "steps",
    "on_failure",
    "on_success",
    "summary",
    "impact",
    "lock",
    "unattended_requires",
    "confirm",
    "runs_on_corrupt",
}
STEP_KEYS = {
    "name",
    "target",
    "parallel",
    "serial",
    "timeout",
    "retry",
    "when",
    "requires",
    "on_failure",
    "on_unreachable",
    "only_if",
    "leader_last",
    "fenced",
    "clients",
}
PARAM_KEYS = {
    "type",
    "default",
    "required",
    "description",
    "choices",
    "secret",
    "pattern",
    "min",
    "max",
}
RETRY_KEYS = {"attempts", "delay", "backoff", "max_delay", "on"}
CHECK_KEYS = {"assert", "run", "on", "message", "fails", "exit_code", "unless", "warn", *PROBES}


class LineDict(dict[str, Any]):
    line = 0


class _Loader(yaml.SafeLoader):
    """Safe loading with line numbers, no duplicate keys and YAML 1.2 booleans."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser, where PyYAML has it (errors are reported by _Loader)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    keys = [
        loader.construct_object(k)
        for k, _ in node.value  # type: ignore[no-untyped-call]
        if k.tag != "tag:yaml.org,2002:merge"
    ]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate key {sorted(map(str, duplicates))[0]!r}", node.start_mark
        )
    loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor): the explicit keys win
    result = LineDict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    result.line = node.start_mark.line + 1
    return result


for _cls in (_Loader, _FastLoader):
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    # YAML 1.2 booleans: only true/false. YAML 1.1 would read the keys `on:` (retry.on, a check's
    # `on:`) and values like `no` as booleans.
    _cls.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )


def load_runbook(path: Path) -> Runbook:
    data = _load_yaml(path)
    if not isinstance(data, LineDict):
        raise RunbookError(
            str(path), None, "a runbook is a mapping with name, description and steps"
        )
    return _runbook(data, str(path))


def _load_yaml(path: Path) -> Any:
    file = str(path)
    try:
        try:
            text = read_config(path)
            check_yaml(text, file, _FastLoader)
        except LimitError as exc:
            raise RunbookError(file, None, f"refused: {exc}") from None
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError:
            try:
                return yaml.load(text, Loader=_Loader)  # noqa: S506 - again, for pure Python's error positions
            except RecursionError:
                raise RunbookError(file, None, "refused: nested too deep") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RunbookError(
            file, mark.line + 1 if mark else None, f"YAML error: {exc.problem}"
        ) from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RunbookError(file, None, f"cannot read: {exc}") from None


def _expand_includes(
    file: str, steps: list[Any]
) -> tuple[list[tuple[Any, str, Loop | None]], tuple[str, ...]]:
    """Steps as (step, the file it is written in, its loop): `- include: FILE` stands for the list
    of steps in FILE, a path below the runbook's folder (one level: an included file includes
    nothing); `- for_each: LIST` with `as: NAME` (and `with:` vars per item) and `steps:` or
    `include:` repeats them for each item (no loop within a loop)."""
    expanded: list[tuple[Any, str, Loop | None]] = []
    included: list[str] = []
    for group, s in enumerate(steps, 1):
        if isinstance(s, LineDict) and "for_each" in s:
            loop, body = _loop(file, s, group, included)
            expanded += [(item, src, loop) for item, src in body]
        elif isinstance(s, LineDict) and "include" in s:
            _unknown(file, s, {"include"}, "an include")
            expanded += [(item, src, None) for item, src in _include(file, s, included)]
        else:
            expanded.append((s, file, None))
    return expanded, tuple(included)


def _loop(
    file: str, s: LineDict, group: int, included: list[str]
) -> tuple[Loop, list[tuple[Any, str]]]:
    _unknown(file, s, {"for_each", "as", "with", "steps", "include"}, "a for_each")
    name = s.get("as")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise _err(file, s, "for_each needs `as: NAME` (lower-case letters, digits, _)")
    given = s.get("with") or {}
    if not isinstance(given, dict):
        raise _err(file, s, "for_each's with: is a mapping of NAME: template")
    with_vars = []
    for key, value in given.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key) or key == name:
            raise _err(file, s, f"for_each's with: {key!r} is no name of its own (a-z, 0-9, _)")
        with_vars.append((key, _template(file, value, s, f"for_each's with: {key}")))
    if ("steps" in s) == ("include" in s):
        raise _err(file, s, "for_each needs exactly one of `steps:` or `include:`")
    if "include" in s:
        body = _include(file, s, included)
    else:
        if not isinstance(s["steps"], list) or not s["steps"]:
            raise _err(file, s, "for_each's steps: is a non-empty list of steps")
        body = [(item, file) for item in s["steps"]]
    for item, src in body:
        if isinstance(item, LineDict) and ("include" in item or "for_each" in item):
            raise _err(src, item, "the steps of a for_each include nothing and loop no further")
    each = _template(file, s["for_each"], s, "for_each")
    return Loop(each, name, group, tuple(with_vars)), body


def _include(file: str, s: LineDict, included: list[str]) -> list[tuple[Any, str]]:
    rel = s["include"]
    if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise _err(
            file, s, "include: names a file below the runbook's folder (no absolute path, no ..)"
        )
    path = Path(file).parent / rel
    data = _load_yaml(path)
    if not isinstance(data, list) or not data:
        raise RunbookError(str(path), None, "an included file is a non-empty list of steps")
    for item in data:
        if isinstance(item, LineDict) and ("include" in item or "for_each" in item):
            raise _err(str(path), item, "an included file cannot include another, nor loop")
    included.append(str(path))
    return [(item, str(path)) for item in data]


def _err(file: str, node: Any, reason: str) -> RunbookError:
    return RunbookError(file, getattr(node, "line", None), reason)


def _unknown(file: str, node: LineDict, allowed: set[str], what: str) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise _err(
            file,
            node,
            f"unknown key {extra[0]!r} in {what} (allowed: {', '.join(sorted(allowed))})",
        )


def _runbook(d: LineDict, file: str) -> Runbook:
    _unknown(file, d, TOP_KEYS, "runbook")
    name = d.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _err(file, d, "'name' must be lower-case letters, digits, - or _")
    steps = d.get("steps")
    if not isinstance(steps, list) or not steps:
        raise _err(file, d, "'steps' must be a non-empty list")
    params = tuple(_param(file, n, p) for n, p in _mapping(file, d, "params").items())
    vars_ = tuple(
        (k, _template(file, v, d, f"vars.{k}"), d.line)
        for k, v in _mapping(file, d, "vars").items()
    )
    checks = tuple(_check(file, c) for c in _list(file, d, "preflight"))
    expanded, includes = _expand_includes(file, steps)
    parsed = tuple(
        _step(src, s, i, "" if src == file else src, loop)
        for i, (s, src, loop) in enumerate(expanded, 1)
    )
    names = [s.name for s in parsed]
    for s in parsed:
        if names.count(s.name) > 1:
            raise RunbookError(file, s.line, f"duplicate step name {s.name!r}")
    lock = str(d.get("lock", "etcd"))
    if lock not in ("etcd", "files", "none"):
        raise _err(file, d, f"lock is etcd, files or none, not {lock!r}")
    confirm = str(d.get("confirm", "yes"))
    if confirm not in ("yes", "inventory"):
        raise _err(file, d, f"confirm is yes or inventory, not {confirm!r}")
    unattended = tuple(str(x) for x in d.get("unattended_requires") or ())
    for needed in unattended:
        if not any(p.name == needed for p in params):
            raise _err(file, d, f"unattended_requires names {needed!r}, which is not a param")
    return Runbook(
        name=name,
        lock=lock,
        description=str(d.get("description", "")).strip(),
        file=file,
        unattended_requires=unattended,
        confirm=confirm,
        runs_on_corrupt=bool(d.get("runs_on_corrupt", False)),
        params=params,
        vars=vars_,
        preflight=checks,
        steps=parsed,
        includes=includes,
        on_failure=_opt_template(file, d, "on_failure"),
        on_success=_opt_template(file, d, "on_success"),
        summary=_opt_template(file, d, "summary"),
        impact=tuple(
            _template(file, line, d, f"impact[{i}]")
            for i, line in enumerate(_list(file, d, "impact"))
        ),
    )


def _mapping(file: str, d: LineDict, key: str) -> LineDict:
    value = d.get(key) or LineDict()
    if not isinstance(value, dict):
        raise _err(file, d, f"'{key}' must be a mapping")
    return value if isinstance(value, LineDict) else LineDict(value)


def _list(file: str, d: LineDict, key: str) -> list[Any]:
    value = d.get(key) or []
    if not isinstance(value, list):
        raise _err(file, d, f"'{key}' must be a list")
    return value


def _template(file: str, value: Any, node: Any, what: str) -> str:
    if not isinstance(value, (str, int, float, bool)):
        raise _err(file, node, f"{what} must be a string")
    text = str(value)
    check_syntax(text, file, getattr(node, "line", None))
    return text


def _opt_template(file: str, d: LineDict, key: str) -> str | None:
    return _template(file, d[key], d, key) if d.get(key) is not None else None


def _param(file: str, name: str, p: Any) -> Param:
    if not isinstance(p, LineDict):
        raise RunbookError(file, None, f"param {name!r} must be a mapping (type, default, ...)")
    _unknown(file, p, PARAM_KEYS, f"param {name!r}")
    if not NAME.match(str(name)):
        raise _err(file, p, f"param name {name!r} is not a valid name")
    ptype = str(p.get("type", "str"))
    if ptype not in PARAM_TYPES:
        raise _err(
            file, p, f"param {name!r}: unknown type {ptype!r} (one of {', '.join(PARAM_TYPES)})"
        )
    choices = tuple(str(c) for c in p.get("choices") or ())
    if ptype == "choice" and not choices:
        raise _err(file, p, f"param {name!r}: type choice needs 'choices'")
    return Param(
        name=str(name),
        type=ptype,
        default=p.get("default"),
        required=bool(p.get("required")),
        description=str(p.get("description", "")),
        choices=choices,
        secret=bool(p.get("secret")),
        pattern=p.get("pattern"),
        minimum=p.get("min"),
        maximum=p.get("max"),
    )


def _check(file: str, c: Any) -> Check:
    if not isinstance(c, LineDict):
        raise RunbookError(
            file, None, "each pre-flight check must be a mapping (assert or run, message)"
        )
    _unknown(file, c, CHECK_KEYS, "pre-flight check")
    kinds = [k for k in ("assert", "run", *PROBES) if k in c]
    if len(kinds) != 1:
        raise _err(
            file,
            c,
            f"a pre-flight check has exactly one of {', '.join(['assert', 'run', *PROBES])}",
        )
    if "message" not in c:
        raise _err(file, c, "a pre-flight check needs a 'message'")
    probe = kinds[0] if kinds[0] in PROBES else None
    if probe is not None and "on" in c:
        raise _err(file, c, f"{probe}: names its host itself ({probe}: HOST), no 'on'")
    on = _template(file, c[probe], c, probe) if probe else str(c.get("on", "control"))
    return Check(
        line=c.line,
        message=_template(file, c["message"], c, "message"),
        fails=_template(file, c["fails"], c, "fails") if "fails" in c else None,
        expr=_template(file, c["assert"], c, "assert") if "assert" in c else None,
        run=_template(file, c["run"], c, "run") if "run" in c else None,
        on=on,
        exit_code=int(c.get("exit_code", 3)),
        probe=probe,
        unless=_template(file, c["unless"], c, "unless") if "unless" in c else None,
        warn=_warn(file, c),
    )


def _warn(file: str, c: Any) -> bool:
    """`warn: true`: a check that fails is shown as a plan warning and refuses nothing."""
    value = c.get("warn", False)
    if not isinstance(value, bool):
        raise _err(file, c, f"warn must be true or false, not {value!r}")
    return value


def _step(file: str, s: Any, index: int, included_from: str = "", loop: Loop | None = None) -> Step:
    if not isinstance(s, LineDict):
        raise RunbookError(file, None, f"step {index} must be a mapping")
    kinds = [k for k in s if k in KINDS]
    if len(kinds) != 1:
        raise _err(
            file,
            s,
            f"step {index} needs exactly one action of: {', '.join(sorted(KINDS))}"
            + (f" (has {', '.join(kinds)})" if kinds else ""),
        )
    kind = kinds[0]
    if "membership" in s:
        raise _err(
            file,
            s,
            f"step {index}: 'membership:' is gone: an etcd_member step makes the change, and the "
            "plan's quorum arithmetic comes from it",
        )
    _unknown(file, s, STEP_KEYS | {kind}, f"step {index}")
    name = str(s.get("name") or f"step {index}")
    target = str(s.get("target", KINDS[kind].default_target))
    _check_target(file, s, target)
    spec = KINDS[kind].validate(s[kind], file, s.line)
    timeout = s.get("timeout", KINDS[kind].default_timeout)
    if isinstance(timeout, str):
        timeout = _template(file, timeout, s, "timeout")
    elif not isinstance(timeout, (int, float)) or timeout <= 0:
        raise _err(file, s, f"step {name!r}: timeout must be a positive number of seconds")
    on_unreachable = str(s.get("on_unreachable", "fail"))
    if on_unreachable not in ("fail", "skip"):
        raise _err(
            file, s, f"step {name!r}: on_unreachable is fail or skip, not {on_unreachable!r}"
        )
    return Step(
        name=name,
        line=s.line,
        file=included_from,
        kind=kind,
        spec=spec,
        target=target,
        parallel=bool(s.get("parallel", False)) and not bool(s.get("serial", False)),
        timeout=timeout if isinstance(timeout, str) else float(timeout),
        retry=_retry(file, s),
        when=_opt_template(file, s, "when"),
        requires=tuple(_template(file, r, s, "requires") for r in (s.get("requires") or [])),
        on_failure=_opt_template(file, s, "on_failure"),
        on_unreachable=on_unreachable,
        only_if=_opt_template(file, s, "only_if"),
        leader_last=bool(s.get("leader_last", False)),
        fenced=bool(s.get("fenced", False)),
        clients=_clients(file, s),
        loop=loop,
    )


def _clients(file: str, s: LineDict) -> str | None:
    value = s.get("clients")
    if value is None:
        return None
    if value not in ("stop", "back"):
        raise _err(file, s, f"clients is stop or back, not {value!r}")
    return str(value)


def _check_target(file: str, s: LineDict, target: str) -> None:
    if target in TARGETS:
        return
    kind, _, value = target.partition(":")
    if kind not in ("host", "hosts", "group", "param") or not value:
        raise _err(
            file,
            s,
            f"unknown target {target!r} (one of {', '.join(TARGETS)}, host:NAME, "
            "hosts:NAME,NAME, group:NAME, param:NAME)",
        )


def _retry(file: str, s: LineDict) -> Retry:
    r = s.get("retry")
    if r is None:
        return Retry()
    if not isinstance(r, LineDict):
        raise _err(file, s, "retry must be a mapping (attempts, delay, backoff, on)")
    _unknown(file, r, RETRY_KEYS, "retry")
    attempts = r.get("attempts", 3)
    if not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise _err(file, r, "retry.attempts must be an integer from 1 to 100")
    return Retry(
        attempts=attempts,
        delay=float(r.get("delay", 1.0)),
        backoff=float(r.get("backoff", 2.0)),
        max_delay=float(r.get("max_delay", 10.0)),
        on=tuple(str(x) for x in r.get("on") or ()),
    )


def find_runbooks(dirs: list[Path]) -> dict[str, Path]:
    """name → file; later directories (the user's --runbooks) override built-in ones."""
    found: dict[str, Path] = {}
    for folder in dirs:
        if folder.is_dir():
            for file in sorted(folder.glob("*.y*ml")):
                found[file.stem] = file
    return found
