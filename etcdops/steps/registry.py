"""Every step kind by name. To add a kind: write its module beside this one and list it here."""

from __future__ import annotations

from typing import Any

from etcdops.steps.alarm_disarm import AlarmDisarmKind
from etcdops.steps.base import StepKind
from etcdops.steps.cert_served import CertServedKind
from etcdops.steps.cert_stage import CertStageKind
from etcdops.steps.cert_swap import CertSwapKind
from etcdops.steps.command import CommandKind
from etcdops.steps.copy_aside import CopyAsideKind
from etcdops.steps.download import DownloadKind
from etcdops.steps.drill_result import DrillResultKind
from etcdops.steps.etcd_cluster_version import EtcdClusterVersionKind
from etcdops.steps.etcd_compact import EtcdCompactKind
from etcdops.steps.etcd_defrag import EtcdDefragKind
from etcdops.steps.etcd_drill_member import EtcdDrillMemberKind
from etcdops.steps.etcd_drill_verify import EtcdDrillVerifyKind
from etcdops.steps.etcd_endpoint_status import EtcdEndpointStatusKind
from etcdops.steps.etcd_hashkv import EtcdHashKVKind
from etcdops.steps.etcd_key import EtcdKeyKind
from etcdops.steps.etcd_key_count import EtcdKeyCountKind
from etcdops.steps.etcd_latency import EtcdLatencyKind
from etcdops.steps.etcd_learner_catchup import EtcdLearnerCatchupKind
from etcdops.steps.etcd_leases import EtcdLeasesKind
from etcdops.steps.etcd_member import EtcdMemberKind
from etcdops.steps.etcd_service import EtcdServiceKind
from etcdops.steps.etcd_snapshot_restore import EtcdSnapshotRestoreKind
from etcdops.steps.etcd_snapshot_save import EtcdSnapshotSaveKind
from etcdops.steps.etcd_snapshot_verify import EtcdSnapshotVerifyKind
from etcdops.steps.etcd_space import EtcdSpaceKind
from etcdops.steps.keep_binaries import KeepBinariesKind
from etcdops.steps.move_aside import MoveAsideKind
from etcdops.steps.move_leader import MoveLeaderKind
from etcdops.steps.pause import PauseKind
from etcdops.steps.playbook import PlaybookKind
from etcdops.steps.prune_set_aside import PruneSetAsideKind
from etcdops.steps.prune_snapshots import PruneSnapshotsKind
from etcdops.steps.remove_file import RemoveFileKind
from etcdops.steps.snapshot_bundle import SnapshotBundleKind
from etcdops.steps.snapshot_fetch import SnapshotFetchKind
from etcdops.steps.snapshot_offsite import SnapshotOffsiteKind
from etcdops.steps.swap_dir import SwapDirKind
from etcdops.steps.switch_binaries import SwitchBinariesKind
from etcdops.steps.template import TemplateKind
from etcdops.steps.upload import UploadKind
from etcdops.steps.wait import WaitKind

KINDS: dict[str, StepKind[Any, Any]] = {
    kind.name: kind
    for kind in (
        EtcdServiceKind(),
        MoveAsideKind(),
        CopyAsideKind(),
        SwapDirKind(),
        EtcdMemberKind(),
        EtcdSnapshotSaveKind(),
        EtcdSnapshotVerifyKind(),
        EtcdSnapshotRestoreKind(),
        EtcdCompactKind(),
        EtcdDefragKind(),
        EtcdSpaceKind(),
        MoveLeaderKind(),
        AlarmDisarmKind(),
        EtcdKeyKind(),
        EtcdKeyCountKind(),
        EtcdEndpointStatusKind(),
        EtcdLeasesKind(),
        EtcdHashKVKind(),
        EtcdLatencyKind(),
        KeepBinariesKind(),
        SwitchBinariesKind(),
        EtcdLearnerCatchupKind(),
        EtcdClusterVersionKind(),
        PruneSnapshotsKind(),
        SnapshotBundleKind(),
        SnapshotOffsiteKind(),
        SnapshotFetchKind(),
        EtcdDrillMemberKind(),
        EtcdDrillVerifyKind(),
        DrillResultKind(),
        RemoveFileKind(),
        PruneSetAsideKind(),
        TemplateKind(),
        UploadKind(),
        CertStageKind(),
        CertSwapKind(),
        CertServedKind(),
        DownloadKind(),
        WaitKind(),
        PlaybookKind(),
        PauseKind(),
        CommandKind(),
    )
}
