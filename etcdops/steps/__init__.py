"""Step kinds: one class per kind, each owning its spec, its plan and its execution.

To add a kind: write its module here and add it to KINDS.
"""

from __future__ import annotations

from typing import Any

from etcdops.steps.base import StepKind
from etcdops.steps.command import CommandKind
from etcdops.steps.dirs import MoveAsideKind, SwapDirKind
from etcdops.steps.etcd_keys import EtcdEndpointStatusKind, EtcdKeyCountKind, EtcdKeyKind
from etcdops.steps.etcd_maintenance import (
    AlarmDisarmKind,
    EtcdCompactKind,
    EtcdDefragKind,
    MoveLeaderKind,
)
from etcdops.steps.etcd_member import EtcdMemberKind
from etcdops.steps.etcd_service import EtcdServiceKind
from etcdops.steps.etcd_snapshot import (
    EtcdSnapshotRestoreKind,
    EtcdSnapshotSaveKind,
    EtcdSnapshotVerifyKind,
)
from etcdops.steps.local_files import PruneSnapshotsKind, RemoveFileKind
from etcdops.steps.pause import PauseKind
from etcdops.steps.playbook import PlaybookKind
from etcdops.steps.prune import PruneSetAsideKind
from etcdops.steps.template import TemplateKind
from etcdops.steps.transfer import DownloadKind, UploadKind
from etcdops.steps.wait import WaitKind

KINDS: dict[str, StepKind[Any, Any]] = {
    kind.name: kind
    for kind in (
        EtcdServiceKind(),
        MoveAsideKind(),
        SwapDirKind(),
        EtcdMemberKind(),
        EtcdSnapshotSaveKind(),
        EtcdSnapshotVerifyKind(),
        EtcdSnapshotRestoreKind(),
        EtcdCompactKind(),
        EtcdDefragKind(),
        MoveLeaderKind(),
        AlarmDisarmKind(),
        EtcdKeyKind(),
        EtcdKeyCountKind(),
        EtcdEndpointStatusKind(),
        PruneSnapshotsKind(),
        RemoveFileKind(),
        PruneSetAsideKind(),
        TemplateKind(),
        UploadKind(),
        DownloadKind(),
        WaitKind(),
        PlaybookKind(),
        PauseKind(),
        CommandKind(),
    )
}
