//! libkeepalive for C: the C ABI of the [`keepalive`] crate.
//!
//! This crate is a translation layer only. Every exported function goes
//! through `boundary`, the one place that catches panics, turns a
//! [`keepalive::Error`] into `errno` plus a sentence for
//! [`keepalive_last_error`], and leaves `errno` untouched on success. Pointer
//! and descriptor checks live in `read_in`, `out_ptr` and `descriptor`.
//! Every rule about values (ranges, order, all-or-nothing) is the core's.
//!
//! The header `include/keepalive.h` is generated from this file by cbindgen
//! (see `build.rs`); the doc comments below are the header's comments, so they
//! speak C.
//!
//! ```c
//! #include <keepalive.h>
//! keepalive_config c = { .idle = 30, .interval = 7, .count = 4 };
//! if (keepalive_set(fd, &c) == -1)
//!     fprintf(stderr, "keepalive: %s\n", keepalive_last_error());
//! ```

#![allow(non_camel_case_types)]
#![warn(missing_docs)]

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::os::fd::BorrowedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::time::Duration;

mod limits;
mod request;
pub use limits::*;
pub use request::*;

/// Keepalive values to apply with keepalive_set(). A field left 0 keeps the
/// socket's current value; a negative or too large one is refused (EINVAL)
/// and nothing is applied.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keepalive_config {
    /// TCP_KEEPIDLE: seconds idle before the first probe, 1..KEEPALIVE_MAX_IDLE_SECS; 0 = leave unchanged.
    pub idle: i32,
    /// TCP_KEEPINTVL: seconds between unanswered probes, 1..KEEPALIVE_MAX_INTERVAL_SECS; 0 = leave unchanged.
    pub interval: i32,
    /// TCP_KEEPCNT: unanswered probes before the peer is dead, 1..KEEPALIVE_MAX_COUNT; 0 = leave unchanged.
    pub count: i32,
}

/// A socket's keepalive state, read back from the kernel by keepalive_get().
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keepalive_settings {
    /// SO_KEEPALIVE: whether keepalive is on.
    pub enabled: bool,
    /// Effective TCP_KEEPIDLE in seconds (the system default if never set).
    pub idle: i32,
    /// Effective TCP_KEEPINTVL in seconds.
    pub interval: i32,
    /// Effective TCP_KEEPCNT.
    pub count: i32,
    /// TCP_USER_TIMEOUT in milliseconds; 0 = the kernel's default.
    pub user_timeout_ms: u32,
}

/// `keepalive_settings` as this library reads it from a caller's memory:
/// the same layout, with `enabled` a plain byte. A C `bool` holding any byte
/// but 0 or 1 (a struct filled by memcpy, a union, a stray write) would be
/// undefined behaviour read as a Rust `bool`; read as a byte, any non-zero
/// value means on, as C itself takes it.
#[repr(C)]
#[derive(Clone, Copy)]
struct SettingsIn {
    enabled: u8,
    idle: i32,
    interval: i32,
    count: i32,
    user_timeout_ms: u32,
}

// The mirror has the public struct's size and alignment (field offsets:
// the unit test `settings_mirror_has_the_same_layout`).
const _: () = {
    assert!(std::mem::size_of::<SettingsIn>() == std::mem::size_of::<keepalive_settings>());
    assert!(std::mem::align_of::<SettingsIn>() == std::mem::align_of::<keepalive_settings>());
};

/// A connection's liveness, read from the kernel (TCP_INFO) by
/// keepalive_get_status().
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keepalive_status {
    /// Milliseconds since the peer's last ACK.
    pub last_ack_ms: u32,
    /// Milliseconds since data was last received.
    pub last_data_ms: u32,
    /// Keepalive probes sent and unanswered.
    pub probes_out: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    /// Milliseconds until the kernel declares the peer dead if nothing more is
    /// heard from it; -1 when no bound is in force (keepalive off on an idle
    /// connection, or not a connection: listening, connecting, closed).
    pub dead_in_ms: i64,
}

