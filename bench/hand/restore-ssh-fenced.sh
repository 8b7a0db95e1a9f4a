#!/bin/sh
# The hand-run restore over OpenSSH with the guarantees etcdops' restore gives clients (issue 29),
# as an operator would script them: scp the snapshot to every member in parallel; stop the
# followers, then the leader; on each member restore into a fresh dir with --bump-revision
# 1000000 --mark-compacted, swap it in, set the new token and the client URLs on port + 10000
# (fenced: no client reaches them); start; once healthy there, revoke every lease and compare
# every member's hashkv at the restored revision; put the client URLs back (state existing);
# restart the followers, then the leader; wait until every member is healthy on its client URLs.
# Prints the seconds clients had no etcd (from the first stop to healthy) on stderr as
# `outage SECONDS`. Usage: restore-ssh-fenced.sh LAB_ROOT SNAPSHOT NET
set -eu
LAB=$1; SNAP=$2; NET=$3; TOKEN="hand-$(date +%s)"; S=${SCHEME:-http}
. "$(dirname "$0")/ssh-lib.sh"
CLUSTER="node1=$S://${NET}1:2380,node2=$S://${NET}2:2380,node3=$S://${NET}3:2380"
EPS="$S://${NET}1:2379,$S://${NET}2:2379,$S://${NET}3:2379"
FENCED="$S://${NET}1:12379,$S://${NET}2:12379,$S://${NET}3:12379"
CTL="$LAB/hosts/node1/bin/etcdctl"
[ "$S" = https ] && CTL="$CTL --cacert=$LAB/hosts/node1/etc/ssl/etcd/ssl/ca.pem \
  --cert=$LAB/hosts/node1/etc/ssl/etcd/ssl/admin-node1.pem --key=$LAB/hosts/node1/etc/ssl/etcd/ssl/admin-node1-key.pem"
for n in 1 2 3; do spawn copy_to $n "$SNAP" "$LAB/hosts/node$n/var/lib/restore.db"; done; wait_all
REV=$(sh -c "$CTL --endpoints=$EPS endpoint status -w json" | tr ',' '\n' | sed -n 's/.*"revision":\([0-9]*\).*/\1/p' | sort -n | tail -1)
LEADER=$(sh -c "$CTL --endpoints=$EPS endpoint status -w simple" | awk -F', ' '$5 == "true" { print $1 }')
L=${LEADER%:2379}; L=${L##*.}
[ -n "$L" ] || { echo "restore-ssh-fenced.sh: no leader found" >&2; exit 1; }
START=$(date +%s.%N)
for n in 1 2 3; do [ "$n" = "$L" ] || spawn on $n "$LAB/hosts/node$n/bin/etcd-service stop >/dev/null"; done; wait_all
on "$L" "$LAB/hosts/node$L/bin/etcd-service stop >/dev/null"
for n in 1 2 3; do
  h="$LAB/hosts/node$n"
  spawn on $n "$h/bin/etcdutl snapshot restore $h/var/lib/restore.db --name node$n --initial-cluster $CLUSTER \
    --initial-cluster-token $TOKEN --initial-advertise-peer-urls $S://${NET}$n:2380 --data-dir $h/var/lib/etcd.new \
    --bump-revision 1000000 --mark-compacted >/dev/null 2>&1 \
    && mv $h/var/lib/etcd $h/var/lib/etcd.hand-$TOKEN && mv $h/var/lib/etcd.new $h/var/lib/etcd && rm -f $h/var/lib/restore.db \
    && cp -p $h/etc/etcd/etcd.env $h/etc/etcd/etcd.env.hand-$TOKEN \
    && sed -i -e 's/^ETCD_INITIAL_CLUSTER_TOKEN=.*/ETCD_INITIAL_CLUSTER_TOKEN=$TOKEN/' \
       -e 's/^ETCD_INITIAL_CLUSTER_STATE=.*/ETCD_INITIAL_CLUSTER_STATE=new/' \
       -e '/^ETCD_\\(LISTEN\\|ADVERTISE\\)_CLIENT_URLS=/s/:2379/:12379/g' $h/etc/etcd/etcd.env"
done; wait_all
for n in 1 2 3; do spawn on $n "$LAB/hosts/node$n/bin/etcd-service start >/dev/null"; done; wait_all
i=0
until sh -c "$CTL --endpoints=$FENCED endpoint health" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 1200 ] || exit 1; sleep 0.1
done
for id in $(sh -c "$CTL --endpoints=$S://${NET}1:12379 lease list" | tail -n +2 | awk '{print $1}'); do
  sh -c "$CTL --endpoints=$S://${NET}1:12379 lease revoke $id" >/dev/null
done
HASHES=$(sh -c "$CTL --endpoints=$FENCED endpoint hashkv --rev=$(( ${REV:-0} + 1000000 )) -w simple" 2>/dev/null | awk -F', ' '{print $2}' | sort -u | wc -l)
[ "$HASHES" -le 1 ] || { echo "restore-ssh-fenced.sh: members hash the keyspace differently" >&2; exit 1; }
for n in 1 2 3; do
  h="$LAB/hosts/node$n"
  spawn on $n "sed -i -e '/^ETCD_\\(LISTEN\\|ADVERTISE\\)_CLIENT_URLS=/s/:12379/:2379/g' \
    -e 's/^ETCD_INITIAL_CLUSTER_STATE=.*/ETCD_INITIAL_CLUSTER_STATE=existing/' $h/etc/etcd/etcd.env"
done; wait_all
FL=$(sh -c "$CTL --endpoints=$FENCED endpoint status -w simple" | awk -F', ' '$5 == "true" { print $1 }')
FL=${FL%:12379}; FL=${FL##*.}
for n in 1 2 3; do [ "$n" = "$FL" ] || spawn on $n "$LAB/hosts/node$n/bin/etcd-service restart >/dev/null"; done; wait_all
on "${FL:-1}" "$LAB/hosts/node${FL:-1}/bin/etcd-service restart >/dev/null"
i=0
until sh -c "$CTL --endpoints=$EPS endpoint health" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 1200 ] || exit 1; sleep 0.1
done
END=$(date +%s.%N)
awk -v a="$START" -v b="$END" 'BEGIN { printf "outage %.3f\n", b - a }' >&2
