"""Where each version rule comes from: cited by every refusal and every env change.

Read for this module (2026-12): etcd-io/website at 8245979 (2026-08-20) for the guides,
etcd-io/etcd at the release tags named in flags.py for the flags, kubernetes-sigs/kubespray at
46dbdd3 (2026-08-21) for its gate and its etcd.env template.
"""

from __future__ import annotations

DOCS = "https://etcd.io/docs"

UPGRADE_3_5 = f"{DOCS}/v3.5/upgrades/upgrade_3_5/"
UPGRADE_3_6 = f"{DOCS}/v3.6/upgrades/upgrade_3_6/"
UPGRADE_3_7 = f"{DOCS}/v3.7/upgrades/upgrade_3_7/"
DOWNGRADE_3_6 = f"{DOCS}/v3.6/downgrades/downgrade_3_6/"
DOWNGRADE_3_7 = f"{DOCS}/v3.7/downgrades/downgrade_3_7/"
DOWNGRADING = f"{DOCS}/v3.7/downgrades/downgrading-etcd/"

# 3.4 -> 3.5 with auth: "rolling upgrade from 3.4 or older version isn't supported because 3.5
# changes a format of WAL entries related to auth" (upgrade_3_5, Upgrade checklists; etcd#11943)
AUTH_WAL_PR = "https://github.com/etcd-io/etcd/pull/11943"

# the 3.5 patch a 3.6 upgrade needs, in the order etcd raised it
BLOG_3_5_20 = "https://etcd.io/blog/2025/upgrade_from_3.5_to_3.6_issue/"  # etcd#19557
BLOG_3_5_24 = "https://etcd.io/blog/2025/upgrade_from_3.5_to_3.6_issue_followup/"  # etcd#20793
BLOG_3_5_26 = "https://etcd.io/blog/2025/zombie_members_upgrade/"  # etcd#20967
BLOG_3_5_32 = "https://etcd.io/blog/2026/july-patch-release/"  # etcd#21889, #21850
KUBESPRAY_GATE = (
    "kubernetes-sigs/kubespray roles/etcd/tasks/clean_v2_store.yml (etcd >= 3.5.26 before 3.6)"
)

FLAGS_SOURCE = (
    "etcd-io/etcd server/etcdmain/config.go and server/embed/config.go (etcdmain/config.go in 3.4)"
)
FEATURES_SOURCE = "etcd-io/etcd server/features/etcd_features.go"
ENV_SOURCE = "etcd-io/etcd pkg/flags/flag.go (SetFlagsFromEnv, verifyEnv)"
CHANGELOG_3_7 = "etcd-io/etcd CHANGELOG/CHANGELOG-3.7.md"