/// A dead-peer deadline with its options, for keepalive_set_deadline_ex().
/// Set `size` to sizeof(keepalive_deadline): the struct may grow at its end
/// in later versions, and the library tells which version the caller was
/// built with by it (as Linux's copy_struct_from_user() does).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keepalive_deadline {
    /// sizeof(keepalive_deadline) as the caller was compiled: 16 or more.
    pub size: u32,
    /// The deadline: dead about this many seconds after the peer was last
    /// heard from, KEEPALIVE_MIN_DEADLINE_SECS and up (131068 s with 3 probes,
    /// KEEPALIVE_MAX_DEADLINE_SECS with enough).
    pub seconds: u32,
    /// Unanswered probes that declare an idle peer dead; 0 = the default (3,
    /// fewer for a deadline under 4 s, more where max_idle needs them).
    pub probes: u32,
    /// The silence a NAT, firewall or load balancer on the path tolerates,
    /// KEEPALIVE_MIN_MAX_IDLE_SECS and up: a healthy connection is never silent that long,
    /// even with one probe lost; 0 = no such limit.
    pub max_idle: u32,
}

/// The size of the first version of keepalive_deadline.
const DEADLINE_SIZE_V1: usize = 16;

/// What the kernel will do with a socket's settings, by its rules
/// (keepalive_settings_dead_after()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct keepalive_dead_after {
    /// Milliseconds after the peer was last heard from that an idle connection
    /// with keepalive on is declared dead. A set TCP_USER_TIMEOUT replaces
    /// TCP_KEEPCNT here (Linux): idle 2, interval 1, count 3 dies at 5000 ms,
    /// but with a 3500 ms user timeout at 4000 ms, after two probes.
    pub idle_ms: i64,
    /// Milliseconds a connection with data unacknowledged lives on once the
    /// peer is silent: the user timeout, counted by the kernel from the first
    /// retransmission (one retransmission timeout, at least 200 ms, after
    /// the oldest unacknowledged data was sent); -1 without one (then
    /// tcp_retries2 decides, about 924.6 s with the default 15).
    pub busy_ms: i64,
    /// Unanswered probes an idle connection sends before it is declared dead.
    pub probes: u32,
}

/// Why a call failed, as C sees it: the `errno` and the sentence.
#[derive(Debug)]
struct Failure {
    errno: c_int,
    message: String,
}

impl From<keepalive::Error> for Failure {
    fn from(err: keepalive::Error) -> Self {
        Failure {
            errno: err.raw_os_error(),
            message: err.to_string(),
        }
    }
}

impl Failure {
    /// A NULL where a pointer is required.
    fn null(name: &str) -> Self {
        Failure {
            errno: libc::EINVAL,
            message: format!("{name} must not be NULL"),
        }
    }

    /// A panic caught at the boundary: a bug in this library, never the
    /// caller's fault. Reported as EIO rather than unwinding into C.
    fn panic(payload: &(dyn Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown panic");
        Failure {
            errno: libc::EIO,
            message: format!("internal error in libkeepalive (please report it): {what}"),
        }
    }
}

thread_local! {
    /// The calling thread's last failure, NUL-terminated for C.
    // The initializer is `const` already; clippy 1.96 still flags it on
    // Android (its expansion of `thread_local!` there), so the check of that
    // target (make check-platforms) would fail on nothing.
    #[cfg_attr(target_os = "android", allow(clippy::missing_const_for_thread_local))]
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// What keepalive_last_error() returns before any failure on the thread.
const NO_ERROR: &[u8] = b"no error\0";

/// Stores `message` as the calling thread's last error. Never panics: during
/// thread teardown (thread-locals already destroyed) the message is dropped.
fn remember(message: String) {
    let c = CString::new(message.replace('\0', "?")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(c);
        }
    });
}

/// Runs `f`, turning a panic into `Err(fallback)` instead of unwinding into C.
fn catch<T>(f: impl FnOnce() -> T, fallback: impl FnOnce(&(dyn Any + Send)) -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| fallback(&*payload))
}

