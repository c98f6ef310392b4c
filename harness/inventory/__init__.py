"""The cluster inventory: load a cluster file, or convert an Ansible inventory or
`vagrant ssh-config` output, into one validated, frozen model (docs/inventory.md)."""

from ._checks import InventoryProblems
from ._load import inventory_from_dict, load_inventory
from ._model import (
    DATABASE_KINDS,
    DIRECTORY_KINDS,
    HYPERVISOR_KINDS,
    PHASES,
    ROLES,
    SERVICE_MANAGERS,
    STORAGE_KINDS,
    TRANSPORTS,
    Database,
    Directory,
    Domain,
    Host,
    Hypervisor,
    Inventory,
    LatencyBound,
    Moodle,
    MoodleAccounts,
    Service,
    Slo,
    SshConfig,
    Storage,
    Vip,
)
from ._write import dump_inventory, inventory_to_yaml, write_inventory
from .ansible import DEFAULT_ROLE_MAP, from_ansible
from .vagrant import from_vagrant_ssh_config, guess_roles

__all__ = [
    "DATABASE_KINDS",
    "DEFAULT_ROLE_MAP",
    "DIRECTORY_KINDS",
    "HYPERVISOR_KINDS",
    "PHASES",
    "ROLES",
    "SERVICE_MANAGERS",
    "STORAGE_KINDS",
    "TRANSPORTS",
    "Database",
    "Directory",
    "Domain",
    "Host",
    "Hypervisor",
    "Inventory",
    "InventoryProblems",
    "LatencyBound",
    "Moodle",
    "MoodleAccounts",
    "Service",
    "Slo",
    "SshConfig",
    "Storage",
    "Vip",
    "dump_inventory",
    "from_ansible",
    "from_vagrant_ssh_config",
    "guess_roles",
    "inventory_from_dict",
    "inventory_to_yaml",
    "load_inventory",
    "write_inventory",
]
