//! Everything that differs between operating systems lives below this
//! module, one file per family, as socket2 does. The public functions in
//! `lib.rs` only validate and delegate.
//!
//! `platform.rs` holds the per-system arithmetic as plain functions compiled
//! everywhere, so that its tests run on Linux; `busy.rs` names each Unix's
//! option for a busy connection's bound.

pub(crate) mod platform;

#[cfg(unix)]
mod busy;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
