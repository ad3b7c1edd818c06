//! `keepalive._keepalive`: the native module of the `libkeepalive` wheel.
//!
//! A translation layer only. It turns Python arguments into what the
//! [`keepalive`] core takes (a descriptor, plain integers) and the core's
//! [`keepalive::Error`] into the Python exception for it:
//!
//! | core | Python |
//! |---|---|
//! | wrong argument type (found here, while converting) | `TypeError` |
//! | [`Error::InvalidValue`] (the core's ranges and message) | `ValueError` |
//! | [`Error::Os`], [`Error::Unsupported`] | `OSError` with `errno` set |
//!
//! Every range lives in the core ([`keepalive::Config::from_secs`],
//! [`keepalive::user_timeout_from_millis`], [`keepalive::Deadline`],
//! [`keepalive::socket_options`]); nothing here decides what a valid value
//! is.
//!
//! The socket calls keep the GIL: they are a few `setsockopt`/`getsockopt`
//! calls that never wait for the network (at most for another thread's
//! in-kernel use of the same socket, microseconds), and releasing and
//! retaking the GIL cost more than the calls themselves (BENCHMARKS.md). The
//! `/proc` reads and writes of `system_defaults`/`set_system_defaults`
//! release it.
//!
//! `enable`, `get` and `set_deadline` also have vectorcall entry points
//! ([`fastcall`]), used on CPython 3.10 and later.
//!
//! The Python face is `python/keepalive/__init__.py`, which re-exports this
//! module; the documented API is in `python/keepalive/__init__.pyi`.

#[cfg(unix)]
use std::os::fd::{BorrowedFd as BorrowedSock, RawFd as RawSock};
#[cfg(windows)]
use std::os::windows::io::{BorrowedSocket as BorrowedSock, RawSocket as RawSock};
use std::time::Duration;

use keepalive::Error;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyInt};

mod fastcall;

/// A socket's keepalive state, as `keepalive.get()` reads it from the kernel
/// (or the system defaults, from `keepalive.system_defaults()`).
///
/// Immutable; compares and hashes by value. Seconds and milliseconds are ints.
#[pyclass(frozen, eq, hash, module = "keepalive", name = "Settings")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Settings {
    /// Whether `SO_KEEPALIVE` is on.
    #[pyo3(get)]
    enabled: bool,
    /// `TCP_KEEPIDLE`: seconds of silence before the first probe.
    #[pyo3(get)]
    idle: u64,
    /// `TCP_KEEPINTVL`: seconds between unanswered probes.
    #[pyo3(get)]
    interval: u64,
    /// `TCP_KEEPCNT`: unanswered probes before the peer is declared dead.
    #[pyo3(get)]
    count: u32,
    /// `TCP_USER_TIMEOUT` in milliseconds; 0 means the kernel's default.
    #[pyo3(get)]
    user_timeout_ms: u64,
}

#[pymethods]
impl Settings {
    /// Milliseconds after the peer was last heard from that an idle
    /// connection with keepalive on is declared dead, by the kernel's rule: a
    /// set user timeout replaces `count` (Linux).
    #[getter]
    fn dead_after_ms(&self) -> u64 {
        millis(self.core().dead_after())
    }

    /// Milliseconds a connection with data unacknowledged lives on once the
    /// peer is silent: the user timeout, counted by the kernel from the first
    /// retransmission; `None` without one (then `tcp_retries2` decides,
    /// about 924.6 s by default).
    #[getter]
    fn dead_after_busy_ms(&self) -> Option<u64> {
        self.core().dead_after_busy().map(millis)
    }

    /// Unanswered probes an idle connection sends before it is declared dead.
    #[getter]
    fn probes_until_dead(&self) -> u32 {
        self.core().probes_until_dead()
    }

    fn __repr__(&self) -> String {
        format!(
            "Settings(enabled={}, idle={}, interval={}, count={}, user_timeout_ms={})",
            if self.enabled { "True" } else { "False" },
            self.idle,
            self.interval,
            self.count,
            self.user_timeout_ms
        )
    }
}

