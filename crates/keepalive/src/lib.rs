//! Turn TCP keepalive on, tune it, and read it back, on any socket.
//!
//! # What keepalive does
//!
//! A TCP connection that carries no data sends no packets. If the peer loses
//! power or its cable is pulled, nothing tells the other side: it believes the
//! connection is alive until it next sends something. Keepalive makes the
//! kernel check:
//!
//! - **idle** (`TCP_KEEPIDLE`): once the connection has been silent this long,
//!   the kernel sends a *probe*, a segment with no payload and the ACK flag
//!   set. A live peer answers it with an ACK.
//! - **interval** (`TCP_KEEPINTVL`): an unanswered probe is repeated after
//!   this long.
//! - **count** (`TCP_KEEPCNT`): after this many unanswered probes the
//!   connection is declared dead; the next `read`/`poll` reports
//!   `ETIMEDOUT` ("Connection timed out").
//!
//! A dead peer is therefore declared **idle + interval × count** after the last
//! ACK it sent. With the Linux defaults (7200 s, 75 s, 9 probes) that is
//! 2 h 11 min 15 s, which is why programs tune it per socket. A peer that
//! rebooted answers the first probe with RST, and the connection fails at once
//! with `ECONNRESET`.
//!
//! Keepalive only watches an *idle* connection. When data is in flight and
//! unacknowledged, the kernel retransmits instead of probing, for up to
//! `tcp_retries2` (about 15 minutes). `TCP_USER_TIMEOUT`
//! ([`set_user_timeout`]) bounds that: the connection is dropped when sent
//! data stays unacknowledged that long. And on Linux a set user timeout also
//! *replaces* `TCP_KEEPCNT` for an idle connection ([`Settings::dead_after`]
//! has the rule, and the trap it sets).
//!
//! # One promise: the dead-peer deadline
//!
//! What most programs want is one promise: *tell me within D seconds that
//! my peer is gone*, idle or busy. [`set_deadline`] sets all four options so
//! that the kernel keeps it (the split and its trade-offs: [`Deadline`]), and
//! [`status`] says how long until the kernel gives up on a silent peer:
//!
//! ```
//! use std::time::Duration;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let sock = std::net::TcpStream::connect(listener.local_addr()?)?;
//!
//! keepalive::set_deadline(&sock, Duration::from_secs(60))?;   // dead 60 s after last heard from
//!
//! let s = keepalive::get(&sock)?;
//! assert_eq!((s.idle.as_secs(), s.interval.as_secs(), s.count), (30, 10, 3));
//! assert_eq!(s.user_timeout, Duration::from_secs(60));
//! assert_eq!(s.dead_after(), Duration::from_secs(60));            // idle, by the kernel's rule
//! assert_eq!(s.dead_after_busy(), Some(Duration::from_secs(60))); // busy
//!
//! let st = keepalive::status(&sock)?;                       // from TCP_INFO
//! println!("{} probes out, dead in {:?} if the peer stays silent", st.probes_out, st.dead_in);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Through NATs, firewalls and load balancers: `max_idle`
//!
//! Keepalive's other job: the boxes between the two ends forget a
//! connection that stays silent (AWS NLB and NAT gateways after 350 s,
//! Azure's load balancer after 4 minutes), and its next packet is dropped
//! or reset. [`Deadline::max_idle`] shapes the deadline's split so that a
//! healthy connection is never silent that long, even when one probe is
//! lost, and the deadline still holds; [`Settings::kept_through`] tells
//! whether a socket's settings do:
//!
//! ```
//! use std::time::Duration;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let sock = std::net::TcpStream::connect(listener.local_addr()?)?;
//!
//! let d = keepalive::Deadline::new(Duration::from_secs(900)).max_idle(Duration::from_secs(350));
//! keepalive::set(&sock, &d.config()?)?;                      // 271/37/17, dead at 900 s
//! assert!(keepalive::get(&sock)?.kept_through(Duration::from_secs(350)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The four knobs
//!
//! ```
//! use std::time::Duration;
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let sock = std::net::TcpStream::connect(listener.local_addr()?)?;
//!
//! keepalive::set(&sock, &keepalive::Config::new()
//!     .idle(Duration::from_secs(30))
//!     .interval(Duration::from_secs(7))
//!     .count(4))?;
//! keepalive::set_user_timeout(&sock, Duration::from_millis(58_000))?;
//!
//! let s = keepalive::get(&sock)?;       // read back from the kernel
//! assert!(s.enabled);
//! assert_eq!((s.idle.as_secs(), s.interval.as_secs(), s.count), (30, 7, 4));
//! assert_eq!(s.dead_after(), Duration::from_secs(30 + 7 * 4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every function takes anything that is a socket descriptor
//! ([`AsFd`](std::os::fd::AsFd) on Unix, `AsSocket` on Windows):
//! `std::net::TcpStream` and `TcpListener`, `socket2::Socket`, tokio's
//! sockets, and raw descriptors through [`BorrowedFd`](std::os::fd::BorrowedFd).
//! Settings on a listening socket are inherited by the sockets it accepts:
//! `examples/tokio_server.rs` sets a deadline once on a tokio listener and
//! reports each client's probes through [`status`] until a vanished one is
//! declared dead (`cargo run -p keepalive --example tokio_server`).
//!
//! Programs that do not hold the socket (an HTTP client's connection pool,
//! a C library's connect callback) get the same settings as
//! `setsockopt(2)` arguments from [`socket_options`].
//!
//! # Guarantees
//!
//! - Every value is validated before any system call: idle and interval
//!   1..=32767 seconds, count 1..=127 (Linux's `MAX_TCP_KEEPIDLE`,
//!   `MAX_TCP_KEEPINTVL`, `MAX_TCP_KEEPCNT`); a fractional second is
//!   invalid, never truncated.
//! - [`set`] (and [`set_deadline`]) is all-or-nothing against everything the
//!   kernel itself refuses: a socket of the wrong kind (UDP, Unix, a pipe, a
//!   closed descriptor, MPTCP for a user timeout) is refused before anything
//!   changes. Where a security policy (seccomp, a cgroup BPF hook, an LSM)
//!   refuses one option midway, keepalive stays off and the error names the
//!   refused option; the options applied before it may stay.
//! - Converted into [`std::io::Error`], an OS refusal keeps the kernel's
//!   errno ([`raw_os_error`](std::io::Error::raw_os_error)).
//! - The kernel is the only source of truth: [`get`] reads every value back.
//!
//! # Platforms
//!
//! | | Linux, Android | macOS, iOS | FreeBSD | DragonFly, NetBSD, illumos | Windows |
//! |---|---|---|---|---|---|
//! | idle | `TCP_KEEPIDLE` | `TCP_KEEPALIVE` | `TCP_KEEPIDLE` | `TCP_KEEPIDLE` | `TCP_KEEPIDLE` (10 1709+), else `SIO_KEEPALIVE_VALS` |
//! | interval | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` (10 1709+), else `SIO_KEEPALIVE_VALS` |
//! | count | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` (10 1703+); with `SIO_KEEPALIVE_VALS` fixed at 10, the interval rescaled |
//! | user timeout (busy bound) | `TCP_USER_TIMEOUT` (ms) | `TCP_RXT_CONNDROPTIME` (s) | `TCP_MAXUNACKTIME` (s, 14+) | unsupported | `TCP_MAXRTMS` (ms, 10 1607+), else `TCP_MAXRT` (s) |
//! | [`set_deadline`] | `TCP_KEEP*` + `TCP_USER_TIMEOUT` | `TCP_KEEP*` + `TCP_RXT_CONNDROPTIME` | `TCP_KEEP*` + `TCP_MAXUNACKTIME` | unsupported | `TCP_KEEP*` or `SIO_KEEPALIVE_VALS` + `TCP_MAXRTMS` or `TCP_MAXRT` |
//! | inherited on accept | everything | nothing | `TCP_KEEP*` only | per system | not documented |
//! | read back ([`get`]) | every value | every value | every value | every value | unsupported |
//! | [`status`] | `TCP_INFO` | unsupported | unsupported | unsupported | unsupported |
//! | [`socket_options`] (no socket) | all five | all five | all five | no user timeout | all five (10 1709+) |
//! | [`system_defaults`] | `/proc/sys/net/ipv4/tcp_keepalive_*` | `sysctl net.inet.tcp.keep*` | `sysctl net.inet.tcp.keep*` | DragonFly: `sysctl net.inet.tcp.keep*`; others unsupported | documented 7200 s / 1 s / 10 |
//! | [`set_system_defaults`] | `/proc/sys/net/ipv4/tcp_keepalive_*` | unsupported | unsupported | unsupported | unsupported |
//! | all-or-nothing [`set`] | first call reveals the socket kind, `SO_KEEPALIVE` last | old values read first, restored on refusal | same as macOS | same as macOS | kind checked first (`SO_TYPE`); no read-back to restore |
//!
//! Linux is the platform this crate is tested on; the others are compiled
//! and linted on every change (`make check-platforms`), and return
//! [`Error::Unsupported`] where an option does not exist. What each system's
//! deadline does differently: [`set_deadline`], and `docs/deadline.md`.

