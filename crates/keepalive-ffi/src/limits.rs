//! The core's limits (`keepalive::limits`) as constants of the C header.
//!
//! cbindgen writes a constant only from a literal, so each is written here
//! as one, and the compiler checks it against the core's (a mismatch does
//! not build): the number has one source, the core.

use keepalive::limits;

/// Largest idle time, seconds (TCP_KEEPIDLE; the smallest is 1).
pub const KEEPALIVE_MAX_IDLE_SECS: i64 = 32767;
/// Largest interval between probes, seconds (TCP_KEEPINTVL; the smallest is 1).
pub const KEEPALIVE_MAX_INTERVAL_SECS: i64 = 32767;
/// Largest probe count (TCP_KEEPCNT; the smallest is 1).
pub const KEEPALIVE_MAX_COUNT: i64 = 127;
/// Largest TCP_USER_TIMEOUT, milliseconds (the smallest is 0: the kernel's default).
pub const KEEPALIVE_MAX_USER_TIMEOUT_MS: i64 = 2147483647;
/// Shortest dead-peer deadline, seconds.
pub const KEEPALIVE_MIN_DEADLINE_SECS: i64 = 2;
/// Longest dead-peer deadline, seconds (with enough probes; 131068 with the
/// default 3).
pub const KEEPALIVE_MAX_DEADLINE_SECS: i64 = 2147483;
/// Shortest max_idle, seconds.
pub const KEEPALIVE_MIN_MAX_IDLE_SECS: i64 = 5;
/// Longest max_idle, seconds.
pub const KEEPALIVE_MAX_MAX_IDLE_SECS: i64 = 4294967295;

const _: () = {
    assert!(KEEPALIVE_MAX_IDLE_SECS == limits::MAX_IDLE_SECS);
    assert!(KEEPALIVE_MAX_INTERVAL_SECS == limits::MAX_INTERVAL_SECS);
    assert!(KEEPALIVE_MAX_COUNT == limits::MAX_COUNT);
    assert!(KEEPALIVE_MAX_USER_TIMEOUT_MS == limits::MAX_USER_TIMEOUT_MS);
    assert!(KEEPALIVE_MIN_DEADLINE_SECS == limits::MIN_DEADLINE_SECS);
    assert!(KEEPALIVE_MAX_DEADLINE_SECS == limits::MAX_DEADLINE_SECS);
    assert!(KEEPALIVE_MIN_MAX_IDLE_SECS == limits::MIN_MAX_IDLE_SECS);
    assert!(KEEPALIVE_MAX_MAX_IDLE_SECS == limits::MAX_MAX_IDLE_SECS);
};
