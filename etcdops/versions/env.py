"""etcd.env for a target etcd version: the same file, with only what that version needs changed.

render_env_for() keeps every line and comment it has no reason to touch, rewrites the names and
values the target reads differently (env_rules.py), and refuses what it cannot rewrite without
changing what etcd does. The danger it guards against is twofold (flags.py): a value the target
refuses stops etcd at start; a name the target does not know is ignored with only a warning in
its log, so the setting is silently lost (ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true under 3.7:
no corruption check, and nothing says so at a glance).

Pure: text in, text out. Its result is written only when there is no refusal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from etcdops.versions import env_rules as rules
from etcdops.versions import flags, sources
from etcdops.versions.refusal import Refusal
from etcdops.versions.version import Version

_LINE = re.compile(r"(?P<lead>\s*(?:export\s+)?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<raw>.*)")

Kind = Literal["rename", "feature-gate", "value", "drop", "note"]


@dataclass(frozen=True)
class EnvChange:
    kind: Kind
    name: str
    line: int  # 1-based, in the file as it was
    before: str  # the line as it was
    after: str | None  # the line written instead (None: the line is gone; a note: unchanged)
    reason: str  # one sentence, the source included

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class _Entry:
    index: int
    lead: str
    name: str
    raw: str
    value: str


def _value(raw: str) -> str:
    """The value as sh and systemd's EnvironmentFile read it (quotes removed)."""
    try:
        parts = shlex.split(raw, comments=False)
    except ValueError:
        return raw
    if len(parts) == 1:
        return parts[0]
    elif not parts:
        return ""
    else:
        return raw


def _quote(value: str) -> str:
    return value if value and shlex.quote(value) == value else shlex.quote(value)


