"""What a step kind produces: frozen actions that the plan holds and the executor runs."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from etcdops.errors import RunbookError
from etcdops.templating import check_syntax, render, revealed


@dataclass(frozen=True)
class Command:
    """A shell command: ``text`` runs (secrets revealed), ``display`` is what people see."""

    text: str = field(repr=False)
    display: str

    def __str__(self) -> str:
        return self.display


@dataclass(frozen=True)
class RunAction:
    command: Command
    unless: Command | None = None
    show: bool = False  # print the whole output (reports), not just its last lines

    def describe(self) -> list[str]:
        lines = [f"$ {self.command.display}"]
        if self.unless:
            lines.append(f"  (skipped when this succeeds: {self.unless.display})")
        return lines


@dataclass(frozen=True)
class WriteFileAction:
    path: str
    content: str = field(repr=False)
    diff: str
    mode: str | None = None
    base_sha256: str = ""  # of the content the diff was made against ("" = no file)

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def describe(self) -> list[str]:
        if not self.diff:
            return [f"write {self.path}: no change"]
        return [f"write {self.path}:", *self.diff.rstrip("\n").splitlines()]


@dataclass(frozen=True)
class UploadAction:
    src: str
    dest: str
    mode: str | None = None

    def describe(self) -> list[str]:
        return [f"upload {self.src} -> {self.dest} (sha256 verified)"]


@dataclass(frozen=True)
class DownloadAction:
    src: str
    dest: str

    def describe(self) -> list[str]:
        return [f"download {self.src} -> {self.dest} (sha256 verified)"]


@dataclass(frozen=True)
class WaitAction:
    until: str
    timeout: float
    interval: float
    message: str
    progress: str = ""  # a template rendered against the live facts at every poll

    def describe(self) -> list[str]:
        return [f"wait up to {self.timeout:g}s until {self.until}" + (f" ({self.message})" if self.message else "")]


@dataclass(frozen=True)
class PlaybookAction:
    playbook: str
    extravars: Mapping[str, Any]
    limit: tuple[str, ...]

    def describe(self) -> list[str]:
        extra = f" with {dict(self.extravars)}" if self.extravars else ""
        return [f"ansible-playbook {self.playbook} --limit {','.join(self.limit)}{extra}"]


@dataclass(frozen=True)
class PauseAction:
    message: str
    allow_unattended: bool

    def describe(self) -> list[str]:
        return [f"pause for confirmation: {self.message}"]


Action = RunAction | WriteFileAction | UploadAction | DownloadAction | WaitAction | PlaybookAction | PauseAction


class FileSource(Protocol):
    def read(self, host: str, path: str) -> str | None: ...


@dataclass
class StepContext:
    """What a step kind may use to turn its spec into an action. No I/O but ``files``."""

    file: str
    line: int
    host: str
    variables: Mapping[str, Any]
    files: FileSource
    runbook_dir: Path
    playbooks_dir: Path

    def text(self, source: str) -> str:
        return render(source, self.variables, shell=False, where=self.file, line=self.line)

    def command(self, source: str) -> Command:
        display = render(source, self.variables, shell=True, where=self.file, line=self.line)
        with revealed():
            text = render(source, self.variables, shell=True, where=self.file, line=self.line)
        return Command(text=text.strip(), display=display.strip())

    def with_vars(self, **extra: Any) -> StepContext:
        return StepContext(self.file, self.line, self.host, {**self.variables, **extra}, self.files,
                           self.runbook_dir, self.playbooks_dir)


def unified_diff(path: str, old: str | None, new: str) -> str:
    if old == new:
        return ""
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{path} (current)" if old is not None else "/dev/null",
                                        tofile=f"{path} (planned)"))


class StepKind(Protocol):
    DEFAULT_TARGET: str
    DEFAULT_TIMEOUT: float

    def validate(self, spec: Any, file: str, line: int) -> dict[str, Any]: ...

    def plan(self, spec: Mapping[str, Any], ctx: StepContext) -> Action: ...


def require_mapping(spec: Any, file: str, line: int, kind: str, keys: set[str],
                    required: set[str], shorthand: str | None = None) -> dict[str, Any]:
    if isinstance(spec, str) and shorthand:
        spec = {shorthand: spec}
    if not isinstance(spec, dict):
        raise RunbookError(file, line, f"'{kind}' must be a mapping ({', '.join(sorted(keys))})")
    extra = set(spec) - keys
    if extra:
        raise RunbookError(file, line, f"unknown key {sorted(extra)[0]!r} in '{kind}' "
                           f"(allowed: {', '.join(sorted(keys))})")
    missing = required - set(spec)
    if missing:
        raise RunbookError(file, line, f"'{kind}' needs {sorted(missing)[0]!r}")
    for value in spec.values():
        if isinstance(value, str):
            check_syntax(value, file, line)
    return dict(spec)

