"""etcdops: declarative, reviewable maintenance for etcd clusters on ordinary hosts."""

__version__ = "0.1.0"