class _Render:
    """One rendering: the lines as they go, what changed, what is refused."""

    def __init__(
        self, target: Version, text: str, current: Version | None, v2store_clean: bool | None
    ) -> None:
        self.target, self.current, self.v2store_clean = target, current, v2store_clean
        self.original = text.splitlines()
        self.lines: list[str | None] = list(self.original)
        self.ending = "\n" if text.endswith("\n") else ""
        self.entries = [
            _Entry(i, m["lead"], m["name"], m["raw"], _value(m["raw"]))
            for i, line in enumerate(self.original)
            if (m := _LINE.fullmatch(line))
        ]
        self.changes: list[EnvChange] = []
        self.refusals: list[Refusal] = []
        self.handled: set[int] = set()
        self.pending_gates: list[tuple[_Entry, rules.ToGate, bool]] = []

    # -- helpers ---------------------------------------------------------------------------------
    def applies(self, line: rules.Line) -> bool:
        return self.target.minor_line >= line

    def read_now(self, name: str) -> bool:
        """Whether the running etcd reads `name` (unknown current version: assume it does)."""
        return self.current is None or flags.knows_env(self.current, name)

    def last(self, name: str) -> _Entry | None:
        found = [e for e in self.entries if e.name == name and self.lines[e.index] is not None]
        return found[-1] if found else None

    def set_line(
        self,
        entry: _Entry,
        name: str,
        value: str | None,
        kind: Kind,
        reason: str,
        raw: str | None = None,
    ) -> None:
        if value is None:
            after = None
        else:
            after = f"{entry.lead}{name}={(raw if raw is not None else _quote(value))}"
        self.lines[entry.index] = after
        self.handled.add(entry.index)
        self.changes.append(
            EnvChange(kind, entry.name, entry.index + 1, self.original[entry.index], after, reason)
        )

    def refuse(self, entry: _Entry | None, rule: str, message: str, source: str) -> None:
        if entry is not None:
            self.handled.add(entry.index)
        self.refusals.append(Refusal(rule, message, source))

    # -- the rules -------------------------------------------------------------------------------
    def run(self) -> None:
        for entry in list(self.entries):
            if entry.index in self.handled or not entry.name.startswith("ETCD_"):
                continue
            self.one(entry)
        self.gates()
        self.v2_stage()
        for entry in self.entries:
            if (
                entry.index not in self.handled
                and entry.name.startswith("ETCD_")
                and self.lines[entry.index]
            ):
                self.unknown(entry)

    def one(self, entry: _Entry) -> None:
        for rename in rules.RENAMES:
            if rename.old == entry.name and self.applies(rename.line):
                return self.rename(entry, rename)
        for gate in rules.GATES:
            if gate.old == entry.name and self.applies(gate.line):
                return self.to_gate(entry, gate)
        for removal in rules.REMOVALS:
            if removal.name == entry.name and self.applies(removal.line):
                return self.remove(entry, removal)
        for change in rules.VALUE_CHANGES:
            if (
                change.name == entry.name
                and change.old_value == entry.value
                and self.applies(change.line)
            ):
                return self.set_line(
                    entry,
                    change.new_name,
                    change.new_value,
                    "value" if change.new_value else "drop",
                    f"{entry.name}={entry.value}: {change.why} ({change.source}).",
                )
        if entry.name == rules.DEBUG and self.applies((3, 5)):
            return self.debug(entry)
        if entry.name == "ETCD_CONFIG_FILE" and entry.value:
            return self.config_file(entry)

    def rename(self, entry: _Entry, rename: rules.Rename) -> None:
        other = self.last(rename.new)
        if self.read_now(entry.name):
            ignored = ""
        else:
            ignored = (
                f"; {entry.name} was ignored by {self.current} (unknown there), so this setting "
                "takes effect now"
            )
        note = f"; {rename.note}" if rename.note else ""
        if other is not None and other.value != entry.value:
            return self.refuse(
                entry,
                "rename-conflict",
                f"refused (rename conflict): {entry.name}={entry.value} and "
                f"{rename.new}={other.value} are both set, and etcd {self.target.line} knows only "
                f"{rename.new}; keep one value ({rename.source}).",
                rename.source,
            )
        if other is not None:
            return self.set_line(
                entry,
                entry.name,
                None,
                "drop",
                f"the same value as {rename.new}, which etcd {self.target.line} reads instead "
                f"({rename.source}){note}{ignored}.",
            )
        self.set_line(
            entry,
            rename.new,
            entry.value,
            "rename",
            f"renamed to {rename.new} for etcd {self.target.line} "
            f"({rename.source}){note}{ignored}.",
            raw=entry.raw,
        )

    def to_gate(self, entry: _Entry, gate: rules.ToGate) -> None:
        enabled = rules.go_bool(entry.value)
        if entry.value == "":
            return self.set_line(
                entry, entry.name, None, "drop", "empty: etcd treats it as not set."
            )
        if enabled is None:
            return self.refuse(
                entry,
                "not-a-bool",
                f"refused (not a bool): {entry.name}={entry.value!r} is not a "
                "value etcd reads as true or false, so it cannot become the feature gate "
                f"{gate.gate} "
                f"({gate.source}).",
                gate.source,
            )
        self.pending_gates.append((entry, gate, enabled))
        self.handled.add(entry.index)

    def gates(self) -> None:
        """The experimental flags that became gates, merged into one ETCD_FEATURE_GATES line."""
        existing = self.last("ETCD_FEATURE_GATES")
        wanted: dict[str, bool] = {}
        if existing is not None and self.target.minor_line >= (3, 6):
            parsed = self.parse_gates(existing)
            if parsed is None:
                return
            wanted.update(parsed)
        moved = []
        for entry, gate, enabled in self.pending_gates:
            if wanted.get(gate.gate, enabled) != enabled:
                self.refuse(
                    entry,
                    "gate-conflict",
                    f"refused (feature gate conflict): {entry.name}={entry.value} and "
                    f"ETCD_FEATURE_GATES {gate.gate}={str(wanted[gate.gate]).lower()} disagree, "
                    "and etcd 3.6 "
                    f"refuses both at once ({gate.source}).",
                    gate.source,
                )
                continue
            wanted[gate.gate] = enabled
            moved.append((entry, gate, enabled))
        value = ",".join(f"{gate}={str(on).lower()}" for gate, on in wanted.items())
        for n, (entry, gate, enabled) in enumerate(moved):
            reason = (
                f"{entry.name}={entry.value} is the feature gate "
                f"{gate.gate}={str(enabled).lower()} in etcd "
                f"{self.target.line} ({gate.source})"
            )
            if n == 0 and existing is None:
                self.set_line(entry, "ETCD_FEATURE_GATES", value, "feature-gate", reason + ".")
            else:
                self.set_line(
                    entry,
                    entry.name,
                    None,
                    "feature-gate",
                    reason + ": it joins ETCD_FEATURE_GATES.",
                )
        if moved and existing is not None and value != existing.value:
            self.set_line(
                existing,
                "ETCD_FEATURE_GATES",
                value,
                "feature-gate",
                "the gates of the experimental flags join the gates already set.",
            )

    def parse_gates(self, entry: _Entry) -> dict[str, bool] | None:
        found: dict[str, bool] = {}
        known = flags.feature_gates(self.target)
        for item in filter(None, (part.strip() for part in entry.value.split(","))):
            gate, _, text = item.partition("=")
            on = rules.go_bool(text.strip())
            if on is None or gate.strip() not in known:
                if on is None:
                    why = "is not GATE=true|false"
                else:
                    why = f"is not a feature gate of etcd {self.target}"
                self.refuse(
                    entry,
                    "feature-gate",
                    f"refused (feature gate): ETCD_FEATURE_GATES entry {item!r} {why}, "
                    f"and etcd refuses to start on it ({sources.FEATURES_SOURCE}).",
                    sources.FEATURES_SOURCE,
                )
                return None
            found[gate.strip()] = on
        self.handled.add(entry.index)
        return found

    def remove(self, entry: _Entry, removal: rules.Removal) -> None:
        harmless = (
            removal.harmless(entry.value)
            or not self.read_now(entry.name)
            or (removal.clean_v2store_makes_harmless and self.v2store_clean is True)
        )
        if harmless:
            if not self.read_now(entry.name):
                why = f"etcd {self.current} already ignores it"
            elif removal.harmless(entry.value):
                why = removal.why_harmless
            else:
                why = "`etcdutl check v2store` came back clean"
            return self.set_line(
                entry,
                entry.name,
                None,
                "drop",
                f"it {removal.what} and is gone in etcd "
                f"{removal.line[0]}.{removal.line[1]}; {why} ({removal.source}).",
            )
        self.refuse(
            entry,
            "removed-flag",
            f"refused (removed flag): {entry.name}={entry.value} {removal.what}, which "
            f"etcd {self.target.line} no longer does, so dropping it changes what etcd does: "
            f"{removal.instead} ({removal.source}).",
            removal.source,
        )

    def debug(self, entry: _Entry) -> None:
        on = rules.go_bool(entry.value)
        if not on:
            return self.set_line(
                entry,
                entry.name,
                None,
                "drop",
                f"gone in etcd 3.5, and not true here ({rules.DEBUG_SOURCE}).",
            )
        level = self.last("ETCD_LOG_LEVEL")
        if level is None:
            return self.set_line(
                entry,
                "ETCD_LOG_LEVEL",
                "debug",
                "rename",
                f"--debug is --log-level=debug in etcd 3.5 ({rules.DEBUG_SOURCE}).",
            )
        self.set_line(
            entry,
            entry.name,
            None,
            "drop",
            f"--debug is --log-level=debug in etcd 3.5 ({rules.DEBUG_SOURCE}).",
        )
        if level.value != "debug":
            self.set_line(
                level,
                "ETCD_LOG_LEVEL",
                "debug",
                "value",
                f"ETCD_DEBUG=true made 3.4 log at debug whatever the level ({rules.DEBUG_SOURCE}).",
            )

    def config_file(self, entry: _Entry) -> None:
        self.handled.add(entry.index)
        if self.current is not None and self.current.minor_line == self.target.minor_line:
            return
        self.refuse(
            entry,
            "config-file",
            f"refused (config file): with ETCD_CONFIG_FILE={entry.value} etcd reads "
            "every setting from that file and ignores the environment "
            "(server/etcdmain/config.go), and that "
            f"file is not rewritten here; bring it to etcd {self.target.line} by hand.",
            sources.FLAGS_SOURCE,
        )

    def v2_stage(self) -> None:
        entry = self.last("ETCD_V2_DEPRECATION")
        if entry is None or entry.index in self.handled or not entry.value:
            return
        stages = flags.v2_deprecation_stages(self.target)
        if not flags.knows_env(self.target, entry.name) or entry.value in stages:
            return
        self.refuse(
            entry,
            "v2-deprecation",
            f"refused (v2-deprecation): etcd {self.target} refuses "
            f"ETCD_V2_DEPRECATION={entry.value} at start (it accepts {', '.join(sorted(stages))}; "
            "write-only-skip-check needs 3.5.32 or 3.6.13 and later, etcd#21850).",
            sources.BLOG_3_5_32,
        )

    def note(self, entry: _Entry, reason: str) -> None:
        line = self.original[entry.index]
        self.changes.append(EnvChange("note", entry.name, entry.index + 1, line, line, reason))

    def unknown(self, entry: _Entry) -> None:
        name, target = entry.name, self.target
        if flags.knows_env(target, name):
            if self.current is not None and not flags.knows_env(self.current, name):
                self.note(
                    entry,
                    f"ignored by etcd {self.current} (unknown there), read by {target}: its "
                    "setting "
                    "takes effect now.",
                )
            return
        if not flags.is_etcd_flag_env(name):
            self.note(
                entry,
                "no etcd 3.4-3.7 reads it: etcd logs 'unrecognized environment variable' and goes "
                f"on ({sources.ENV_SOURCE}).",
            )
            return
        if self.current is not None and not self.read_now(name):
            self.note(
                entry, f"neither {self.current} nor {target} reads it: it stays without effect."
            )
            return
        first = [
            str(v)
            for line in flags.LINES
            if (v := flags.first_release(flags.ENV_TO_FLAG[name], line))
        ]
        self.refuse(
            entry,
            "not-read",
            f"refused (not read): etcd {target} does not read {name} and would ignore it "
            f"with a mere warning, so its setting would be lost (read by {', '.join(first)} and "
            "later "
            f"releases of those lines; {sources.FLAGS_SOURCE}).",
            sources.FLAGS_SOURCE,
        )


