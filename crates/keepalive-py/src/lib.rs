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
//! [`keepalive::user_timeout_from_millis`]); nothing here decides what a valid
//! value is. The GIL is released around every system call.
//!
//! The Python face is `python/keepalive/__init__.py`, which re-exports this
//! module; the documented API is in `python/keepalive/__init__.pyi`.

use std::os::fd::{BorrowedFd, RawFd};

use keepalive::Error;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

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
    match err {
        Error::InvalidValue { .. } => PyValueError::new_err(err.to_string()),
        // Os, Unsupported and whatever the core adds later: the errno a C
        // caller would see, so that `e.errno` is set.
        _ => PyOSError::new_err((err.raw_os_error(), err.to_string())),
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
/// that the core reports them as out of range.
fn int_value(obj: &Bound<'_, PyAny>) -> Option<PyResult<i64>> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return None;
    }
    Some(match obj.extract::<i64>() {
        Ok(n) => Ok(n),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            obj.lt(0)
                .map(|negative| if negative { i64::MIN } else { i64::MAX })
        }
        Err(e) => Err(e),
    })
}

/// The descriptor of a `socket.socket`, an `int`, or anything with `fileno()`.
///
/// `bool` and `None` are refused with `TypeError`. A number that cannot be a
/// descriptor (negative, as a closed `socket.socket` reports, or beyond a C
/// `int`) is `OSError(EBADF)`, what the kernel says for a closed one.
fn descriptor(sock: &Bound<'_, PyAny>) -> PyResult<RawFd> {
    let wrong = || {
        PyTypeError::new_err(format!(
            "sock must be a socket, an int file descriptor or an object with fileno(), not {}",
            type_name(sock)
        ))
    };
    let n = if let Some(n) = int_value(sock) {
        n?
    } else if sock.is_none() || sock.is_instance_of::<PyBool>() {
        return Err(wrong());
    } else {
        // One lookup of an interned name: no new string per call, and the
        // type's attribute cache hits.
        let fd = match sock.getattr(intern!(sock.py(), "fileno")) {
            Ok(fileno) => fileno.call0()?,
            Err(e) if e.is_instance_of::<PyAttributeError>(sock.py()) => return Err(wrong()),
            Err(e) => return Err(e),
        };
        match int_value(&fd) {
            Some(n) => n?,
            None => {
                return Err(PyTypeError::new_err(format!(
                    "{}.fileno() must return an int, not {}",
                    type_name(sock),
                    type_name(&fd)
                )))
            }
        }
    };
    RawFd::try_from(n)
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| {
            PyOSError::new_err((
                libc::EBADF,
                format!("not a file descriptor: {n} (Bad file descriptor)"),
            ))
        })
}

/// Runs `f` on the descriptor with the GIL released.
fn with_fd<T: Send>(
    py: Python<'_>,
    fd: RawFd,
    f: impl FnOnce(BorrowedFd<'_>) -> Result<T, Error> + Send,
) -> PyResult<T> {
    py.detach(|| {
        // SAFETY: `fd` is non-negative (checked by `descriptor`), so this is
        // a valid `BorrowedFd` value. The borrow lasts for this call only; the
        // core only passes the number to getsockopt/setsockopt, so a
        // descriptor closed meanwhile by another thread gives EBADF, not
        // undefined behaviour.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        f(fd)
    })
    .map_err(to_py)
}

/// An optional int argument: `None` stays `None`; `bool` and non-ints are a
/// `TypeError` naming the argument.
fn optional_int(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => int_value(v).map(|r| r.map(Some)).unwrap_or_else(|| {
            Err(PyTypeError::new_err(format!(
                "{name} must be an int or None, not {}",
                type_name(v)
            )))
        }),
    }
}

/// Turns keepalive on (`SO_KEEPALIVE`) and applies the given values, all or
/// nothing. `None` leaves a value unchanged.
///
/// Positional only: `keepalive.enable` in `python/keepalive/__init__.py`
/// gives it its keyword-only signature. Keywords matched by the Python
/// interpreter cost a fraction of what matching them here costs under the
/// limited API of 3.9 (a kwargs dict and a UTF-8 copy of every name per call).
#[pyfunction]
#[pyo3(signature = (sock, idle, interval, count, /))]
fn enable(
    py: Python<'_>,
    sock: &Bound<'_, PyAny>,
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let fd = descriptor(sock)?;
    let config = keepalive::Config::from_secs(
        optional_int("idle", idle)?,
        optional_int("interval", interval)?,
        optional_int("count", count)?,
    )
    .map_err(to_py)?;
    with_fd(py, fd, |fd| keepalive::set(&fd, &config))
}

/// Turns keepalive off (`SO_KEEPALIVE` = 0), keeping the tuned values.
#[pyfunction]
fn disable(py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd = descriptor(sock)?;
    with_fd(py, fd, |fd| keepalive::disable(&fd))
}

/// Reads the socket's keepalive state back from the kernel.
#[pyfunction]
fn get(py: Python<'_>, sock: &Bound<'_, PyAny>) -> PyResult<Settings> {
    let fd = descriptor(sock)?;
    with_fd(py, fd, |fd| keepalive::get(&fd)).map(Settings::from)
}

/// Sets `TCP_USER_TIMEOUT` in milliseconds; 0 restores the kernel's default.
#[pyfunction]
fn set_user_timeout(
    py: Python<'_>,
    sock: &Bound<'_, PyAny>,
    ms: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let fd = descriptor(sock)?;
    let ms = int_value(ms).unwrap_or_else(|| {
        Err(PyTypeError::new_err(format!(
            "ms must be an int, not {}",
            type_name(ms)
        )))
    })?;
    let timeout = keepalive::user_timeout_from_millis(ms).map_err(to_py)?;
    with_fd(py, fd, |fd| keepalive::set_user_timeout(&fd, timeout))
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

/// The native half of the `keepalive` package.
#[pymodule]
fn _keepalive(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Settings>()?;
    m.add_function(wrap_pyfunction!(enable, m)?)?;
    m.add_function(wrap_pyfunction!(disable, m)?)?;
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(set_user_timeout, m)?)?;
    m.add_function(wrap_pyfunction!(system_defaults, m)?)?;
    Ok(())
}
