#!/bin/sh
# Hand-run scale-out of lab host node4 with the checks the issue asks of etcdops, as a careful
# operator would type them: every voter healthy and no learner pending first; member add --learner;
# write etcd.env; start; wait until the learner answers endpoint status and has applied (nearly) what
# the voters have; promote (retrying while etcd says it is not in sync); then wait until node4 is a
# started voter, every member is healthy and all four list the same members. A second baseline for
# `make bench` (no target), to show how much of the gap to scale-out.sh is these checks.
# etcd is already installed on node4. Usage: scale-out-checked.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; H="$LAB/hosts/node4"
. "$(dirname "$0")/node4-env.sh"
CTL="$LAB/hosts/node1/bin/etcdctl --dial-timeout=1s --command-timeout=2s"
ALL="${SCHEME:-http}://${NET}1:2379,${SCHEME:-http}://${NET}2:2379,${SCHEME:-http}://${NET}3:2379"
NEW="${SCHEME:-http}://${NET}4:2379"
$CTL --endpoints="$ALL" endpoint health >/dev/null
if $CTL --endpoints="$ALL" member list | grep -q ', true$'; then echo "a learner is pending" >&2; exit 3; fi
out=$($CTL --endpoints="$ALL" member add node4 --learner --peer-urls="${SCHEME:-http}://${NET}4:2380")
cluster=$(printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
node4_env "$cluster" > "$H/etc/etcd/etcd.env"
"$H/bin/etcd-service" start >/dev/null
applied() { $CTL --endpoints="$1" -w json endpoint status 2>/dev/null | grep -o '"raftAppliedIndex":[0-9]*' | cut -d: -f2 | sort -n | tail -n 1; }
i=0
until mine=$(applied "$NEW") && [ -n "$mine" ] && [ "$mine" -ge $(($(applied "$ALL") - 100)) ]; do
  i=$((i + 1)); [ $i -lt 1200 ] || { echo "node4 did not catch up" >&2; exit 1; }; sleep 0.25
done
id=$($CTL --endpoints="$ALL" member list | awk -F', ' -v u="${SCHEME:-http}://${NET}4:2380" '$4 == u {print $1}')
i=0
until $CTL --endpoints="$ALL" member promote "$id" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.25
done
lists() { for n in 1 2 3 4; do $CTL --endpoints="${SCHEME:-http}://${NET}$n:2379" member list 2>/dev/null | sort | tr '\n' ' '; echo; done; }
i=0
until $CTL --endpoints="$ALL,$NEW" endpoint health >/dev/null 2>&1 && [ "$(lists | sort -u | wc -l)" = 1 ] &&
      lists | head -n 1 | grep -q "$id, started, node4, ${SCHEME:-http}://${NET}4:2380, $NEW, false"; do
  i=$((i + 1)); [ $i -lt 240 ] || { echo "node4 is not a started, healthy voter" >&2; exit 1; }; sleep 0.25
done
