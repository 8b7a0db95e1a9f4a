#!/bin/sh
# Hand-run scale-out of lab host node4 through a learner (the baseline for
# `etcdops run scale-out`): member add --learner, write etcd.env, start, promote in a loop.
# etcd is already installed on node4. Usage: scale-out.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; H="$LAB/hosts/node4"
CTL="$LAB/hosts/node1/bin/etcdctl --endpoints=http://${NET}1:2379"
out=$($CTL member add node4 --learner --peer-urls="http://${NET}4:2380")
cluster=$(printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
cat > "$H/etc/etcd/etcd.env" <<ENV
ETCD_NAME=node4
ETCD_DATA_DIR=$H/var/lib/etcd
ETCD_LISTEN_PEER_URLS=http://${NET}4:2380
ETCD_LISTEN_CLIENT_URLS=http://${NET}4:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://${NET}4:2380
ETCD_ADVERTISE_CLIENT_URLS=http://${NET}4:2379
ETCD_INITIAL_CLUSTER=$cluster
ETCD_INITIAL_CLUSTER_STATE=existing
ENV
"$H/bin/etcd-service" start >/dev/null
id=$($CTL member list | awk -F', ' -v u="http://${NET}4:2380" '$4 == u {print $1}')
i=0
until $CTL member promote "$id" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.2; done