def render_env_for(
    target_version: str | Version,
    current_env_text: str,
    *,
    current_version: str | Version | None = None,
    v2store_clean: bool | None = None,
) -> tuple[str, tuple[EnvChange, ...], tuple[Refusal, ...]]:
    """etcd.env rewritten for etcd `target_version`: (new text, changes, refusals).

    current_version: the etcd the file serves now (None: unknown, then whatever it sets is taken
    to matter). v2store_clean: `etcdutl check v2store` passed on this member (ETCD_ENABLE_V2=true
    may go). Lines it does not change come out byte for byte. With refusals, the text must not be
    written."""
    target = Version.parse(target_version)
    current = Version.parse(current_version) if current_version is not None else None
    if not flags.knows_line(target):
        return (
            current_env_text,
            (),
            (
                Refusal(
                    "unknown-line",
                    f"refused (unknown line): etcdops has no flag table for "
                    f"etcd {target.line} (it knows 3.4-3.7).",
                    sources.FLAGS_SOURCE,
                ),
            ),
        )
    render = _Render(target, current_env_text, current, v2store_clean)
    render.run()
    kept = [line for line in render.lines if line is not None]
    text = "\n".join(kept) + (render.ending if kept else "")
    return text, tuple(sorted(render.changes, key=lambda c: c.line)), tuple(render.refusals)
