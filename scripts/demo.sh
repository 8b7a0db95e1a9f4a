#!/usr/bin/env bash
# The demo: a real 3-member lab, a snapshot, more writes, then a reviewed restore
# that brings back exactly what the snapshot held.
set -euo pipefail
cd "$(dirname "$0")/.."
export ETCDOPS_HOME=${ETCDOPS_HOME:-$PWD}  # the demo's runs and snapshots stay beside its lab
etcdops=${ETCDOPS:-.venv/bin/etcdops}  # the test suite runs this script with its own etcdops and loopback /24
net=${ETCDOPS_LAB_NET:-127.0.1.}
# the lab runs TLS with client-certificate auth (kubespray's layout): etcdctl uses node1's admin certificate
ssl=.lab/hosts/node1/etc/ssl/etcd/ssl
ctl() { .lab/hosts/node1/bin/etcdctl --endpoints="https://${net}1:2379,https://${net}2:2379,https://${net}3:2379" \
  --cacert="$ssl/ca.pem" --cert="$ssl/admin-node1.pem" --key="$ssl/admin-node1-key.pem" "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "etcdops lab up (3 members, 2 spares; real etcd + sshd on ${net}N)"
$etcdops lab up
say "etcdops status --inventory lab"
$etcdops status --inventory lab
say "write sample keys before the snapshot"
for i in 1 2 3; do ctl put "/demo/before-$i" "written before the snapshot" >/dev/null; done
ctl get /demo/ --prefix --keys-only
say "etcdops run snapshot --inventory lab --yes"
$etcdops run snapshot --inventory lab --yes
say "write more keys after the snapshot"
for i in 1 2 3; do ctl put "/demo/after-$i" "written after the snapshot" >/dev/null; done
ctl get /demo/ --prefix --keys-only
say "etcdops plan restore --inventory lab -p snapshot=latest   (the reviewed dry run)"
$etcdops plan restore --inventory lab -p snapshot=latest
say "etcdops run restore --inventory lab -p snapshot=latest --yes"
$etcdops run restore --inventory lab -p snapshot=latest --yes
say "after the restore: keys written before the snapshot are back, later ones are gone"
ctl get /demo/ --prefix --keys-only
if ctl get /demo/after-1 --print-value-only | grep -q .; then echo "demo FAILED: /demo/after-1 survived" >&2; exit 1; fi
ctl get /demo/before-1 --print-value-only | grep -q . || { echo "demo FAILED: /demo/before-1 missing" >&2; exit 1; }
say "the old data dirs were moved aside, not deleted"
ls -d .lab/hosts/node*/var/lib/etcd.pre-restore-* | tail -n 3
say "demo done; the lab keeps running: etcdops status --inventory lab, then 'make lab-down'"
