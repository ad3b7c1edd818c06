//! Python arguments into what the core takes, and the core's errors into
//! Python exceptions: the socket (a descriptor), the ints, and the one
//! mapping of [`keepalive::Error`].

#[cfg(unix)]
use std::os::fd::{BorrowedFd as BorrowedSock, RawFd as RawSock};
#[cfg(windows)]
use std::os::windows::io::{BorrowedSocket as BorrowedSock, RawSocket as RawSock};

use keepalive::{Config, Error, Field, Request};
use pyo3::exceptions::{PyAttributeError, PyOSError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyInt};

/// The one mapping from the core's error to a Python exception.
pub(crate) fn to_py(err: Error) -> PyErr {
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

/// Whether `obj` is an `int` and not a `bool`.
fn is_int(obj: &Bound<'_, PyAny>) -> bool {
    // An exact int (never a bool) is one pointer comparison; under the
    // limited API the subclass checks are function calls.
    obj.is_exact_instance_of::<PyInt>()
        || (!obj.is_instance_of::<PyBool>() && obj.is_instance_of::<PyInt>())
}

/// Like [`int_value`], also telling whether the int was saturated (then the
/// message must show the int as given, not the saturated value).
fn int_arg(obj: &Bound<'_, PyAny>) -> Option<PyResult<(i64, bool)>> {
    if !is_int(obj) {
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

/// `socket.socket` as the class was when first needed: its `fileno`, and
/// where its objects keep their descriptor, if that was found.
struct SocketClass {
    class: Py<PyAny>,
    fileno: Py<PyAny>,
    /// The offset of CPython's `sock_fd`, the first field after the object
    /// header of a socket object (`Modules/socketmodule.h`); `None` unless
    /// [`find_fd`] saw it there.
    fd_at: Option<usize>,
}

static SOCKET_CLASS: PyOnceLock<Option<SocketClass>> = PyOnceLock::new();

/// `socket.socket`, looked up once.
#[inline(always)]
fn socket_class(py: Python<'_>) -> Option<&SocketClass> {
    SOCKET_CLASS
        .get_or_init(py, || {
            let class = py.import("socket").ok()?.getattr("socket").ok()?;
            let fileno = class.getattr("fileno").ok()?;
            let fd_at = find_fd(&class);
            Some(SocketClass {
                class: class.unbind(),
                fileno: fileno.unbind(),
                fd_at,
            })
        })
        .as_ref()
}

/// Whether `sock`'s type is exactly `socket.socket` (no instance `__dict__`,
/// so nothing can shadow a method).
#[inline(always)]
fn is_plain_socket(class: &SocketClass, sock: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `sock` is a live object; its type pointer is only compared.
    let ty = unsafe { pyo3::ffi::Py_TYPE(sock.as_ptr()) };
    ty.cast::<pyo3::ffi::PyObject>() == class.class.as_ptr()
}

/// The descriptor a socket object holds at `at` (`sock_fd`).
///
/// # Safety
///
/// `sock` is a `socket.socket` and `at` was found by [`find_fd`].
#[inline(always)]
unsafe fn fd_at(sock: &Bound<'_, PyAny>, at: usize) -> RawSock {
    // SAFETY: within the object, at a field of that type (caller).
    unsafe { sock.as_ptr().cast::<u8>().add(at).cast::<RawSock>().read() }
}

/// Where `socket.socket` objects keep their descriptor, if it is where
/// CPython has always kept it (`sock_fd`, right after the object header):
/// checked on real sockets against `fileno()`, open and closed. The
/// interpreter's `fileno()` call was a fifth of what `keepalive.enable(sock,
/// ...)` cost beside its system calls (BENCHMARKS.md); an interpreter that
/// keeps it elsewhere gets that call.
fn find_fd(class: &Bound<'_, PyAny>) -> Option<usize> {
    let at = std::mem::size_of::<pyo3::ffi::PyObject>();
    let fileno = intern!(class.py(), "fileno");
    let seen = |s: &Bound<'_, PyAny>| -> Option<bool> {
        let want: i64 = s.call_method0(fileno).ok()?.extract().ok()?;
        // SAFETY: a socket object is larger than its header and a
        // descriptor: the read is within it, whatever it holds.
        let fd = unsafe { fd_at(s, at) };
        // A closed one holds -1 (INVALID_SOCKET on Windows: the same bits).
        Some(fd as i64 == want)
    };
    let (a, b) = (class.call0().ok()?, class.call0().ok()?);
    let open = seen(&a)? && seen(&b)?;
    let _ = a.call_method0(intern!(class.py(), "close"));
    let closed = seen(&a)?;
    let _ = b.call_method0(intern!(class.py(), "close"));
    (open && closed).then_some(at)
}

/// `sock.fileno()`. For an object whose type is exactly `socket.socket`,
/// the class's `fileno` found at the first call is called with it directly,
/// which skips the attribute lookup; `socket.socket`'s own methods
/// (`setsockopt`, ...) do not look `fileno` up at all. Anything else gets the
/// method call of `PyObject_CallMethodObjArgs` with an interned name (no
/// string made, no bound method made).
fn call_fileno<'py>(sock: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = sock.py();
    if let Some(class) = socket_class(py).filter(|c| is_plain_socket(c, sock)) {
        // SAFETY: `fileno` and `sock` are live objects; the argument list
        // ends with NULL as the variadic call requires.
        return unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                pyo3::ffi::PyObject_CallFunctionObjArgs(
                    class.fileno.as_ptr(),
                    sock.as_ptr(),
                    std::ptr::null_mut::<pyo3::ffi::PyObject>(),
                ),
            )
        };
    }
    sock.call_method0(intern!(py, "fileno"))
}

