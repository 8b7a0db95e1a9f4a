#!/bin/sh
# Hand-run snapshot over OpenSSH, as an operator does it: save on the member, check it there
# (etcdutl snapshot status), scp it to the control node. Usage: snapshot-ssh.sh LAB_ROOT NET DEST
set -eu
LAB=$1; NET=$2; DEST=$3
. "$(dirname "$0")/ssh-lib.sh"
H="$LAB/hosts/node1"
on 1 "$H/bin/etcdctl --endpoints=${SCHEME:-http}://${NET}1:2379 --command-timeout=600s snapshot save $H/var/lib/hand.db >/dev/null && $H/bin/etcdutl snapshot status $H/var/lib/hand.db >/dev/null"
copy_from 1 "$H/var/lib/hand.db" "$DEST"
on 1 "rm -f $H/var/lib/hand.db"
