//! The names of the environment variables of the `LD_PRELOAD` mode: what the
//! preload library (`libkeepalive-preload.so`) reads and what `keepalive-run`
//! sets for it. One list for both, so a name is never spelled twice.
//!
//! The classic libkeepalive 0.3 names come first; the rest are this
//! library's own. How each value is parsed and checked is the core's
//! [`Field`](crate::Field) and [`Deadline`](crate::Deadline).

/// `off` turns keepalive off for the program's sockets (libkeepalive 0.3).
pub const KEEPALIVE: &str = "KEEPALIVE";
/// Seconds idle before the first probe (libkeepalive 0.3).
pub const KEEPIDLE: &str = "KEEPIDLE";
/// Seconds between probes (libkeepalive 0.3).
pub const KEEPINTVL: &str = "KEEPINTVL";
/// Unanswered probes before the peer is declared dead (libkeepalive 0.3).
pub const KEEPCNT: &str = "KEEPCNT";
/// `TCP_USER_TIMEOUT` in milliseconds.
pub const USER_TIMEOUT: &str = "KEEPALIVE_USER_TIMEOUT_MS";
/// The dead-peer deadline in seconds; replaces the four values above.
pub const DEADLINE: &str = "KEEPALIVE_DEADLINE";
/// With [`DEADLINE`]: the silence a middlebox on the path tolerates.
pub const MAX_IDLE: &str = "KEEPALIVE_MAX_IDLE";
/// `1`: the program's own keepalive `setsockopt` calls get the configured
/// values; `0`: they win, and each override is named once.
pub const ENFORCE: &str = "KEEPALIVE_ENFORCE";
