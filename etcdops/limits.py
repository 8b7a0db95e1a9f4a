"""Bounds on parsing untrusted files: inventories, runbooks, snapshot metadata, saved plans.

YAML is composed into its node graph first (aliases stay shared there, so even a "billion
laughs" document composes in milliseconds); the graph is then measured as it would expand,
node by node, memoised per node and stopped at the first limit. Only then is it constructed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 << 20  # a file etcdops reads as config (an inventory's vars are far smaller)
MAX_NODES = 200_000  # nodes after alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_ALIASES = 1_000


class LimitError(ValueError):
    """A file exceeds a parsing bound; the message says which."""


def check_size(text: str | bytes, where: str, limit: int = MAX_BYTES) -> None:
    if len(text) > limit:
        raise LimitError(
            f"{where}: {len(text)} bytes, more than the {limit} etcdops reads in one file"
        )


def read_config(path: Path, where: str | None = None, limit: int = MAX_BYTES) -> str:
    """The text of a file etcdops reads as input, bounded: a regular file only (a FIFO or a
    device such as /dev/zero would block or never end), at most `limit` bytes. OSError or
    LimitError (a ValueError) otherwise; UnicodeDecodeError for bytes that are not UTF-8."""
    where = where or str(path)
    # O_NONBLOCK: opening a FIFO without a writer returns at once, and is refused just below
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO or device?)"
            raise LimitError(f"{where}: {kind}")
        data = os.read(fd, limit + 1)
        while len(data) <= limit:
            more = os.read(fd, limit + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    check_size(data, where, limit)
    return data.decode()


def check_yaml(text: str, where: str, loader: Any = None) -> None:
    """Refuse a YAML document that is too large, too deep, or expands beyond MAX_NODES through
    aliases."""
    check_size(text, where)
    loader = loader or getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    aliases = text.count("*")
    try:
        for root in yaml.compose_all(text, Loader=loader):
            if root is not None:
                _measure(root, where, aliases)
    except RecursionError:
        raise LimitError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own bound (1000): pure Python would recurse
            raise LimitError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
        return  # not well-formed: the loader that reads it reports the error with its position


def _measure(root: yaml.Node, where: str, aliases: int) -> None:
    sizes: dict[int, int] = {}
    seen_nodes = 0

    def size(node: yaml.Node, depth: int, path: tuple[int, ...]) -> int:
        nonlocal seen_nodes
        if depth > MAX_DEPTH:
            raise LimitError(
                f"{where}: nested more than {MAX_DEPTH} levels deep (line "
                f"{node.start_mark.line + 1})"
            )
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in path:
            raise LimitError(f"{where}: a recursive alias (line {node.start_mark.line + 1})")
        seen_nodes += 1
        if seen_nodes > MAX_NODES:
            raise LimitError(f"{where}: more than {MAX_NODES} nodes")
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        for child in children:
            total += size(child, depth + 1, (*path, key))
            if total > MAX_NODES:
                raise LimitError(
                    f"{where}: expands to more than {MAX_NODES} nodes through aliases "
                    f"(line {node.start_mark.line + 1}): an alias bomb?"
                )
        sizes[key] = total
        return total

    size(root, 0, ())


def check_json_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> None:
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > limit:
            raise LimitError(f"{where}: nested more than {limit} levels deep")
        if count > MAX_NODES:
            raise LimitError(f"{where}: more than {MAX_NODES} values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