#![warn(missing_docs)]

use std::time::Duration;

mod deadline;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod death;
pub mod env;
mod error;
mod field;
mod request;
mod restore;
mod rule;
mod status;
mod sys;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use deadline::Deadline;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use death::{Cause, Ending};
pub use error::{os_error_text, Error, Given, GivenText};
pub use field::Field;
pub use request::Request;
pub use restore::LeftChanged;
pub use status::{Phase, Status, TcpState};
/// What every function of the crate accepts: a socket descriptor, lent for
/// the duration of the call.
///
/// On Unix, anything that lends its file descriptor
/// ([`AsFd`](std::os::fd::AsFd)): `std::net::TcpStream` and `TcpListener`,
/// `socket2::Socket`, tokio's `TcpStream`/`TcpListener`/`TcpSocket`,
/// [`BorrowedFd`](std::os::fd::BorrowedFd) and
/// [`OwnedFd`](std::os::fd::OwnedFd) for raw descriptors. On Windows,
/// anything that lends its socket (`AsSocket`). A descriptor that is not a
/// TCP socket is refused at run time with the kernel's error (`ENOTSOCK`,
/// `ENOPROTOOPT`, ...), and nothing changes.
///
/// ```
/// use std::os::fd::{AsRawFd, BorrowedFd};
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::enable(&listener)?;                     // a std socket
///
/// let raw = listener.as_raw_fd();                    // a descriptor from elsewhere
/// // SAFETY: `listener` keeps the descriptor open for this borrow.
/// let fd = unsafe { BorrowedFd::borrow_raw(raw) };
/// assert!(keepalive::get(&fd)?.enabled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(unix)]
pub trait AsSocketDescriptor: std::os::fd::AsFd {}
#[cfg(unix)]
impl<T: std::os::fd::AsFd + ?Sized> AsSocketDescriptor for T {}

/// What every function of the crate accepts: on Windows, anything that lends
/// its socket (`AsSocket`).
#[cfg(windows)]
pub trait AsSocketDescriptor: std::os::windows::io::AsSocket {}
#[cfg(windows)]
impl<T: std::os::windows::io::AsSocket + ?Sized> AsSocketDescriptor for T {}

/// How long after it was armed a keepalive timer of `armed_for` has fired,
/// at the latest: the kernel's timer wheel files a timer up to an eighth of
/// its length late (and a jiffy), so `x + ceil(x / 8)` in whole seconds
/// (`armed_for` rounded up to one). The rule [`Settings::longest_silence`]
/// and [`Deadline::max_idle`] are built on, for tools that wait for a probe.
///
/// ```
/// # use std::time::Duration;
/// assert_eq!(keepalive::timer_fires_by(Duration::from_secs(30)), Duration::from_secs(34));
/// assert_eq!(keepalive::timer_fires_by(Duration::from_millis(500)), Duration::from_secs(2));
/// ```
pub fn timer_fires_by(armed_for: Duration) -> Duration {
    let secs = armed_for.as_secs() + u64::from(armed_for.subsec_nanos() > 0);
    Duration::from_secs(rule::late(secs))
}

