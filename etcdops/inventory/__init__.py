from etcdops.inventory.loader import load_inventory, resolve_inventory
from etcdops.inventory.model import EtcdConfig, Host, Inventory

__all__ = ["EtcdConfig", "Host", "Inventory", "load_inventory", "resolve_inventory"]