/// The descriptor of a `socket.socket`, an `int`, or anything with `fileno()`.
///
/// `bool` and `None` are refused with `TypeError`. A number that cannot be a
/// descriptor (negative, as a closed `socket.socket` reports, or beyond a C
/// `int`) is `OSError(EBADF)`, what the kernel says for a closed one.
#[inline(always)]
pub(crate) fn descriptor(sock: &Bound<'_, PyAny>) -> PyResult<RawSock> {
    let wrong = || {
        PyTypeError::new_err(format!(
            "sock must be a socket, an int file descriptor or an object with fileno(), not {}",
            type_name(sock)
        ))
    };
    // The common case: an open `socket.socket`, its descriptor read where
    // it is kept. Anything else (a closed one too) the long way.
    if let Some(class) = socket_class(sock.py()) {
        if let (Some(at), true) = (class.fd_at, is_plain_socket(class, sock)) {
            // SAFETY: a `socket.socket`, and `at` found by find_fd.
            let fd = unsafe { fd_at(sock, at) };
            if can_be_descriptor(fd) {
                return Ok(fd);
            }
        }
    }
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
pub(crate) fn with_fd<T>(
    fd: RawSock,
    f: impl FnOnce(BorrowedSock<'_>) -> Result<T, Error>,
) -> PyResult<T> {
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
pub(crate) fn optional_int(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Option<i64>, bool)> {
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

/// A required argument's type: an int (`None` is not), else a `TypeError`
/// naming it. Only the type: [`request_config`] reads the value.
pub(crate) fn must_be_int(name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if is_int(value) {
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be an int, not {}",
        type_name(value)
    )))
}

/// idle, interval and count as the core's `Config`, checked by the core
/// (no rule binds them together: each has its range).
#[inline(always)]
pub(crate) fn config_from(
    idle: Option<&Bound<'_, PyAny>>,
    interval: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<Config> {
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
        if let Ok(config) = Config::from_secs(i, v, c) {
            return Ok(config);
        }
    }
    request_config(&[
        (Field::Idle, "idle", idle),
        (Field::Interval, "interval", interval),
        (Field::Count, "count", count),
    ])
}

/// One argument that fills a field of the core's [`Request`]: the field,
/// the parameter's name (for a `TypeError`), the value given.
pub(crate) type Arg<'a, 'py> = (Field, &'static str, Option<&'a Bound<'py, PyAny>>);

/// What the arguments ask for, as the core decides it: every type first (a
/// `TypeError` naming the parameter, whatever else is wrong), then the
/// core's [`Request`], which checks each value's range and the rules
/// between them; its error is the `ValueError`, with an int too large for
/// an `i64` shown as given (the value at fault is the one
/// [`Error::field`] names).
pub(crate) fn request_config(args: &[Arg<'_, '_>]) -> PyResult<Config> {
    let mut ints = [(None, false); Field::ALL.len()];
    assert!(args.len() <= ints.len(), "one argument per field");
    for (int, &(_, name, value)) in ints.iter_mut().zip(args) {
        *int = optional_int(name, value)?;
    }
    let mut request = Request::new();
    let result = args
        .iter()
        .zip(ints)
        .try_for_each(|(&(field, ..), (n, _))| match n {
            Some(n) => request.set(field, n),
            None => Ok(()),
        })
        .and_then(|()| request.config());
    result.map_err(|err| {
        let at_fault = args
            .iter()
            .zip(ints)
            .find(|((field, ..), _)| err.field() == Some(*field));
        match at_fault {
            Some(((_, _, Some(given)), (_, true))) if err.is_invalid_value() => {
                PyValueError::new_err(err.given_as(int_text(given)).to_string())
            }
            _ => to_py(err),
        }
    })
}