impl Settings {
    /// Back to the core's type, to ask it what the kernel will do.
    fn core(&self) -> keepalive::Settings {
        keepalive::Settings::new(
            self.enabled,
            Duration::from_secs(self.idle),
            Duration::from_secs(self.interval),
            self.count,
            Duration::from_millis(self.user_timeout_ms),
        )
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's liveness, as `keepalive.status()` reads it from the kernel
/// (`TCP_INFO`). Immutable; times are int milliseconds.
#[pyclass(frozen, eq, module = "keepalive", name = "Status")]
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    /// Milliseconds since the peer's last ACK.
    #[pyo3(get)]
    last_ack_ms: u64,
    /// Milliseconds since data was last received.
    #[pyo3(get)]
    last_data_ms: u64,
    /// Keepalive probes sent and unanswered.
    #[pyo3(get)]
    probes_out: u32,
    /// Segments sent and not yet acknowledged.
    #[pyo3(get)]
    unacked: u32,
    /// Milliseconds until the kernel declares the peer dead if nothing more is
    /// heard; `None` where no bound is in force.
    #[pyo3(get)]
    dead_in_ms: Option<u64>,
    /// The TCP state, e.g. `"ESTABLISHED"`, `"LISTEN"`.
    #[pyo3(get)]
    state: &'static str,
    /// Which timer governs: `"idle"`, `"probing"`, `"busy"`, `"zero-window"`
    /// (data waiting behind the peer's closed window), `"unwatched"`
    /// (keepalive off, nothing in flight) or `"not-connected"`.
    #[pyo3(get)]
    phase: &'static str,
    /// The settings the prediction is made from.
    #[pyo3(get)]
    settings: Settings,
}

#[pymethods]
impl Status {
    fn __repr__(&self) -> String {
        format!(
            "Status(state={:?}, phase={:?}, last_ack_ms={}, last_data_ms={}, probes_out={}, \
             unacked={}, dead_in_ms={})",
            self.state,
            self.phase,
            self.last_ack_ms,
            self.last_data_ms,
            self.probes_out,
            self.unacked,
            self.dead_in_ms
                .map_or_else(|| "None".to_owned(), |ms| ms.to_string())
        )
    }
}

impl From<keepalive::Status> for Status {
    fn from(st: keepalive::Status) -> Self {
        Status {
            last_ack_ms: millis(st.last_ack),
            last_data_ms: millis(st.last_data),
            probes_out: st.probes_out,
            unacked: st.unacked,
            dead_in_ms: st.dead_in.map(millis),
            state: st.state.name(),
            phase: st.phase.name(),
            settings: st.settings.into(),
        }
    }
}

impl From<keepalive::Settings> for Settings {
    fn from(s: keepalive::Settings) -> Self {
        Settings {
            enabled: s.enabled,
            idle: s.idle.as_secs(),
            interval: s.interval.as_secs(),
            count: s.count,
            user_timeout_ms: u64::try_from(s.user_timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The one mapping from the core's error to a Python exception.
fn to_py(err: Error) -> PyErr {
    if err.is_invalid_value() {
        PyValueError::new_err(err.to_string())
    } else {
        // Os, Unsupported and whatever the core adds later: the errno a C
        // caller would see, so that `e.errno` is set.
        PyOSError::new_err((err.raw_os_error(), err.to_string()))
    }
}

/// The Python type name of `obj`, for messages.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

/// An `int` (not a `bool`) as an `i64`, saturating ints too large for it so
/// that the core reports them as out of range. `None` for anything else.
fn int_value(obj: &Bound<'_, PyAny>) -> Option<PyResult<i64>> {
    int_arg(obj).map(|r| r.map(|(n, _)| n))
}

/// The common case on the hot paths, an exact `int` that fits an `i64`, in
/// one pointer comparison and one call; `None` sends anything else (bool,
/// subclasses, huge ints, other types) the long way, [`int_arg`].
#[inline(always)]
fn small_int(obj: &Bound<'_, PyAny>) -> Option<i64> {
    if !obj.is_exact_instance_of::<PyInt>() {
        return None;
    }
    let mut overflow: std::ffi::c_int = 0;
    // SAFETY: `obj` is a live int; the call only reads it.
    let n = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    (overflow == 0 && n != -1).then_some(n)
}

/// Like [`int_value`], also telling whether the int was saturated (then the
/// message must show the int as given, not the saturated value).
fn int_arg(obj: &Bound<'_, PyAny>) -> Option<PyResult<(i64, bool)>> {
    // An exact int (never a bool) is one pointer comparison; under the
    // limited API the subclass checks below are function calls.
    if !obj.is_exact_instance_of::<PyInt>()
        && (obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>())
    {
        return None;
    }
    let mut overflow: std::ffi::c_int = 0;
    // SAFETY: `obj` is a live int (checked above); the call only reads it.
    let n = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    if overflow != 0 {
        return Some(Ok((if overflow < 0 { i64::MIN } else { i64::MAX }, true)));
    }
    if n == -1 {
        if let Some(err) = PyErr::take(obj.py()) {
            return Some(Err(err));
        }
    }
    Some(Ok((n, false)))
}

/// An int argument checked by the core: the core's error, with the int as
/// the caller gave it when it did not fit an `i64`.
fn checked<T>(
    obj: Option<&Bound<'_, PyAny>>,
    saturated: bool,
    result: Result<T, Error>,
) -> PyResult<T> {
    result.map_err(|err| match obj {
        Some(obj) if saturated && err.is_invalid_value() => {
            PyValueError::new_err(err.given_as(int_text(obj)).to_string())
        }
        _ => to_py(err),
    })
}

/// An int argument as text for a message: `str(obj)`, or, for an int with
/// more digits than `str()` may print (4300 by default since CPython 3.11,
/// `sys.set_int_max_str_digits`), its sign and first 41 digits, which
/// messages cut after 40 with `...` as they cut any long number. Never empty.
fn int_text(obj: &Bound<'_, PyAny>) -> String {
    if let Ok(text) = obj.str() {
        return text.to_string();
    }
    leading_digits(obj, 41).unwrap_or_else(|_| format!("a {} too long to print", type_name(obj)))
}

/// The sign and first `keep` digits of a long int, without converting all
/// of them (what `str()` refuses): the digit count from the bit length, made
/// exact by comparisons, then one integer division.
fn leading_digits(obj: &Bound<'_, PyAny>, keep: u64) -> PyResult<String> {
    let py = obj.py();
    let magnitude = obj.call_method0(intern!(py, "__abs__"))?;
    let sign = if magnitude.eq(obj)? { "" } else { "-" };
    let bits: u64 = magnitude
        .call_method0(intern!(py, "bit_length"))?
        .extract()?;
    // 2^(bits-1) <= n < 2^bits, so n has about (bits-1)·log10(2) + 1 digits;
    // the comparisons settle the float's last doubt.
    let mut digits = (bits.saturating_sub(1) as f64 * std::f64::consts::LOG10_2) as u64 + 1;
    let ten = 10u64.into_pyobject(py)?;
    if magnitude.ge(ten.pow(digits, py.None())?)? {
        digits += 1;
    } else if digits > 1 && magnitude.lt(ten.pow(digits - 1, py.None())?)? {
        digits -= 1;
    }
    let head = magnitude.floor_div(ten.pow(digits.saturating_sub(keep), py.None())?)?;
    Ok(format!("{sign}{}", head.str()?))
}

/// `text` cut after 40 bytes with `...`, as the core shows a long value.
fn cut(text: String) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// `socket.socket` and its `fileno` as the class had it when first needed.
static SOCKET_FILENO: PyOnceLock<Option<(Py<PyAny>, Py<PyAny>)>> = PyOnceLock::new();

/// `sock.fileno()`. For an object whose type is exactly `socket.socket` (no
/// instance `__dict__`, so nothing can shadow the method), the class's
/// `fileno` found at the first call is called with it directly, which skips
/// the attribute lookup; `socket.socket`'s own methods (`setsockopt`, ...)
/// do not look `fileno` up at all. Anything else gets the method call of
/// `PyObject_CallMethodObjArgs` with an interned name (no string made, no
/// bound method made).
#[inline(always)]
fn call_fileno<'py>(sock: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = sock.py();
    let fast = SOCKET_FILENO.get_or_init(py, || {
        let class = py.import("socket").ok()?.getattr("socket").ok()?;
        let fileno = class.getattr("fileno").ok()?;
        Some((class.unbind(), fileno.unbind()))
    });
    if let Some((class, fileno)) = fast {
        // SAFETY: `sock` is a live object; its type pointer is only compared.
        let ty = unsafe { pyo3::ffi::Py_TYPE(sock.as_ptr()) };
        if ty.cast::<pyo3::ffi::PyObject>() == class.as_ptr() {
            // SAFETY: `fileno` and `sock` are live objects; the argument
            // list ends with NULL as the variadic call requires.
            return unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    pyo3::ffi::PyObject_CallFunctionObjArgs(
                        fileno.as_ptr(),
                        sock.as_ptr(),
                        std::ptr::null_mut::<pyo3::ffi::PyObject>(),
                    ),
                )
            };
        }
    }
    sock.call_method0(intern!(py, "fileno"))
}

/// The descriptor of a `socket.socket`, an `int`, or anything with `fileno()`.
///
/// `bool` and `None` are refused with `TypeError`. A number that cannot be a
/// descriptor (negative, as a closed `socket.socket` reports, or beyond a C
/// `int`) is `OSError(EBADF)`, what the kernel says for a closed one.
#[inline(always)]
fn descriptor(sock: &Bound<'_, PyAny>) -> PyResult<RawSock> {
    let wrong = || {
        PyTypeError::new_err(format!(
            "sock must be a socket, an int file descriptor or an object with fileno(), not {}",
            type_name(sock)
        ))
    };
    let (n, given) = if let Some(n) = small_int(sock) {
        (n, sock.clone())
    } else if let Some(n) = int_value(sock) {
        (n?, sock.clone())
    } else if sock.is_none() || sock.is_instance_of::<PyBool>() {
        return Err(wrong());
    } else {
        let fd = match call_fileno(sock) {
            Ok(fd) => fd,
            // Only now is the lookup repeated, to tell a missing fileno
            // (TypeError) from one that raised AttributeError itself.
            Err(e) if e.is_instance_of::<PyAttributeError>(sock.py()) => {
                return Err(if sock.hasattr(intern!(sock.py(), "fileno"))? {
                    e
                } else {
                    wrong()
                });
            }
            Err(e) => return Err(e),
        };
        match small_int(&fd).map(Ok).or_else(|| int_value(&fd)) {
            Some(n) => (n?, fd),
            None => {
                return Err(PyTypeError::new_err(format!(
                    "{}.fileno() must return an int, not {}",
                    type_name(sock),
                    type_name(&fd)
                )))
            }
        }
    };
    RawSock::try_from(n)
        .ok()
        .filter(|fd| can_be_descriptor(*fd))
        .ok_or_else(|| {
            PyOSError::new_err((
                libc::EBADF,
                format!(
                    "not a file descriptor: {} (Bad file descriptor)",
                    cut(int_text(&given))
                ),
            ))
        })
}

/// Whether a number can stand for a descriptor: non-negative on Unix; on
/// Windows, where a `SOCKET` is unsigned, anything but `INVALID_SOCKET`.
#[cfg(unix)]
fn can_be_descriptor(fd: RawSock) -> bool {
    fd >= 0
}

#[cfg(windows)]
fn can_be_descriptor(sock: RawSock) -> bool {
    sock != RawSock::MAX
}

/// Runs `f` on the descriptor. The GIL stays held: see the module's notes.
#[inline(always)]
fn with_fd<T>(fd: RawSock, f: impl FnOnce(BorrowedSock<'_>) -> Result<T, Error>) -> PyResult<T> {
    // SAFETY: `fd` passed `can_be_descriptor` (in `descriptor`): non-negative
    // on Unix, not `INVALID_SOCKET` on Windows, so this is a valid borrowed
    // value. The borrow lasts for this call only; the core
    // only passes the number to getsockopt/setsockopt, so a descriptor closed
    // meanwhile by another thread gives EBADF, not undefined behaviour.
    let fd = unsafe { BorrowedSock::borrow_raw(fd) };
    f(fd).map_err(to_py)
}

/// An optional int argument: `None` stays `None`; `bool` and non-ints are a
/// `TypeError` naming the argument. The flag tells a saturated int.
#[inline]
fn optional_int(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<(Option<i64>, bool)> {
    if let Some(n) = value.and_then(small_int) {
        return Ok((Some(n), false));
    }
    match value {
        None => Ok((None, false)),
        Some(v) if v.is_none() => Ok((None, false)),
        Some(v) => int_arg(v)
            .map(|r| r.map(|(n, saturated)| (Some(n), saturated)))
            .unwrap_or_else(|| {
                Err(PyTypeError::new_err(format!(
                    "{name} must be an int or None, not {}",
                    type_name(v)
                )))
            }),
    }
}

/// A required int argument (`TypeError` naming it otherwise).
fn required_int(name: &str, value: &Bound<'_, PyAny>) -> PyResult<(i64, bool)> {
    int_arg(value).unwrap_or_else(|| {
        Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            type_name(value)
        )))
    })
}

/// idle, interval and count as the core's `Config`, checked; a saturated
/// value is reported as given.
#[inline(always)]
fn config_from(
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<keepalive::Config> {
    // The hot path: each value absent, None or a small exact int, and all
    // in range. Anything else, errors included, takes the long way, which
    // checks the same and says what is wrong.
    #[inline(always)]
    fn plain(v: Option<&Bound<'_, PyAny>>) -> Option<Option<i64>> {
        match v {
            None => Some(None),
            Some(v) if v.is_none() => Some(None),
            Some(v) => small_int(v).map(Some),
        }
    }
    if let (Some(i), Some(v), Some(c)) = (plain(idle), plain(interval), plain(count)) {
        if let Ok(config) = keepalive::Config::from_secs(i, v, c) {
            return Ok(config);
        }
    }
    config_from_checked(idle, interval, count)
}

/// [`config_from`] the long way: every type checked (`TypeError` naming
/// the argument), then the core's ranges.
#[cold]
fn config_from_checked(
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<keepalive::Config> {
    let (i, si) = optional_int("idle", idle)?;
    let (v, sv) = optional_int("interval", interval)?;
    let (c, sc) = optional_int("count", count)?;
    let result = keepalive::Config::from_secs(i, v, c);
    // The core names the first bad value; report that one as given.
    let culprit = match &result {
        Err(Error::InvalidValue { name: "idle", .. }) => (idle, si),
        Err(Error::InvalidValue {
            name: "interval", ..
        }) => (interval, sv),
        Err(Error::InvalidValue { name: "count", .. }) => (count, sc),
        _ => (None, false),
    };
    checked(culprit.0, culprit.1, result)
}

/// Turns keepalive on (`SO_KEEPALIVE`) and applies the given values, all or
/// nothing. `None` leaves a value unchanged.
#[pyfunction]
#[pyo3(signature = (sock, *, idle=None, interval=None, count=None))]
fn enable(
    py: Python<'_>,
    sock: &Bound<'_, PyAny>,
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    enable_impl(py, sock, idle, interval, count)
}

/// `enable`, for both entry points (pyo3's and [`fastcall`]'s).
#[inline(always)]
fn enable_impl(
    _py: Python<'_>,
    sock: &Bound<'_, PyAny>,
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let fd = descriptor(sock)?;
    let config = config_from(idle, interval, count)?;
    with_fd(fd, |fd| keepalive::set(&fd, &config))
}

/// Turns keepalive off (`SO_KEEPALIVE` = 0), keeping the tuned values.
#[pyfunction]
fn disable(sock: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd = descriptor(sock)?;
    with_fd(fd, |fd| keepalive::disable(&fd))
}

/// Reads the socket's keepalive state back from the kernel.
#[pyfunction]
fn get(py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<Settings> {
    get_impl(py, sock)
}

/// `get`, for both entry points.
#[inline(always)]
fn get_impl(_py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<Settings> {
    let fd = descriptor(sock)?;
    with_fd(fd, |fd| keepalive::get(&fd)).map(Settings::from)
}

/// Sets `TCP_USER_TIMEOUT` in milliseconds; 0 restores the kernel's default.
#[pyfunction]
fn set_user_timeout(sock: &Bound<'_, PyAny>, ms: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd = descriptor(sock)?;
    let (n, saturated) = required_int("ms", ms)?;
    let timeout = checked(Some(ms), saturated, keepalive::user_timeout_from_millis(n))?;
    with_fd(fd, |fd| keepalive::set_user_timeout(&fd, timeout))
}

/// The system-wide defaults a new socket starts with (`enabled` is False,
/// `user_timeout_ms` 0).
#[pyfunction]
fn system_defaults(py: Python<'_>) -> PyResult<Settings> {
    let d = py.detach(keepalive::system_defaults).map_err(to_py)?;
    Ok(Settings {
        enabled: false,
        idle: d.idle.unwrap_or_default().as_secs(),
        interval: d.interval.unwrap_or_default().as_secs(),
        count: d.count.unwrap_or_default(),
        user_timeout_ms: 0,
    })
}

/// Sets a dead-peer deadline (idle, interval, count and `TCP_USER_TIMEOUT`
/// together, all or nothing).
#[pyfunction]
#[pyo3(signature = (sock, seconds, *, probes=None, max_idle=None))]
fn set_deadline(
    sock: &Bound<'_, PyAny>,
    seconds: &Bound<'_, PyAny>,
    probes: Option<&Bound<'_, PyAny>>,
    max_idle: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    set_deadline_impl(sock, seconds, probes, max_idle)
}

/// `set_deadline`, for both entry points.
fn set_deadline_impl(
    sock: &Bound<'_, PyAny>,
    seconds: &Bound<'_, PyAny>,
    probes: Option<&Bound<'_, PyAny>>,
    max_idle: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let fd = descriptor(sock)?;
    let config = deadline_config(seconds, probes, max_idle)?;
    with_fd(fd, |fd| keepalive::set(&fd, &config))
}

/// The deadline's settings, checked by the core.
fn deadline_config(
    seconds: &Bound<'_, PyAny>,
    probes: Option<&Bound<'_, PyAny>>,
    max_idle: Option<&Bound<'_, PyAny>>,
) -> PyResult<keepalive::Config> {
    let (d, sd) = required_int("seconds", seconds)?;
    let (p, sp) = optional_int("probes", probes)?;
    let (t, st) = optional_int("max_idle", max_idle)?;
    let result = keepalive::Deadline::from_secs(d, p).and_then(|dl| match t {
        Some(t) => dl.max_idle_from_secs(t)?.config(),
        None => dl.config(),
    });
    let culprit = match &result {
        Err(Error::InvalidValue {
            name: "deadline", ..
        }) => (Some(seconds), sd),
        Err(Error::InvalidValue { name: "probes", .. }) => (probes, sp),
        Err(Error::InvalidValue {
            name: "max_idle", ..
        }) => (max_idle, st),
        _ => (None, false),
    };
    checked(culprit.0, culprit.1, result)
}

/// Reads a connection's liveness from the kernel (`TCP_INFO`).
#[pyfunction]
fn status(sock: &Bound<'_, PyAny>) -> PyResult<Status> {
    let fd = descriptor(sock)?;
    with_fd(fd, |fd| keepalive::status(&fd)).map(Status::from)
}

/// The `(level, option, value)` triples that stand for the given values on
/// this platform, for clients that set options on a socket they make
/// themselves. `deadline` gives `set_deadline`'s split (with `max_idle`,
/// which goes with it) and excludes the other values.
#[pyfunction]
#[pyo3(signature = (*, idle=None, interval=None, count=None, user_timeout_ms=None, deadline=None, max_idle=None))]
fn socket_options(
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
    user_timeout_ms: Option<&Bound<'_, PyAny>>,
    deadline: Option<&Bound<'_, PyAny>>,
    max_idle: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<(i32, i32, i32)>> {
    // Every type first, so that a wrong type is a TypeError whatever else
    // is wrong.
    let given = |v: Option<&Bound<'_, PyAny>>| v.is_some_and(|v| !v.is_none());
    let (ut, ut_saturated) = optional_int("user_timeout_ms", user_timeout_ms)?;
    let config = if let Some(deadline) = deadline.filter(|d| !d.is_none()) {
        let knobs = [
            ("idle", idle),
            ("interval", interval),
            ("count", count),
            ("user_timeout_ms", user_timeout_ms),
        ];
        for (name, value) in knobs {
            optional_int(name, value)?;
        }
        optional_int("deadline", Some(deadline))?;
        let also: Vec<&str> = knobs
            .iter()
            .filter(|(_, v)| given(*v))
            .map(|(name, _)| *name)
            .collect();
        if !also.is_empty() {
            return Err(PyValueError::new_err(format!(
                "deadline sets idle, interval, count and user_timeout_ms itself: \
                 give either deadline or those, not both (also given: {})",
                also.join(", ")
            )));
        }
        deadline_config(deadline, None, max_idle)?
    } else {
        optional_int("max_idle", max_idle)?;
        if given(max_idle) {
            return Err(PyValueError::new_err(
                "max_idle goes with deadline: it shapes the deadline's split",
            ));
        }
        let mut config = config_from(idle, interval, count)?;
        if let Some(ms) = ut {
            let timeout = checked(
                user_timeout_ms,
                ut_saturated,
                keepalive::user_timeout_from_millis(ms),
            )?;
            config = config.user_timeout(timeout);
        }
        config
    };
    let options = keepalive::socket_options(&config).map_err(to_py)?;
    Ok(options.iter().map(|o| (o.level, o.name, o.value)).collect())
}

/// Sets the system-wide defaults of this network namespace, all or nothing.
#[pyfunction]
#[pyo3(signature = (*, idle=None, interval=None, count=None))]
fn set_system_defaults(
    py: Python<'_>,
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let config = config_from(idle, interval, count)?;
    py.detach(|| keepalive::set_system_defaults(&config))
        .map_err(to_py)
}

/// The native half of the `keepalive` package.
#[pymodule]
fn _keepalive(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Settings>()?;
    m.add_class::<Status>()?;
    // The comparison slot brings all six rich comparisons into the type's
    // dict, so help() would list `<` and `>`, which raise TypeError: keep
    // only the ones that mean something (== and !=).
    for class in [m.getattr("Settings")?, m.getattr("Status")?] {
        for name in ["__lt__", "__le__", "__gt__", "__ge__"] {
            class.delattr(name)?;
        }
    }
    m.add_function(wrap_pyfunction!(enable, m)?)?;
    m.add_function(wrap_pyfunction!(disable, m)?)?;
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(set_user_timeout, m)?)?;
    m.add_function(wrap_pyfunction!(system_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(set_deadline, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(set_system_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(socket_options, m)?)?;
    fastcall::install(m)?;
    Ok(())
}