/// The boundary every `int`-returning function goes through: runs `f`,
/// catches any panic, and returns 0 with `errno` as it was, or -1 with
/// `errno` set and the sentence stored for keepalive_last_error().
fn boundary(f: impl FnOnce() -> Result<(), Failure>) -> c_int {
    let saved = errno::errno();
    match catch(f, |payload| Err(Failure::panic(payload))) {
        Ok(()) => {
            // A successful call may still have made failing syscalls inside
            // (the standard library probes); the caller's errno is kept.
            errno::set_errno(saved);
            0
        }
        Err(failure) => {
            remember(failure.message);
            // Last, so nothing (such as the allocation above) overwrites it.
            errno::set_errno(errno::Errno(failure.errno));
            -1
        }
    }
}

/// Lends a C descriptor to the core for the duration of one call.
///
/// A negative descriptor is refused here with EBADF (what the kernel would
/// say) because `BorrowedFd` must never hold -1. Any other value is passed
/// on: the kernel answers EBADF for one that is not open.
fn descriptor<'a>(fd: c_int) -> Result<BorrowedFd<'a>, Failure> {
    if fd < 0 {
        return Err(Failure {
            errno: libc::EBADF,
            // As the kernel's refusals read: the description, not "(os error 9)".
            message: format!("fd {fd}: Bad file descriptor"),
        });
    }
    // SAFETY: `fd` is not -1 (checked above). The C caller lends the
    // descriptor for the duration of the call, and the core only passes it to
    // getsockopt/setsockopt, which report EBADF for a descriptor that is not
    // open without touching any memory through it.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Copies the value behind a caller's input pointer, refusing NULL. The read
/// is unaligned so a misaligned pointer is not undefined behaviour either.
fn read_in<T: Copy>(ptr: *const T, name: &str) -> Result<T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL (checked); the C contract is that it points to a `T`.
    Ok(unsafe { ptr.read_unaligned() })
}

/// The bytes of a caller's NUL-terminated string, refusing NULL.
fn c_string<'a>(ptr: *const c_char, name: &str) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL (checked); the C contract is that it points to a
    // NUL-terminated string that outlives the call.
    Ok(unsafe { std::ffi::CStr::from_ptr(ptr) }.to_bytes())
}

/// Checks a caller's output pointer, refusing NULL.
fn out_ptr<T>(ptr: *mut T, name: &str) -> Result<NonNull<T>, Failure> {
    NonNull::new(ptr).ok_or_else(|| Failure::null(name))
}

/// Writes a result through a checked output pointer (unaligned-safe).
fn write_out<T>(ptr: NonNull<T>, value: T) {
    // SAFETY: non-NULL (out_ptr); the C contract is that it points to a
    // writable `T`.
    unsafe { ptr.as_ptr().write_unaligned(value) }
}

/// The boundary of every call that applies settings to a socket: the
/// descriptor is checked, then the settings `config` builds are applied,
/// all or nothing (keepalive::set).
fn set_with(fd: c_int, config: impl FnOnce() -> Result<keepalive::Config, Failure>) -> c_int {
    boundary(|| {
        let sock = descriptor(fd)?;
        Ok(keepalive::set(&sock, &config()?)?)
    })
}

