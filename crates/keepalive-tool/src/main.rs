//! `keepalive`, the operator's tool: see every TCP connection's keepalive,
//! retune a running process without restarting it, and set this network
//! namespace's defaults.
//!
//! ```text
//! keepalive show [PID...] [--max-idle SECONDS] [--json]
//! keepalive set PID [--fd FD] (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS])
//! keepalive defaults [--json]
//! keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]
//! keepalive cgroup attach CGROUP (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]
//! keepalive cgroup detach CGROUP
//! keepalive cgroup list [--json]
//! keepalive cgroup prune
//! keepalive watch [--json] [--metrics ADDR:PORT]
//! keepalive measure HOST:PORT [--max SECONDS] [--json]
//! ```
//!
//! The tool only translates: every value is checked, every rule applied and
//! every option read by the core crate `keepalive`. Exit status: 0 done, 1
//! the system refused (the reason is printed), 2 usage.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// `println!` that does not panic when standard output is closed (`| head`):
/// what was done is done, and the rest of the output has no reader.
/// Every line goes through `fmt::printable`: a process's name or a path
/// with an escape sequence in it never reaches the terminal raw.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::fmt::printable(&line));
    }};
}

/// `eprintln!` with `say!`'s escaping: for warnings and refusals.
macro_rules! warn {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        eprintln!("{}", $crate::fmt::printable(&line));
    }};
}

mod cgroup;
mod cli;
mod defaults;
mod fail;
mod fmt;
mod help;
mod man;
mod measure;
mod metrics;
mod parse;
mod procfs;
mod set;
mod show;
mod target;
mod tuning;
mod watch;

use cli::*;
use fail::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version exit 0; usage errors 2.
        Err(e) => e.exit(),
    };
    let (path, result): (&[&str], Result<(), Failure>) = match cli.command {
        Command::Run(a) => return keepalive_run::main("keepalive run", a.args),
        Command::GenerateMan(a) => (&["generate-man"], man::generate(Cli::command(), &a.dir)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Attach(a),
        }) => (
            &["cgroup", "attach"],
            cgroup::attach(&a.cgroup, &a.values.request, a.values.enforce),
        ),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Detach(a),
        }) => (&["cgroup", "detach"], cgroup::detach(&a.cgroup)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::List(a),
        }) => (&["cgroup", "list"], cgroup::list(a.json)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Prune(_),
        }) => (&["cgroup", "prune"], cgroup::prune()),
        Command::Show(a) => (
            &["show"],
            show::run(&a.pids, a.json, a.filter.request.max_idle.map(|t| t as u64)),
        ),
        Command::Measure(a) => (&["measure"], measure::run(&a.target, a.max, a.json)),
        Command::Watch(a) => (&["watch"], watch::run(a.json, a.metrics)),
        Command::Set(a) => (&["set"], set::run(a.pid, a.fd, &a.values.request)),
        Command::Defaults(DefaultsArgs {
            action: None, json, ..
        }) => (&["defaults"], defaults::show(json)),
        Command::Defaults(DefaultsArgs {
            action: Some(DefaultsAction::Set(a)),
            ..
        }) => (
            &["defaults", "set"],
            defaults::set(&a.values.request, a.persist),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => usage_error(path, &message),
        Err(Failure::Refused(message)) => {
            let name = format!("keepalive {}", path.join(" "));
            for line in message.lines() {
                warn!("{name}: {line}");
            }
            ExitCode::from(1)
        }
    }
}
