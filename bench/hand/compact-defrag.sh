#!/bin/sh
# Hand-run compaction and defragmentation (the baseline for `etcdops run compact-defrag`):
# etcdctl compact at the current revision, then etcdctl defrag per endpoint.
# Usage: compact-defrag.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; CTL="$LAB/hosts/node1/bin/etcdctl"
rev=$($CTL --endpoints="${SCHEME:-http}://${NET}1:2379" -w json endpoint status | grep -o '"revision":[0-9]*' | cut -d: -f2)
$CTL --endpoints="${SCHEME:-http}://${NET}1:2379" compact "$rev" >/dev/null
for n in 1 2 3; do $CTL --endpoints="${SCHEME:-http}://${NET}$n:2379" --command-timeout=600s defrag >/dev/null; done