/// Limits of the values, as the Linux kernel defines them.
///
/// ```
/// use keepalive::limits::*;
/// let max = keepalive::Config::from_secs(Some(MAX_IDLE_SECS), Some(MAX_INTERVAL_SECS), Some(MAX_COUNT));
/// assert!(max.is_ok());
/// assert!(keepalive::Config::from_secs(None, None, Some(MAX_COUNT + 1)).is_err());
/// ```
pub mod limits {
    /// Largest idle time in seconds (`MAX_TCP_KEEPIDLE`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = keepalive::Config::new().idle(Duration::from_secs(keepalive::limits::MAX_IDLE_SECS as u64));
    /// assert!(c.check().is_ok());
    /// ```
    pub const MAX_IDLE_SECS: i64 = 32767;
    /// Largest interval in seconds (`MAX_TCP_KEEPINTVL`).
    ///
    /// ```
    /// assert!(keepalive::Config::from_secs(None, Some(keepalive::limits::MAX_INTERVAL_SECS + 1), None).is_err());
    /// ```
    pub const MAX_INTERVAL_SECS: i64 = 32767;
    /// Largest probe count (`MAX_TCP_KEEPCNT`).
    ///
    /// ```
    /// assert!(keepalive::Config::new().count(keepalive::limits::MAX_COUNT as u32).check().is_ok());
    /// ```
    pub const MAX_COUNT: i64 = 127;
    /// Largest `TCP_USER_TIMEOUT` in milliseconds (the option is a C `int`).
    ///
    /// ```
    /// use keepalive::limits::MAX_USER_TIMEOUT_MS;
    /// assert!(keepalive::user_timeout_from_millis(MAX_USER_TIMEOUT_MS).is_ok());
    /// assert!(keepalive::user_timeout_from_millis(MAX_USER_TIMEOUT_MS + 1).is_err());
    /// ```
    pub const MAX_USER_TIMEOUT_MS: i64 = i32::MAX as i64;
    /// Shortest dead-peer deadline in seconds ([`Deadline`](crate::Deadline)):
    /// one second idle, one probe a second later.
    ///
    /// ```
    /// let c = keepalive::Deadline::from_secs(keepalive::limits::MIN_DEADLINE_SECS, None)?.config()?;
    /// assert_eq!((c.idle.unwrap().as_secs(), c.interval.unwrap().as_secs(), c.count), (1, 1, Some(1)));
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub const MIN_DEADLINE_SECS: i64 = 2;
    /// Longest dead-peer deadline in seconds: its user timeout must fit
    /// `TCP_USER_TIMEOUT`. With the default 3 probes the split allows
    /// 131068 s (idle and interval at their maximum); more probes allow more.
    ///
    /// ```
    /// use keepalive::{limits::MAX_DEADLINE_SECS, Deadline};
    /// assert!(Deadline::from_secs(MAX_DEADLINE_SECS, Some(127)).is_ok());
    /// assert!(Deadline::from_secs(MAX_DEADLINE_SECS + 1, Some(127)).is_err());
    /// assert!(Deadline::from_secs(131_069, None).is_err());
    /// ```
    pub const MAX_DEADLINE_SECS: i64 = MAX_USER_TIMEOUT_MS / 1000;
    /// Shortest `max_idle` in seconds ([`Deadline::max_idle`](crate::Deadline::max_idle)):
    /// 1 s idle and 1 s interval, each timer late by up to a second, keep
    /// a connection silent at most 4 s.
    ///
    /// ```
    /// use keepalive::{limits::MIN_MAX_IDLE_SECS, Deadline};
    /// assert!(Deadline::from_secs(2, None)?.max_idle_from_secs(MIN_MAX_IDLE_SECS).is_ok());
    /// assert!(Deadline::from_secs(2, None)?.max_idle_from_secs(MIN_MAX_IDLE_SECS - 1).is_err());
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub const MIN_MAX_IDLE_SECS: i64 = 5;
    /// Longest `max_idle` in seconds (a C `uint32_t`); any `max_idle` longer
    /// than the deadline's own silence changes nothing.
    pub const MAX_MAX_IDLE_SECS: i64 = u32::MAX as i64;
}

/// Keepalive parameters to apply with [`set`]. A field left `None` keeps the
/// socket's current value.
///
/// Build it with [`Config::new`] and the builder methods, or fill the public
/// fields; values are checked when [`set`] applies them (or at once by
/// [`Config::from_secs`]).
///
/// ```
/// use std::time::Duration;
/// let c = keepalive::Config::new().idle(Duration::from_secs(60)).count(5);
/// assert_eq!(c.idle, Some(Duration::from_secs(60)));
/// assert_eq!(c.interval, None);
/// assert_eq!(c.count, Some(5));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Config {
    /// Idle time before the first probe (`TCP_KEEPIDLE`), whole seconds 1..=32767.
    pub idle: Option<Duration>,
    /// Time between unanswered probes (`TCP_KEEPINTVL`), whole seconds 1..=32767.
    pub interval: Option<Duration>,
    /// Unanswered probes before the peer is declared dead (`TCP_KEEPCNT`), 1..=127.
    pub count: Option<u32>,
    /// How long sent data may stay unacknowledged (`TCP_USER_TIMEOUT`), whole
    /// milliseconds 0..=2147483647; zero restores the kernel's default. On
    /// macOS, iOS, FreeBSD and Windows the system's own retransmission bound
    /// stands for it ([`set_user_timeout`] names them); elsewhere
    /// [`Error::Unsupported`], before anything is applied.
    ///
    /// Once set, it also replaces `count` for an idle connection: see
    /// [`Settings::dead_after`].
    pub user_timeout: Option<Duration>,
}