/// The boundary of every call that reads a socket into *out: the
/// descriptor and `out` are checked, then `read`'s answer is written.
fn read_with<T>(
    fd: c_int,
    out: *mut T,
    read: impl FnOnce(BorrowedFd<'_>) -> Result<T, Failure>,
) -> c_int {
    boundary(|| {
        let sock = descriptor(fd)?;
        let out = out_ptr(out, "out")?;
        write_out(out, read(sock)?);
        Ok(())
    })
}

/// C's "0 = leave unchanged" to the core's `None`.
fn field(v: i32) -> Option<i64> {
    (v != 0).then_some(i64::from(v))
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

fn millis_u32(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn millis_i64(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// C's deadline arguments to the core's `Deadline` (probes 0 = the default).
fn deadline(seconds: u32, probes: u32) -> Result<keepalive::Deadline, Failure> {
    let probes = (probes != 0).then_some(i64::from(probes));
    Ok(keepalive::Deadline::from_secs(i64::from(seconds), probes)?)
}

/// Turns keepalive on (SO_KEEPALIVE), keeping the socket's idle, interval and
/// count. Returns 0, or -1 with errno set: EBADF (not a descriptor),
/// ENOTSOCK (not a socket), ENOPROTOOPT or EOPNOTSUPP (not a TCP socket);
/// on failure nothing changed.
#[no_mangle]
pub extern "C" fn keepalive_enable(fd: c_int) -> c_int {
    boundary(|| Ok(keepalive::enable(&descriptor(fd)?)?))
}

/// Turns keepalive off (SO_KEEPALIVE = 0); the tuned values stay on the socket.
/// Returns 0, or -1 with errno set as for keepalive_enable().
#[no_mangle]
pub extern "C" fn keepalive_disable(fd: c_int) -> c_int {
    boundary(|| Ok(keepalive::disable(&descriptor(fd)?)?))
}

/// Turns keepalive on and applies every non-zero field of *config, all or
/// nothing: every value is validated first (idle and interval
/// 1..KEEPALIVE_MAX_IDLE_SECS, count 1..KEEPALIVE_MAX_COUNT; otherwise EINVAL), and a socket that refuses an
/// option is left as it was. Returns 0, or -1 with errno set: EINVAL (NULL
/// config, value out of range), EBADF, ENOTSOCK, ENOPROTOOPT/EOPNOTSUPP.
#[no_mangle]
pub extern "C" fn keepalive_set(fd: c_int, config: *const keepalive_config) -> c_int {
    set_with(fd, || {
        let c = read_in(config, "config")?;
        Ok(keepalive::Config::from_secs(
            field(c.idle),
            field(c.interval),
            field(c.count),
        )?)
    })
}

/// Reads the socket's keepalive state back from the kernel into *out.
/// Returns 0, or -1 with errno set (EINVAL for a NULL out, otherwise as for
/// keepalive_enable()); on failure *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_get(fd: c_int, out: *mut keepalive_settings) -> c_int {
    read_with(fd, out, |sock| {
        let s = keepalive::get(&sock)?;
        Ok(keepalive_settings {
            enabled: s.enabled,
            idle: secs(s.idle),
            interval: secs(s.interval),
            count: i32::try_from(s.count).unwrap_or(i32::MAX),
            user_timeout_ms: u32::try_from(s.user_timeout.as_millis()).unwrap_or(u32::MAX),
        })
    })
}

/// Sets TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before
/// the connection is dropped, in milliseconds 0..KEEPALIVE_MAX_USER_TIMEOUT_MS (INT32_MAX); 0
/// restores the kernel's default. Returns 0, or -1 with errno set: EINVAL
/// (ms > INT32_MAX), EBADF, ENOTSOCK, ENOPROTOOPT/EOPNOTSUPP.
#[no_mangle]
pub extern "C" fn keepalive_set_user_timeout(fd: c_int, ms: u32) -> c_int {
    boundary(|| {
        let sock = descriptor(fd)?;
        Ok(keepalive::set_user_timeout(
            &sock,
            Duration::from_millis(u64::from(ms)),
        )?)
    })
}

/// Writes the kernel's system-wide defaults, which a new socket starts with,
/// into *out (on Linux from /proc/sys/net/ipv4/tcp_keepalive_time,
/// tcp_keepalive_intvl and tcp_keepalive_probes). Returns 0, or -1 with
/// errno set (EINVAL for a NULL out, or the error reading them); on failure
/// *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_system_defaults(out: *mut keepalive_config) -> c_int {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        let d = keepalive::system_defaults()?;
        write_out(
            out,
            keepalive_config {
                idle: d.idle.map_or(0, secs),
                interval: d.interval.map_or(0, secs),
                count: d.count.map_or(0, |n| i32::try_from(n).unwrap_or(i32::MAX)),
            },
        );
        Ok(())
    })
}

/// Sets a dead-peer deadline: the connection is declared dead about `seconds`
/// after the peer was last heard from, whether it is idle (keepalive probes)
/// or has data in flight (retransmissions). Sets TCP_KEEPIDLE,
/// TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT together, all or nothing:
/// idle + interval x count = seconds, 3 probes, user timeout = seconds x 1000
/// (keepalive_deadline_schedule() shows the split). On a listener, accepted
/// connections inherit it. Returns 0, or -1 with errno set: EINVAL (seconds
/// under KEEPALIVE_MIN_DEADLINE_SECS or over 131068, the most 3 probes allow), EBADF, ENOTSOCK, ENOPROTOOPT/EOPNOTSUPP (not TCP, or an
/// MPTCP socket, which has no user timeout); on failure nothing changed.
#[no_mangle]
pub extern "C" fn keepalive_set_deadline(fd: c_int, seconds: u32) -> c_int {
    set_with(fd, || Ok(deadline(seconds, 0)?.config()?))
}

