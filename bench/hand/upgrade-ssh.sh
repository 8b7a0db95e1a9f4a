#!/bin/sh
# A rolling patch upgrade by hand over OpenSSH, as an operator scripts it from etcd's upgrade guide:
# member by member, the followers first and the leader last: the installed binaries kept beside
# themselves (TOOL-old), the new ones copied with scp (to TOOL.part, then renamed over), etcd
# restarted, and a wait until that member is healthy and serves the new version before the next.
# No snapshot first, no version rules, no etcd.env rendering, no leadership move (etcdops does
# those). Usage: upgrade-ssh.sh LAB_ROOT NEW_BIN_DIR NET VERSION
set -eu
LAB=$1; NEW=$2; NET=$3; VERSION=$4; S=${SCHEME:-http}
. "$(dirname "$0")/ssh-lib.sh"
EPS="$S://${NET}1:2379,$S://${NET}2:2379,$S://${NET}3:2379"
CTL="$LAB/hosts/node1/bin/etcdctl-bench"
cp -pL "$LAB/hosts/node1/bin/etcdctl" "$CTL"  # the control node's own etcdctl, whatever is upgraded
LEADER=$("$CTL" --endpoints="$EPS" endpoint status -w simple | awk -F', ' '$5 == "true" { print $1 }')
L=${LEADER%:2379}; L=${L##*.}
[ -n "$L" ] || { echo "upgrade-ssh.sh: no leader found" >&2; exit 1; }
ORDER=""; for n in 1 2 3; do [ "$n" = "$L" ] || ORDER="$ORDER $n"; done; ORDER="$ORDER $L"
for n in $ORDER; do
  h="$LAB/hosts/node$n/bin"
  on "$n" "for t in etcd etcdctl etcdutl; do cp -pL $h/\$t $h/\$t-old; done"
  for t in etcd etcdctl etcdutl; do spawn copy_to "$n" "$NEW/$t" "$h/$t.part"; done; wait_all
  on "$n" "for t in etcd etcdctl etcdutl; do chmod 755 $h/\$t.part && mv -f $h/\$t.part $h/\$t; done; \
    $h/etcd-service stop >/dev/null && $h/etcd-service start >/dev/null"
  i=0  # bounded: 600 polls 0.1 s apart
  until "$CTL" --endpoints="$S://${NET}$n:2379" endpoint status -w json 2>/dev/null \
      | grep -q "\"version\":\"$VERSION\"" \
    && "$CTL" --endpoints="$S://${NET}$n:2379" endpoint health >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 600 ] || { echo "upgrade-ssh.sh: node$n did not come back" >&2; exit 1; }
    sleep 0.1
  done
done
rm -f "$CTL"