impl Config {
    /// An empty configuration: [`set`] with it only turns keepalive on.
    ///
    /// ```
    /// assert_eq!(keepalive::Config::new(), keepalive::Config::default());
    /// ```
    pub const fn new() -> Self {
        Config {
            idle: None,
            interval: None,
            count: None,
            user_timeout: None,
        }
    }

    /// Sets the idle time before the first probe (`TCP_KEEPIDLE`;
    /// `TCP_KEEPALIVE` on Apple platforms). Whole seconds, 1..=32767.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = keepalive::Config::new().idle(Duration::from_secs(30));
    /// assert_eq!(c.idle, Some(Duration::from_secs(30)));
    /// ```
    pub const fn idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Sets the time between unanswered probes (`TCP_KEEPINTVL`). Whole
    /// seconds, 1..=32767.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = keepalive::Config::new().interval(Duration::from_secs(5));
    /// assert_eq!(c.interval, Some(Duration::from_secs(5)));
    /// ```
    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Sets how many unanswered probes declare the peer dead (`TCP_KEEPCNT`),
    /// 1..=127.
    ///
    /// ```
    /// let c = keepalive::Config::new().count(3);
    /// assert_eq!(c.count, Some(3));
    /// ```
    pub const fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// Sets `TCP_USER_TIMEOUT`, applied by [`set`] together with the other
    /// values, all or nothing. Whole milliseconds, 0..=2147483647; zero
    /// restores the kernel's default. The system's own bound where there is
    /// no `TCP_USER_TIMEOUT` ([`set_user_timeout`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// keepalive::set(&sock, &keepalive::Config::new()
    ///     .idle(Duration::from_secs(30)).user_timeout(Duration::from_secs(45)))?;
    /// assert_eq!(keepalive::get(&sock)?.user_timeout, Duration::from_secs(45));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn user_timeout(mut self, timeout: Duration) -> Self {
        self.user_timeout = Some(timeout);
        self
    }

    /// Checks every value against the kernel's ranges without touching any
    /// socket: what [`set`] would refuse, this refuses with the same error.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert!(keepalive::Config::new().count(4).check().is_ok());
    /// let err = keepalive::Config::new().user_timeout(Duration::from_micros(1500)).check().unwrap_err();
    /// assert_eq!(err.to_string(),
    ///     "user_timeout must be a whole number of milliseconds in 0..2147483647, got 1.5ms");
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        self.validate().map(drop)
    }

    /// How long after the peer was last heard from an idle connection with
    /// these values (and keepalive on) is declared dead, by the kernel's rule
    /// ([`Settings::dead_after`]): idle + interval × count, or, with a user
    /// timeout, the first probe time at or past it. `None` unless idle,
    /// interval and count are all given, as [`system_defaults`] and
    /// [`Deadline::config`] give them. The values are not checked
    /// ([`check`](Self::check) does that).
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = keepalive::Config::new()
    ///     .idle(Duration::from_secs(7200)).interval(Duration::from_secs(75)).count(9);
    /// assert_eq!(d.dead_after(), Some(Duration::from_secs(7875)));  // the Linux defaults
    /// assert_eq!(keepalive::Config::new().count(3).dead_after(), None);
    ///
    /// let c = keepalive::Deadline::new(Duration::from_secs(60)).config()?;
    /// assert_eq!(c.dead_after(), Some(Duration::from_secs(60)));
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn dead_after(&self) -> Option<Duration> {
        let timers = rule::Timers {
            idle: self.idle?,
            interval: self.interval?,
            count: self.count?,
            user_timeout: sys::platform::idle_rule_user_timeout(
                self.user_timeout.unwrap_or(Duration::ZERO),
                sys::platform::USER_TIMEOUT_ENDS_IDLE,
            ),
        };
        Some(timers.idle_death())
    }

    /// Builds a configuration from plain integers, as the C and Python
    /// bindings receive them, and validates it at once. `None` leaves the
    /// value unchanged.
    ///
    /// ```
    /// let c = keepalive::Config::from_secs(Some(10), None, Some(3))?;
    /// assert_eq!(c.idle, Some(std::time::Duration::from_secs(10)));
    ///
    /// let err = keepalive::Config::from_secs(Some(40000), None, None).unwrap_err();
    /// assert_eq!(err.to_string(), "idle must be 1..32767 seconds, got 40000");
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn from_secs(
        idle: Option<i64>,
        interval: Option<i64>,
        count: Option<i64>,
    ) -> Result<Self, Error> {
        let secs = |name, v: Option<i64>, max| -> Result<Option<Duration>, Error> {
            v.map(|n| check_int(name, n, 1, max, "seconds").map(|n| Duration::from_secs(n as u64)))
                .transpose()
        };
        Ok(Config {
            idle: secs("idle", idle, limits::MAX_IDLE_SECS)?,
            interval: secs("interval", interval, limits::MAX_INTERVAL_SECS)?,
            count: count
                .map(|n| check_int("count", n, 1, limits::MAX_COUNT, "probes").map(|n| n as u32))
                .transpose()?,
            user_timeout: None,
        })
    }

    /// Checks every value against the kernel's ranges; returns them as the
    /// integers the socket options take.
    fn validate(&self) -> Result<Checked, Error> {
        Ok(Checked {
            idle: self
                .idle
                .map(|d| check_secs("idle", d, limits::MAX_IDLE_SECS))
                .transpose()?,
            interval: self
                .interval
                .map(|d| check_secs("interval", d, limits::MAX_INTERVAL_SECS))
                .transpose()?,
            count: self
                .count
                .map(|n| check_int("count", i64::from(n), 1, limits::MAX_COUNT, "probes"))
                .transpose()?,
            user_timeout: self.user_timeout.map(check_millis).transpose()?,
        })
    }
}

