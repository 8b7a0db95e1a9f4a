"""Which known_hosts file a host's keys are checked against, as the inventory and Ansible's
configuration name it, and why.

In order: `etcdops_known_hosts`; `-o UserKnownHostsFile=FILE` in the host's
`ansible_ssh_common_args` or `ansible_ssh_extra_args`; the same in `ssh_args` of ansible.cfg's
[ssh_connection] (ANSIBLE_SSH_ARGS first; the ansible.cfg Ansible itself would read:
ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg); else
~/.ssh/known_hosts. A UserKnownHostsFile of /dev/null (kubespray's ansible.cfg, with
host_key_checking=False) names no file: etcdops checks host keys all the same, so it says so
and keeps them in the next file of that order. Pure but for reading ansible.cfg.
"""

from __future__ import annotations

import configparser
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

DEFAULT = "~/.ssh/known_hosts"
NOT_A_FILE = ("/dev/null", "none")


@dataclass(frozen=True)
class KnownHosts:
    path: str  # the file etcdops checks this host's key against (and `hosts trust` writes)
    source: str  # where that came from, in words
    ignored: str = ""  # a setting that named no file (/dev/null) and why etcdops checks anyway


def user_known_hosts(args: str) -> str | None:
    """The first file of `-o UserKnownHostsFile=...` in an ssh argument string, else None."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    options = []
    for i, word in enumerate(words):
        if word == "-o" and i + 1 < len(words):
            options.append(words[i + 1])
        elif word.startswith("-o") and len(word) > 2:
            options.append(word[2:])
    for option in options:
        key, sep, value = option.replace("=", " ", 1).partition(" ")
        if sep and key.strip().lower() == "userknownhostsfile" and value.split():
            return value.split()[0]
    return None


def ansible_cfg(cwd: Path | None = None) -> Path | None:
    """The ansible.cfg Ansible would read, as it searches for one."""
    env = os.environ.get("ANSIBLE_CONFIG")
    candidates = [Path(env).expanduser()] if env else []
    if env and Path(env).expanduser().is_dir():
        candidates = [Path(env).expanduser() / "ansible.cfg"]
    candidates += [
        (cwd or Path.cwd()) / "ansible.cfg",
        Path.home() / ".ansible.cfg",
        Path("/etc/ansible/ansible.cfg"),
    ]
    return next((c for c in candidates if c.is_file()), None)


def cfg_ssh_args(cfg: Path | None) -> tuple[str, bool | None]:
    """(ssh_args, host_key_checking) of an ansible.cfg, ANSIBLE_SSH_ARGS and
    ANSIBLE_HOST_KEY_CHECKING first."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if cfg is not None:
        try:
            parser.read(cfg)
        except (configparser.Error, OSError, UnicodeDecodeError):
            pass
    args = os.environ.get("ANSIBLE_SSH_ARGS") or parser.get(
        "ssh_connection", "ssh_args", fallback=""
    )
    checking = os.environ.get("ANSIBLE_HOST_KEY_CHECKING") or parser.get(
        "defaults", "host_key_checking", fallback=""
    )
    flag = None if not checking else checking.strip().lower() in ("true", "yes", "1", "on")
    return args or "", flag


def resolve(
    explicit: str | None, host_args: list[tuple[str, str]], cwd: Path | None = None
) -> KnownHosts:
    """The known_hosts of one host: explicit (etcdops_known_hosts), else host_args
    [(variable, ssh args)], else ansible.cfg, else ~/.ssh/known_hosts."""
    if explicit:
        return KnownHosts(str(Path(explicit).expanduser()), "etcdops_known_hosts")
    ignored = []
    for var, args in host_args:
        found = user_known_hosts(args)
        if found and found.lower() not in NOT_A_FILE:
            return KnownHosts(str(Path(found).expanduser()), f"UserKnownHostsFile in {var}")
        if found:
            ignored.append(f"{var} sets UserKnownHostsFile={found}")
    cfg = ansible_cfg(cwd)
    args, checking = cfg_ssh_args(cfg)
    found = user_known_hosts(args)
    where = f"ansible.cfg ({cfg})" if cfg else "ANSIBLE_SSH_ARGS"
    if found and found.lower() not in NOT_A_FILE:
        return KnownHosts(
            str(Path(found).expanduser()), f"UserKnownHostsFile in {where}'s ssh_args"
        )
    settings = [f"UserKnownHostsFile={found}"] if found else []
    if checking is False:
        settings.append("host_key_checking=False")
    if settings:
        ignored.append(f"{where} sets {' and '.join(settings)}")
    why = ""
    if ignored:
        why = (
            "; ".join(ignored)
            + ": Ansible does not check these hosts' keys; etcdops always does (an unknown or "
            f"changed key is refused, exit 7) and keeps them in {DEFAULT} (etcdops_known_hosts "
            "chooses another file)"
        )
    return KnownHosts(str(Path(DEFAULT).expanduser()), "the default", why)
