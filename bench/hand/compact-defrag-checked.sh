#!/bin/sh
# Hand-run compaction and defragmentation with the checks the issue asks of etcdops, as a careful
# operator would type them: every member healthy first, compact --physical, on every member wait
# until the compaction is applied (reads below it say "compacted", space in use stopped
# shrinking), then defragment the followers one at a time and the leader last, checking the
# cluster is healthy after each. A second baseline for `make bench`, to show how much of the gap
# to compact-defrag.sh is these checks. Usage: compact-defrag-checked.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; CTL="$LAB/hosts/node1/bin/etcdctl"
ALL="${SCHEME:-http}://${NET}1:2379,${SCHEME:-http}://${NET}2:2379,${SCHEME:-http}://${NET}3:2379"
healthy() {
  i=0
  until $CTL --endpoints="$ALL" endpoint health >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 120 ] || { echo "cluster not healthy" >&2; exit 1; }; sleep 0.5
  done
}
st() { $CTL --endpoints="$1" -w json endpoint status | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }
healthy
rev=$(st "${SCHEME:-http}://${NET}1:2379" revision)
$CTL --endpoints="${SCHEME:-http}://${NET}1:2379" --command-timeout=600s compact "$rev" --physical >/dev/null
leader=
for n in 1 2 3; do
  ep="${SCHEME:-http}://${NET}$n:2379"
  i=0
  until $CTL --endpoints="$ep" get x --rev=1 --consistency=s 2>&1 | grep -q compacted; do
    i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.2
  done
  prev=0; same=0; i=0
  while [ $same -lt 3 ]; do
    cur=$(st "$ep" dbSizeInUse)
    if [ "$prev" -gt 0 ] && [ $((prev - cur)) -lt 262144 ]; then same=$((same + 1)); else same=0; fi
    prev=$cur; i=$((i + 1)); [ $i -lt 1800 ] || exit 1; sleep 0.1
  done
  [ "$(st "$ep" leader)" != "$(st "$ep" member_id)" ] || leader=$ep
done
for n in 1 2 3; do
  ep="${SCHEME:-http}://${NET}$n:2379"
  [ "$ep" = "$leader" ] && continue
  $CTL --endpoints="$ep" --command-timeout=600s defrag >/dev/null; healthy
done
$CTL --endpoints="$leader" --command-timeout=600s defrag >/dev/null; healthy
