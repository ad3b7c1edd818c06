//! `keepalive._keepalive`: the native module of the `libkeepalive` wheel.
//!
//! A translation layer only. It turns Python arguments into what the
//! [`keepalive`] core takes (a descriptor, plain integers) and the core's
//! [`keepalive::Error`] into the Python exception for it:
//!
//! | core | Python |
//! |---|---|
//! | wrong argument type (found here, while converting) | `TypeError` |
//! | [`Error::InvalidValue`](keepalive::Error::InvalidValue) (the core's ranges and message) | `ValueError` |
//! | [`Error::Os`](keepalive::Error::Os), [`Error::Unsupported`](keepalive::Error::Unsupported) | `OSError` with `errno` set |
//!
//! Every range lives in the core ([`keepalive::Config::from_secs`],
//! [`keepalive::user_timeout_from_millis`], [`keepalive::Deadline`],
//! [`keepalive::socket_options`], [`keepalive::limits`], which the module
//! exports as `MAX_IDLE_SECS` and the like); nothing here decides what a
//! valid value is.
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

use keepalive::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

mod args;
mod fastcall;
mod settings;

use args::{checked, config_from, descriptor, optional_int, required_int, to_py, with_fd};
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
fn get(sock: &Bound<'_, PyAny>) -> PyResult<Settings> {
    let fd = descriptor(sock)?;
    with_fd(fd, |fd| keepalive::get(&fd)).map(|s| Settings::new(sock.py(), s))
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
