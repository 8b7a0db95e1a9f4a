"""The local lab: real sshd + real etcd per loopback address, under .lab/."""
