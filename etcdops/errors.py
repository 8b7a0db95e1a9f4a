"""One root for every error etcdops raises on purpose; each knows its exit code."""

from __future__ import annotations


class ExitCode:
    OK = 0
    STEP_FAILED = 1
    BAD_INPUT = 2
    UNSAFE = 3
    LOCKED = 4
    OUTSIDE_WINDOW = 5
    PLAN_STALE = 6
    HOST_KEY = 7  # a changed or unknown SSH host key: a security event, never "unhealthy"
    INTERRUPTED = 8  # SIGTERM / SIGINT: stopped at a safe point; `run --resume RUN_ID` continues
    INTERNAL = 70
    PIPE_CLOSED = 141  # 128 + SIGPIPE, as a shell reports a command whose output pipe closed


class EtcdopsError(Exception):
    exit_code = ExitCode.STEP_FAILED


class BadInput(EtcdopsError):
    exit_code = ExitCode.BAD_INPUT


class InventoryError(BadInput):
    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason = file, key, reason


class RunbookError(BadInput):
    def __init__(self, file: str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {reason}")
        self.file, self.line, self.reason = file, line, reason


class ParamError(BadInput):
    pass


class RenderError(BadInput):
    def __init__(self, file: str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {reason}")
        self.file, self.line, self.reason = file, line, reason


class ConnectError(EtcdopsError):
    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: cannot connect: {reason}")
        self.host, self.reason = host, reason


class HostKeyError(ConnectError):
    """The host offered a key that known_hosts does not have for it (changed), or has none for
    it."""

    exit_code = ExitCode.HOST_KEY

    def __init__(
        self,
        host: str,
        reason: str,
        *,
        address: str = "",
        offered: str = "",
        expected: str = "",
        known_hosts: str = "",
    ) -> None:
        super().__init__(host, reason)
        self.address, self.offered, self.expected, self.known_hosts = (
            address,
            offered,
            expected,
            known_hosts,
        )


def first_line(command: str, limit: int = 160) -> str:
    """A command's first line, cut to limit: what a failure message shows (the journal has it
    all)."""
    lines = command.strip().splitlines()
    line = lines[0] if lines else ""
    more = " ..." if len(lines) > 1 else ""
    if len(line) > limit:  # its start (the program) and its end (what it was asked to do)
        line = line[: limit // 2 - 3] + " ... " + line[-(limit // 2 - 2) :]
    return line + more


TOOLS = ("etcdctl", "etcdutl", "etcd")


def missing_tool(stderr: str) -> str | None:
    """The path of an etcd binary the shell could not find ("bash: line 7: /usr/local/bin/etcdctl:
    No such file or directory", dash's "...: not found"), else None."""
    for line in stderr.splitlines():
        if not ("No such file or directory" in line or line.rstrip().endswith("not found")):
            continue
        for word in line.replace(":", " ").split():
            if word.startswith("/") and word.rsplit("/", 1)[-1] in TOOLS:
                return word
    return None


def missing_tool_advice(path: str) -> str:
    """What to set when an etcd binary is not where the inventory says."""
    name = path.rsplit("/", 1)[-1]
    return (
        f"{name} is not at {path} on this host: set etcd_bin_dir (with kubespray: bin_dir) in "
        f"the inventory to the directory that holds etcd, etcdctl and etcdutl"
    )


class CommandFailed(EtcdopsError):
    def __init__(self, host: str, command: str, exit_code: int, stderr_tail: str) -> None:
        tail = stderr_tail.strip()
        missing = missing_tool(tail) if exit_code == 127 else None
        super().__init__(
            f"{host}: command failed with exit code {exit_code}: {first_line(command)}"
            + (f"\n  stderr: {tail}" if tail else "")
            + (f"\n  {missing_tool_advice(missing)}" if missing else "")
        )
        self.host, self.command, self.code, self.stderr_tail = host, command, exit_code, tail


class TransferError(EtcdopsError):
    """A copy failed with the connection still up (a full disk, a permission): not a lost host."""

    def __init__(self, host: str, path: str, reason: str) -> None:
        super().__init__(f"{host}: cannot write {path}: {reason}")
        self.host, self.path, self.reason = host, path, reason


class CommandTimeout(CommandFailed):
    def __init__(self, host: str, command: str, timeout: float) -> None:
        super().__init__(host, command, -1, f"timed out after {timeout:g}s")
        self.timeout = timeout


class StepFailed(EtcdopsError):
    """A step failed; carries the step, the host and what to do next."""

    def __init__(self, step: str, host: str | None, reason: str, advice: str = "") -> None:
        where = f"step '{step}'" + (f" on {host}" if host else "")
        super().__init__(f"{where}: {reason}" + (f"\n{advice}" if advice else ""))
        self.step, self.host, self.reason, self.advice = step, host, reason, advice


class UnsafeOperation(EtcdopsError):
    exit_code = ExitCode.UNSAFE


class PlanStale(EtcdopsError):
    exit_code = ExitCode.PLAN_STALE


class Refused(EtcdopsError):
    """Refused for the caller's situation (no terminal and no --yes, a pause under --yes)."""

    exit_code = ExitCode.UNSAFE


class Locked(EtcdopsError):
    """Another run holds the cluster lock."""

    exit_code = ExitCode.LOCKED


class Interrupted(EtcdopsError):
    """SIGTERM or SIGINT: the run stopped at the next safe point."""

    exit_code = ExitCode.INTERRUPTED


class LockLost(Interrupted):
    """The run's cluster lock is gone or another run holds it: stopped at the next safe point."""

    exit_code = ExitCode.LOCKED


class OutsideWindow(EtcdopsError):
    """Not inside the maintenance window (at the start, or it closed between steps)."""

    exit_code = ExitCode.OUTSIDE_WINDOW


class UnplannedCommand(EtcdopsError):
    """A step kind tried to run a command its plan does not show: a defect of etcdops, refused
    before the command reaches the host."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, host: str, command: str, reason: str) -> None:
        super().__init__(
            f"{host}: refused to run a command the plan does not show ({reason}): "
            f"{first_line(command)}; this is a defect of etcdops, please report it"
        )
        self.host, self.command = host, command
