# Sourced by the scale-out hand scripts: node4_env CLUSTER prints the etcd.env that makes lab host
# node4 join the cluster whose ETCD_INITIAL_CLUSTER (member add's answer) is CLUSTER. Needs LAB, NET;
# with SCHEME=https (the TLS lab) it adds node4's certificates, in kubespray's layout, as the lab's.
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
  if [ "${SCHEME:-http}" = https ]; then
    ssl=$LAB/hosts/node4/etc/ssl/etcd/ssl
    cat <<ENV
ETCD_TRUSTED_CA_FILE=$ssl/ca.pem
ETCD_CERT_FILE=$ssl/member-node4.pem
ETCD_KEY_FILE=$ssl/member-node4-key.pem
ETCD_CLIENT_CERT_AUTH=true
ETCD_PEER_TRUSTED_CA_FILE=$ssl/ca.pem
ETCD_PEER_CERT_FILE=$ssl/member-node4.pem
ETCD_PEER_KEY_FILE=$ssl/member-node4-key.pem
ETCD_PEER_CLIENT_CERT_AUTH=true
ENV
  fi
}

# node1_tls prints etcdctl's certificate flags for node1's admin certificate on the TLS lab (nothing
# on plaintext): for etcdctl run over ssh, where the caller's ETCDCTL_* environment does not reach.
node1_tls() {
  if [ "${SCHEME:-http}" = https ]; then
    ssl=$LAB/hosts/node1/etc/ssl/etcd/ssl
    echo "--cacert=$ssl/ca.pem --cert=$ssl/admin-node1.pem --key=$ssl/admin-node1-key.pem"
  fi
}
