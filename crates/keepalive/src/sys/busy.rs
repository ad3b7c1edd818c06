//! Which option bounds a busy connection (data sent and unacknowledged,
//! which keepalive never probes) on each Unix, in which unit: what the
//! portable user timeout ([`Config::user_timeout`](crate::Config::user_timeout),
//! and the deadline's busy half) is set with. The arithmetic, and how each
//! system counts and checks its bound, are in `platform.rs`.

use super::platform::Unit;

/// A system's busy-bound socket option (at `IPPROTO_TCP`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Busy {
    pub(super) option: libc::c_int,
    pub(super) name: &'static str,
    pub(super) unit: Unit,
}

/// Linux and Android: `TCP_USER_TIMEOUT`, milliseconds (`linux/tcp.h`).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
pub(super) const BUSY: Option<Busy> = Some(Busy {
    option: libc::TCP_USER_TIMEOUT,
    name: "TCP_USER_TIMEOUT",
    unit: Unit::Millis,
});

/// macOS, iOS and the other Apple systems: `TCP_RXT_CONNDROPTIME`, whole
/// seconds, "time after which tcp retransmissions will be stopped and the
/// connection will be dropped". The libc crate lacks it; the value is XNU's
/// `bsd/netinet/tcp.h` (`#define TCP_RXT_CONNDROPTIME 0x80`), and
/// `tcp_ctloutput()` stores it as `optval * TCP_RETRANSHZ`
/// (`bsd/netinet/tcp_usrreq.c`), refusing a negative one with `EINVAL`.
#[cfg(target_vendor = "apple")]
pub(super) const BUSY: Option<Busy> = Some(Busy {
    option: 0x80,
    name: "TCP_RXT_CONNDROPTIME",
    unit: Unit::Secs,
});

/// FreeBSD 14 and later: `TCP_MAXUNACKTIME` (68 in `sys/netinet/tcp.h`,
/// "maximum time without making progress (sec)"), whole seconds; older
/// kernels refuse it with `ENOPROTOOPT`.
#[cfg(target_os = "freebsd")]
pub(super) const BUSY: Option<Busy> = Some(Busy {
    option: libc::TCP_MAXUNACKTIME,
    name: "TCP_MAXUNACKTIME",
    unit: Unit::Secs,
});

/// NetBSD, OpenBSD, DragonFly and the rest: no per-socket bound on
/// retransmission (only the system-wide retransmission count). illumos and
/// Solaris have `TCP_ABORT_THRESHOLD` (milliseconds), not used: nothing
/// says that its zero means the system's default, as the portable zero does.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "fuchsia",
    target_vendor = "apple",
    target_os = "freebsd"
)))]
pub(super) const BUSY: Option<Busy> = None;
