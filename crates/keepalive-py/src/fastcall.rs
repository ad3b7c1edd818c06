//! Vectorcall entry points for the calls programs make per connection,
//! `enable`, `set_deadline` and `get`: on CPython 3.10 and later, where
//! `METH_FASTCALL` is part of the stable ABI, the interpreter hands them its
//! argument array and the keyword names as they are, with no tuple and no
//! dict built per call.
//!
//! pyo3 cannot do this for an `abi3-py39` module (it uses
//! `METH_VARARGS | METH_KEYWORDS` there, for the benefit of 3.9), so these
//! are written against the C API: one argument matcher ([`Signature`]), one
//! boundary ([`boundary`]: panics and errors into Python exceptions). They
//! convert the arguments and call the same translation functions as the
//! pyo3 versions, which stay as they are for 3.9
//! ([`install`] chooses at import time). Nothing here decides what a valid
//! value is.

use std::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// `METH_FASTCALL`, from `methodobject.h`. pyo3-ffi hides it below 3.10 for
/// the limited API; [`install`] uses it only on 3.10 and later, where the
/// stable ABI includes it.
const METH_FASTCALL: c_int = 0x0080;

/// The C signature of a `METH_FASTCALL | METH_KEYWORDS` function.
type FastWithKeywords = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// A function's parameters, as Python would match them: the first
/// `positional` may come by position or by keyword, the rest by keyword
/// only; the first `required` must be given.
struct Signature<const N: usize> {
    function: &'static str,
    names: [&'static str; N],
    positional: usize,
    required: usize,
    /// `names` as interned Python strings, made at the first call.
    interned: PyOnceLock<[Py<PyString>; N]>,
}

static ENABLE: Signature<4> = Signature {
    function: "enable",
    names: ["sock", "idle", "interval", "count"],
    positional: 1,
    required: 1,
    interned: PyOnceLock::new(),
};

static SET_DEADLINE: Signature<4> = Signature {
    function: "set_deadline",
    names: ["sock", "seconds", "probes", "max_idle"],
    positional: 2,
    required: 2,
    interned: PyOnceLock::new(),
};

static GET: Signature<1> = Signature {
    function: "get",
    names: ["sock"],
    positional: 1,
    required: 1,
    interned: PyOnceLock::new(),
};

impl<const N: usize> Signature<N> {
    /// The arguments of one vectorcall, by parameter; `None` for one not
    /// given. The errors are the interpreter's own (`TypeError`, worded as
    /// for a Python function).
    ///
    /// # Safety
    ///
    /// `args`, `nargs` and `kwnames` are what the interpreter passed to a
    /// `METH_FASTCALL | METH_KEYWORDS` function: `nargs` positional
    /// arguments followed by one value per name in `kwnames` (a tuple of
    /// `str`, or NULL), all borrowed for the duration of the call.
    unsafe fn bind<'a, 'py>(
        &self,
        py: Python<'py>,
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
    ) -> PyResult<[Option<Borrowed<'a, 'py, PyAny>>; N]> {
        let mut out: [Option<Borrowed<'a, 'py, PyAny>>; N] = [None; N];
        let nargs = nargs as usize;
        if nargs > self.positional {
            return Err(PyTypeError::new_err(format!(
                "{}() takes {} positional argument{} but {nargs} were given",
                self.function,
                self.positional,
                if self.positional == 1 { "" } else { "s" },
            )));
        }
        let arg = |i: usize| {
            // SAFETY: i < nargs + len(kwnames), the length of `args` (caller).
            unsafe { Borrowed::from_ptr(py, *args.add(i)) }
        };
        for (i, slot) in out.iter_mut().enumerate().take(nargs) {
            *slot = Some(arg(i));
        }
        if !kwnames.is_null() {
            let interned = self.interned(py);
            // SAFETY: a non-NULL kwnames is a tuple of str, borrowed (caller).
            let count = unsafe { ffi::PyTuple_Size(kwnames) };
            for k in 0..count.max(0) {
                // SAFETY: k is within the tuple's size; the item is borrowed.
                let name = unsafe { ffi::PyTuple_GetItem(kwnames, k) };
                let i = match interned.iter().position(|s| s.as_ptr() == name) {
                    Some(i) => i,
                    None => self.slot_of(py, name)?,
                };
                if out[i].is_some() {
                    return Err(PyTypeError::new_err(format!(
                        "{}() got multiple values for argument '{}'",
                        self.function, self.names[i]
                    )));
                }
                out[i] = Some(arg(nargs + k as usize));
            }
        }
        if let Some(i) = (0..self.required).find(|&i| out[i].is_none()) {
            return Err(PyTypeError::new_err(format!(
                "{}() missing required argument '{}' (pos {})",
                self.function,
                self.names[i],
                i + 1
            )));
        }
        Ok(out)
    }

