from etcdops.runbook.loader import find_runbooks, load_runbook
from etcdops.runbook.model import Check, Param, Retry, Runbook, Step

__all__ = ["Check", "Param", "Retry", "Runbook", "Step", "find_runbooks", "load_runbook"]
