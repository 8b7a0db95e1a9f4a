#!/bin/sh
# Hand-run scale-out of lab host node4 through a learner (the baseline for
# `etcdops run scale-out`): member add --learner, write etcd.env, start, promote in a loop.
# etcd is already installed on node4. Usage: scale-out.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; H="$LAB/hosts/node4"
. "$(dirname "$0")/node4-env.sh"
CTL="$LAB/hosts/node1/bin/etcdctl --endpoints=${SCHEME:-http}://${NET}1:2379"
out=$($CTL member add node4 --learner --peer-urls="${SCHEME:-http}://${NET}4:2380")
cluster=$(printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
node4_env "$cluster" > "$H/etc/etcd/etcd.env"
"$H/bin/etcd-service" start >/dev/null
id=$($CTL member list | awk -F', ' -v u="${SCHEME:-http}://${NET}4:2380" '$4 == u {print $1}')
i=0
until $CTL member promote "$id" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.2; done
