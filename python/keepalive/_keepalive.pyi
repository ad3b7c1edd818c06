# Stubs of the native module; the documented API is in __init__.pyi.
from keepalive import (
    Settings as Settings,
    __version__ as __version__,
    disable as disable,
    get as get,
    set_user_timeout as set_user_timeout,
    system_defaults as system_defaults,
)

def enable(
    sock: object, idle: int | None, interval: int | None, count: int | None, /
) -> None:
    """Positional form of ``keepalive.enable``, which adds the keywords."""
