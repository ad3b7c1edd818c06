//! The environment: the process's own, read only where that is safe
//! ([`var`]), and what it asks for, as the core reads it
//! ([`keepalive::env::read`]: the variables of libkeepalive 0.3 plus this
//! library's own, their syntax, ranges, precedence and warnings; nothing
//! allocated).

use std::ffi::CStr;
use std::fmt;

pub(crate) use keepalive::env::{Enforce, Wanted};

/// What the environment asks every new TCP socket to get. Each value the
/// core refuses is reported through `warn` (one line naming the variable)
/// and ignored: a program must run whatever its environment says.
pub(crate) fn read(warn: impl FnMut(fmt::Arguments<'_>)) -> Wanted {
    keepalive::env::read(var, warn)
}

/// A variable of the environment as the library may read it: the process's
/// own, or none at all in secure-execution mode (then the settings are
/// those of an empty environment, and no warning, nor the mark of one, is
/// made). Every read of the environment goes through here.
pub(crate) fn var(name: &str) -> Option<&'static [u8]> {
    if secure_execution() {
        None
    } else {
        getenv(name)
    }
}

/// Whether this process runs in secure-execution mode (`AT_SECURE`: a
/// setuid, setgid or file-capability program, reached only through
/// /etc/ld.so.preload or a setuid library in a system directory). Then the
/// environment belongs to a less privileged caller: its values are ignored
/// (the library acts as with an empty environment, keepalive on with the
/// system's defaults) and nothing is written to stderr.
fn secure_execution() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; 0 when absent.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The raw value of an environment variable, borrowed from `environ`.
fn getenv(name: &str) -> Option<&'static [u8]> {
    let mut cname = [0u8; 64];
    let bytes = name.as_bytes();
    if bytes.len() >= cname.len() {
        return None;
    }
    cname[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `cname` is NUL-terminated. getenv returns NULL or a pointer to
    // a NUL-terminated string in `environ`, which is used only while the
    // settings are being read, inside this socket() call.
    unsafe {
        let p = libc::getenv(cname.as_ptr().cast());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes())
    }
}