/// A validated configuration, as C `int`s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked {
    pub(crate) idle: Option<i32>,
    pub(crate) interval: Option<i32>,
    pub(crate) count: Option<i32>,
    /// Milliseconds.
    pub(crate) user_timeout: Option<i32>,
}

fn check_int(
    name: &'static str,
    n: i64,
    min: i64,
    max: i64,
    unit: &'static str,
) -> Result<i32, Error> {
    if (min..=max).contains(&n) {
        Ok(n as i32)
    } else {
        Err(Error::InvalidValue {
            name,
            given: Given::Int(n),
            min,
            max,
            unit,
        })
    }
}

fn check_secs(name: &'static str, d: Duration, max: i64) -> Result<i32, Error> {
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 && (1..=max as u64).contains(&secs) {
        Ok(secs as i32)
    } else {
        Err(Error::InvalidValue {
            name,
            given: Given::Duration(d),
            min: 1,
            max,
            unit: "seconds",
        })
    }
}

/// A user timeout as the `int` milliseconds `TCP_USER_TIMEOUT` takes.
fn check_millis(timeout: Duration) -> Result<i32, Error> {
    let ms = timeout.as_millis();
    if timeout.subsec_nanos() % 1_000_000 != 0 || ms > limits::MAX_USER_TIMEOUT_MS as u128 {
        return Err(Error::InvalidValue {
            name: "user_timeout",
            given: Given::Duration(timeout),
            min: 0,
            max: limits::MAX_USER_TIMEOUT_MS,
            unit: "milliseconds",
        });
    }
    Ok(ms as i32)
}

/// A socket's keepalive state, read from the kernel by [`get`].
///
/// ```
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let s = keepalive::get(&sock)?;
/// assert!(!s.enabled);                      // off until someone turns it on
/// assert_eq!(s.idle, keepalive::system_defaults()?.idle.unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Settings {
    /// Whether `SO_KEEPALIVE` is on.
    pub enabled: bool,
    /// Effective `TCP_KEEPIDLE` (the system default if never set).
    pub idle: Duration,
    /// Effective `TCP_KEEPINTVL`.
    pub interval: Duration,
    /// Effective `TCP_KEEPCNT`.
    pub count: u32,
    /// `TCP_USER_TIMEOUT`; zero means the kernel's default (retransmit for
    /// `tcp_retries2`).
    pub user_timeout: Duration,
}

impl Settings {
    /// Settings from their values, for front doors that receive them from
    /// elsewhere (a C struct) and ask what the kernel will do with them.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = keepalive::Settings::new(true, Duration::from_secs(2), Duration::from_secs(1), 3,
    ///                                  Duration::from_millis(8000));
    /// assert_eq!(s.dead_after(), Duration::from_secs(8));
    /// assert_eq!(s.probes_until_dead(), 6);
    /// ```
    pub const fn new(
        enabled: bool,
        idle: Duration,
        interval: Duration,
        count: u32,
        user_timeout: Duration,
    ) -> Self {
        Settings {
            enabled,
            idle,
            interval,
            count,
            user_timeout,
        }
    }

    /// How long after the peer was last heard from an idle connection with
    /// keepalive on is declared dead, by the kernel's rule.
    ///
    /// Without a user timeout: idle + interval × count. With one (Linux,
    /// `tcp_keepalive_timer()` in `net/ipv4/tcp_timer.c`), `TCP_KEEPCNT` no
    /// longer counts: the connection dies at the first probe time (idle,
    /// idle + interval, ...) that is at or past the user timeout with a probe
    /// out. That is the trap [`Deadline`] avoids: idle 2 s, interval 1 s,
    /// count 3 dies at 5 s, but add a 3.5 s user timeout and it dies at 4 s
    /// after two probes; an 8 s one, at 8 s after six. (grpc-go #6250: a 20 s
    /// user timeout with probes every 15 s kills a healthy connection after a
    /// single lost probe.)
    ///
    /// ```
    /// # use std::time::Duration;
    /// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// keepalive::set(&sock, &keepalive::Config::new()
    ///     .idle(Duration::from_secs(2)).interval(Duration::from_secs(1)).count(3))?;
    /// assert_eq!(keepalive::get(&sock)?.dead_after(), Duration::from_secs(5));
    ///
    /// keepalive::set_user_timeout(&sock, Duration::from_millis(3500))?;
    /// let s = keepalive::get(&sock)?;
    /// assert_eq!(s.dead_after(), Duration::from_secs(4));
    /// assert_eq!(s.probes_until_dead(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dead_after(&self) -> Duration {
        self.timers().idle_death()
    }

    /// How many unanswered probes an idle connection sends before it is
    /// declared dead, by the kernel's rule ([`dead_after`](Self::dead_after)):
    /// `count` without a user timeout, whatever fits before it with one.
    pub fn probes_until_dead(&self) -> u32 {
        self.timers().probes_before_death()
    }

    /// How long a busy connection (data sent and unacknowledged, which
    /// keepalive does not probe) lives on once the peer is silent: the user
    /// timeout, which the kernel counts from the first retransmission, one
    /// retransmission timeout (at least 200 ms) after the oldest
    /// unacknowledged data was sent; so about the user timeout + RTO after
    /// the peer's last ACK. `None` without one: then `tcp_retries2`
    /// retransmissions decide, about 924.6 s (15 min 25 s) with the default
    /// 15, more on a slow path ([`status`] gives the estimate for a live
    /// connection). On macOS, iOS, FreeBSD and Windows the user timeout is
    /// the system's own bound ([`set_user_timeout`]), counted and checked
    /// its way: on macOS and iOS up to one retransmission timeout (at most
    /// 64 s) later than this.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_eq!(keepalive::get(&sock)?.dead_after_busy(), None);
    /// keepalive::set_deadline(&sock, Duration::from_secs(30))?;
    /// assert_eq!(keepalive::get(&sock)?.dead_after_busy(), Some(Duration::from_secs(30)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dead_after_busy(&self) -> Option<Duration> {
        (!self.user_timeout.is_zero()).then_some(self.user_timeout)
    }

    /// The longest a healthy idle connection with these settings can go
    /// without a packet on the wire when one probe (or its answer) is lost:
    /// idle + interval, each timer late by up to an eighth of its length,
    /// rounded up to whole seconds. A NAT, firewall or load balancer that
    /// forgets a flow silent for `max_idle` keeps this connection when this
    /// is shorter than `max_idle`. `None` with keepalive off: the
    /// connection is as silent as its application.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// keepalive::set_deadline(&sock, Duration::from_secs(60))?;   // 30/10/3
    /// assert_eq!(keepalive::get(&sock)?.longest_silence(), Some(Duration::from_secs(46)));
    /// keepalive::disable(&sock)?;
    /// assert_eq!(keepalive::get(&sock)?.longest_silence(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn longest_silence(&self) -> Option<Duration> {
        self.enabled.then(|| {
            Duration::from_secs(rule::longest_silence(
                self.idle.as_secs(),
                self.interval.as_secs(),
            ))
        })
    }

    /// Whether a middlebox that forgets a flow silent for `max_idle` keeps a
    /// healthy idle connection with these settings, even when one probe is
    /// lost: its [`longest_silence`](Self::longest_silence) is shorter (the
    /// promise of [`Deadline::max_idle`]). Never with keepalive off.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let s = keepalive::Settings::new(true, Duration::from_secs(30), Duration::from_secs(10), 3,
    ///                                  Duration::ZERO);
    /// assert!(s.kept_through(Duration::from_secs(47)));
    /// assert!(!s.kept_through(Duration::from_secs(46)));
    /// ```
    pub fn kept_through(&self, max_idle: Duration) -> bool {
        // Whole seconds, as the kernel keeps the timers; a fraction of a
        // second more of max_idle changes nothing.
        self.enabled
            && rule::kept_through(
                self.idle.as_secs(),
                self.interval.as_secs(),
                max_idle.as_secs(),
            )
    }

    pub(crate) fn timers(&self) -> rule::Timers {
        rule::Timers {
            idle: self.idle,
            interval: self.interval,
            count: self.count,
            user_timeout: sys::platform::idle_rule_user_timeout(
                self.user_timeout,
                sys::platform::USER_TIMEOUT_ENDS_IDLE,
            ),
        }
    }
}

