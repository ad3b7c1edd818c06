//! The command line's shape: clap's definitions of every subcommand and its
//! options, from which the help and the manual pages are generated.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use keepalive_flags::text::optional;
use keepalive_flags::{ENFORCE, MAX_IDLE, SYSTEM_DEFAULTS};

use crate::help::*;
use crate::measure;
use crate::parse::{descriptor, pid};
use crate::tuning::{deadline_or_values, Filter, Policy, Retune, SystemDefaults, Tuning};

/// See and retune TCP keepalive: every connection's settings and liveness,
/// running processes retuned without a restart, the system-wide defaults.
#[derive(Debug, Parser)]
#[command(name = "keepalive", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Show(ShowArgs),
    Set(SetArgs),
    Defaults(DefaultsArgs),
    Run(RunArgs),
    Cgroup(CgroupArgs),
    Watch(WatchArgs),
    Measure(MeasureArgs),
    GenerateMan(GenerateManArgs),
}

/// Writes the manual pages (keepalive.1, keepalive-SUBCOMMAND.1 and
/// keepalive-run.1) into DIR, from these very definitions; `make build`
/// stages them into share/man/man1.
#[derive(Debug, Args)]
#[command(hide = true)]
pub(crate) struct GenerateManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// Find the longest silence the path to HOST:PORT survives, with keepalive
/// probes on parallel test connections
#[derive(Debug, Args)]
#[command(after_help = MEASURE_HELP,
    override_usage = "keepalive measure HOST:PORT [--max SECONDS] [--json]")]
pub(crate) struct MeasureArgs {
    // Not a doc comment: rustdoc would read `[IPv6]` as a link.
    #[arg(
        value_name = "HOST:PORT",
        help = "The server: IPv4:PORT, [IPv6]:PORT or NAME:PORT"
    )]
    pub(crate) target: String,
    /// The longest silence to try (`measure::max_help`).
    #[arg(long, value_name = "SECONDS", default_value_t = measure::DEFAULT_MAX,
          value_parser = measure::max_secs, allow_negative_numbers = true,
          help = measure::max_help())]
    pub(crate) max: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Keepalive for every TCP connection of a cgroup v2, static and Go
/// programs included (BPF)
#[derive(Debug, Args)]
#[command(after_help = CGROUP_HELP)]
pub(crate) struct CgroupArgs {
    #[command(subcommand)]
    pub(crate) action: CgroupAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CgroupAction {
    Attach(CgroupAttachArgs),
    Detach(CgroupDetachArgs),
    List(CgroupListArgs),
    Prune(CgroupPruneArgs),
}

/// Give every TCP connection of CGROUP a keepalive policy, from now on and
/// those it has already.
#[derive(Debug, Args)]
#[command(after_help = CGROUP_ATTACH_HELP, override_usage = format!(
    "keepalive cgroup attach CGROUP {} {}", deadline_or_values(), optional(&[&ENFORCE])))]
pub(crate) struct CgroupAttachArgs {
    /// The cgroup v2 directory.
    #[arg(value_name = "CGROUP")]
    pub(crate) cgroup: PathBuf,
    #[command(flatten)]
    pub(crate) values: Tuning<Policy>,
}

/// Remove the policy attached to CGROUP: connections keep the values they
/// were given, new ones get none.
#[derive(Debug, Args)]
#[command(override_usage = "keepalive cgroup detach CGROUP")]
pub(crate) struct CgroupDetachArgs {
    /// The cgroup v2 directory.
    #[arg(value_name = "CGROUP")]
    pub(crate) cgroup: PathBuf,
}

/// Every policy attached, read back from the BPF filesystem, with what the
/// programs counted.
#[derive(Debug, Args)]
#[command(after_help = CGROUP_LIST_HELP, override_usage = "keepalive cgroup list [--json]")]
pub(crate) struct CgroupListArgs {
    /// One JSON array of objects instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Remove the pins of every policy that is not attached any more (its
/// cgroup was removed, or an attach or detach was killed midway); a policy
/// in force is never touched.
#[derive(Debug, Args)]
#[command(override_usage = "keepalive cgroup prune")]
pub(crate) struct CgroupPruneArgs {}

/// Run PROGRAM with keepalive on every TCP socket it creates (LD_PRELOAD):
/// the same program as keepalive-run.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct RunArgs {
    /// keepalive-run's options, `--`, PROGRAM and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub(crate) args: Vec<std::ffi::OsString>,
}

/// One line per TCP connection the kernel gives up on, host-wide, as it
/// happens, with its cause.
#[derive(Debug, Args)]
#[command(after_help = WATCH_HELP, override_usage = "keepalive watch [--json] [--metrics ADDR:PORT]")]
pub(crate) struct WatchArgs {
    /// One JSON object a line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also serve the deaths counted by cause, for Prometheus, on
    /// http://ADDR:PORT/metrics (e.g. 127.0.0.1:9610).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics: Option<std::net::SocketAddr>,
}

