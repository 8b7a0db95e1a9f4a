#!/bin/sh
# Hand-run restore of the lab from one snapshot, as the wiki page does it (the baseline
# that `make bench` compares `etcdops run restore` with). Usage: restore.sh LAB_ROOT SNAPSHOT NET
set -eu
LAB=$1; SNAP=$2; NET=$3; TOKEN="hand-$(date +%s)"
CLUSTER="node1=${SCHEME:-http}://${NET}1:2380,node2=${SCHEME:-http}://${NET}2:2380,node3=${SCHEME:-http}://${NET}3:2380"
for n in 1 2 3; do "$LAB/hosts/node$n/bin/etcd-service" stop >/dev/null; done
for n in 1 2 3; do cp "$SNAP" "$LAB/hosts/node$n/var/lib/restore.db"; done   # the snapshot on every member
for n in 1 2 3; do
  h="$LAB/hosts/node$n"
  "$h/bin/etcdutl" snapshot restore "$h/var/lib/restore.db" --name "node$n" --initial-cluster "$CLUSTER" \
    --initial-cluster-token "$TOKEN" --initial-advertise-peer-urls "${SCHEME:-http}://${NET}$n:2380" \
    --data-dir "$h/var/lib/etcd.new" >/dev/null 2>&1
  mv "$h/var/lib/etcd" "$h/var/lib/etcd.hand-$TOKEN"; mv "$h/var/lib/etcd.new" "$h/var/lib/etcd"
  sed -i "s/^ETCD_INITIAL_CLUSTER_TOKEN=.*/ETCD_INITIAL_CLUSTER_TOKEN=$TOKEN/" "$h/etc/etcd/etcd.env"
done
# all members at once, as an operator must where a start waits for the member to join its cluster
# (systemd's Type=notify, kubespray's unit): one after the other, each start here waits ~1 s
pids=; for n in 1 2 3; do "$LAB/hosts/node$n/bin/etcd-service" start >/dev/null & pids="$pids $!"; done
for p in $pids; do wait "$p"; done  # set -e: a start that failed fails the run
i=0
until "$LAB/hosts/node1/bin/etcdctl" --endpoints="${SCHEME:-http}://${NET}1:2379,${SCHEME:-http}://${NET}2:2379,${SCHEME:-http}://${NET}3:2379" \
      endpoint health >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.1
done
