"""The native module of the ``keepalive`` package: its whole API, which
``keepalive`` re-exports as it is. These stubs are its typed, documented
face; ``mypy.stubtest`` (make test-py) holds them to the module."""

from typing import Final, Protocol, Union, final

# The public names, listed here only: ``keepalive`` re-exports this list, and
# stubtest checks it against the module's own (pyo3 makes it from what the
# module adds).
__all__ = [
    "__version__",
    "MAX_IDLE_SECS",
    "MAX_INTERVAL_SECS",
    "MAX_COUNT",
    "MAX_USER_TIMEOUT_MS",
    "MIN_DEADLINE_SECS",
    "MAX_DEADLINE_SECS",
    "MIN_MAX_IDLE_SECS",
    "MAX_MAX_IDLE_SECS",
    "Settings",
    "Status",
    "enable",
    "disable",
    "get",
    "set_user_timeout",
    "system_defaults",
    "set_deadline",
    "status",
    "set_system_defaults",
    "socket_options",
]

__version__: str

# The limits of the values (``keepalive::limits`` in the Rust core), which
# every range below is made of.

#: Largest ``idle``, seconds (``TCP_KEEPIDLE``; the smallest is 1).
MAX_IDLE_SECS: Final[int]
#: Largest ``interval``, seconds (``TCP_KEEPINTVL``; the smallest is 1).
MAX_INTERVAL_SECS: Final[int]
#: Largest ``count``, probes (``TCP_KEEPCNT``; the smallest is 1); also the
#: most ``probes`` a deadline may spend.
MAX_COUNT: Final[int]
#: Largest ``TCP_USER_TIMEOUT``, milliseconds (the smallest is 0: the
#: kernel's default).
MAX_USER_TIMEOUT_MS: Final[int]
#: Shortest dead-peer deadline, seconds.
MIN_DEADLINE_SECS: Final[int]
#: Longest dead-peer deadline, seconds, with enough probes (its user
#: timeout must fit ``MAX_USER_TIMEOUT_MS``); less with fewer probes, as
#: idle and interval stay within theirs.
MAX_DEADLINE_SECS: Final[int]
#: Shortest ``max_idle``, seconds.
MIN_MAX_IDLE_SECS: Final[int]
#: Longest ``max_idle``, seconds.
MAX_MAX_IDLE_SECS: Final[int]

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
    @property
    def dead_after_ms(self) -> int:
        """Milliseconds after the peer was last heard from that an idle
        connection with keepalive on is declared dead, by the kernel's rule:
        ``idle + interval * count`` without a user timeout; with one (Linux),
        the user timeout replaces ``count``: the first probe time at or past it
        (2/1/3 with 3500 ms dies at 4000 ms after two probes, not at 5000)."""
    @property
    def dead_after_busy_ms(self) -> int | None:
        """Milliseconds a connection with data unacknowledged lives on once the
        peer is silent: the user timeout, counted by the kernel from the first
        retransmission (one retransmission timeout, at least 200 ms, after the
        oldest unacknowledged data was sent); ``None`` without one (then
        ``tcp_retries2`` decides, about 924.6 s by default)."""
    @property
    def probes_until_dead(self) -> int:
        """Unanswered probes an idle connection sends before it is declared dead."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Status:
    """A connection's liveness, read from the kernel (``TCP_INFO``) by
    ``status()``. Immutable; compares by value; times in milliseconds."""

    @property
    def last_ack_ms(self) -> int:
        """Milliseconds since the peer's last ACK."""
    @property
    def last_data_ms(self) -> int:
        """Milliseconds since data was last received."""
    @property
    def probes_out(self) -> int:
        """Keepalive probes sent and unanswered."""
    @property
    def unacked(self) -> int:
        """Segments sent and not yet acknowledged."""
    @property
    def dead_in_ms(self) -> int | None:
        """Milliseconds until the kernel declares the peer dead if nothing more
        is heard; ``None`` where no bound is in force (keepalive off on an idle
        connection, or not a connection: listening, connecting, closed)."""
    @property
    def state(self) -> str:
        """The TCP state: ``"ESTABLISHED"``, ``"LISTEN"``, ``"CLOSE_WAIT"``, ..."""
    @property
    def phase(self) -> str:
        """Which timer governs: ``"idle"``, ``"probing"``, ``"busy"`` (data
        unacknowledged), ``"zero-window"`` (data waiting behind the peer's
        closed window: with a user timeout Linux aborts even a peer that
        answers), ``"unwatched"`` (keepalive off, nothing in flight) or
        ``"not-connected"``."""
    @property
    def settings(self) -> Settings:
        """The keepalive settings the prediction is made from."""
    def __eq__(self, value: object, /) -> bool: ...

def enable(
    sock: _SocketLike,
    *,
    idle: int | None = None,
    interval: int | None = None,
    count: int | None = None,
) -> None:
    """Turn keepalive on (``SO_KEEPALIVE``) and apply the given values, all or
    nothing; ``None`` leaves a value unchanged.

    ``idle`` and ``interval`` are seconds, 1..``MAX_IDLE_SECS`` and
    1..``MAX_INTERVAL_SECS`` (``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``);
    ``count`` is 1..``MAX_COUNT`` (``TCP_KEEPCNT``).

    Raises ``TypeError`` for a wrong type, ``ValueError`` for a value out of
    range, ``OSError`` (``errno`` set: ``EBADF``, ``ENOTSOCK``,
    ``ENOPROTOOPT``/``EOPNOTSUPP`` for a socket that is not TCP) when the
    kernel refuses; then nothing has changed.
    """