/// keepalive_set_deadline() with the number of unanswered probes that declare
/// an idle peer dead: 1..min(127, seconds - 1); 0 = the default (3, fewer for
/// a deadline under 4 s). More probes tolerate more lost ones, spaced closer.
/// Returns 0, or -1 with errno set as for keepalive_set_deadline() (EINVAL
/// also for a probe count out of range).
#[no_mangle]
pub extern "C" fn keepalive_set_deadline_probes(fd: c_int, seconds: u32, probes: u32) -> c_int {
    set_with(fd, || Ok(deadline(seconds, probes)?.config()?))
}

/// Reads a caller's sized struct (keepalive_deadline, keepalive_request),
/// checking its `size` (its first `uint32_t`) as Linux's
/// copy_struct_from_user() does: smaller than the first version (`v1`
/// bytes) is EINVAL; larger is accepted only when every byte past what this
/// library knows is `unset` (what the struct's fields hold when not given;
/// E2BIG otherwise: the caller asks for something this version lacks).
/// `T` must be plain integers (valid for any bytes).
fn read_sized<T: Copy>(ptr: *const T, name: &str, v1: usize, unset: u8) -> Result<T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    let ty = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or(name);
    // SAFETY: non-NULL (checked); every version starts with `size`.
    let size = unsafe { ptr.cast::<u32>().read_unaligned() } as usize;
    if size < v1 {
        return Err(Failure {
            errno: libc::EINVAL,
            message: format!("{ty}.size must be sizeof({ty}), at least {v1}, got {size}"),
        });
    }
    let known = std::mem::size_of::<T>();
    if size > known {
        // SAFETY: the caller says its struct has `size` bytes.
        let tail = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(known), size - known) };
        if let Some(at) = tail.iter().position(|&b| b != unset) {
            return Err(Failure {
                errno: libc::E2BIG,
                message: format!(
                    "{ty}.size is {size}, and byte {} is not {}: a field this version of \
                     libkeepalive ({}) does not know",
                    known + at,
                    if unset == 0 {
                        "zero"
                    } else {
                        "0xff (not given)"
                    },
                    env!("CARGO_PKG_VERSION")
                ),
            });
        }
    }
    // Only the caller's bytes are read (a caller built with an older,
    // smaller struct has no more); the fields it lacks read as not given.
    let copied = size.min(known);
    let mut value = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `value` has `known` writable bytes and the caller's struct
    // `copied` readable ones; `T` (keepalive_deadline, keepalive_request) is
    // plain integers, valid for any bytes.
    unsafe {
        let out = value.as_mut_ptr().cast::<u8>();
        out.write_bytes(unset, known);
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), out, copied);
        Ok(value.assume_init())
    }
}

/// Reads a caller's keepalive_deadline (read_sized: a field not given is 0).
fn read_deadline(ptr: *const keepalive_deadline) -> Result<keepalive::Deadline, Failure> {
    let d = read_sized(ptr, "deadline", DEADLINE_SIZE_V1, 0)?;
    let dl = deadline(d.seconds, d.probes)?;
    Ok(match d.max_idle {
        0 => dl,
        t => dl.max_idle_from_secs(i64::from(t))?,
    })
}

/// keepalive_set_deadline() with its options in a struct: the probes
/// (0 = the default) and max_idle, the silence a NAT, firewall or load
/// balancer on the path tolerates (0 = none): the split then keeps a
/// healthy connection from being silent that long even when one probe or
/// its answer is lost, and the deadline still holds. Set d->size to
/// sizeof *d. Returns 0, or -1 with errno set: EINVAL (NULL d, d->size under
/// 16, a value out of range, or a max_idle the deadline cannot keep with its
/// probes: keepalive_last_error() names both), E2BIG (d->size larger than
/// this library's struct with non-zero bytes past it), and as for
/// keepalive_set_deadline(); on failure nothing changed.
#[no_mangle]
pub extern "C" fn keepalive_set_deadline_ex(fd: c_int, d: *const keepalive_deadline) -> c_int {
    set_with(fd, || Ok(read_deadline(d)?.config()?))
}

