//! Vectorcall entry points for the calls programs make per connection
//! (`enable`, `get`, `set_deadline`): on CPython 3.10 and later, where
//! `METH_FASTCALL` is part of the stable ABI, the interpreter hands them its
//! argument array and keyword names as they are, with no tuple and no dict
//! built per call.
//!
//! pyo3 cannot do this for an `abi3-py39` module (it builds
//! `METH_VARARGS | METH_KEYWORDS` functions there, for 3.9), and its own
//! argument parser for vectorcalls is compiled only for 3.10+ builds; so this
//! module matches the arguments itself, the way CPython does for a Python
//! function, against the parameters of pyo3's function (read from its
//! `__text_signature__`: the signature is written once, in `lib.rs`), then
//! runs the same Rust function. pyo3's functions stay as they are, serve
//! 3.9, and are kept as `_<name>_py39`. Measured (callgrind, CPython 3.11):
//! pyo3's entry points cost `get` about 500 instructions more per call, and
//! `enable` with three keywords about 2,600 more (BENCHMARKS.md).

use std::ffi::{c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// How many functions have a vectorcall entry point.
pub(crate) const SLOTS: usize = 3;

/// The most parameters such a function has.
const MAX_PARAMS: usize = 4;

/// A call's arguments by parameter, in the signature's order; `None` for
/// one not given (a required one is always given).
pub(crate) type Args<'a, 'py> = [Option<Borrowed<'a, 'py, PyAny>>; MAX_PARAMS];

/// What a function does with its arguments: calls the Rust function that
/// pyo3 wraps.
pub(crate) type Body = for<'a, 'py> fn(Python<'py>, &Args<'a, 'py>) -> PyResult<Py<PyAny>>;

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

/// One function with a vectorcall entry point, and its parameters as
/// Python matches them.
struct Function {
    name: String,
    /// The parameters' names, interned: the interpreter passes the keyword
    /// names written in the caller's code as interned strings, so a pointer
    /// comparison almost always finds the parameter.
    params: Vec<Py<PyString>>,
    /// The same names' addresses, in a fixed array (null past the last) for
    /// that comparison.
    addresses: [usize; MAX_PARAMS],
    /// How many parameters may come by position (the first ones; the rest
    /// are keyword-only).
    positional: usize,
    /// Which parameters must be given (no default), one bit each.
    required: u32,
    body: Body,
}

/// The functions, one per entry point: [`vectorcall::<I>`](vectorcall)
/// runs `FUNCTIONS[I]`. Set once, by [`install`].
static FUNCTIONS: [OnceLock<Function>; SLOTS] = [const { OnceLock::new() }; SLOTS];

/// The entry points, one per slot of [`FUNCTIONS`].
const ENTRY_POINTS: [FastWithKeywords; SLOTS] = [vectorcall::<0>, vectorcall::<1>, vectorcall::<2>];

impl Function {
    /// The function of that name, body and pyo3 `__text_signature__` such
    /// as `(sock, *, idle=None)`: a name each, `*` where keyword-only
    /// parameters begin, `=...` for a default. Anything else (`/`, `*args`)
    /// is refused.
    fn new(py: Python<'_>, name: &str, signature: &str, body: Body) -> PyResult<Function> {
        let unsupported =
            || PyTypeError::new_err(format!("fastcall: unsupported signature {name}{signature}"));
        let inner = signature
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(unsupported)?;
        let mut f = Function {
            name: name.to_owned(),
            params: Vec::new(),
            addresses: [0; MAX_PARAMS],
            positional: 0,
            required: 0,
            body,
        };
        let mut keyword_only = false;
        for p in inner.split(", ") {
            let (param, default) = p.split_once('=').unwrap_or((p, ""));
            if param == "*" && !keyword_only {
                keyword_only = true;
                continue;
            }
            let ok = param.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !ok || f.params.len() == MAX_PARAMS {
                return Err(unsupported());
            }
            if default.is_empty() {
                f.required |= 1 << f.params.len();
            }
            if !keyword_only {
                f.positional += 1;
            }
            let name = PyString::intern(py, param).unbind();
            f.addresses[f.params.len()] = name.as_ptr() as usize;
            f.params.push(name);
        }
        Ok(f)
    }

    /// The arguments of one vectorcall, by parameter. The errors are the
    /// interpreter's own (`TypeError`, worded as for a Python function).
    ///
    /// # Safety
    ///
    /// `args`, `nargs` and `kwnames` are what the interpreter passed to a
    /// `METH_FASTCALL | METH_KEYWORDS` function: `nargs` positional
    /// arguments followed by one value per name in `kwnames` (a tuple of
    /// `str`, or NULL), all borrowed for the duration of the call.
    #[inline(always)]
    unsafe fn bind<'a, 'py>(
        &self,
        py: Python<'py>,
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
    ) -> PyResult<Args<'a, 'py>> {
        let mut out: Args<'a, 'py> = [None; MAX_PARAMS];
        let nargs = nargs as usize;
        if nargs > self.positional {
            return Err(self.error(format_args!(
                "takes {} positional argument{} but {nargs} were given",
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
        let mut given: u32 = (1 << nargs) - 1;
        if !kwnames.is_null() {
            // SAFETY: a non-NULL kwnames is a tuple of str, borrowed (caller).
            let count = unsafe { ffi::PyTuple_Size(kwnames) };
            for k in 0..count.max(0) {
                // SAFETY: k is within the tuple's size; the item is borrowed.
                let name = unsafe { ffi::PyTuple_GetItem(kwnames, k) };
                let i = match self.addresses.iter().position(|&p| p == name as usize) {
                    Some(i) => i,
                    None => self.slot_of(py, name)?,
                };
                if given & (1 << i) != 0 {
                    return Err(self.error(format_args!(
                        "got multiple values for argument '{}'",
                        self.params[i]
                    )));
                }
                given |= 1 << i;
                out[i] = Some(arg(nargs + k as usize));
            }
        }
        let missing = self.required & !given;
        if missing != 0 {
            let i = missing.trailing_zeros() as usize;
            return Err(self.error(format_args!(
                "missing required argument '{}' (pos {})",
                self.params[i],
                i + 1
            )));
        }
        Ok(out)
    }

    /// Which parameter a keyword names that is not one of the interned
    /// names itself (a string built at run time, for `**kwargs`): compared
    /// by value.
    #[cold]
    fn slot_of(&self, py: Python<'_>, name: *mut ffi::PyObject) -> PyResult<usize> {
        // SAFETY: `name` is a live str borrowed from kwnames (caller).
        let name = unsafe { Borrowed::from_ptr(py, name) };
        for (i, p) in self.params.iter().enumerate() {
            if name.eq(p.bind(py))? {
                return Ok(i);
            }
        }
        Err(self.error(format_args!(
            "got an unexpected keyword argument '{}'",
            name.str()?
        )))
    }

    #[cold]
    fn error(&self, what: std::fmt::Arguments<'_>) -> PyErr {
        PyTypeError::new_err(format!("{}() {what}", self.name))
    }
}

/// The entry point of `FUNCTIONS[I]`: its arguments matched, its body run,
/// its `PyErr` raised, and a panic turned into pyo3's `PanicException` (as
/// in pyo3's own functions) instead of unwinding into the interpreter.
///
/// # Safety
///
/// Called only by the interpreter, as a `METH_FASTCALL | METH_KEYWORDS`
/// function, on a thread attached to it.
unsafe extern "C" fn vectorcall<const I: usize>(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the interpreter calls us with the thread attached (caller).
    let py = unsafe { Python::assume_attached() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let f = FUNCTIONS[I].get().expect("installed before use");
        // SAFETY: the interpreter's arguments (caller).
        let args = unsafe { f.bind(py, args, nargs, kwnames) }?;
        (f.body)(py, &args)
    }));
    let err = match result {
        Ok(Ok(result)) => return result.into_ptr(),
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

/// Replaces the module's pyo3 functions of these names (which serve 3.9)
/// with vectorcall ones running `body`, on CPython 3.10 and later. Their
/// parameters, docstrings, `__text_signature__` and so `inspect.signature`
/// are the pyo3 functions'.
pub(crate) fn install(
    m: &Bound<'_, PyModule>,
    functions: [(&'static CStr, Body); SLOTS],
) -> PyResult<()> {
    let py = m.py();
    if py.version_info() < (3, 10) {
        return Ok(());
    }
    for (i, (name, body)) in functions.into_iter().enumerate() {
        let name_str = name.to_str().expect("ASCII literal");
        let old = m.getattr(name_str)?;
        let signature: String = old.getattr("__text_signature__")?.extract()?;
        let doc = format!(
            "{name_str}{signature}\n--\n\n{}",
            old.getattr("__doc__")?.str()?
        );
        let doc = CString::new(doc).map_err(|e| PyTypeError::new_err(e.to_string()))?;
        let function = Function::new(py, name_str, &signature, body)?;
        // pyo3 initialises a module once per process.
        if FUNCTIONS[i].set(function).is_err() {
            return Err(PyTypeError::new_err("fastcall: installed twice"));
        }
        // The definition and its doc must outlive the function object:
        // leaked, once per process.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                // SAFETY: the interpreter calls a METH_FASTCALL | METH_KEYWORDS
                // function through this pointer with exactly the
                // FastWithKeywords signature; C does the same cast.
                PyCFunction: unsafe {
                    std::mem::transmute::<FastWithKeywords, ffi::PyCFunction>(ENTRY_POINTS[i])
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