/// Turns keepalive on (`SO_KEEPALIVE`), keeping the socket's idle, interval
/// and count. Refuses a socket that is not TCP, changing nothing.
///
/// ```
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::enable(&sock)?;
/// assert!(keepalive::get(&sock)?.enabled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn enable<S: AsSocketDescriptor + ?Sized>(sock: &S) -> Result<(), Error> {
    set(sock, &Config::new())
}

/// Turns keepalive off (`SO_KEEPALIVE` = 0). The tuned values stay on the
/// socket and apply again if it is turned back on. Refuses a socket that is
/// not TCP, changing nothing.
///
/// ```
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::enable(&sock)?;
/// keepalive::disable(&sock)?;
/// assert!(!keepalive::get(&sock)?.enabled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn disable<S: AsSocketDescriptor + ?Sized>(sock: &S) -> Result<(), Error> {
    let fd = sys::raw(sock);
    sys::check_tcp(fd)?;
    sys::set_enabled(fd, false)
}

/// Turns keepalive on and applies every value given in `config`, all or
/// nothing.
///
/// Every value is checked first ([`Error::InvalidValue`], nothing applied).
/// Then the options are set in an order chosen so that the first call is the
/// one that tells whether this is a TCP socket at all, and `SO_KEEPALIVE` is
/// turned on last: a refused call leaves the socket as it was. The success
/// path costs exactly one `setsockopt` per value plus one for
/// `SO_KEEPALIVE` on Linux.
///
/// Where a security policy (seccomp, a cgroup BPF hook, an LSM) refuses an
/// option midway, keepalive stays off and the values set before it are put
/// back where their old values were read first (macOS, the BSDs); what
/// stays changed (on Linux, which does not read them first, every value set
/// before the refusal) is named in [`Error::NotRestored`], whose errno is
/// the refusal's.
///
/// ```
/// use std::time::Duration;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::set(&sock, &keepalive::Config::new()
///     .idle(Duration::from_secs(30)).interval(Duration::from_secs(7)).count(4))?;
///
/// // A fractional second is refused, and nothing changes.
/// let err = keepalive::set(&sock, &keepalive::Config::new()
///     .count(9).idle(Duration::from_millis(1500))).unwrap_err();
/// assert!(matches!(err, keepalive::Error::InvalidValue { name: "idle", .. }));
/// assert_eq!(keepalive::get(&sock)?.count, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set<S: AsSocketDescriptor + ?Sized>(sock: &S, config: &Config) -> Result<(), Error> {
    let checked = config.validate()?;
    sys::apply(sys::raw(sock), &checked)
}

/// Reads the socket's keepalive state back from the kernel.
///
/// ```
/// use std::time::Duration;
/// let sock = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
/// keepalive::set(&sock, &keepalive::Config::new().interval(Duration::from_secs(9)))?;
/// let s = keepalive::get(&sock)?;
/// assert!(s.enabled);
/// assert_eq!(s.interval, Duration::from_secs(9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get<S: AsSocketDescriptor + ?Sized>(sock: &S) -> Result<Settings, Error> {
    sys::get(sys::raw(sock))
}

