//! `keepalive-run`: runs a program with `libkeepalive-preload.so` preloaded,
//! so that every TCP socket it creates gets keepalive.
//!
//! ```text
//! keepalive-run [-d IDLE] [-i INTVL] [-c CNT] [-u MS] [-D SECONDS [--probes N] [--max-idle SECONDS]] [--enforce] -- PROGRAM [ARGS...]
//! ```
//!
//! The one implementation behind the `keepalive-run` binary and any other
//! front door (`keepalive run ...`): [`main`] takes the name to use in
//! messages and the arguments after it.
//!
//! The options are keepalive-flags' definitions, shared with the
//! operator's tool; what was typed becomes the core's `keepalive::Request`,
//! and the environment PROGRAM gets is the core's
//! (`keepalive::env::assignments`: `KEEPIDLE`, ..., `KEEPALIVE_DEADLINE`,
//! `KEEPALIVE_PROBES`, `KEEPALIVE_MAX_IDLE`, with `KEEPALIVE=on` and
//! `KEEPALIVE_ENFORCE`), which wins over the same variables inherited from
//! the environment and removes those it replaces. The library is found at
//! `../lib/libkeepalive-preload.so` relative to the running executable,
//! checked to be a loadable shared object and appended to any `LD_PRELOAD`
//! already set. PROGRAM (found through `PATH` as `execvp` does) is
//! checked to be one a preload library can reach: not statically linked,
//! not run in secure-execution mode (setuid, setgid, file capabilities).
//! Then PROGRAM replaces this process (same pid, so signals and the exit
//! status are PROGRAM's own).
//!
//! Exit status: PROGRAM's; 2 with a usage message for bad arguments; 125
//! when the library is missing or cannot be loaded, or PROGRAM is one no
//! preload library can reach (the message points to `keepalive cgroup`);
//! 126 when PROGRAM cannot be executed; 127 when it is not found (the
//! conventions of `env(1)` and the shell).

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

mod args;
mod elf;
mod help;
mod ld_preload;
mod library;
mod program;
#[cfg(test)]
mod scratch;

use args::{parse, Request};
pub use help::help_text;
use help::usage;
use ld_preload::ld_preload;
use library::library;
use program::{find_program, reachable};

/// Where to turn when no preload library can help.
const CGROUP_HINT: &str =
    "without a preload library, `keepalive cgroup attach CGROUP -d IDLE ...` \
     (the operator's tool) configures the TCP sockets of every process in a cgroup through BPF, \
     static and setuid programs included";

/// Exit status for bad arguments.
const USAGE_ERROR: u8 = 2;
/// Exit status when the preload cannot do its job (env(1)'s "cannot run").
const CANNOT_PRELOAD: u8 = 125;

/// Runs `keepalive-run` with `args` (the arguments after the program name),
/// naming itself `program_name` in every message (`"keepalive-run"`, or
/// `"keepalive run"` for the operator's tool). Returns only when PROGRAM was
/// not started: the exit status to give (0 after `--help`, 2, 125, 126,
/// 127); once PROGRAM runs, it has replaced this process.
pub fn main(program_name: &str, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let (env, program, args) = match parse(args) {
        Ok(Request::Run { env, program, args }) => (env, program, args),
        Ok(Request::Help) => return print(&help_text(program_name)),
        Ok(Request::Version) => {
            return print(&format!("{program_name} {}", env!("CARGO_PKG_VERSION")))
        }
        Err(message) => {
            say(&format!(
                "{program_name}: {message}\n{}\nTry '{program_name} --help' for more.",
                usage(program_name)
            ));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let library = match library() {
        Ok(path) => path,
        Err(message) => {
            say(&format!(
                "{program_name}: {message}.\n{program_name}: {CGROUP_HINT}."
            ));
            return ExitCode::from(CANNOT_PRELOAD);
        }
    };
    if let Some(path) = find_program(&program, std::env::var_os("PATH").as_deref()) {
        if let Err(why) = reachable(&path, &library, 0) {
            say(&format!(
                "{program_name}: {}: {why}.\n{program_name}: {CGROUP_HINT}.",
                path.display()
            ));
            return ExitCode::from(CANNOT_PRELOAD);
        }
    }
    let preload = ld_preload(std::env::var_os("LD_PRELOAD"), &library);
    let mut command = Command::new(&program);
    for name in env.unset {
        command.env_remove(name);
    }
    let err = command
        .args(&args)
        .env("LD_PRELOAD", preload)
        .envs(env.set)
        .exec();
    // exec returns only on failure.
    say(&format!(
        "{program_name}: {}: {err}",
        program.to_string_lossy()
    ));
    ExitCode::from(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// Writes `text` and a newline to stdout: exit status 0, or, when stdout
/// cannot take it, 0 quietly for a reader that went away (EPIPE: nobody is
/// left to tell) and 1 quietly otherwise. Never a panic.
fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Writes `text` and a newline to stderr, ignoring a stderr that cannot
/// take it (closed, a broken pipe): the exit status still tells.
fn say(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}
