"""Every etcd server flag of 3.4-3.7, the release that has it, and the feature gates.

etcd reads each flag from the environment as ETCD_ + the flag's name upper-cased with `-` as `_`
(pkg/flags FlagToEnv): --experimental-initial-corrupt-check is
ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK.

How a binary treats an etcd.env line (etcd-io/etcd pkg/flags/flag.go, the same in 3.4-3.7; seen
here with 3.4.23, 3.5.16 and 3.5.30):
- a name it does not know: ignored, with a warning `unrecognized environment variable` in its log;
  etcd starts. The setting is silently lost: the danger of an env file, where a command-line
  flag it does not know makes etcd exit at once (`flag provided but not defined`, exit 2).
- a value it refuses (--logger=capnslog on 3.5, a v2-deprecation stage it does not have, an
  unknown feature gate): etcd exits at start (exit 1, `failed to verify flags`).
- an empty value: the same as not set (and, not being used, logged as unrecognized too).

The table is generated from the source of every release tag v3.4.0..v3.7.1 (the flags registered
in etcdmain/config.go, and from 3.5 on server/etcdmain/config.go and server/embed/config.go),
and checked flag by flag against the 3.4.23, 3.5.16 and 3.5.30 binaries of the lab
(`etcd --version --FLAG=1`: `flag provided but not defined` or not): no difference.
Newest releases read: 3.4.45, 3.5.33, 3.6.14, 3.7.1. A later patch of a known line is taken to
have its newest known release's flags (no flag was ever removed within a line).
"""

from __future__ import annotations

from etcdops.versions.version import Version

LINES = ((3, 4), (3, 5), (3, 6), (3, 7))  # the release lines this table knows
NEWEST_READ = {(3, 4): "3.4.45", (3, 5): "3.5.33", (3, 6): "3.6.14", (3, 7): "3.7.1"}

# registered in every release of 3.4-3.7
_EVERY_RELEASE = (
    "advertise-client-urls",
    "auth-token",
    "auto-compaction-mode",
    "auto-compaction-retention",
    "auto-tls",
    "backend-batch-interval",
    "backend-batch-limit",
    "bcrypt-cost",
    "cert-file",
    "cipher-suites",
    "client-cert-allowed-hostname",
    "client-cert-auth",
    "client-crl-file",
    "config-file",
    "cors",
    "data-dir",
    "discovery-fallback",
    "discovery-srv",
    "discovery-srv-name",
    "election-timeout",
    "enable-grpc-gateway",
    "enable-pprof",
    "force-new-cluster",
    "grpc-keepalive-interval",
    "grpc-keepalive-min-time",
    "grpc-keepalive-timeout",
    "heartbeat-interval",
    "host-whitelist",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "initial-election-tick-advance",
    "key-file",
    "listen-client-urls",
    "listen-metrics-urls",
    "listen-peer-urls",
    "log-level",
    "log-outputs",
    "logger",
    "max-request-bytes",
    "max-snapshots",
    "max-txn-ops",
    "max-wals",
    "metrics",
    "name",
    "peer-auto-tls",
    "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname",
    "peer-cert-file",
    "peer-client-cert-auth",
    "peer-crl-file",
    "peer-key-file",
    "peer-trusted-ca-file",
    "pre-vote",
    "quota-backend-bytes",
    "snapshot-count",
    "strict-reconfig-check",
    "trusted-ca-file",
    "version",
    "wal-dir",
)

