"""The change a membership run asks of the inventory: hosts into or out of the `etcd` group, in the
file that defines the group, as that file is written (an INI section, a YAML group; one file or a
directory of them).

`group_edit()` finds the file and makes the change as text, line by line, so that comments, order
and everything else stay as they were; the result is read back by Ansible (load_inventory on a
copy) and accepted only if the `etcd` group is then exactly what was asked and no other host or
group changed but through it. When it cannot be made safely (a host that is in the group through
`[etcd:children]`, its variables on the line that would go, a dynamic inventory, a flow-style
YAML list), the Edit says why and what to change by hand. `apply()` keeps the old file as
`FILE.STAMP.bak` (a name Ansible does not read as an inventory source) and replaces it
atomically. Nothing here connects to anything.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from etcdops import paths
from etcdops.errors import EtcdopsError
from etcdops.inventory.model import Inventory

GROUP = "etcd"
Pins = dict[str, tuple[str, str]]  # host → (variable, member name) written on its new line
YAML_SUFFIXES = (".yml", ".yaml")
IGNORED = (".bak", ".orig", ".cfg", ".retry", ".md", ".txt", ".rst", "~", ".swp", ".pyc")


class CannotEdit(Exception):
    """Why the change cannot be made by etcdops (the text says what to do by hand)."""


@dataclass(frozen=True)
class Edit:
    """The inventory change for a membership change: the file, the change in words, its diff, and
    the new text, or why it cannot be made safely."""

    file: Path | None
    says: tuple[str, ...]
    diff: str = ""
    new_text: str | None = None
    why_not: str = ""
    old_text: str = ""  # what the file held when the edit was made: apply() refuses otherwise

    @property
    def needed(self) -> bool:
        return bool(self.says)

    @property
    def applicable(self) -> bool:
        return self.new_text is not None and self.file is not None


def group_edit(
    inventory: Inventory,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    park_in: str | None = None,
) -> Edit:
    """The edit that puts `add` into the etcd group and takes `remove` out of it. park_in: a group
    a removed host moves to when its variables are on its line in the group (the lab's spares)."""
    current = set(inventory.groups.get(GROUP, ()))
    add = [h for h in add if h not in current]
    remove = [h for h in remove if h in current]
    says = tuple(
        [f"add {h} to the `{GROUP}` group" for h in add]
        + [f"take {h} out of the `{GROUP}` group" for h in remove]
    )
    if not says:
        return Edit(None, ())
    try:
        file = defining_file(inventory.path)
    except CannotEdit as exc:
        return Edit(None, says, why_not=str(exc))
    old = file.read_text()
    wanted = (current | set(add)) - set(remove)
    # kubespray names a member etcdN by its position in the group when etcd_member_name is not
    # set: a host added keeps the name it joined with, written on its line
    pins = {
        h: ("etcd_member_name", etcd.name)
        for h in add
        if inventory.hosts[h].profile == "kubespray" and (etcd := inventory.hosts[h].etcd)
    }
    try:
        new = _attempt(inventory, file, old, add, remove, park_in, wanted, {})
    except CannotEdit as exc:
        if not pins:
            return Edit(file, says, why_not=str(exc))
        try:
            new = _attempt(inventory, file, old, add, remove, park_in, wanted, pins)
        except CannotEdit:
            return Edit(file, says, why_not=str(exc))
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), str(file), str(file)
        )
    )
    return Edit(file, says, diff, new, old_text=old)


def _attempt(
    inventory: Inventory,
    file: Path,
    old: str,
    add: Sequence[str],
    remove: Sequence[str],
    park_in: str | None,
    wanted: set[str],
    pins: Pins,
) -> str:
    new = _edit_text(file, old, add, remove, park_in, pins)
    _verify(inventory, file, new, wanted, add, remove)
    return new