/// Sets `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before
/// the connection is dropped. Whole milliseconds, 0..=2147483647; zero
/// restores the kernel's default.
///
/// Elsewhere the system's own bound on retransmission stands for it:
/// `TCP_RXT_CONNDROPTIME` on macOS and iOS and `TCP_MAXUNACKTIME` on
/// FreeBSD 14+ (both whole seconds: a fractional second is an
/// [`Error::InvalidValue`]), `TCP_MAXRTMS` on Windows 10 1607+ (`TCP_MAXRT`,
/// whole seconds, before). None of them ends an idle connection, as
/// Linux's does ([`Settings::dead_after`]). [`Error::Unsupported`] on the
/// other systems.
///
/// ```
/// use std::time::Duration;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::set_user_timeout(&sock, Duration::from_millis(5000))?;
/// assert_eq!(keepalive::get(&sock)?.user_timeout, Duration::from_millis(5000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_user_timeout<S: AsSocketDescriptor + ?Sized>(
    sock: &S,
    timeout: Duration,
) -> Result<(), Error> {
    sys::set_user_timeout(sys::raw(sock), check_millis(timeout)?)
}

/// Converts a plain millisecond count, as the C and Python bindings receive
/// it, into the timeout [`set_user_timeout`] takes, checking it at once
/// against 0..=2147483647 (the option is a C `int`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(keepalive::user_timeout_from_millis(5000)?, Duration::from_millis(5000));
///
/// let err = keepalive::user_timeout_from_millis(-1).unwrap_err();
/// assert_eq!(err.to_string(), "user_timeout must be 0..2147483647 milliseconds, got -1");
/// # Ok::<(), keepalive::Error>(())
/// ```
pub fn user_timeout_from_millis(ms: i64) -> Result<Duration, Error> {
    check_int(
        "user_timeout",
        ms,
        0,
        limits::MAX_USER_TIMEOUT_MS,
        "milliseconds",
    )
    .map(|ms| Duration::from_millis(ms as u64))
}

/// The system-wide defaults a socket starts with: on Linux read from
/// `/proc/sys/net/ipv4/tcp_keepalive_time`, `tcp_keepalive_intvl` and
/// `tcp_keepalive_probes`. Every field is `Some`.
///
/// ```
/// let d = keepalive::system_defaults()?;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// assert_eq!(Some(keepalive::get(&sock)?.count), d.count);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn system_defaults() -> Result<Config, Error> {
    sys::system_defaults()
}

/// Sets a dead-peer deadline: the connection is declared dead about
/// `deadline` after the peer was last heard from, idle or busy. Sets idle,
/// interval, count and `TCP_USER_TIMEOUT` together, all or nothing, with
/// idle + interval × count = deadline and a user timeout of the deadline, by
/// the split [`Deadline`] documents (3 probes). Whole seconds, 2..=131068.
/// On a listener, accepted connections inherit it (Linux, Android; not on
/// macOS and iOS, where each accepted socket needs its own call).
///
/// Each system keeps it with its own options (the busy half with the
/// option [`set_user_timeout`] names); the idle half is
/// idle + interval × count = D everywhere:
///
/// | system | idle connection | busy connection |
/// |---|---|---|
/// | Linux, Android | `TCP_KEEP*`, and `TCP_USER_TIMEOUT` replacing the count | `TCP_USER_TIMEOUT` = D |
/// | macOS, iOS | `TCP_KEEPALIVE`/`TCP_KEEPINTVL`/`TCP_KEEPCNT` | `TCP_RXT_CONNDROPTIME` = D, checked when the retransmission timer fires: dead by D + RTO + less than one timeout (at most 64 s) |
/// | FreeBSD 14+ | `TCP_KEEP*` | `TCP_MAXUNACKTIME` = D since the last ACK of new data, checked when the retransmission timer fires |
/// | Windows | `TCP_KEEP*` (10 1709+), else `SIO_KEEPALIVE_VALS` rescaled to its fixed 10 probes | `TCP_MAXRTMS` = D (10 1607+), else `TCP_MAXRT` |
///
/// Refused with nothing changed where the busy bound is missing: MPTCP
/// sockets (no user timeout), FreeBSD before 14 (`ENOPROTOOPT` for
/// `TCP_MAXUNACKTIME`), NetBSD, OpenBSD, DragonFly, illumos
/// ([`Error::Unsupported`]). For a deadline on idle connections only there,
/// apply [`Deadline::config`] without its user timeout:
///
/// ```
/// use std::time::Duration;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let mut idle_only = keepalive::Deadline::new(Duration::from_secs(60)).config()?;
/// idle_only.user_timeout = None;
/// keepalive::set(&sock, &idle_only)?;
/// assert_eq!(keepalive::get(&sock)?.dead_after(), Duration::from_secs(60));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```
/// use std::time::Duration;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// keepalive::set_deadline(&sock, Duration::from_secs(60))?;
/// let s = keepalive::get(&sock)?;
/// assert!(s.enabled);
/// assert_eq!((s.idle.as_secs(), s.interval.as_secs(), s.count), (30, 10, 3));
/// assert_eq!(s.user_timeout, Duration::from_secs(60));
/// assert_eq!(s.dead_after(), Duration::from_secs(60));
///
/// // Too short is refused, and nothing changes.
/// assert!(keepalive::set_deadline(&sock, Duration::from_secs(1)).is_err());
/// assert_eq!(keepalive::get(&sock)?, s);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_deadline<S: AsSocketDescriptor + ?Sized>(
    sock: &S,
    deadline: Duration,
) -> Result<(), Error> {
    set(sock, &Deadline::new(deadline).config()?)
}

/// Reads a connection's liveness from the kernel (`TCP_INFO`): time since
/// the peer's last ACK and data, probes out, unacknowledged segments, which
/// timer governs, and how long until the peer is declared dead if nothing
/// more is heard ([`Status::dead_in`]). Linux and Android only;
/// [`Error::Unsupported`] elsewhere, rather than an estimate: no other
/// system's TCP information gives the time since the peer was last heard
/// (macOS's `TCP_CONNECTION_INFO` and Windows' `SIO_TCP_INFO` have none,
/// FreeBSD's `tcp_info` leaves the last ACK and the probes out unfilled).
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let st = keepalive::status(&listener)?;
/// assert_eq!(st.state, keepalive::TcpState::Listen);
/// assert_eq!(st.dead_in, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn status<S: AsSocketDescriptor + ?Sized>(sock: &S) -> Result<Status, Error> {
    let sock = sys::raw(sock);
    let settings = sys::get(sock)?;
    let info = sys::tcp_info(sock)?;
    Ok(status::assess(settings, &info, sys::tcp_retries2))
}

