"""An etcd version: parsed from what etcd prints or what a user types, compared as semver.

etcd's versions are semver 2.0 (`etcd --version` prints `etcd Version: 3.5.16`, the gateway's
/version `{"etcdserver":"3.6.0-rc.1","etcdcluster":"3.6.0"}`, release tags `v3.5.16`). Pre-releases
sort before their release (3.6.0-alpha.0 < 3.6.0-rc.0 < 3.6.0-rc.1 < 3.6.0), numeric identifiers
numerically; build metadata (`+...`) is kept but does not order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from etcdops.errors import ParamError

_SEMVER = re.compile(
    r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class VersionError(ParamError, ValueError):
    """Not a version etcd could have (exit 2: bad input)."""


def _pre_key(pre: tuple[str, ...]) -> tuple[tuple[int, int | str], ...]:
    # semver 2.0 §11: numeric identifiers sort numerically and before alphanumeric ones
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre)


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        """'3.5.16', 'v3.5.16', '3.6.0-rc.1' (surrounding blanks allowed) → Version; else
        VersionError."""
        if isinstance(text, Version):
            return text
        m = _SEMVER.fullmatch(str(text).strip())
        if m is None:
            raise VersionError(
                f"{text!r} is not an etcd version (MAJOR.MINOR.PATCH, e.g. 3.5.16 or v3.6.0-rc.1)"
            )
        pre = tuple(m["pre"].split(".")) if m["pre"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre, m["build"] or "")

    @property
    def minor_line(self) -> tuple[int, int]:
        """(major, minor): what etcd's cluster version and its upgrade rules are about."""
        return (self.major, self.minor)

    @property
    def line(self) -> str:
        """'3.5': the release line, as etcd's docs name it."""
        return f"{self.major}.{self.minor}"

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # a release (no pre) sorts after every pre-release of the same MAJOR.MINOR.PATCH
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, _pre_key(self.pre))

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __repr__(self) -> str:
        return f"Version('{self}')"

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        return text + (f"+{self.build}" if self.build else "")


def v(text: str | Version) -> Version:
    """Short for Version.parse (tables and tests read better with it)."""
    return Version.parse(text)
