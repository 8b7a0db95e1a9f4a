#!/bin/sh
# bench/hand/scale-out.sh as an operator runs it on real hosts: the same commands, each on its host
# through OpenSSH from a control machine (member add and promote on node1, etcd.env and the start
# on node4). A `make bench` reference (no target). Usage: scale-out-ssh.sh LAB_ROOT NET
set -eu
LAB=$1; NET=$2; H="$LAB/hosts/node4"
. "$(dirname "$0")/node4-env.sh"
on() { n=$1; shift; ssh -q -p 2222 -i "$LAB/ssh/id_ed25519" -o UserKnownHostsFile="$LAB/ssh/known_hosts" \
  -o StrictHostKeyChecking=yes -o BatchMode=yes "root@${NET}$n" "$@"; }
CTL="$LAB/hosts/node1/bin/etcdctl --endpoints=${SCHEME:-http}://${NET}1:2379 $(node1_tls)"
out=$(on 1 "$CTL member add node4 --learner --peer-urls=${SCHEME:-http}://${NET}4:2380")
cluster=$(printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
node4_env "$cluster" | on 4 "cat > $H/etc/etcd/etcd.env && $H/bin/etcd-service start >/dev/null"
on 1 "id=\$($CTL member list | awk -F', ' -v u=${SCHEME:-http}://${NET}4:2380 '\$4 == u {print \$1}'); i=0
until $CTL member promote \"\$id\" >/dev/null 2>&1; do i=\$((i + 1)); [ \$i -lt 600 ] || exit 1; sleep 0.2; done"
