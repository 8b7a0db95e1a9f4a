"""What etcdops knows about etcd's versions: parsing and ordering them, which rolling upgrades etcd
allows (upgrade.py), which flags each release reads (flags.py), and how etcd.env changes from one
line to the next (env_rules.py, env.py). Pure: no I/O; the upgrade runbook feeds it facts.

Not to be confused with facts/versions.py, which *reads* the installed binaries' versions.
"""

from etcdops.versions.env import EnvChange, render_env_for
from etcdops.versions.refusal import Refusal
from etcdops.versions.upgrade import MemberStep, Requirement, UpgradePath, upgrade_path
from etcdops.versions.version import Version, VersionError

__all__ = [
    "EnvChange",
    "MemberStep",
    "Refusal",
    "Requirement",
    "UpgradePath",
    "Version",
    "VersionError",
    "render_env_for",
    "upgrade_path",
]
