//! The `keepalive-run` binary: the library crate does everything; this only
//! gives it its name and the command line (see `src/lib.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    keepalive_run::main("keepalive-run", std::env::args_os().skip(1))
}
