#!/bin/sh
# Hand-run rotation of the members' certificates over OpenSSH, as an operator does it, with the same
# restarts and health waits as rotate-certs: one member at a time, the followers first and the leader
# last: scp the new member and admin certificates and keys beside the old ones, keep each old one as
# .bak, move the new ones in, restart etcd, wait until every member is healthy, then check with
# openssl s_client on the host that it presents the new serial. Nothing is checked before the first
# restart (no SANs, no key match: what etcdops' pre-flight adds). Usage: rotate-certs-ssh.sh LAB NET DIR
set -eu
LAB=$1; NET=$2; DIR=$3; STAMP=$(date +%Y%m%dT%H%M%SZ)
. "$(dirname "$0")/ssh-lib.sh"
EPS="https://${NET}1:2379,https://${NET}2:2379,https://${NET}3:2379"
CTL="$LAB/hosts/node1/bin/etcdctl"  # ETCDCTL_CACERT, _CERT, _KEY from the environment
LEADER=$("$CTL" --endpoints="$EPS" endpoint status -w simple | awk -F', ' '$5 == "true" { print $1 }')
L=${LEADER%:2379}; L=${L##*.}
[ -n "$L" ] || { echo "rotate-certs-ssh.sh: no leader found" >&2; exit 1; }
ORDER="$(for n in 1 2 3; do [ "$n" = "$L" ] || printf '%s ' "$n"; done)$L"
for n in $ORDER; do
  d="$LAB/hosts/node$n/etc/ssl/etcd/ssl"
  FILES="member-node$n.pem member-node$n-key.pem admin-node$n.pem admin-node$n-key.pem"
  for f in $FILES; do spawn copy_to "$n" "$DIR/$f" "$d/$f.new"; done; wait_all
  on "$n" "cd $d && for f in $FILES; do cp -p \$f \$f.bak-$STAMP && mv -f \$f.new \$f; done \
    && $LAB/hosts/node$n/bin/etcd-service restart >/dev/null"
  i=0
  until "$CTL" --endpoints="$EPS" endpoint health >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.1
  done
  want=$(openssl x509 -noout -serial -in "$DIR/member-node$n.pem")
  got=$(on "$n" "openssl s_client -connect ${NET}$n:2379 -CAfile $d/ca.pem -cert $d/admin-node$n.pem \
    -key $d/admin-node$n-key.pem </dev/null 2>/dev/null | openssl x509 -noout -serial")
  [ "$want" = "$got" ] || { echo "rotate-certs-ssh.sh: node$n presents $got, not $want" >&2; exit 1; }
done
