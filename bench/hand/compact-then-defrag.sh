#!/bin/sh
# The least any run that honours "every member has applied the compaction before any
# defragmentation starts" can take: compact --physical (it returns once the member asked has
# deleted the old revisions, at etcd's own pace; the others do the same at the same time), then
# etcdctl defrag per endpoint, nothing else checked. A lower bound for `make bench` (no target).
# Usage: compact-then-defrag.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; CTL="$LAB/hosts/node1/bin/etcdctl"
rev=$($CTL --endpoints="${SCHEME:-http}://${NET}1:2379" -w json endpoint status | grep -o '"revision":[0-9]*' | cut -d: -f2)
$CTL --endpoints="${SCHEME:-http}://${NET}1:2379" --command-timeout=600s compact "$rev" --physical >/dev/null
for n in 2 3 1; do $CTL --endpoints="${SCHEME:-http}://${NET}$n:2379" --command-timeout=600s defrag >/dev/null; done
