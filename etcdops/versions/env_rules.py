"""What changes in etcd.env from one etcd line to the next: renamed, moved to a feature gate,
removed.

Each rule applies to a target of its line or later (they add up: a 3.7 target gets the 3.5, 3.6
and 3.7 rules), so an env file of any older line comes out right for the target. Sources:
- 3.5: upgrade_3_5 (the guide's "Deprecated ..." sections) and CHANGELOG-3.5 "Deprecations";
  flags removed: 3.4's etcdmain/config.go against 3.5's server/etcdmain/config.go (flags.py).
- 3.6: upgrade_3_6 "Flags removed", "Flags deprecated", "Equivalent flags of v3.5 feature gates";
  server/etcdmain/config.go v3.6.14 `deprecatedFlags`; server/features/etcd_features.go v3.6.14
  `ExperimentalFlagToFeatureMap`; server/embed/config.go v3.6.14
  SetFeatureGatesFromExperimentalFlags
  (an experimental flag *and* its gate set together: etcd 3.6 refuses to start).
- 3.7: upgrade_3_7 "Flags removed" (etcd#19959: every --experimental-* flag), CHANGELOG-3.7
  "Removed v2discovery" (etcd#20109: --discovery, --discovery-proxy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from etcdops.versions import sources
from etcdops.versions.flags import env_name

Line = tuple[int, int]

# Go's strconv.ParseBool, which etcd's bool flags use
_GO_TRUE = {
    "1",
    "t",
    "T",
    "TRUE",
    "true",
    "True",
}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def go_bool(value: str) -> bool | None:
    """A bool as etcd reads one (strconv.ParseBool), or None when etcd would refuse the value."""
    if value in _GO_TRUE:
        return True
    elif value in _GO_FALSE:
        return False
    else:
        return None


@dataclass(frozen=True)
class Rename:
    """ETCD_OLD=v becomes ETCD_NEW=v, from `line` on."""

    old: str
    new: str
    line: Line
    source: str
    note: str = ""


@dataclass(frozen=True)
class ToGate:
    """ETCD_EXPERIMENTAL_X=bool becomes the entry GATE=bool of ETCD_FEATURE_GATES, from `line`
    on."""

    old: str
    gate: str
    line: Line
    source: str


@dataclass(frozen=True)
class Removal:
    """ETCD_X is gone from `line` on: dropped when `harmless(value)`, else refused with
    `instead`."""

    name: str
    line: Line
    what: str  # what it did: completes "it ..."
    harmless: Callable[[str], bool]  # value -> dropping the line changes nothing that matters
    why_harmless: str = "its value changes nothing"
    instead: str = ""  # the refusal's advice when dropping it would change what etcd does
    source: str = ""
    clean_v2store_makes_harmless: bool = False


@dataclass(frozen=True)
class ValueChange:
    """ETCD_X=old becomes NEW_NAME=new (None: the line goes), from `line` on."""

    name: str
    old_value: str
    new_name: str
    new_value: str | None
    line: Line
    why: str
    source: str


def _exp(flag: str) -> str:
    return env_name("experimental-" + flag)


# 3.6 "Flags deprecated": --experimental-X → --X, same value (3.6 copies the experimental value
# into the new field when it is set: server/etcdmain/config.go v3.6.14, parse()); removed in 3.7
_PLAIN_3_6 = (
    "bootstrap-defrag-threshold-megabytes",
    "compaction-batch-limit",
    "compact-hash-check-time",
    "compaction-sleep-interval",
    "corrupt-check-time",
    "enable-distributed-tracing",
    "distributed-tracing-address",
    "distributed-tracing-instance-id",
    "distributed-tracing-sampling-rate",
    "distributed-tracing-service-name",
    "downgrade-check-time",
    "memory-mlock",
    "peer-skip-client-san-verification",
    "snapshot-catchup-entries",
    "warning-apply-duration",
    "warning-unary-request-duration",
    "watch-progress-notify-interval",
)

RENAMES: tuple[Rename, ...] = (
    Rename(
        _exp("backend-bbolt-freelist-type"),
        "ETCD_BACKEND_BBOLT_FREELIST_TYPE",
        (3, 5),
        "CHANGELOG-3.5 'Deprecations': --experimental-backend-bbolt-freelist-type → "
        "--backend-bbolt-freelist-type",
    ),
    Rename(
        "ETCD_LOG_OUTPUT",
        "ETCD_LOG_OUTPUTS",
        (3, 5),
        f"{sources.UPGRADE_3_5} 'Deprecated etcd --log-output'",
    ),
    *(
        Rename(_exp(flag), env_name(flag), (3, 6), f"{sources.UPGRADE_3_6} 'Flags deprecated'")
        for flag in _PLAIN_3_6
    ),
    Rename(
        _exp("max-learners"),
        "ETCD_MAX_LEARNERS",
        (3, 6),
        f"{sources.UPGRADE_3_6} 'Flags deprecated'",
        note="--experimental-max-learners was only in 3.6 pre-releases (CHANGELOG-3.6); no 3.5 "
        "release reads it",
    ),
)

# 3.6 "Equivalent flags of v3.5 feature gates" (features.ExperimentalFlagToFeatureMap)
GATES: tuple[ToGate, ...] = tuple(
    ToGate(
        _exp(flag), gate, (3, 6), f"{sources.UPGRADE_3_6} 'Equivalent flags of v3.5 feature gates'"
    )
    for flag, gate in (
        ("compact-hash-check-enabled", "CompactHashCheck"),
        ("initial-corrupt-check", "InitialCorruptCheck"),
        ("enable-lease-checkpoint", "LeaseCheckpoint"),
        ("enable-lease-checkpoint-persist", "LeaseCheckpointPersist"),
        ("stop-grpc-service-on-defrag", "StopGRPCServiceOnDefrag"),
        ("txn-mode-write-with-shared-buffer", "TxnModeWriteWithSharedBuffer"),
    )
)


def _empty(value: str) -> bool:
    return value == ""


def _not_true(value: str) -> bool:
    return go_bool(value) is not True


REMOVALS: tuple[Removal, ...] = (
    Removal(
        "ETCD_LOG_PACKAGE_LEVELS",
        (3, 5),
        "set capnslog's per-package log levels",
        lambda _: True,
        "only the logs change",
        source=f"{sources.UPGRADE_3_5} 'Deprecated etcd --log-package-levels'",
    ),
    Removal(
        "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE",
        (3, 5),
        "let a 3.4 member join a 3.5 cluster, for a downgrade (3.4.31+, etcd#17330)",
        lambda _: True,
        "a 3.5 member never needs it",
        source="CHANGELOG-3.4 (3.4.31)",
    ),
    Removal(
        "ETCD_ENABLE_V2",
        (3, 6),
        "served the v2 API",
        _not_true,
        "it was not true",
        instead="run `etcdutl check v2store` (3.5.32+) on every member, clean what it finds, then "
        "remove it",
        source=f"{sources.UPGRADE_3_6} 'V2 Store'",
        clean_v2store_makes_harmless=True,
    ),
    Removal(
        "ETCD_EXPERIMENTAL_ENABLE_V2V3",
        (3, 6),
        "served the v2 API from the v3 store",
        _empty,
        "it was empty",
        instead="move its v2 clients to the v3 API, then remove it",
        source=f"{sources.UPGRADE_3_6} 'Flags removed'",
    ),
    Removal(
        "ETCD_PROXY",
        (3, 6),
        "set the v2 proxy mode",
        lambda value: value in ("", "off"),
        "it was off",
        instead="a 3.6 etcd can only be a member: replace the proxy (etcd grpc-proxy) first",
        source=f"{sources.UPGRADE_3_6} 'Flags removed'",
    ),
    *(
        Removal(
            env_name(flag),
            (3, 6),
            "tuned the v2 proxy",
            lambda _: True,
            "it was read only with --proxy on or readonly",
            source=f"{sources.UPGRADE_3_6} 'Flags removed'",
        )
        for flag in (
            "proxy-failure-wait",
            "proxy-refresh-interval",
            "proxy-dial-timeout",
            "proxy-write-timeout",
            "proxy-read-timeout",
        )
    ),
    Removal(
        "ETCD_DISCOVERY",
        (3, 7),
        "named a v2 discovery URL",
        lambda _: True,
        "it was read only when a member bootstraps, never by a member with data",
        source=f"{sources.CHANGELOG_3_7} 'Removed v2discovery' (etcd#20109)",
    ),
    Removal(
        "ETCD_DISCOVERY_PROXY",
        (3, 7),
        "proxied v2 discovery",
        lambda _: True,
        "it was read only when a member bootstraps, never by a member with data",
        source=f"{sources.CHANGELOG_3_7} 'Removed v2discovery' (etcd#20109)",
    ),
)

VALUE_CHANGES: tuple[ValueChange, ...] = (
    ValueChange(
        "ETCD_LOGGER",
        "capnslog",
        "ETCD_LOGGER",
        "zap",
        (3, 5),
        "3.5 refuses to start with --logger=capnslog ('--logger=capnslog is removed in v3.5')",
        f"{sources.UPGRADE_3_5} 'Deprecated etcd --logger capnslog'",
    ),
    ValueChange(
        "ETCD_DISCOVERY_FALLBACK",
        "proxy",
        "ETCD_DISCOVERY_FALLBACK",
        None,
        (3, 6),
        "3.6 refuses it ('v2 proxy is deprecated, and --discovery-fallback can't be configured as "
        "proxy'); "
        "it is read only at bootstrap, and 3.6's default is exit",
        f"{sources.UPGRADE_3_6} 'Flags with new defaults'",
    ),
    ValueChange(
        "ETCD_V2_DEPRECATION",
        "not-yet",
        "ETCD_V2_DEPRECATION",
        None,
        (3, 6),
        "3.6 has no stage not-yet and enforces write-only (server/etcdmain/config.go v3.6.14); "
        "`etcdutl check v2store` must be clean first",
        f"{sources.UPGRADE_3_6} 'Flags with new defaults'",
    ),
)

# 3.5: `--debug` → `--log-level=debug` (upgrade_3_5 'Deprecated etcd --debug flag')
DEBUG = "ETCD_DEBUG"
DEBUG_SOURCE = f"{sources.UPGRADE_3_5} 'Deprecated etcd --debug flag'"