/// One socket option as `setsockopt(2)` takes it: `level`, `name` (the
/// option) and an `int` `value`, with the option's name for messages. What
/// [`socket_options`] returns.
///
/// ```
/// let opts = keepalive::socket_options(&keepalive::Config::new().count(4))?;
/// let count = opts.iter().find(|o| o.label == "TCP_KEEPCNT").unwrap();
/// assert_eq!((count.level, count.name, count.value), (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4));
/// # Ok::<(), keepalive::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SocketOption {
    /// The protocol level: `SOL_SOCKET` or `IPPROTO_TCP`.
    pub level: i32,
    /// The option at that level, e.g. `TCP_KEEPIDLE`'s number.
    pub name: i32,
    /// The value, as the `int` the option takes (seconds, a count,
    /// milliseconds for `TCP_USER_TIMEOUT`, 1 for `SO_KEEPALIVE` on).
    pub value: i32,
    /// The option's name as the platform's headers spell it, e.g.
    /// `"TCP_KEEPIDLE"` (`"TCP_KEEPALIVE"` on Apple platforms).
    pub label: &'static str,
}

impl SocketOption {
    pub(crate) const fn new(level: i32, name: i32, value: i32, label: &'static str) -> Self {
        SocketOption {
            level,
            name,
            value,
            label,
        }
    }
}

/// The socket options that stand for `config` on this platform, as
/// (level, option, value) for programs that do not hold the socket but hand
/// a list of options to whatever makes it: urllib3's and requests'
/// `socket_options`, httpx's `HTTPTransport(socket_options=...)`, redis-py's
/// `socket_keepalive_options`, a C library's connect callback.
///
/// The values are checked first, exactly as [`set`] checks them (the same
/// [`Error::InvalidValue`]); an option this platform lacks is
/// [`Error::Unsupported`] (a `user_timeout` where the system has no bound
/// on retransmission). The list is in the order [`set`] applies them: the
/// user timeout (or the system's option for it) when given, then the
/// idle time, interval and count given, then `SO_KEEPALIVE` = 1, always
/// present and always last. Setting them on a new socket gives what [`set`]
/// would; a field left `None` is absent, so the system default applies.
///
/// | value | Linux, Android | macOS, iOS | FreeBSD, DragonFly, other Unix | Windows |
/// |---|---|---|---|---|
/// | on | `SOL_SOCKET` `SO_KEEPALIVE` | the same | the same | the same (`SOL_SOCKET` = 0xffff) |
/// | idle | `IPPROTO_TCP` `TCP_KEEPIDLE` | `TCP_KEEPALIVE` | `TCP_KEEPIDLE` | `TCP_KEEPIDLE` (10 1709+) |
/// | interval | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` | `TCP_KEEPINTVL` (10 1709+) |
/// | count | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` | `TCP_KEEPCNT` (10 1703+) |
/// | user timeout | `TCP_USER_TIMEOUT` (ms) | `TCP_RXT_CONNDROPTIME` (s) | FreeBSD 14+: `TCP_MAXUNACKTIME` (s); others unsupported | `TCP_MAXRTMS` (ms, 10 1607+) |
///
/// ```
/// use std::time::Duration;
/// let config = keepalive::Deadline::new(Duration::from_secs(60)).config()?;
/// let opts: Vec<(i32, i32, i32)> = keepalive::socket_options(&config)?
///     .iter().map(|o| (o.level, o.name, o.value)).collect();
/// # #[cfg(target_os = "linux")]
/// assert_eq!(opts, [
///     (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 60_000),
///     (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 30),
///     (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 10),
///     (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
///     (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
/// ]);
///
/// // Checked like `set`: nothing is returned for a bad value.
/// let err = keepalive::socket_options(&keepalive::Config::new().count(0)).unwrap_err();
/// assert_eq!(err.to_string(), "count must be 1..127 probes, got 0");
/// # Ok::<(), keepalive::Error>(())
/// ```
pub fn socket_options(config: &Config) -> Result<Vec<SocketOption>, Error> {
    sys::options(&config.validate()?)
}

/// Sets the system-wide defaults that every socket which turns keepalive on
/// without values of its own gets (on Linux `tcp_keepalive_time`,
/// `tcp_keepalive_intvl` and `tcp_keepalive_probes` under
/// `/proc/sys/net/ipv4/`, for the calling process's network namespace).
/// `None` fields stay as they are. The same ranges as everywhere, checked
/// before anything is written; all or nothing: the old values are read first
/// and put back if a later write fails (and when putting one back fails too,
/// [`Error::NotRestored`] names what stays changed). Needs root (`CAP_NET_ADMIN` in the
/// namespace). A `user_timeout` has no system-wide default and is refused.
///
/// Linux only: elsewhere [`Error::Unsupported`] (macOS and the BSDs keep them
/// in the `net.inet.tcp.keepidle`, `keepintvl` and `keepcnt` sysctls, in
/// milliseconds, for `sysctl -w`).
///
/// ```no_run
/// use std::time::Duration;
/// keepalive::set_system_defaults(&keepalive::Config::new()
///     .idle(Duration::from_secs(600)).interval(Duration::from_secs(20)).count(4))?;
/// assert_eq!(keepalive::system_defaults()?.idle, Some(Duration::from_secs(600)));
/// # Ok::<(), keepalive::Error>(())
/// ```
pub fn set_system_defaults(config: &Config) -> Result<(), Error> {
    let checked = config.validate()?;
    if checked.user_timeout.is_some() {
        return Err(Error::Unsupported {
            option: "a system-wide TCP_USER_TIMEOUT default",
        });
    }
    sys::set_system_defaults(&checked)
}