def apply(edit: Edit, stamp: str) -> Path:
    """Write the edit: the old file kept beside it as FILE.STAMP.bak, the new one renamed into
    place. Returns the backup's path."""
    if edit.file is None or edit.new_text is None:
        raise EtcdopsError(f"the inventory cannot be changed by etcdops: {edit.why_not}")
    if edit.file.read_text() != edit.old_text:
        raise EtcdopsError(f"{edit.file} changed since the edit was made; nothing was written")
    backup = paths.inventory_backup(edit.file, stamp)
    shutil.copy2(edit.file, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{edit.file.name}.", dir=edit.file.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(edit.new_text)
            fh.flush()
            os.fsync(fh.fileno())
        shutil.copymode(edit.file, tmp)
        os.replace(tmp, edit.file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


# ----- which file ---------------------------------------------------------------------------
def source_files(path: Path) -> list[Path]:
    """The inventory sources Ansible reads at path: the file, or a directory's files (not
    group_vars/host_vars, hidden files or the extensions Ansible skips)."""
    if path.is_file():
        return [path]
    found = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in ("group_vars", "host_vars")
        )
        found += [
            Path(root) / n
            for n in sorted(names)
            if not n.startswith(".") and not n.endswith(IGNORED)
        ]
    return found


def defining_file(path: Path) -> Path:
    """The one file that defines the etcd group's hosts (or, failing that, the group)."""
    files = source_files(path)
    for f in files:
        if os.access(f, os.X_OK) and f.suffix not in (".ini", *YAML_SUFFIXES):
            raise CannotEdit(
                f"{f} is an inventory script: change the `{GROUP}` group at its source"
            )
        if f.suffix in YAML_SUFFIXES and "\nplugin:" in "\n" + f.read_text()[:4096]:
            raise CannotEdit(f"{f} is an inventory plugin's config: change the group at its source")
    with_hosts = [f for f in files if _defines(f, hosts_only=True)]
    if len(with_hosts) == 1:
        return with_hosts[0]
    if len(with_hosts) > 1:
        names = ", ".join(str(f) for f in with_hosts)
        raise CannotEdit(f"the `{GROUP}` group lists hosts in several files ({names})")
    anywhere = [f for f in files if _defines(f, hosts_only=False)]
    if len(anywhere) == 1:
        return anywhere[0]
    raise CannotEdit(
        f"no single file of {path} defines the `{GROUP}` group"
        + (f" ({', '.join(str(f) for f in anywhere)})" if anywhere else "")
    )


def _defines(file: Path, hosts_only: bool) -> bool:
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    if file.suffix in YAML_SUFFIXES or file.suffix == ".json":
        group = _yaml_group(text)
        return group is not None and (not hosts_only or _pair(group[1], "hosts") is not None)
    wanted = (GROUP,) if hosts_only else (GROUP, f"{GROUP}:children")
    return any(_section(line) in wanted for line in text.splitlines())


# ----- INI ------------------------------------------------------------------------------------
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(?:[#;].*)?$")


def _section(line: str) -> str | None:
    m = _SECTION.match(line)
    return m.group(1).strip() if m else None


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("#", ";"))


def _ini_sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """{section: (header line, end line exclusive)}, in the order written."""
    heads = [(i, s) for i, line in enumerate(lines) if (s := _section(line)) is not None]
    return {
        s: (i, heads[n + 1][0] if n + 1 < len(heads) else len(lines))
        for n, (i, s) in enumerate(heads)
    }


def _ini_edit(
    text: str, add: Sequence[str], remove: Sequence[str], park_in: str | None, pins: Pins
) -> str:
    lines = text.splitlines()
    for host in remove:
        lines = _ini_remove(lines, host, park_in)
    for host in add:
        pin = f" {pins[host][0]}={pins[host][1]}" if host in pins else ""
        lines = _ini_add(lines, host, host + pin)
    return "\n".join(lines) + "\n"


def _last_content(lines: list[str], start: int, end: int) -> int:
    """The last line in (start, end) with a host on it, else start (the header)."""
    last = start
    for i in range(start + 1, end):
        if _content(lines[i]):
            last = i
    return last


def _ini_add(lines: list[str], host: str, entry: str, group: str = GROUP) -> list[str]:
    sections = _ini_sections(lines)
    if group in sections:
        head, end = sections[group]
        at = _last_content(lines, head, end) + 1
        return [*lines[:at], entry, *lines[at:]]
    children = sections.get(f"{group}:children")
    if children is None:
        raise CannotEdit(f"no [{group}] or [{group}:children] section to add {host} to")
    at = children[0]  # a hosts section of its own, just before the group's children
    return [*lines[:at], f"[{group}]", entry, "", *lines[at:]]


def _ini_remove(lines: list[str], host: str, park_in: str | None) -> list[str]:
    sections = _ini_sections(lines)
    if GROUP not in sections:
        raise CannotEdit(_through_children(host))
    head, end = sections[GROUP]
    found = [i for i in range(head + 1, end) if _content(lines[i]) and _host_of(lines[i]) == host]
    if not found:
        if any(_content(lines[i]) and "[" in lines[i].split()[0] for i in range(head + 1, end)):
            raise CannotEdit(
                f"[{GROUP}] names hosts by a range pattern: take {host} out of it by hand"
            )
        raise CannotEdit(_through_children(host))
    line = lines[found[0]]
    rest = [*lines[: found[0]], *lines[found[0] + 1 :]]
    if len(line.split()) == 1 or line.split()[1].startswith(("#", ";")):
        return rest
    if any(_content(x) and _section(x) is None and _host_of(x) == host for x in rest):
        return rest  # listed in another group too: what it loses here, the check below sees
    if park_in is not None and park_in in _ini_sections(rest):
        return _ini_add(rest, host, line.strip(), park_in)
    raise CannotEdit(
        f"{host}'s variables are on its line in [{GROUP}] ({line.strip()!r}): taking the line "
        f"out would take {host} out of the inventory; move that line to another group by hand"
    )


def _host_of(line: str) -> str:
    return line.split()[0]


def _through_children(host: str) -> str:
    return (
        f"{host} is in the `{GROUP}` group through [{GROUP}:children] (another group): taking "
        f"it out of that group changes more than etcd; change the inventory by hand"
    )


# ----- YAML -----------------------------------------------------------------------------------
def _yaml_group(text: str, group: str = GROUP) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node, value node) of a group (etcd) anywhere in a YAML inventory, else None."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None

    def find(node: yaml.Node | None) -> tuple[yaml.Node, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            return None
        for key, value in node.value:
            if key.value == group:
                return key, value
            if key.value in ("hosts", "vars"):
                continue
            found = find(value)
            if found is not None:
                return found
        return None

    return find(root)


def _pair(node: yaml.Node, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if k.value == name), None)


def _block_end(lines: list[str], key_line: int, key_col: int) -> int:
    """The last line of the entry whose key is on key_line at key_col: the lines below it that
    are indented deeper, trailing blank and comment lines left out."""
    last = key_line
    for i in range(key_line + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= key_col:
            break
        last = i
    return last


def _yaml_edit(
    text: str, add: Sequence[str], remove: Sequence[str], park_in: str | None, pins: Pins
) -> str:
    for host in remove:
        text = _yaml_remove(text, host, park_in)
    for host in add:
        pin = [f"  {pins[host][0]}: {json.dumps(pins[host][1])}"] if host in pins else []
        text = _yaml_add(text, [f"{host}:", *pin], GROUP)
    return text


def _group_node(text: str, group: str) -> tuple[yaml.Node, yaml.Node]:
    found = _yaml_group(text, group)
    if found is None:
        raise CannotEdit(f"no `{group}` group in the YAML inventory")
    return found


def _yaml_add(text: str, entry: list[str], group: str) -> str:
    """Insert entry (a host key line, and its deeper lines, indented from 0) into group's
    hosts."""
    lines = text.splitlines()
    key, value = _group_node(text, group)
    hosts = _pair(value, "hosts")
    if hosts is None:
        return _yaml_hosts_key(lines, key, value, entry, group)
    hkey, hval = hosts
    if isinstance(hval, yaml.MappingNode) and not hval.flow_style and hval.value:
        col = hval.value[0][0].start_mark.column
        last = hval.value[-1][0]
        at = _block_end(lines, last.start_mark.line, last.start_mark.column) + 1
        return "\n".join([*lines[:at], *(" " * col + e for e in entry), *lines[at:]]) + "\n"
    empty = (isinstance(hval, yaml.MappingNode) and not hval.value) or (
        isinstance(hval, yaml.ScalarNode) and hval.value in ("", "null", "~")
    )
    if not empty:
        raise CannotEdit(f"the hosts of `{group}` are written in flow style: change them by hand")
    row = hkey.start_mark.line
    lines[row] = lines[row][: hkey.end_mark.column] + ":"
    col = hkey.start_mark.column + 2
    return "\n".join([*lines[: row + 1], *(" " * col + e for e in entry), *lines[row + 1 :]]) + "\n"


def _yaml_hosts_key(
    lines: list[str], key: yaml.Node, value: yaml.Node, entry: list[str], group: str
) -> str:
    """A `hosts:` key with entry, first under a group that has none (only children or vars)."""
    if isinstance(value, yaml.MappingNode) and value.flow_style:
        raise CannotEdit(f"`{group}` is written in flow style ({{...}}): change it by hand")
    if isinstance(value, yaml.ScalarNode) and value.value not in ("", "null", "~"):
        raise CannotEdit(f"`{group}` has a value that is not a group: change it by hand")
    if isinstance(value, yaml.MappingNode) and value.value:
        col = value.value[0][0].start_mark.column
    else:  # `etcd:` with nothing under it
        col = key.start_mark.column + 2
        row = key.start_mark.line
        lines[row] = lines[row][: key.end_mark.column] + ":"
    at = key.start_mark.line + 1
    block = [" " * col + "hosts:", *(" " * (col + 2) + e for e in entry)]
    return "\n".join([*lines[:at], *block, *lines[at:]]) + "\n"


def _yaml_remove(text: str, host: str, park_in: str | None) -> str:
    lines = text.splitlines()
    _, value = _group_node(text, GROUP)
    hosts = _pair(value, "hosts")
    found = _pair(hosts[1], host) if hosts is not None else None
    if hosts is None or found is None:
        raise CannotEdit(
            f"{host} is in the `{GROUP}` group through its children (another group): taking it "
            "out changes more than etcd; change the inventory by hand"
        )
    hkey, hval = hosts
    if isinstance(hval, yaml.MappingNode) and hval.flow_style:
        raise CannotEdit(f"the hosts of `{GROUP}` are written in flow style: change them by hand")
    key, val = found
    first, col = key.start_mark.line, key.start_mark.column
    last = _block_end(lines, first, col)
    block = lines[first : last + 1]
    rest = [*lines[:first], *lines[last + 1 :]]
    if len(hval.value) == 1:  # the group keeps `hosts: {}`
        row = hkey.start_mark.line
        rest[row] = rest[row][: hkey.end_mark.column] + ": {}"
    text_rest = "\n".join(rest) + "\n"
    bare = isinstance(val, yaml.ScalarNode) or (isinstance(val, yaml.MappingNode) and not val.value)
    if bare:
        return text_rest
    if park_in is not None:
        try:
            return _yaml_add(text_rest, [line[col:] for line in block], park_in)
        except CannotEdit:
            pass
    raise CannotEdit(
        f"{host}'s variables are under it in the `{GROUP}` group: taking it out would take {host} "
        "out of the inventory; move it to another group by hand"
    )


# ----- both -------------------------------------------------------------------------------------
def _edit_text(
    file: Path,
    text: str,
    add: Sequence[str],
    remove: Sequence[str],
    park_in: str | None,
    pins: Pins,
) -> str:
    if file.suffix == ".json":
        raise CannotEdit(f"{file} is JSON: change the `{GROUP}` group by hand")
    if file.suffix in YAML_SUFFIXES:
        return _yaml_edit(text, add, remove, park_in, pins)
    return _ini_edit(text, add, remove, park_in, pins)


def _verify(
    inventory: Inventory,
    file: Path,
    new_text: str,
    wanted: set[str],
    add: Sequence[str],
    remove: Sequence[str],
) -> None:
    """Ansible reads the edited inventory (a copy) as asked: the etcd group is exactly `wanted`,
    every host is still there (but a removed host that was only in the group), no other group
    changed but for the hosts moved, no member's name or URLs changed."""
    # lazy: loading imports the loader (and, for a new content, ansible-core): only to verify
    from etcdops.inventory.loader import load_inventory

    base = inventory.path if inventory.path.is_dir() else inventory.path.parent
    with tempfile.TemporaryDirectory(prefix="etcdops-inventory-") as tmp:
        copy = Path(tmp) / base.name
        shutil.copytree(base, copy, symlinks=True)
        (copy / file.relative_to(base)).write_text(new_text)
        target = copy if inventory.path.is_dir() else copy / inventory.path.name
        try:
            after = load_inventory(target, use_cache=False)
        except EtcdopsError as exc:
            raise CannotEdit(f"the edited inventory does not load: {exc}") from None
    got = set(after.groups.get(GROUP, ()))
    if got != wanted:
        raise CannotEdit(
            f"the edit would make the `{GROUP}` group {sorted(got)}, not {sorted(wanted)}"
        )
    moved = set(add) | set(remove)
    lost = set(inventory.hosts) - set(after.hosts) - set(remove)
    if lost or set(after.hosts) - set(inventory.hosts):
        raise CannotEdit(f"the edit would change the inventory's hosts ({sorted(lost)})")
    for name, hosts in inventory.groups.items():
        if name != GROUP and (set(hosts) ^ set(after.groups.get(name, ()))) - moved:
            raise CannotEdit(f"the edit would change the group {name}")
    for name, host in inventory.hosts.items():
        then = after.hosts.get(name)
        if then is None:
            continue
        if (then.address, then.port, then.user) != (host.address, host.port, host.user):
            raise CannotEdit(f"the edit would change how {name} is reached")
        if host.etcd is None or then.etcd is None or name in remove:
            continue
        if (then.etcd.peer_url, then.etcd.client_url) != (host.etcd.peer_url, host.etcd.client_url):
            raise CannotEdit(f"the edit would change the URLs of {name}")
        if then.etcd.name != host.etcd.name:
            raise CannotEdit(
                f"the edit would rename the member on {name} ({host.etcd.name} → "
                f"{then.etcd.name}: a name derived from its position in the group); set "
                "etcd_member_name on every member first"
            )
