"""Step kinds: one module each, named as the kind (`etcd_defrag.py` is `etcd_defrag`), each owning
its spec, its plan (the exact commands, built and quoted in Python) and its execution (output
parsed in Python). What they share: base.py (the kind's shape), spec.py (typed specs),
etcd_reads.py (reading a running etcd), files.py (files on a host), copying.py (copies).
The registry of kinds is registry.py.
"""
