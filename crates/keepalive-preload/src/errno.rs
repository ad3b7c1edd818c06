//! `errno`, which every exported function leaves as the program's own call
//! left it: whatever the library's own calls fail with is dropped.

use std::ffi::c_int;

/// This thread's `errno`.
pub(crate) fn get() -> c_int {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's `errno`.
pub(crate) fn set(value: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value };
}

/// Runs `f`, then puts `errno` back as it was before.
pub(crate) fn kept<T>(f: impl FnOnce() -> T) -> T {
    let saved = get();
    let out = f();
    set(saved);
    out
}