/// Writes into *out the settings keepalive_set_deadline_ex(fd, d) would give
/// a socket, without touching any. Returns 0, or -1 with errno set as for
/// keepalive_set_deadline_ex() (EINVAL for a NULL out too); on failure *out
/// is not written.
#[no_mangle]
pub extern "C" fn keepalive_deadline_schedule_ex(
    d: *const keepalive_deadline,
    out: *mut keepalive_settings,
) -> c_int {
    schedule_with(out, || Ok(read_deadline(d)?.config()?))
}

/// The boundary of every call that shows a deadline's settings: `out` is
/// checked, then the settings `config` builds are written into it, as C
/// reads them.
fn schedule_with(
    out: *mut keepalive_settings,
    config: impl FnOnce() -> Result<keepalive::Config, Failure>,
) -> c_int {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        write_out(out, schedule(&config()?));
        Ok(())
    })
}

/// A deadline's settings as C reads them.
fn schedule(c: &keepalive::Config) -> keepalive_settings {
    keepalive_settings {
        enabled: true,
        idle: c.idle.map_or(0, secs),
        interval: c.interval.map_or(0, secs),
        count: c.count.map_or(0, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        user_timeout_ms: c.user_timeout.map_or(0, millis_u32),
    }
}

/// Writes into *out the settings keepalive_set_deadline_probes(fd, seconds,
/// probes) would give a socket, without touching any (probes 0 = the
/// default): enabled, idle, interval, count and user_timeout_ms, so that
/// keepalive_settings_dead_after() can say what the kernel will do with
/// them. Returns 0, or -1 with errno EINVAL (NULL out, seconds or probes out
/// of range); on failure *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_deadline_schedule(
    seconds: u32,
    probes: u32,
    out: *mut keepalive_settings,
) -> c_int {
    schedule_with(out, || Ok(deadline(seconds, probes)?.config()?))
}

/// Reads a connection's liveness from the kernel (TCP_INFO) into *out: time
/// since the peer's last ACK and data, probes out, unacknowledged segments,
/// and how long until the peer is declared dead if nothing more is heard.
/// Returns 0, or -1 with errno set (EINVAL for a NULL out, otherwise as for
/// keepalive_enable()); on failure *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_get_status(fd: c_int, out: *mut keepalive_status) -> c_int {
    read_with(fd, out, |sock| {
        let st = keepalive::status(&sock)?;
        Ok(keepalive_status {
            last_ack_ms: millis_u32(st.last_ack),
            last_data_ms: millis_u32(st.last_data),
            probes_out: st.probes_out,
            unacked: st.unacked,
            dead_in_ms: st.dead_in.map_or(-1, millis_i64),
        })
    })
}

/// Writes into *out what the kernel will do with the settings *settings (as
/// keepalive_get() read them): when an idle and a busy connection are
/// declared dead after the peer goes silent, and after how many probes.
/// Returns 0, or -1 with errno EINVAL (a NULL pointer, or a negative value
/// in *settings); on failure *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_settings_dead_after(
    settings: *const keepalive_settings,
    out: *mut keepalive_dead_after,
) -> c_int {
    boundary(|| {
        // Read through the byte-typed mirror: never a Rust `bool` from C memory.
        let s = read_in(settings.cast::<SettingsIn>(), "settings")?;
        let out = out_ptr(out, "out")?;
        let nonneg = |name: &str, v: i32| {
            u64::try_from(v).map_err(|_| Failure {
                errno: libc::EINVAL,
                message: format!("settings->{name} must not be negative, got {v}"),
            })
        };
        let settings = keepalive::Settings::new(
            s.enabled != 0,
            Duration::from_secs(nonneg("idle", s.idle)?),
            Duration::from_secs(nonneg("interval", s.interval)?),
            nonneg("count", s.count)? as u32,
            Duration::from_millis(u64::from(s.user_timeout_ms)),
        );
        write_out(
            out,
            keepalive_dead_after {
                idle_ms: millis_i64(settings.dead_after()),
                busy_ms: settings.dead_after_busy().map_or(-1, millis_i64),
                probes: settings.probes_until_dead(),
            },
        );
        Ok(())
    })
}

