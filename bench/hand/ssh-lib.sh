# Sourced by the hand scripts that work over OpenSSH, as an operator does: `on N CMD` runs CMD on lab
# host nodeN through its sshd, with the lab's key and known_hosts (strict host-key checking), and
# `copy_to N SRC DEST` / `copy_from N SRC DEST` copy with scp. Needs LAB and NET.
SSH_OPTS="-q -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$LAB/ssh/known_hosts -i $LAB/ssh/id_ed25519"
on() { n=$1; shift; ssh $SSH_OPTS -p 2222 "root@${NET}$n" "$*"; }
copy_to() { scp $SSH_OPTS -P 2222 "$2" "root@${NET}$1:$3"; }
copy_from() { scp $SSH_OPTS -P 2222 "root@${NET}$1:$2" "$3"; }
# `spawn CMD` starts CMD in the background; `wait_all` waits for every one of them and fails when any
# failed (a plain `wait` returns 0 whatever its jobs did: a copy that failed would pass unseen)
PIDS=""
spawn() { "$@" & PIDS="$PIDS $!"; }
wait_all() { rc=0; for p in $PIDS; do wait "$p" || rc=1; done; PIDS=""; return $rc; }