# flag -> {minor: first patch of that 3.MINOR line that has it}
_LIFETIMES: dict[str, dict[int, int]] = {
    "auth-token-ttl": {4: 10, 5: 0, 6: 0, 7: 0},
    "backend-bbolt-freelist-type": {5: 0, 6: 0, 7: 0},
    "bootstrap-defrag-threshold-megabytes": {6: 0, 7: 0},
    "client-cert-file": {5: 0, 6: 0, 7: 0},
    "client-key-file": {5: 0, 6: 0, 7: 0},
    "compact-hash-check-time": {6: 0, 7: 0},
    "compaction-batch-limit": {6: 0, 7: 0},
    "compaction-sleep-interval": {6: 0, 7: 0},
    "corrupt-check-time": {6: 0, 7: 0},
    "debug": {4: 0},
    "discovery": {4: 0, 5: 0, 6: 0},
    "discovery-cacert": {6: 0, 7: 0},
    "discovery-cert": {6: 0, 7: 0},
    "discovery-dial-timeout": {6: 0, 7: 0},
    "discovery-endpoints": {6: 0, 7: 0},
    "discovery-insecure-skip-tls-verify": {6: 0, 7: 0},
    "discovery-insecure-transport": {6: 0, 7: 0},
    "discovery-keepalive-time": {6: 0, 7: 0},
    "discovery-keepalive-timeout": {6: 0, 7: 0},
    "discovery-key": {6: 0, 7: 0},
    "discovery-password": {6: 0, 7: 0},
    "discovery-proxy": {4: 0, 5: 0, 6: 0},
    "discovery-request-timeout": {6: 0, 7: 0},
    "discovery-token": {6: 0, 7: 0},
    "discovery-user": {6: 0, 7: 0},
    "distributed-tracing-address": {6: 0, 7: 0},
    "distributed-tracing-instance-id": {6: 0, 7: 0},
    "distributed-tracing-sampling-rate": {6: 0, 7: 0},
    "distributed-tracing-service-name": {6: 0, 7: 0},
    "downgrade-check-time": {6: 0, 7: 0},
    "enable-distributed-tracing": {6: 0, 7: 0},
    "enable-log-rotation": {5: 0, 6: 0, 7: 0},
    "enable-v2": {4: 0, 5: 0},
    "experimental-backend-bbolt-freelist-type": {4: 0},
    "experimental-bootstrap-defrag-threshold-megabytes": {5: 0, 6: 0},
    "experimental-compact-hash-check-enabled": {5: 5, 6: 0},
    "experimental-compact-hash-check-time": {5: 5, 6: 0},
    "experimental-compaction-batch-limit": {4: 0, 5: 0, 6: 0},
    "experimental-compaction-sleep-interval": {5: 16, 6: 0},
    "experimental-corrupt-check-time": {4: 0, 5: 0, 6: 0},
    "experimental-distributed-tracing-address": {5: 0, 6: 0},
    "experimental-distributed-tracing-instance-id": {5: 0, 6: 0},
    "experimental-distributed-tracing-sampling-rate": {5: 11, 6: 0},
    "experimental-distributed-tracing-service-name": {5: 0, 6: 0},
    "experimental-downgrade-check-time": {5: 0, 6: 0},
    "experimental-enable-distributed-tracing": {5: 0, 6: 0},
    "experimental-enable-lease-checkpoint": {4: 0, 5: 0, 6: 0},
    "experimental-enable-lease-checkpoint-persist": {4: 20, 5: 2, 6: 0},
    "experimental-enable-v2v3": {4: 0, 5: 0},
    "experimental-initial-corrupt-check": {4: 0, 5: 0, 6: 0},
    "experimental-memory-mlock": {5: 0, 6: 0},
    "experimental-peer-skip-client-san-verification": {4: 0, 5: 0, 6: 0},
    "experimental-snapshot-catchup-entries": {5: 14, 6: 0},
    "experimental-stop-grpc-service-on-defrag": {5: 14, 6: 0},
    "experimental-txn-mode-write-with-shared-buffer": {5: 0, 6: 0},
    "experimental-warning-apply-duration": {4: 16, 5: 0, 6: 0},
    "experimental-warning-unary-request-duration": {6: 0},
    "experimental-watch-progress-notify-interval": {4: 11, 5: 0, 6: 0},
    # registered by the feature gate itself
    # (embed/config.go: ServerFeatureGate...AddFlag(fs, "feature-gates"))
    "feature-gates": {6: 0, 7: 0},
    "listen-client-http-urls": {4: 25, 5: 8, 6: 0, 7: 0},
    "log-format": {6: 0, 7: 0},
    "log-output": {4: 0},
    "log-package-levels": {4: 0},
    "log-rotation-config-json": {5: 0, 6: 0, 7: 0},
    "max-concurrent-streams": {4: 20, 5: 5, 6: 0, 7: 0},
    "max-learners": {6: 0, 7: 0},
    "memory-mlock": {6: 0, 7: 0},
    "next-cluster-version-compatible": {4: 31},
    "peer-client-cert-file": {5: 0, 6: 0, 7: 0},
    "peer-client-key-file": {5: 0, 6: 0, 7: 0},
    "peer-skip-client-san-verification": {6: 0, 7: 0},
    "proxy": {4: 0, 5: 0},
    "proxy-dial-timeout": {4: 0, 5: 0},
    "proxy-failure-wait": {4: 0, 5: 0},
    "proxy-read-timeout": {4: 0, 5: 0},
    "proxy-refresh-interval": {4: 0, 5: 0},
    "proxy-write-timeout": {4: 0, 5: 0},
    "raft-read-timeout": {5: 0, 6: 0, 7: 0},
    "raft-write-timeout": {5: 0, 6: 0, 7: 0},
    "self-signed-cert-validity": {5: 0, 6: 0, 7: 0},
    "snapshot-catchup-entries": {6: 0, 7: 0},
    "socket-reuse-address": {5: 0, 6: 0, 7: 0},
    "socket-reuse-port": {5: 0, 6: 0, 7: 0},
    "tls-max-version": {4: 25, 5: 8, 6: 0, 7: 0},
    "tls-min-version": {4: 25, 5: 8, 6: 0, 7: 0},
    "unsafe-no-fsync": {4: 10, 5: 0, 6: 0, 7: 0},
    "v2-deprecation": {5: 0, 6: 0, 7: 0},
    "warning-apply-duration": {6: 0, 7: 0},
    "warning-unary-request-duration": {6: 0, 7: 0},
    "watch-progress-notify-interval": {6: 0, 7: 0},
}

