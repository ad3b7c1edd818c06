"""Turn TCP keepalive on, tune it, and read it back, on any socket."""

from typing import Protocol, Union, final

__all__ = [
    "Settings",
    "__version__",
    "disable",
    "enable",
    "get",
    "set_user_timeout",
    "system_defaults",
]

__version__: str

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

#: What every function accepts: a ``socket.socket``, an ``int`` descriptor,
#: or any object with ``fileno()`` (asyncio's and trio's sockets).
_SocketLike = Union[int, _HasFileno]

@final
class Settings:
    """A socket's keepalive state, read back from the kernel. Immutable;
    compares and hashes by value."""

    @property
    def enabled(self) -> bool:
        """Whether ``SO_KEEPALIVE`` is on."""
    @property
    def idle(self) -> int:
        """``TCP_KEEPIDLE``: seconds of silence before the first probe."""
    @property
    def interval(self) -> int:
        """``TCP_KEEPINTVL``: seconds between unanswered probes."""
    @property
    def count(self) -> int:
        """``TCP_KEEPCNT``: unanswered probes before the peer is declared dead."""
    @property
    def user_timeout_ms(self) -> int:
        """``TCP_USER_TIMEOUT`` in milliseconds; 0 means the kernel's default."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

def enable(
    sock: _SocketLike,
    *,
    idle: int | None = None,
    interval: int | None = None,
    count: int | None = None,
) -> None:
    """Turn keepalive on (``SO_KEEPALIVE``) and apply the given values, all or
    nothing; ``None`` leaves a value unchanged.

    ``idle`` and ``interval`` are seconds, 1..32767 (``TCP_KEEPIDLE``,
    ``TCP_KEEPINTVL``); ``count`` is 1..127 (``TCP_KEEPCNT``).

    Raises ``TypeError`` for a wrong type, ``ValueError`` for a value out of
    range, ``OSError`` (``errno`` set: ``EBADF``, ``ENOTSOCK``,
    ``ENOPROTOOPT``/``EOPNOTSUPP`` for a socket that is not TCP) when the
    kernel refuses; then nothing has changed.
    """

def disable(sock: _SocketLike) -> None:
    """Turn keepalive off (``SO_KEEPALIVE`` = 0); the tuned values stay."""

def get(sock: _SocketLike) -> Settings:
    """Read the socket's keepalive state back from the kernel."""

def set_user_timeout(sock: _SocketLike, ms: int) -> None:
    """Set ``TCP_USER_TIMEOUT``: how long sent data may stay unacknowledged
    before the connection is dropped, in milliseconds 0..2147483647; 0
    restores the kernel's default."""

def system_defaults() -> Settings:
    """The system-wide defaults a new socket starts with (Linux:
    ``/proc/sys/net/ipv4/tcp_keepalive_*``); ``enabled`` is False and
    ``user_timeout_ms`` 0."""