/// Every TCP socket of these processes (none: of all you may inspect), with
/// its keepalive settings and liveness.
#[derive(Debug, Args)]
#[command(after_help = SHOW_HELP, override_usage = format!(
    "keepalive show [PID...] {} [--json]", optional(&[&MAX_IDLE])))]
pub(crate) struct ShowArgs {
    /// Processes to list (default: every process you may inspect).
    #[arg(value_name = "PID", value_parser = pid)]
    pub(crate) pids: Vec<u32>,
    /// --max-idle: only the connections a middlebox that forgets flows
    /// silent that long would forget.
    #[command(flatten)]
    pub(crate) filter: Tuning<Filter>,
    /// One JSON array of objects instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Retune a running process's TCP sockets (or one FD), printing before ->
/// after for each.
#[derive(Debug, Args)]
#[command(after_help = SET_HELP, override_usage = format!(
    "keepalive set PID [--fd FD] {}", deadline_or_values()))]
pub(crate) struct SetArgs {
    /// The process to retune.
    #[arg(value_name = "PID", value_parser = pid)]
    pub(crate) pid: u32,
    /// Only this descriptor of the process.
    #[arg(long, value_name = "FD", value_parser = descriptor, allow_negative_numbers = true)]
    pub(crate) fd: Option<i32>,
    #[command(flatten)]
    pub(crate) values: Tuning<Retune>,
}

/// This network namespace's keepalive defaults (tcp_keepalive_time, _intvl,
/// _probes), and what they mean.
#[derive(Debug, Args)]
#[command(after_help = DEFAULTS_HELP, args_conflicts_with_subcommands = true,
    override_usage = format!("keepalive defaults [--json]\n       {}", defaults_set_usage()))]
pub(crate) struct DefaultsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<DefaultsAction>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DefaultsAction {
    Set(DefaultsSetArgs),
}

/// Change this network namespace's keepalive defaults (root).
#[derive(Debug, Args)]
#[command(after_help = DEFAULTS_SET_HELP, override_usage = defaults_set_usage())]
pub(crate) struct DefaultsSetArgs {
    #[command(flatten)]
    pub(crate) values: Tuning<SystemDefaults>,
    /// Also write /etc/sysctl.d/60-keepalive.conf, so the values survive a
    /// reboot.
    #[arg(long)]
    pub(crate) persist: bool,
}

/// `keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]`.
fn defaults_set_usage() -> String {
    format!(
        "keepalive defaults set {} [--persist]",
        optional(&SYSTEM_DEFAULTS)
    )
}