# registered as flags.IgnoredFlag in every release (old v2-era names): accepted, without effect
IGNORED = (
    "cluster-active-size",
    "cluster-remove-delay",
    "cluster-sync-interval",
    "config",
    "force",
    "max-result-buffer",
    "max-retry-attempts",
    "peer-election-timeout",
    "peer-heartbeat-interval",
    "retry-interval",
    "snapshot",
    "v",
    "vv",
)

# server/features/etcd_features.go (DefaultEtcdServerFeatureGates): the same in every 3.6 patch read
# (3.6.0-3.6.14); 3.7.0 adds FastLeaseKeepAlive and PriorityRequest. 3.4 and 3.5 have no gates.
FEATURE_GATES: dict[tuple[int, int], frozenset[str]] = {
    (3, 6): frozenset(
        {
            "StopGRPCServiceOnDefrag",
            "TxnModeWriteWithSharedBuffer",
            "InitialCorruptCheck",
            "CompactHashCheck",
            "LeaseCheckpoint",
            "LeaseCheckpointPersist",
            "SetMemberLocalAddr",
        }
    ),
}
FEATURE_GATES[(3, 7)] = FEATURE_GATES[(3, 6)] | {"FastLeaseKeepAlive", "PriorityRequest"}

# the stages --v2-deprecation accepts (server/etcdmain/config.go: flags.NewSelectiveStringsValue):
# write-only-skip-check came with 3.5.32 and 3.6.13 (etcd#21850); 3.6 dropped not-yet
V2_DEPRECATION: dict[tuple[int, int], dict[str, int]] = {  # stage -> first patch of the line
    (3, 5): {
        "not-yet": 0,
        "write-only": 0,
        "write-only-skip-check": 32,
        "write-only-drop-data": 0,
        "gone": 0,
    },
    (3, 6): {"write-only": 0, "write-only-skip-check": 13, "write-only-drop-data": 0, "gone": 0},
    (3, 7): {"write-only": 0, "write-only-skip-check": 0, "write-only-drop-data": 0, "gone": 0},
}

_TABLE: dict[str, dict[int, int]] = {
    name: {4: 0, 5: 0, 6: 0, 7: 0} for name in _EVERY_RELEASE + IGNORED
}
_TABLE.update(_LIFETIMES)


def env_name(flag: str) -> str:
    """--max-learners → ETCD_MAX_LEARNERS."""
    return "ETCD_" + flag.upper().replace("-", "_")


ENV_TO_FLAG = {env_name(flag): flag for flag in _TABLE}


def knows_line(version: Version) -> bool:
    return version.minor_line in LINES


def has_flag(version: Version, flag: str) -> bool:
    """Whether etcd `version` registers --flag (a pre-release counts as its release's .0)."""
    first = _TABLE.get(flag, {}).get(version.minor) if version.major == 3 else None
    return first is not None and version.patch >= first


def knows_env(version: Version, name: str) -> bool:
    """Whether etcd `version` reads the environment variable `name` (ETCD_...)."""
    flag = ENV_TO_FLAG.get(name)
    return flag is not None and has_flag(version, flag)


def is_etcd_flag_env(name: str) -> bool:
    """An ETCD_ name that some etcd 3.4-3.7 release reads."""
    return name in ENV_TO_FLAG


def first_release(flag: str, line: tuple[int, int]) -> Version | None:
    """The first release of `line` with --flag, or None."""
    first = _TABLE.get(flag, {}).get(line[1]) if line[0] == 3 else None
    return None if first is None else Version(3, line[1], first)


def feature_gates(version: Version) -> frozenset[str]:
    return FEATURE_GATES.get(version.minor_line, frozenset())


def v2_deprecation_stages(version: Version) -> frozenset[str]:
    stages = V2_DEPRECATION.get(version.minor_line, {})
    return frozenset(stage for stage, first in stages.items() if version.patch >= first)