/// Sets the system-wide defaults that every socket which turns keepalive on
/// without values of its own gets (Linux: /proc/sys/net/ipv4/tcp_keepalive_time,
/// tcp_keepalive_intvl, tcp_keepalive_probes, for the calling process's
/// network namespace); a field left 0 stays as it is. All or nothing: every
/// value is validated first (EINVAL), and the old values are put back if a
/// later write fails. Returns 0, or -1 with errno set: EINVAL (NULL config,
/// value out of range), EACCES/EPERM (needs root, or CAP_NET_ADMIN in the
/// namespace), EOPNOTSUPP (not Linux).
#[no_mangle]
pub extern "C" fn keepalive_set_system_defaults(config: *const keepalive_config) -> c_int {
    boundary(|| {
        let c = read_in(config, "config")?;
        let config =
            keepalive::Config::from_secs(field(c.idle), field(c.interval), field(c.count))?;
        Ok(keepalive::set_system_defaults(&config)?)
    })
}

/// Checks *config as keepalive_set() would, without touching any socket: for
/// programs that validate their options before doing anything. Returns 0, or
/// -1 with errno EINVAL (NULL, or a value out of range; keepalive_last_error()
/// names it and the range).
#[no_mangle]
pub extern "C" fn keepalive_config_check(config: *const keepalive_config) -> c_int {
    boundary(|| {
        let c = read_in(config, "config")?;
        keepalive::Config::from_secs(field(c.idle), field(c.interval), field(c.count))?;
        Ok(())
    })
}

/// Checks a TCP_USER_TIMEOUT as keepalive_set_user_timeout() would
/// (0..KEEPALIVE_MAX_USER_TIMEOUT_MS), without touching any socket. Returns 0, or -1 with errno
/// EINVAL.
#[no_mangle]
pub extern "C" fn keepalive_user_timeout_check(ms: u32) -> c_int {
    boundary(|| {
        keepalive::user_timeout_from_millis(i64::from(ms))?;
        Ok(())
    })
}

/// Parses `text` as the value `name` ("idle", "interval", "count",
/// "user_timeout", "deadline", "max_idle" or "probes") and checks its range, without touching any
/// socket: for programs that read options from a command line or the
/// environment. The syntax is every front door's: a whole number in decimal,
/// with an optional sign and blanks around it. Returns 0 with *out set, or -1
/// with errno EINVAL (NULL pointer, unknown name, not a number, out of range;
/// keepalive_last_error() names the value, its range and what was given, e.g.
/// "count must be 1..127 probes, got \"abc\""); on failure *out is not written.
#[no_mangle]
pub extern "C" fn keepalive_value_parse(
    name: *const c_char,
    text: *const c_char,
    out: *mut i64,
) -> c_int {
    boundary(|| {
        let name = c_string(name, "name")?;
        let text = c_string(text, "text")?;
        let out = out_ptr(out, "out")?;
        let field = field_named(name)?;
        write_out(out, field.parse(text)?);
        Ok(())
    })
}

/// The value called `name` in C (the core's names: "idle", "count", ...).
fn field_named(name: &[u8]) -> Result<keepalive::Field, Failure> {
    std::str::from_utf8(name)
        .ok()
        .and_then(keepalive::Field::from_name)
        .ok_or_else(|| unknown_field(&name.escape_ascii().to_string()))
}

/// The refusal of a value name this library does not know.
fn unknown_field(name: &str) -> Failure {
    Failure {
        errno: libc::EINVAL,
        message: format!(
            "unknown value name \"{name}\": one of {}",
            keepalive::Field::ALL.map(keepalive::Field::name).join(", ")
        ),
    }
}