/// Prints a usage error as clap prints its own, with the subcommand's
/// usage line; exit status 2.
pub(crate) fn usage_error(path: &[&str], message: &str) -> ExitCode {
    let mut cmd = Cli::command().bin_name("keepalive");
    // Names every subcommand's usage line `keepalive ...`.
    cmd.build();
    let mut sub = &mut cmd;
    for name in path {
        sub = sub
            .find_subcommand_mut(name)
            .expect("a subcommand of this tool");
    }
    let err = sub.error(clap::error::ErrorKind::ValueValidation, message);
    let _ = err.print();
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("keepalive").chain(args.iter().copied()))
    }

    #[test]
    fn one_flag_vocabulary() {
        let Command::Set(a) = parse(&["set", "42", "-d", "30", "-i", "7", "-c", "4", "-u", "5000"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.pid, 42);
        assert_eq!(
            (
                a.values.request.idle,
                a.values.request.interval,
                a.values.request.count
            ),
            (Some(30), Some(7), Some(4))
        );
        assert_eq!(a.values.request.user_timeout_ms, Some(5000));
        let Command::Set(a) = parse(&[
            "set",
            "42",
            "--fd",
            "5",
            "--deadline",
            "60",
            "--probes",
            "4",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(
            (a.fd, a.values.request.deadline, a.values.request.probes),
            (Some(5), Some(60), Some(4))
        );
        // Negative values reach the core's check, which refuses them with
        // its range, like any other front door.
        let err = parse(&["set", "42", "--idle", "-5"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("idle must be 1..32767 seconds, got -5"),
            "{err}"
        );
        let err = parse(&["set", "42", "-u", "99999999999999999999"]).unwrap_err();
        assert!(
            err.to_string().contains(
                "user_timeout must be 0..2147483647 milliseconds, got 99999999999999999999"
            ),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
        let Command::Defaults(d) = parse(&["defaults", "set", "-d", "600", "--persist"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(matches!(
            d.action,
            Some(DefaultsAction::Set(DefaultsSetArgs { persist: true, .. }))
        ));
    }

    /// `cgroup attach` has `set`'s flags, and `set::config`'s rule.
    fn attach(args: &[&str]) -> Result<(CgroupAttachArgs, keepalive::Config), String> {
        let all: Vec<&str> = ["cgroup", "attach"].iter().chain(args).copied().collect();
        match parse(&all).map_err(|e| e.to_string())?.command {
            Command::Cgroup(CgroupArgs {
                action: CgroupAction::Attach(a),
            }) => {
                let config = a.values.request.config().map_err(|e| e.to_string())?;
                Ok((a, config))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cgroup_attach_speaks_set_s_vocabulary() {
        use keepalive::{Config, Deadline};
        use std::time::Duration;
        let (a, c) = attach(&["/cg", "-D", "5"]).unwrap();
        assert_eq!(a.cgroup, PathBuf::from("/cg"));
        assert!(!a.values.enforce);
        assert_eq!(c, Deadline::new(Duration::from_secs(5)).config().unwrap());
        let (a, c) = attach(&["--deadline=60", "--probes", "5", "/cg", "--enforce"]).unwrap();
        assert!(a.values.enforce);
        assert_eq!(c.count, Some(5));
        let (_, c) = attach(&["/cg", "-D", "900", "--max-idle", "350"]).unwrap();
        assert_eq!(
            c,
            Deadline::new(Duration::from_secs(900))
                .max_idle(Duration::from_secs(350))
                .config()
                .unwrap()
        );
        let (_, c) = attach(&["/cg", "-d", "600", "-u", "30000"]).unwrap();
        assert_eq!(c.idle, Some(Duration::from_secs(600)));
        assert_eq!(c.interval, None);
        assert_eq!(c.user_timeout, Some(Duration::from_millis(30000)));
        // No value: keepalive on with the system's defaults.
        assert_eq!(attach(&["/cg"]).unwrap().1, Config::new());
        // Each value reaches clap through the shared definitions, with the
        // core's parser: out of range (or too large for any integer), the
        // core's range, as given.
        use crate::tuning::Options as _;
        for flag in crate::tuning::Policy::FLAGS {
            let Some(field) = flag.field else { continue };
            for given in [(field.max() + 1).to_string(), "99999999999999999999".into()] {
                let err = attach(&["/cg", &format!("--{}={given}", flag.long)]).unwrap_err();
                let want = format!(
                    "{} must be {}, got {given}",
                    field.name(),
                    field.range_text()
                );
                assert!(err.contains(&want), "{}: {err}", flag.long);
            }
        }
        let Command::Cgroup(CgroupArgs {
            action: CgroupAction::List(l),
        }) = parse(&["cgroup", "list", "--json"]).unwrap().command
        else {
            panic!()
        };
        assert!(l.json);
    }

    /// `set` and `cgroup attach` hold what was typed as the core's request,
    /// so a lone --probes, or a knob beside -D, is the core's one refusal.
    #[test]
    fn set_and_attach_make_the_core_s_request() {
        for args in [
            &["set", "42", "--probes", "4"][..],
            &["cgroup", "attach", "/cg", "--probes", "4"],
            &["set", "42", "-D", "5", "-d", "2"],
            &["cgroup", "attach", "/cg", "-D", "5", "-d", "2"],
        ] {
            let request = match parse(args).unwrap().command {
                Command::Set(a) => a.values.request,
                Command::Cgroup(CgroupArgs {
                    action: CgroupAction::Attach(a),
                }) => a.values.request,
                other => panic!("{other:?}"),
            };
            let err = request.config().unwrap_err();
            assert!(err.field().is_some(), "{args:?}: {err}");
        }
        let Command::Set(a) = parse(&["set", "42", "-D", "2", "--probes", "5"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            a.values.request.config().unwrap_err().to_string(),
            "probes must be 1 probe for this deadline, got 5"
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        use clap::error::ErrorKind;
        for args in [
            &["set", "42"][..],       // no value
            &["set", "0", "-D", "5"], // no pid 0
            &["set", "x", "-D", "5"],
            &["set", "42", "-d", "abc"],
            &["set", "42", "--fd", "-1", "-D", "5"],
            &["defaults", "set"],               // no value
            &["defaults", "set", "-u", "5000"], // no system-wide user timeout
            &["show", "abc"],
            &["show", "--max-idle", "0"],
            &["measure"],                          // no target
            &["measure", "host:80", "--max", "4"], // --max out of range
            &["set", "42", "-D", "60", "--max-idle", "x"],
            &["frobnicate"],
            &["cgroup"],                             // no verb
            &["cgroup", "frobnicate"],               // no such verb
            &["cgroup", "attach", "-D", "5"],        // no CGROUP
            &["cgroup", "attach", "/a", "/b"],       // two
            &["cgroup", "attach", "/cg", "-D", "1"], // out of range
            &["cgroup", "attach", "/cg", "-d", "ten"],
            &["cgroup", "attach", "/cg", "--force"],
            &["cgroup", "detach"],
            &["cgroup", "detach", "/a", "/b"],
            &["cgroup", "list", "--all"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?} parsed"));
            assert_ne!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        for help in [
            &["set", "--help"][..],
            &["cgroup", "--help"],
            &["cgroup", "attach", "--help"],
            &["cgroup", "detach", "--help"],
            &["cgroup", "list", "--help"],
        ] {
            assert_eq!(parse(help).unwrap_err().exit_code(), 0, "{help:?}");
        }
        assert_eq!(
            parse(&["defaults", "set", "--help"])
                .unwrap_err()
                .exit_code(),
            0
        );
    }
}
