//! Everything that differs between operating systems lives below this
//! module, one file per family, as socket2 does. The public functions in
//! `lib.rs` only validate and delegate.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
