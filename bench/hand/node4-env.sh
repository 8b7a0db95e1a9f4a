# Sourced by the scale-out hand scripts: node4_env CLUSTER prints the etcd.env that makes lab host
# node4 join the cluster whose ETCD_INITIAL_CLUSTER (member add's answer) is CLUSTER. Needs LAB, NET.
node4_env() {
  cat <<ENV
ETCD_NAME=node4
ETCD_DATA_DIR=$LAB/hosts/node4/var/lib/etcd
ETCD_LISTEN_PEER_URLS=${SCHEME:-http}://${NET}4:2380
ETCD_LISTEN_CLIENT_URLS=${SCHEME:-http}://${NET}4:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=${SCHEME:-http}://${NET}4:2380
ETCD_ADVERTISE_CLIENT_URLS=${SCHEME:-http}://${NET}4:2379
ETCD_INITIAL_CLUSTER=$1
ETCD_INITIAL_CLUSTER_STATE=existing
ENV
}
