//! keepalive_request: what a C caller asks for, value by value, with the
//! core's rules between the values (keepalive::Request).

use std::ffi::{c_char, c_int};

use crate::{boundary, c_string, read_sized, Failure};

/// Everything a program may ask for, value by value, as its command line or
/// environment gives it: keepalive_request_init() it, fill it with
/// keepalive_request_parse() (or assign the fields), then
/// keepalive_request_check() it and keepalive_set_request() it on each
/// socket. The rules between the values are the library's, the same in
/// every language: a deadline sets idle, interval, count and the user
/// timeout itself, so none of them can be given with it; probes and
/// max_idle shape a deadline, so each needs one.
///
/// A field holds -1 when not given. `size` is sizeof(keepalive_request) as
/// the caller was compiled (set by keepalive_request_init()): the struct may
/// grow at its end in later versions.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct keepalive_request {
    /// sizeof(keepalive_request) as the caller was compiled: 64 or more.
    pub size: u32,
    /// Reserved: 0.
    pub reserved: u32,
    /// The dead-peer deadline, seconds (KEEPALIVE_MIN_DEADLINE_SECS and up).
    pub deadline: i64,
    /// Unanswered probes the deadline spends, 1..KEEPALIVE_MAX_COUNT.
    pub probes: i64,
    /// The silence a NAT, firewall or load balancer on the path tolerates,
    /// seconds (KEEPALIVE_MIN_MAX_IDLE_SECS and up).
    pub max_idle: i64,
    /// TCP_KEEPIDLE, seconds, 1..KEEPALIVE_MAX_IDLE_SECS.
    pub idle: i64,
    /// TCP_KEEPINTVL, seconds, 1..KEEPALIVE_MAX_INTERVAL_SECS.
    pub interval: i64,
    /// TCP_KEEPCNT, probes, 1..KEEPALIVE_MAX_COUNT.
    pub count: i64,
    /// TCP_USER_TIMEOUT, milliseconds, 0..KEEPALIVE_MAX_USER_TIMEOUT_MS.
    pub user_timeout_ms: i64,
}

/// What a field holds when its value was not given.
const NOT_GIVEN: i64 = -1;

impl keepalive_request {
    /// The field that holds `field`'s value.
    fn slot(&mut self, field: keepalive::Field) -> Option<&mut i64> {
        use keepalive::Field;
        Some(match field {
            Field::Deadline => &mut self.deadline,
            Field::Probes => &mut self.probes,
            Field::MaxIdle => &mut self.max_idle,
            Field::Idle => &mut self.idle,
            Field::Interval => &mut self.interval,
            Field::Count => &mut self.count,
            Field::UserTimeout => &mut self.user_timeout_ms,
            // A value a later core knows and this struct does not hold.
            _ => return None,
        })
    }

    /// The core's request (-1: not given; any other value is kept, for the
    /// core's check to name when out of range).
    fn to_core(self) -> keepalive::Request {
        let given = |v: i64| (v != NOT_GIVEN).then_some(v);
        keepalive::Request {
            deadline: given(self.deadline),
            probes: given(self.probes),
            max_idle: given(self.max_idle),
            idle: given(self.idle),
            interval: given(self.interval),
            count: given(self.count),
            user_timeout_ms: given(self.user_timeout_ms),
        }
    }
}

/// Reads a caller's request by its `size`, as for keepalive_deadline: a
/// field past what this library knows must be -1 (not given).
fn read_request(ptr: *const keepalive_request) -> Result<keepalive::Request, Failure> {
    let r: keepalive_request = read_sized(ptr, "request", SIZE_V1, 0xff)?;
    if r.reserved != 0 {
        return Err(Failure {
            errno: libc::EINVAL,
            message: format!("keepalive_request.reserved must be 0, got {}", r.reserved),
        });
    }
    Ok(r.to_core())
}

/// Makes *request empty (every field -1, not given) for a caller compiled
/// with a struct of `size` bytes (sizeof *request). Returns 0, or -1 with
/// errno EINVAL (NULL request, or a size under 64).
#[no_mangle]
pub extern "C" fn keepalive_request_init(request: *mut keepalive_request, size: u32) -> c_int {
    boundary(|| {
        let out = crate::out_ptr(request, "request")?;
        if (size as usize) < SIZE_V1 {
            return Err(Failure {
                errno: libc::EINVAL,
                message: format!(
                    "size must be sizeof(keepalive_request), at least {SIZE_V1}, got {size}"
                ),
            });
        }
        // SAFETY: non-NULL (checked); the caller says the struct has `size`
        // bytes. Every byte past the header is -1: not given.
        unsafe {
            let bytes = out.as_ptr().cast::<u8>();
            std::ptr::write_bytes(bytes, 0xff, size as usize);
            bytes.cast::<u32>().write_unaligned(size);
            bytes.add(4).cast::<u32>().write_unaligned(0);
        }
        Ok(())
    })
}

/// The size of the first version of keepalive_request.
const SIZE_V1: usize = 64;

/// Gives the value `name` ("idle", "interval", "count", "user_timeout",
/// "deadline", "probes" or "max_idle") the number written in `text`: a
/// whole number in decimal, blanks around it and a sign allowed, in the
/// value's range (every front door's syntax and ranges). Returns 0, or -1
/// with errno EINVAL (NULL pointer, unknown name, not a number, out of
/// range: keepalive_last_error() names the value, its range and what was
/// given, e.g. "count must be 1..127 probes, got \"abc\""); on failure
/// *request is unchanged.
#[no_mangle]
pub extern "C" fn keepalive_request_parse(
    request: *mut keepalive_request,
    name: *const c_char,
    text: *const c_char,
) -> c_int {
    boundary(|| {
        let mut r: keepalive_request = read_sized(request, "request", SIZE_V1, 0xff)?;
        let field = crate::field_named(c_string(name, "name")?)?;
        let value = field.parse(c_string(text, "text")?)?;
        let slot = r
            .slot(field)
            .ok_or_else(|| crate::unknown_field(field.name()))?;
        *slot = value;
        // Back into the caller's bytes only (an older caller's struct may be
        // smaller than this library's).
        let size = (r.size as usize).min(std::mem::size_of::<keepalive_request>());
        let out = crate::out_ptr(request, "request")?;
        // SAFETY: non-NULL (checked); the caller's struct has `r.size` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&raw const r).cast::<u8>(),
                out.as_ptr().cast::<u8>(),
                size,
            );
        }
        Ok(())
    })
}

/// Checks *request, each value and the rules between them, without touching
/// any socket: what keepalive_set_request() would refuse, this refuses.
/// Returns 0, or -1 with errno EINVAL (NULL, a value out of range, a value
/// given with a deadline that sets it, probes or max_idle without a
/// deadline, a max_idle the deadline cannot keep: keepalive_last_error()
/// names the value at fault) or E2BIG (a larger struct than this library
/// knows, with a field past it given).
#[no_mangle]
pub extern "C" fn keepalive_request_check(request: *const keepalive_request) -> c_int {
    boundary(|| Ok(read_request(request)?.check()?))
}

/// Turns keepalive on and applies *request to the socket: the deadline's
/// split, or the values given (as keepalive_set() and
/// keepalive_set_user_timeout() would, all or nothing). Returns 0, or -1
/// with errno set as for keepalive_request_check() and keepalive_set(); on
/// failure nothing changed.
#[no_mangle]
pub extern "C" fn keepalive_set_request(fd: c_int, request: *const keepalive_request) -> c_int {
    crate::set_with(fd, || Ok(read_request(request)?.config()?))
}
