//! `libkeepalive-preload.so`: TCP keepalive for programs that cannot be
//! changed, a drop-in replacement for libkeepalive 0.3.
//!
//! ```sh
//! LD_PRELOAD=/usr/local/lib/libkeepalive-preload.so \
//!     KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 KEEPALIVE_USER_TIMEOUT_MS=90000 program
//! ```
//!
//! The library exports two symbols, `socket` and `setsockopt` (the latter
//! for `KEEPALIVE_ENFORCE`, see `src/enforce.rs`). Every `socket` call goes to the next
//! `socket` in the lookup order (`dlsym(RTLD_NEXT)`, so other preloaded
//! interposers keep working); for a TCP socket (`AF_INET` or `AF_INET6`,
//! `SOCK_STREAM` with any of `SOCK_NONBLOCK`/`SOCK_CLOEXEC`, protocol 0,
//! `IPPROTO_TCP` or `IPPROTO_MPTCP`) it then asks the core crate ([`keepalive::set`],
//! [`keepalive::set_user_timeout`]) for what the environment says:
//!
//! | variable | effect |
//! |---|---|
//! | `KEEPALIVE` | `off` (any case): keepalive left off and `KEEP*` values not applied, as in 0.3; unset, empty or `on`: on |
//! | `KEEPIDLE` | `TCP_KEEPIDLE`, seconds ([`keepalive::Field::Idle`]) |
//! | `KEEPINTVL` | `TCP_KEEPINTVL`, seconds ([`keepalive::Field::Interval`]) |
//! | `KEEPCNT` | `TCP_KEEPCNT`, probes ([`keepalive::Field::Count`]) |
//! | `KEEPALIVE_USER_TIMEOUT_MS` | `TCP_USER_TIMEOUT`, milliseconds ([`keepalive::Field::UserTimeout`]; applied even with `KEEPALIVE=off`: it is not a keepalive option) |
//! | `KEEPALIVE_ENFORCE` | `1`/`on`: the program's own keepalive `setsockopt` calls get the configured values; `0`/`off`: they win, each one that overrides a configured value named once; unset: they win silently (`src/enforce.rs`) |
//! | `KEEPALIVE_DEADLINE` | the dead-peer deadline, seconds ([`keepalive::Field::Deadline`]): idle, interval, count and the user timeout by the core's split ([`keepalive::Deadline`]); each of the four separate variables given beside it is ignored, with a warning naming it; ignored (with a warning) under `KEEPALIVE=off` |
//! | `KEEPALIVE_PROBES` | with `KEEPALIVE_DEADLINE`: how many unanswered probes it spends ([`keepalive::Deadline::probes`]) |
//! | `KEEPALIVE_MAX_IDLE` | with `KEEPALIVE_DEADLINE`: the silence a NAT, firewall or load balancer on the path tolerates, seconds; the deadline's split keeps a healthy connection from being silent that long ([`keepalive::Deadline::max_idle`]) |
//!
//! The names, syntax, ranges and rules between the values are the core's
//! ([`keepalive::env::read`], on [`keepalive::Request`]), one contract with
//! `keepalive-run`; this library only reads them through it. A value the
//! core refuses (out of range, or one the rules exclude: a separate value
//! beside a deadline, `KEEPALIVE_PROBES` or `KEEPALIVE_MAX_IDLE` without one
//! or that it cannot keep) is ignored with one warning; the rest applies.
//!
//! The environment is read and checked once, when the library is loaded (an
//! ELF constructor, before `main`). In a secure-execution program (setuid,
//! setgid, file capabilities: `getauxval(AT_SECURE)`, reached through
//! /etc/ld.so.preload) it is not read at all: the library acts as with an
//! empty environment and writes nothing. An invalid value prints one line on
//! stderr naming the variable and the range, then, and is ignored; the other
//! values still apply. The line is written only where it cannot hurt the
//! program (`src/warning.rs`): fd 2 open, not a socket (an inetd-style
//! service's stderr may be its client), writable without blocking, and with
//! `SIGPIPE` blocked around the write (a `SIGPIPE` it raises is swallowed).
//! One program tree gets the warning once: a process that warned sets
//! `KEEPALIVE_PRELOAD_WARNED` (a fingerprint of the lines) in its own
//! environment, and a child that would print the very same lines stays
//! silent (a wrapper script, pyenv's shims, `sh -c`); a child with other
//! invalid values warns about those.
//!
//! Guarantees, each tested by `tests/preload`:
//! - `socket()` returns exactly what the real one returned, and `errno` is
//!   what the real one left: our calls are made between saving and restoring
//!   it, and whatever they fail with is dropped.
//! - `socket()` writes nothing, raises no signal and makes no call that is a
//!   cancellation point (only `getsockopt`/`setsockopt` on the new socket),
//!   so a thread with a pending `pthread_cancel` gets its descriptor back.
//! - No panic unwinds out of `socket()`.
//! - Threads and `fork`: no lock is ever taken. The constructor publishes
//!   the settings with an atomic flag; a `socket()` made before it ran (by
//!   another library's constructor) reads the environment itself, silently.
//! - The per-socket path does not allocate: the settings are a `Copy` value,
//!   and the core's `set` and `set_user_timeout` allocate neither on success
//!   nor on error (a unit test counts).
//!
//! The files, one job each:
//! - `interpose.rs`: the exported `socket` and `setsockopt`, and the next
//!   definitions they call;
//! - `settings.rs`: what a new TCP socket gets, read once and published;
//! - `env.rs`: the environment, and what it asks for;
//! - `enforce.rs`: what becomes of the program's own keepalive calls;
//! - `warning.rs`: the one line on stderr, where it is safe, once per
//!   program tree;
//! - `errno.rs`: `errno`, kept as the program's calls left it;
//! - this file: the constructor that wires them together.

#![warn(missing_docs)]

mod enforce;
mod env;
mod errno;
mod interpose;
mod settings;
#[cfg(test)]
mod test_support;
mod warning;

pub use interpose::{setsockopt, socket};

/// The library's constructor, run by the dynamic loader when it loads the
/// library (before `main` for `LD_PRELOAD`, at `dlopen` otherwise).
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = on_load;

/// Finds the next `socket` and reads and checks the environment, so that
/// `socket()` itself only copies a value; warns about invalid values (the
/// only place that ever writes anything) unless this program tree already
/// did. Keeps `errno`; never unwinds.
extern "C" fn on_load() {
    let _ = errno::kept(|| {
        std::panic::catch_unwind(|| {
            interpose::resolve();
            // The mark is set only where there is something to warn about.
            let mut warnings = warning::Fingerprint::new();
            let _ = env::read(|args| warnings.add(args));
            if warnings.is_due() {
                settings::load(warning::warn);
                warnings.mark();
            } else {
                settings::load(|_| {});
            }
        })
    });
}
