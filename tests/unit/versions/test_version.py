"""Version: parsed as etcd prints it and as users type it, ordered as semver 2.0."""

from __future__ import annotations

import pytest

from etcdops.errors import BadInput
from etcdops.versions import Version, VersionError
from etcdops.versions.version import v


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("3.5.16", (3, 5, 16, ())),
        ("v3.5.16", (3, 5, 16, ())),
        (" 3.4.23\n", (3, 4, 23, ())),
        ("3.6.0-rc.1", (3, 6, 0, ("rc", "1"))),
        ("3.6.0-alpha.0+build.7", (3, 6, 0, ("alpha", "0"))),
    ],
)
def test_parse(text: str, parts: tuple[int, int, int, tuple[str, ...]]) -> None:
    got = Version.parse(text)
    assert (got.major, got.minor, got.patch, got.pre) == parts


@pytest.mark.parametrize(
    "text", ["3.5", "3.5.x", "V3.5.16", "3.05.1", "etcd Version: 3.5.16", "", "3.5.16-"]
)
def test_what_is_not_a_version_is_bad_input(text: str) -> None:
    with pytest.raises(VersionError) as err:
        Version.parse(text)
    assert isinstance(err.value, BadInput) and isinstance(err.value, ValueError)


def test_order_is_semver() -> None:
    ordered = [
        "3.4.23",
        "3.5.9",
        "3.5.10",
        "3.5.16",
        "3.6.0-alpha.0",
        "3.6.0-rc.0",
        "3.6.0-rc.1",
        "3.6.0-rc.2",
        "3.6.0-rc.10",
        "3.6.0",
        "3.6.1",
        "3.7.0",
    ]
    shuffled = sorted(ordered, key=lambda s: s[::-1])  # any other order
    assert [str(x) for x in sorted(v(s) for s in shuffled)] == ordered
    assert v("3.5.10") > v("3.5.9")  # numerically, not as text
    assert v("3.6.0-rc.1") < v("3.6.0")  # a pre-release before its release
    assert v("v3.5.16") == v("3.5.16") and v("3.6.0+a") == v("3.6.0+b")  # the build does not count


def test_lines_and_text() -> None:
    x = v("v3.6.0-rc.1")
    assert x.minor_line == (3, 6) and x.line == "3.6" and x.is_prerelease
    assert str(x) == "3.6.0-rc.1" and repr(x) == "Version('3.6.0-rc.1')"
    assert Version.parse(x) is x
