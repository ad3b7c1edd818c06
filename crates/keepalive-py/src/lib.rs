//! `keepalive._keepalive`: the native module of the `libkeepalive` wheel.
//!
//! A translation layer only. It turns Python arguments into what the
//! [`keepalive`] core takes (a descriptor; the values as a
//! [`keepalive::Request`], or straight into a [`keepalive::Config`] where no
//! rule binds them) and the core's [`keepalive::Error`] into the Python
//! exception for it:
//!
//! | core | Python |
//! |---|---|
//! | wrong argument type (found here, while converting) | `TypeError` |
//! | an invalid value ([`Error::is_invalid_value`](keepalive::Error::is_invalid_value): out of range, or values that cannot go together) | `ValueError`, the core's message; the value at fault found by [`Error::field`](keepalive::Error::field) |
//! | [`Error::Os`](keepalive::Error::Os), [`Error::Unsupported`](keepalive::Error::Unsupported) | `OSError` with `errno` set |
//!
//! Every range and every rule between values lives in the core
//! ([`keepalive::Request`], [`keepalive::Config::from_secs`],
//! [`keepalive::limits`], which the module exports as `MAX_IDLE_SECS` and
//! the like); nothing here decides what a valid value is.
//!
//! The socket calls keep the GIL: they are a few `setsockopt`/`getsockopt`
//! calls that never wait for the network (at most for another thread's
//! in-kernel use of the same socket, microseconds), and releasing and
//! retaking the GIL cost more than the calls themselves (BENCHMARKS.md). The
//! `/proc` reads and writes of `system_defaults`/`set_system_defaults`
//! release it.
//!
//! The files: `args.rs` (arguments in, errors out), `settings.rs` (the
//! `Settings` and `Status` classes), `fastcall.rs` (vectorcall entry points
//! for `enable`, `get` and `set_deadline` on CPython 3.10+). The Python face
//! is `python/keepalive/__init__.py`, which re-exports this module; its typed
//! API is `python/keepalive/_keepalive.pyi`.

use keepalive::Field;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

mod args;
mod fastcall;
mod settings;

use args::{config_from, descriptor, must_be_int, request_config, to_py, with_fd};
use settings::{Settings, Status};

/// A required argument of a vectorcall: [`fastcall`] made sure it is there.
fn given<'a, 'py>(arg: Option<Borrowed<'a, 'py, PyAny>>) -> Borrowed<'a, 'py, PyAny> {
    arg.expect("a required argument is given")
}

/// Turns keepalive on (`SO_KEEPALIVE`) and applies the given values, all or
/// nothing. `None` leaves a value unchanged.
#[pyfunction]
#[pyo3(signature = (sock, *, idle=None, interval=None, count=None))]
#[inline(always)]
fn enable(
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
#[inline(always)]
fn get<'py>(sock: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Settings>> {
    let fd = descriptor(sock)?;
    let settings = with_fd(fd, |fd| keepalive::get(&fd))?;
    Settings::object(sock.py(), settings)
}

/// Sets `TCP_USER_TIMEOUT` in milliseconds; 0 restores the kernel's default.
#[pyfunction]
fn set_user_timeout(sock: &Bound<'_, PyAny>, ms: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd = descriptor(sock)?;
    must_be_int("ms", ms)?;
    let config = request_config(&[(Field::UserTimeout, "ms", Some(ms))])?;
    match config.user_timeout {
        Some(timeout) => with_fd(fd, |fd| keepalive::set_user_timeout(&fd, timeout)),
        None => Ok(()),
    }
}

/// The system-wide defaults a new socket starts with (`enabled` is False,
/// `user_timeout_ms` 0).
#[pyfunction]
fn system_defaults(py: Python<'_>) -> PyResult<Settings> {
    let d = py.detach(keepalive::system_defaults).map_err(to_py)?;
    let settings = keepalive::Settings::new(
        false,
        d.idle.unwrap_or_default(),
        d.interval.unwrap_or_default(),
        d.count.unwrap_or_default(),
        std::time::Duration::ZERO,
    );
    Ok(Settings::new(py, settings))
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
    let fd = descriptor(sock)?;
    must_be_int("seconds", seconds)?;
    let config = request_config(&[
        (Field::Deadline, "seconds", Some(seconds)),
        (Field::Probes, "probes", probes),
        (Field::MaxIdle, "max_idle", max_idle),
    ])?;
    with_fd(fd, |fd| keepalive::set(&fd, &config))
}

/// Reads a connection's liveness from the kernel (`TCP_INFO`).
#[pyfunction]
fn status(sock: &Bound<'_, PyAny>) -> PyResult<Status> {
    let fd = descriptor(sock)?;
    let st = with_fd(fd, |fd| keepalive::status(&fd))?;
    Status::new(sock.py(), st)
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
    // The core's request: a deadline excludes the other values, max_idle
    // needs a deadline.
    let config = request_config(&[
        (Field::Idle, "idle", idle),
        (Field::Interval, "interval", interval),
        (Field::Count, "count", count),
        (Field::UserTimeout, "user_timeout_ms", user_timeout_ms),
        (Field::Deadline, "deadline", deadline),
        (Field::MaxIdle, "max_idle", max_idle),
    ])?;
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

/// Adds the core's limits ([`keepalive::limits`]) to the module, each under
/// its own name: `keepalive.MAX_IDLE_SECS` is `keepalive::limits::MAX_IDLE_SECS`.
macro_rules! add_limits {
    ($m:expr, $($name:ident),+ $(,)?) => {
        $($m.add(stringify!($name), keepalive::limits::$name)?;)+
    };
}

/// The native half of the `keepalive` package.
#[pymodule]
fn _keepalive(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    add_limits!(
        m,
        MAX_IDLE_SECS,
        MAX_INTERVAL_SECS,
        MAX_COUNT,
        MAX_USER_TIMEOUT_MS,
        MIN_DEADLINE_SECS,
        MAX_DEADLINE_SECS,
        MIN_MAX_IDLE_SECS,
        MAX_MAX_IDLE_SECS,
    );
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
    fastcall::install(
        m,
        [
            (c"enable", |py, &[sock, idle, interval, count]| {
                enable(
                    &given(sock),
                    idle.as_deref(),
                    interval.as_deref(),
                    count.as_deref(),
                )?
                .into_py_any(py)
            }),
            (c"get", |py, &[sock, ..]| get(&given(sock))?.into_py_any(py)),
            (c"set_deadline", |py, &[sock, seconds, probes, max_idle]| {
                set_deadline(
                    &given(sock),
                    &given(seconds),
                    probes.as_deref(),
                    max_idle.as_deref(),
                )?
                .into_py_any(py)
            }),
        ],
    )?;
    Ok(())
}