/// The library's version, "MAJOR.MINOR.PATCH". A static string; never NULL.
#[no_mangle]
pub extern "C" fn keepalive_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// A sentence describing the calling thread's last failure, e.g. "idle must
/// be 1..32767 seconds, got 40000" ("no error" before any). Never NULL; the
/// string stays valid until the thread's next failing call. Does not change
/// errno.
#[no_mangle]
pub extern "C" fn keepalive_last_error() -> *const c_char {
    let no_error = NO_ERROR.as_ptr().cast::<c_char>();
    catch(
        || {
            LAST_ERROR
                .try_with(|slot| {
                    slot.try_borrow()
                        .ok()
                        .and_then(|m| m.as_ref().map(|c| c.as_ptr()))
                })
                .ok()
                .flatten()
                .unwrap_or(no_error)
        },
        |_| no_error,
    )
}

#[cfg(test)]
mod tests {
    //! What the C tests (tests/c) cannot reach: a panic inside the boundary,
    //! and the committed header being what this source generates.

    use super::*;
    use std::ffi::CStr;

    /// `SettingsIn` is read where a `keepalive_settings` was written: every
    /// field at the same offset.
    #[test]
    fn settings_mirror_has_the_same_layout() {
        use std::mem::offset_of;
        macro_rules! offsets {
            ($t:ty) => {
                [
                    offset_of!($t, enabled),
                    offset_of!($t, idle),
                    offset_of!($t, interval),
                    offset_of!($t, count),
                    offset_of!($t, user_timeout_ms),
                ]
            };
        }
        assert_eq!(offsets!(keepalive_settings), offsets!(SettingsIn));
    }

    /// A `bool` byte that is neither 0 nor 1, as C code can leave it: read
    /// as a byte (any non-zero is on), never as a Rust `bool`.
    #[test]
    fn settings_enabled_is_read_as_a_byte() {
        // Run under Miri by tests/c/run.sh, which reports the old read as
        // "constructing invalid value ... encountered 0x02, but expected a boolean".
        let mut bytes = [0u8; std::mem::size_of::<keepalive_settings>()];
        let fields: [(usize, i32); 3] = [(4, 2), (8, 1), (12, 3)];
        for (at, v) in fields {
            bytes[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
        for byte in 0..=u8::MAX {
            bytes[0] = byte;
            let mut out = keepalive_dead_after::default();
            let rc = keepalive_settings_dead_after(bytes.as_ptr().cast(), &mut out);
            assert_eq!(rc, 0, "{}", last_error());
            assert_eq!(
                (out.idle_ms, out.busy_ms, out.probes),
                (5000, -1, 3),
                "{byte}"
            );
        }
    }

    fn last_error() -> String {
        // SAFETY: keepalive_last_error never returns NULL and the string is
        // NUL-terminated.
        unsafe { CStr::from_ptr(keepalive_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_eio_and_a_message_not_an_unwind() {
        let rc = boundary(|| panic!("boom"));
        assert_eq!(rc, -1);
        assert_eq!(errno::errno().0, libc::EIO);
        assert_eq!(
            last_error(),
            "internal error in libkeepalive (please report it): boom"
        );
    }

    #[test]
    fn success_leaves_errno_as_it_was() {
        errno::set_errno(errno::Errno(12345));
        let rc = boundary(|| {
            errno::set_errno(errno::Errno(libc::EBADF));
            Ok(())
        });
        assert_eq!(rc, 0);
        assert_eq!(errno::errno().0, 12345);
    }

    #[test]
    fn a_nul_in_a_message_does_not_lose_it() {
        let rc = boundary(|| {
            Err(Failure {
                errno: libc::EINVAL,
                message: "a\0b".into(),
            })
        });
        assert_eq!(rc, -1);
        assert_eq!(last_error(), "a?b");
    }

    /// `make test-c` runs this: the committed include/keepalive.h must be
    /// what build.rs generates from this source. `KEEPALIVE_BLESS=1 cargo
    /// test -p keepalive-ffi` rewrites it after an intended change.
    #[test]
    fn committed_header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/keepalive.h"));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/keepalive.h");
        if std::env::var_os("KEEPALIVE_BLESS").is_some() {
            std::fs::write(path, generated).expect("write include/keepalive.h");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "include/keepalive.h is stale: it differs from what cbindgen generates from \
             crates/keepalive-ffi/src/lib.rs.\nRun `KEEPALIVE_BLESS=1 cargo test -p keepalive-ffi \
             committed_header` and commit include/keepalive.h.\n--- generated ---\n{generated}"
        );
    }
}
