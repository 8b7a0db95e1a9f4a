#!/bin/sh
# Hand-run restore drill over OpenSSH, as a runbook page would do it: scp the snapshot to the two
# spares (node4, node5) in parallel; on each, over ssh: restore it into a fresh dir as a member of a
# throwaway cluster on its own ports and token, remove the copy, start etcd in the background; wait
# until the drill cluster is healthy; check one cluster id, the snapshot's revision and key count,
# and hashkv at that revision against the source cluster's; stop both (by pid) and move their dirs
# aside. Usage: drill-ssh.sh LAB_ROOT SNAPSHOT NET REVISION KEYS
set -eu
LAB=$1; SNAP=$2; NET=$3; REV=$4; KEYS=$5; TS=$(date +%s); TOKEN="hand-drill-$TS"; S=${SCHEME:-http}
. "$(dirname "$0")/ssh-lib.sh"
CP=32379; PP=32380
CLUSTER="node4=$S://${NET}4:$PP,node5=$S://${NET}5:$PP"
EPS="$S://${NET}4:$CP,$S://${NET}5:$CP"
CTL="$LAB/hosts/node1/bin/etcdctl"
for n in 4 5; do spawn copy_to $n "$SNAP" "$LAB/hosts/node$n/var/lib/drill.db"; done; wait_all
for n in 4 5; do
  h="$LAB/hosts/node$n"; d="$h/var/lib/etcd.hand-drill-$TS"
  spawn on $n "mkdir -p $d && $h/bin/etcdutl snapshot restore $h/var/lib/drill.db --name node$n \
    --initial-cluster $CLUSTER --initial-cluster-token $TOKEN --initial-advertise-peer-urls $S://${NET}$n:$PP \
    --data-dir $d/data >/dev/null 2>&1 && rm -f $h/var/lib/drill.db && cd $d \
    && ( setsid $h/bin/etcd --name node$n --data-dir $d/data --listen-client-urls $S://${NET}$n:$CP \
         --advertise-client-urls $S://${NET}$n:$CP --listen-peer-urls $S://${NET}$n:$PP \
         --initial-advertise-peer-urls $S://${NET}$n:$PP </dev/null >>$d/etcd.log 2>&1 & echo \$! >$d/etcd.pid )"
done; wait_all
i=0
until "$CTL" --endpoints="$EPS" endpoint health >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 1200 ] || { echo "drill-ssh.sh: the drill cluster never became healthy" >&2; exit 1; }; sleep 0.1
done
fail() { echo "drill-ssh.sh: $*" >&2; exit 1; }
STATUS=$("$CTL" --endpoints="$EPS" endpoint status -w json)
[ "$(echo "$STATUS" | grep -o '"cluster_id":[0-9]*' | sort -u | wc -l)" = 1 ] || fail "more than one cluster id"
[ "$(echo "$STATUS" | grep -o '"revision":[0-9]*' | sort -u)" = "\"revision\":$REV" ] || fail "revision is not $REV"
for e in $S://${NET}4:$CP $S://${NET}5:$CP; do
  "$CTL" --endpoints="$e" get "" --prefix --count-only --rev="$REV" -w fields | grep -qx "\"Count\" : $KEYS" \
    || fail "$e has not $KEYS keys at $REV"
done
# hashing a 1.2 GB key space takes seconds: longer than etcdctl's default 5 s command timeout
DRILL=$("$CTL" --endpoints="$EPS" --command-timeout=120s endpoint hashkv --rev="$REV" -w json | grep -o '"hash":[0-9]*' | sort -u)
SOURCE=$("$CTL" --endpoints="$S://${NET}1:2379" --command-timeout=120s endpoint hashkv --rev="$REV" -w json | grep -o '"hash":[0-9]*')
[ "$DRILL" = "$SOURCE" ] || fail "hashkv at $REV: drill $DRILL, source $SOURCE"
for n in 4 5; do
  d="$LAB/hosts/node$n/var/lib/etcd.hand-drill-$TS"
  spawn on $n "p=\$(cat $d/etcd.pid); kill -9 \$p; i=0; while kill -0 \$p 2>/dev/null && [ \$i -lt 200 ]; do \
    i=\$((i + 1)); sleep 0.05; done; ! kill -0 \$p 2>/dev/null && mv $d $d-done"
done; wait_all
