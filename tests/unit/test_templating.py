from __future__ import annotations

import pytest

from etcdops.errors import RenderError
from etcdops.templating import Secret, env_parse, env_update, render, revealed

HOSTILE = "$(touch /tmp/etcdops-pwned); `id` 'q' \"dq\" | ; && \n"


def test_every_value_is_shell_quoted() -> None:
    out = render("echo {{ v }} {{ n }}", {"v": HOSTILE, "n": 3}, shell=True)
    import shlex

    assert shlex.split(out) == ["echo", HOSTILE, "3"]


def test_raw_opts_out_and_text_mode_does_not_quote() -> None:
    assert render("{{ v | raw }}", {"v": "a b"}, shell=True) == "a b"
    assert render("{{ v }}", {"v": "a b"}, shell=False) == "a b"


def test_secrets_are_masked_unless_revealed() -> None:
    ctx = {"pw": Secret("hunter2")}
    assert render("--user=root:{{ pw }}", ctx, shell=True) == "--user=root:***"
    assert render("{{ 'root:' ~ pw }}", ctx, shell=True) == "'root:***'"
    with revealed():
        assert render("{{ 'root:' ~ pw }}", ctx, shell=True) == "root:hunter2"


def test_strict_undefined_and_sandbox() -> None:
    with pytest.raises(RenderError, match="undefined"):
        render("{{ nope }}", {}, shell=True, where="rb.yml", line=3)
    with pytest.raises(RenderError, match="sandbox|cannot|undefined"):
        render("{{ ''.__class__.__mro__ }}", {}, shell=False)


def test_env_update_keeps_other_lines() -> None:
    current = (
        "# comment\nETCD_NAME=old\nETCD_DATA_DIR=/var/lib/etcd\n"
        "ETCD_INITIAL_CLUSTER_STATE=existing\n"
    )
    out = env_update(
        current, {"ETCD_NAME": "n1", "ETCD_INITIAL_CLUSTER_STATE": "new", "ETCD_X": "a b"}
    )
    assert out.splitlines() == [
        "# comment",
        "ETCD_NAME=n1",
        "ETCD_DATA_DIR=/var/lib/etcd",
        "ETCD_INITIAL_CLUSTER_STATE=new",
        "ETCD_X='a b'",
    ]
    assert env_parse(out)["ETCD_X"] == "a b"


def test_env_update_removes_a_key_given_none() -> None:
    current = "ETCD_NAME=n1\nETCD_FORCE_NEW_CLUSTER=true\n# ETCD_FORCE_NEW_CLUSTER=true\n"
    out = env_update(current, {"ETCD_FORCE_NEW_CLUSTER": None, "ETCD_GONE": None})
    assert out.splitlines() == ["ETCD_NAME=n1", "# ETCD_FORCE_NEW_CLUSTER=true"]