def disable(sock: _SocketLike) -> None:
    """Turn keepalive off (``SO_KEEPALIVE`` = 0); the tuned values stay."""

def get(sock: _SocketLike) -> Settings:
    """Read the socket's keepalive state back from the kernel, at every
    call. ``Settings`` being an immutable value, the object may be one
    returned before for the same values (``is`` can tell, ``==`` cannot)."""

def set_user_timeout(sock: _SocketLike, ms: int) -> None:
    """Set ``TCP_USER_TIMEOUT``: how long sent data may stay unacknowledged
    before the connection is dropped, in milliseconds 0..``MAX_USER_TIMEOUT_MS``; 0
    restores the kernel's default."""

def set_deadline(
    sock: _SocketLike, seconds: int, *, probes: int | None = None, max_idle: int | None = None
) -> None:
    """Declare the peer dead about ``seconds`` after it was last heard from,
    whether the connection is idle (keepalive probes) or busy
    (retransmissions): sets ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``,
    ``TCP_KEEPCNT`` and ``TCP_USER_TIMEOUT`` together, all or nothing, with
    idle + interval * count = seconds and a user timeout of ``seconds``.

    ``seconds`` is at least ``MIN_DEADLINE_SECS``; at most ``MAX_IDLE_SECS``
    + probes x ``MAX_INTERVAL_SECS`` (131068 with the default probes), and
    never more than ``MAX_DEADLINE_SECS``. ``probes`` (default 3, fewer
    where ``seconds`` is under 4) is how many unanswered probes it takes,
    1..min(``MAX_COUNT``, seconds - 1). On a listener, accepted connections
    inherit it. An MPTCP socket, which has no user timeout, is refused
    (``OSError``) with nothing changed.

    ``max_idle`` (``MIN_MAX_IDLE_SECS``..``MAX_MAX_IDLE_SECS`` seconds) is
    the silence a NAT, firewall or
    load balancer on the path tolerates before it forgets the connection
    (AWS NLB 350 s, Azure LB 240 s): the split then keeps a healthy
    connection from being silent that long even when one probe or its
    answer is lost, and the deadline still holds; with no ``probes`` given
    it may use more than 3. Values that cannot both hold raise
    ``ValueError`` naming both::

        >>> keepalive.set_deadline(sock, 900, max_idle=350)   # 271/37/17

    Raises ``TypeError``, ``ValueError`` (naming the range) or ``OSError``
    as ``enable`` does; then nothing has changed.
    """

def status(sock: _SocketLike) -> Status:
    """Read a connection's liveness from the kernel (``TCP_INFO``): time since
    the peer's last ACK and data, probes out, unacknowledged segments, and
    how long until the peer is declared dead if nothing more is heard."""

def set_system_defaults(
    *,
    idle: int | None = None,
    interval: int | None = None,
    count: int | None = None,
) -> None:
    """Set the system-wide defaults of the calling process's network namespace
    (Linux: ``/proc/sys/net/ipv4/tcp_keepalive_time``, ``_intvl``,
    ``_probes``), which every socket that turns keepalive on without values
    of its own gets. All or nothing; the same ranges as ``enable``; ``None``
    leaves a value unchanged. ``OSError`` (``EACCES``) without root."""

def system_defaults() -> Settings:
    """The system-wide defaults a new socket starts with (Linux:
    ``/proc/sys/net/ipv4/tcp_keepalive_*``); ``enabled`` is False and
    ``user_timeout_ms`` 0."""

def socket_options(
    *,
    idle: int | None = None,
    interval: int | None = None,
    count: int | None = None,
    user_timeout_ms: int | None = None,
    deadline: int | None = None,
    max_idle: int | None = None,
) -> list[tuple[int, int, int]]:
    """The ``(level, option, value)`` triples that stand for these settings on
    this platform, for clients that make the socket themselves and take
    options to set on it before connecting: urllib3's and requests'
    ``socket_options``, httpx's ``HTTPTransport(socket_options=...)``, and
    (converted: ``{opt: value for level, opt, value in ... if level ==
    socket.IPPROTO_TCP}``) redis-py's ``socket_keepalive_options``.

    The same values and ranges as ``enable`` (``idle``, ``interval``,
    ``count``) and ``set_user_timeout`` (``user_timeout_ms``), or
    ``deadline`` alone: ``set_deadline``'s split (idle, interval, count and
    the user timeout together, 3 probes), shaped by ``max_idle`` (which
    goes with ``deadline`` only) as ``set_deadline`` does. The list holds the options given,
    in the order ``enable`` sets them (``TCP_USER_TIMEOUT``, then the idle
    time, interval and count), and always ends with
    ``(SOL_SOCKET, SO_KEEPALIVE, 1)``; the idle time is ``TCP_KEEPIDLE``
    (``TCP_KEEPALIVE`` on macOS). On Linux::

        >>> keepalive.socket_options(deadline=60)
        [(6, 18, 60000), (6, 4, 30), (6, 5, 10), (6, 6, 3), (1, 9, 1)]

    Everything is checked before anything is returned: ``TypeError`` for a
    wrong type, ``ValueError`` for a value out of range or for ``deadline``
    together with any of the others, ``OSError`` (``EOPNOTSUPP``) for an
    option this platform lacks (``user_timeout_ms`` where the system has no
    bound on retransmission: DragonFly, NetBSD, OpenBSD, illumos).
    """
