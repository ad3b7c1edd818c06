//! `keepalive.Settings` and `keepalive.Status`: what the kernel holds, read
//! back, as immutable Python objects.
//!
//! `Settings`' five values are held as the Python objects they are read as:
//! pyo3 makes a `Py<T>` field of a frozen class a struct member
//! (`Py_T_OBJECT_EX`), which the interpreter reads straight from the object
//! (and CPython 3.11+ specialises, `LOAD_ATTR_SLOT`), instead of calling a
//! getter that converts the value at every read. That is most of what
//! `keepalive.get(sock)` costs beside its system calls once its five fields
//! are read (BENCHMARKS.md).

use std::hash::{Hash, Hasher};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

/// A socket's keepalive state, as `keepalive.get()` reads it from the kernel
/// (or the system defaults, from `keepalive.system_defaults()`).
///
/// Immutable; compares and hashes by value. Seconds and milliseconds are ints.
#[pyclass(frozen, eq, hash, module = "keepalive", name = "Settings")]
#[derive(Debug)]
pub(crate) struct Settings {
    /// Whether `SO_KEEPALIVE` is on.
    #[pyo3(get)]
    enabled: Py<PyBool>,
    /// `TCP_KEEPIDLE`: seconds of silence before the first probe.
    #[pyo3(get)]
    idle: Py<PyInt>,
    /// `TCP_KEEPINTVL`: seconds between unanswered probes.
    #[pyo3(get)]
    interval: Py<PyInt>,
    /// `TCP_KEEPCNT`: unanswered probes before the peer is declared dead.
    #[pyo3(get)]
    count: Py<PyInt>,
    /// `TCP_USER_TIMEOUT` in milliseconds; 0 means the kernel's default.
    #[pyo3(get)]
    user_timeout_ms: Py<PyInt>,
    /// The same values as the core has them: compared, hashed, and asked
    /// what the kernel will do with them.
    value: keepalive::Settings,
}

/// The last `Settings` object made (an owned reference, or null), returned
/// again while the kernel reports the same values: a program that reads its
/// sockets' settings finds them unchanged, and the same on every socket it
/// tuned alike. A `Settings` is an immutable value, so sharing one is
/// invisible but to `is`; an object made and freed at every call was most
/// of what `keepalive.get(sock)` cost beside its system calls.
///
/// Only touched with the thread attached to the interpreter; the swaps keep
/// the reference owned by one caller at a time all the same.
static LAST: AtomicPtr<ffi::PyObject> = AtomicPtr::new(null_mut());

impl Settings {
    /// The Python object for the core's settings: the last one made when it
    /// holds the same values, else a new one (which becomes the last).
    #[inline(always)]
    pub(crate) fn object(
        py: Python<'_>,
        value: keepalive::Settings,
    ) -> PyResult<Bound<'_, Settings>> {
        let last = LAST.swap(null_mut(), Ordering::Acquire);
        if !last.is_null() {
            // SAFETY: LAST held an owned reference to a `Settings`; the swap
            // made it ours.
            let last = unsafe { Bound::from_owned_ptr(py, last).cast_into_unchecked::<Settings>() };
            if last.get().value == value {
                keep(last.clone());
                return Ok(last);
            }
        }
        let made = Bound::new(py, Settings::new(py, value))?;
        keep(made.clone());
        Ok(made)
    }

    /// The Python face of the core's settings.
    #[inline(always)]
    pub(crate) fn new(py: Python<'_>, value: keepalive::Settings) -> Self {
        Settings {
            enabled: PyBool::new(py, value.enabled).to_owned().unbind(),
            idle: int(py, value.idle.as_secs()),
            interval: int(py, value.interval.as_secs()),
            count: int(py, value.count.into()),
            user_timeout_ms: int(py, millis(value.user_timeout)),
            value,
        }
    }
}

/// Makes `settings` the last one made, dropping the one before, if any.
#[inline(always)]
fn keep(settings: Bound<'_, Settings>) {
    let py = settings.py();
    let before = LAST.swap(settings.into_ptr(), Ordering::AcqRel);
    if !before.is_null() {
        // SAFETY: an owned reference LAST held, ours after the swap.
        drop(unsafe { Bound::from_owned_ptr(py, before) });
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Hash for Settings {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

#[pymethods]
impl Settings {
    /// Milliseconds after the peer was last heard from that an idle
    /// connection with keepalive on is declared dead, by the kernel's rule: a
    /// set user timeout replaces `count` (Linux).
    #[getter]
    fn dead_after_ms(&self) -> u64 {
        millis(self.value.dead_after())
    }

    /// Milliseconds a connection with data unacknowledged lives on once the
    /// peer is silent: the user timeout, counted by the kernel from the first
    /// retransmission; `None` without one (then `tcp_retries2` decides,
    /// about 924.6 s by default).
    #[getter]
    fn dead_after_busy_ms(&self) -> Option<u64> {
        self.value.dead_after_busy().map(millis)
    }

    /// Unanswered probes an idle connection sends before it is declared dead.
    #[getter]
    fn probes_until_dead(&self) -> u32 {
        self.value.probes_until_dead()
    }

    fn __repr__(&self) -> String {
        let v = &self.value;
        format!(
            "Settings(enabled={}, idle={}, interval={}, count={}, user_timeout_ms={})",
            if v.enabled { "True" } else { "False" },
            v.idle.as_secs(),
            v.interval.as_secs(),
            v.count,
            millis(v.user_timeout)
        )
    }
}

/// A Python int (CPython keeps one of each small int: no allocation).
#[inline(always)]
fn int(py: Python<'_>, n: u64) -> Py<PyInt> {
    let Ok(n) = n.into_pyobject(py);
    n.unbind()
}

/// A duration in whole milliseconds, saturated.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's liveness, as `keepalive.status()` reads it from the kernel
/// (`TCP_INFO`). Immutable; times are int milliseconds.
#[pyclass(frozen, eq, module = "keepalive", name = "Status")]
#[derive(Debug)]
pub(crate) struct Status {
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
    settings: Py<Settings>,
}

impl Status {
    /// The Python face of the core's status.
    pub(crate) fn new(py: Python<'_>, st: keepalive::Status) -> PyResult<Self> {
        Ok(Status {
            last_ack_ms: millis(st.last_ack),
            last_data_ms: millis(st.last_data),
            probes_out: st.probes_out,
            unacked: st.unacked,
            dead_in_ms: st.dead_in.map(millis),
            state: st.state.name(),
            phase: st.phase.name(),
            settings: Py::new(py, Settings::new(py, st.settings))?,
        })
    }

    /// Everything a Python caller sees, to compare.
    fn seen(&self) -> impl PartialEq + '_ {
        (
            (self.last_ack_ms, self.last_data_ms, self.dead_in_ms),
            (self.probes_out, self.unacked, self.state, self.phase),
            self.settings.get(),
        )
    }
}

impl PartialEq for Status {
    fn eq(&self, other: &Self) -> bool {
        self.seen() == other.seen()
    }
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
