# Stubs of the native module: it holds the whole API, which keepalive
# re-exports as it is; the documented stubs are in __init__.pyi.
from keepalive import (
    Settings as Settings,
    Status as Status,
    __version__ as __version__,
    disable as disable,
    enable as enable,
    get as get,
    set_deadline as set_deadline,
    set_system_defaults as set_system_defaults,
    set_user_timeout as set_user_timeout,
    socket_options as socket_options,
    status as status,
    system_defaults as system_defaults,
)

# pyo3 gives the module an __all__ of what it adds; the private _<name>_py39
# functions (CPython 3.10+ only) are not in it, so stubtest does not ask for them.
__all__ = [
    "Settings",
    "Status",
    "__version__",
    "disable",
    "enable",
    "get",
    "set_deadline",
    "set_system_defaults",
    "set_user_timeout",
    "socket_options",
    "status",
    "system_defaults",
]