    /// Which parameter a keyword names, when it is not one of our interned
    /// names itself. The interpreter passes the names as written in the
    /// caller's code, which it interns, so [`bind`](Self::bind)'s pointer
    /// comparison almost always decides; other strings (from `**kwargs`
    /// built at run time) are compared here by value.
    #[cold]
    fn slot_of(&self, py: Python<'_>, name: *mut ffi::PyObject) -> PyResult<usize> {
        let interned = self.interned(py);
        // SAFETY: `name` is a live str borrowed from kwnames (caller).
        let name = unsafe { Borrowed::from_ptr(py, name) };
        for (i, s) in interned.iter().enumerate() {
            if name.eq(s.bind(py))? {
                return Ok(i);
            }
        }
        Err(PyTypeError::new_err(format!(
            "{}() got an unexpected keyword argument '{}'",
            self.function,
            name.str()?
        )))
    }

    fn interned(&self, py: Python<'_>) -> &[Py<PyString>; N] {
        self.interned
            .get_or_init(py, || self.names.map(|n| PyString::intern(py, n).unbind()))
    }
}

/// Runs `f` as a C API function body: its `PyErr` is raised, and a panic
/// becomes pyo3's `PanicException` (as in pyo3's own functions) instead of
/// unwinding into the interpreter.
///
/// # Safety
///
/// Called only by the interpreter, on a thread attached to it.
unsafe fn boundary(
    f: impl FnOnce(Python<'_>) -> PyResult<*mut ffi::PyObject>,
) -> *mut ffi::PyObject {
    // SAFETY: the interpreter calls us with the thread attached (caller).
    let py = unsafe { Python::assume_attached() };
    let err = match catch_unwind(AssertUnwindSafe(|| f(py))) {
        Ok(Ok(result)) => return result,
        Ok(Err(err)) => err,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("panic in keepalive._keepalive");
            pyo3::panic::PanicException::new_err(msg.to_owned())
        }
    };
    err.restore(py);
    std::ptr::null_mut()
}

unsafe extern "C" fn enable(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as METH_FASTCALL | METH_KEYWORDS.
    unsafe {
        boundary(|py| {
            let [sock, idle, interval, count] = ENABLE.bind(py, args, nargs, kwnames)?;
            let sock = sock.expect("required");
            crate::enable_impl(
                py,
                &sock,
                idle.as_deref(),
                interval.as_deref(),
                count.as_deref(),
            )?;
            Ok(py.None().into_ptr())
        })
    }
}

unsafe extern "C" fn get(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as METH_FASTCALL | METH_KEYWORDS.
    unsafe {
        boundary(|py| {
            let [sock] = GET.bind(py, args, nargs, kwnames)?;
            let settings = crate::get_impl(py, &sock.expect("required"))?;
            Ok(Bound::new(py, settings)?.into_ptr())
        })
    }
}

unsafe extern "C" fn set_deadline(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as METH_FASTCALL | METH_KEYWORDS.
    unsafe {
        boundary(|py| {
            let [sock, seconds, probes, max_idle] = SET_DEADLINE.bind(py, args, nargs, kwnames)?;
            crate::set_deadline_impl(
                &sock.expect("required"),
                &seconds.expect("required"),
                probes.as_deref(),
                max_idle.as_deref(),
            )?;
            Ok(py.None().into_ptr())
        })
    }
}

/// Replaces the module's `enable`, `get` and `set_deadline` (pyo3's, which serve 3.9) with
/// the vectorcall ones, on CPython 3.10 and later. Their docstrings, and so
/// `__text_signature__` and `inspect.signature`, are the pyo3 versions'.
pub(crate) fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    if py.version_info() < (3, 10) {
        return Ok(());
    }
    let functions: [(&'static CStr, FastWithKeywords); 3] = [
        (c"enable", enable),
        (c"get", get),
        (c"set_deadline", set_deadline),
    ];
    for (name, f) in functions {
        let name_str = name.to_str().expect("ASCII literal");
        // The doc stays alive: the module holds the pyo3 function it
        // comes from (as `_<name>_py39`) for the life of the process.
        let old = m.getattr(name_str)?;
        let doc = old.getattr("__doc__")?;
        let sig = old.getattr("__text_signature__")?;
        let doc = if sig.is_none() {
            doc.str()?.to_string()
        } else {
            format!("{name_str}{sig}\n--\n\n{}", doc.str()?)
        };
        let doc = std::ffi::CString::new(doc).map_err(|e| PyTypeError::new_err(e.to_string()))?;
        // The definition must outlive the function object: leaked, once per
        // module initialisation (pyo3 modules initialise once per process).
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                // SAFETY: the interpreter calls a METH_FASTCALL | METH_KEYWORDS
                // function through this pointer with exactly the
                // FastWithKeywords signature; C does the same cast.
                PyCFunction: unsafe {
                    std::mem::transmute::<FastWithKeywords, ffi::PyCFunction>(f)
                },
            },
            ml_flags: METH_FASTCALL | ffi::METH_KEYWORDS,
            ml_doc: Box::leak(doc.into_boxed_c_str()).as_ptr(),
        }));
        let module_name = m.name()?;
        // SAFETY: `def` is 'static; `m` and `module_name` are live objects.
        let func = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyCMethod_New(def, m.as_ptr(), module_name.as_ptr(), std::ptr::null_mut()),
            )?
        };
        m.setattr(format!("_{name_str}_py39"), old)?;
        m.setattr(name_str, func)?;
    }
    Ok(())
}
