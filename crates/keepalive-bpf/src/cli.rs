//! `keepalive cgroup attach|detach|list`, without clap: the operator's tool
//! (crates/keepalive-tool) hands its arguments after `cgroup` to [`run`].
//! Exit status: 0 done, 1 the system refused (with the reason), 2 usage.
//!
//! ```text
//! keepalive cgroup attach CGROUP (-D SECONDS [--probes N] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]
//! keepalive cgroup detach CGROUP
//! keepalive cgroup list [--json]
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use keepalive::{Config, Deadline, Settings};

use crate::{AttachReport, Attachment, DetachReport};

/// `println!` that does not panic when standard output is closed (`| head`):
/// what was done is done, and the rest of the output has no reader.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The usage message.
pub const USAGE: &str = "\
usage: keepalive cgroup attach CGROUP (-D SECONDS [--probes N] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]
       keepalive cgroup detach CGROUP
       keepalive cgroup list [--json]

  CGROUP          a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/app.service
  -D, --deadline  declare a silent peer dead SECONDS after it was last heard from
      --probes    unanswered probes within the deadline (default 3)
  -d, --idle      TCP_KEEPIDLE, seconds     -i, --interval  TCP_KEEPINTVL, seconds
  -c, --count     TCP_KEEPCNT, probes       -u, --user-timeout  TCP_USER_TIMEOUT, ms
      --enforce   also rewrite the programs' own keepalive setsockopt calls to the policy
                  (default: a program that sets its own keepalive keeps it)";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Attach {
        cgroup: PathBuf,
        policy: Config,
        enforce: bool,
    },
    Detach {
        cgroup: PathBuf,
    },
    List {
        json: bool,
    },
    Help,
}

/// A number as given on the command line, checked by the core later; a
/// number too large for i64 is checked saturated and reported as given.
fn number(flag: &str, text: &str) -> Result<(i64, String), String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{flag}: not a whole number: '{text}'"));
    }
    let n = text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    });
    Ok((n, text.to_string()))
}

/// The core's message, with the number as the user wrote it.
fn invalid(err: keepalive::Error, given: &str) -> String {
    err.given_as(given).to_string()
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let verb = it.next().map(String::as_str);
    match verb {
        None => Err("missing command: attach, detach or list".into()),
        Some("-h" | "--help" | "help") => Ok(Command::Help),
        Some("list") => {
            let mut json = false;
            for a in it {
                match a.as_str() {
                    "--json" => json = true,
                    other => return Err(format!("list: unexpected argument '{other}'")),
                }
            }
            Ok(Command::List { json })
        }
        Some("detach") => {
            let rest: Vec<&String> = it.collect();
            match rest.as_slice() {
                [cg] if !cg.starts_with('-') => Ok(Command::Detach {
                    cgroup: PathBuf::from(cg),
                }),
                [] => Err("detach: missing CGROUP".into()),
                _ => Err(format!(
                    "detach takes one CGROUP, got: {}",
                    rest.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
            }
        }
        Some("attach") => parse_attach(it.cloned().collect()),
        Some(other) => Err(format!("unknown command '{other}': attach, detach or list")),
    }
}

fn parse_attach(args: Vec<String>) -> Result<Command, String> {
    let mut cgroup = None;
    let mut enforce = false;
    let mut deadline = None;
    let mut probes = None;
    let (mut idle, mut interval, mut count, mut user_timeout) = (None, None, None, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "--enforce" => {
                enforce = true;
                continue;
            }
            "-D" | "--deadline" => &mut deadline,
            "--probes" => &mut probes,
            "-d" | "--idle" => &mut idle,
            "-i" | "--interval" => &mut interval,
            "-c" | "--count" => &mut count,
            "-u" | "--user-timeout" => &mut user_timeout,
            f if f.starts_with('-') && f.len() > 1 => {
                return Err(format!("attach: unknown option '{f}'"))
            }
            _ => {
                if cgroup.replace(PathBuf::from(&arg)).is_some() {
                    return Err(format!("attach takes one CGROUP; '{arg}' is a second one"));
                }
                continue;
            }
        };
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        *slot = Some(number(&flag, &value)?);
    }
    let cgroup = cgroup.ok_or("attach: missing CGROUP")?;
    let policy = if let Some((d, given)) = deadline {
        if idle.is_some() || interval.is_some() || count.is_some() || user_timeout.is_some() {
            return Err(
                "-D SECONDS sets idle, interval, count and user timeout together: \
                        give it alone, or -d/-i/-c/-u"
                    .into(),
            );
        }
        let p = probes.as_ref().map(|(n, _)| *n);
        let deadline = Deadline::from_secs(d, p).map_err(|e| match &e {
            keepalive::Error::InvalidValue { name: "probes", .. } => invalid(
                e,
                &probes.as_ref().map_or(String::new(), |(_, g)| g.clone()),
            ),
            _ => invalid(e, &given),
        })?;
        deadline.config().map_err(|e| e.to_string())?
    } else {
        if probes.is_some() {
            return Err("--probes goes with -D/--deadline".into());
        }
        let secs = |v: &Option<(i64, String)>| v.as_ref().map(|(n, _)| *n);
        let mut c = Config::from_secs(secs(&idle), secs(&interval), secs(&count)).map_err(|e| {
            let given = match &e {
                keepalive::Error::InvalidValue { name: "idle", .. } => &idle,
                keepalive::Error::InvalidValue {
                    name: "interval", ..
                } => &interval,
                _ => &count,
            };
            invalid(e, &given.as_ref().map_or(String::new(), |(_, g)| g.clone()))
        })?;
        if let Some((ms, given)) = user_timeout {
            c.user_timeout =
                Some(keepalive::user_timeout_from_millis(ms).map_err(|e| invalid(e, &given))?);
        }
        c
    };
    Ok(Command::Attach {
        cgroup,
        policy,
        enforce,
    })
}

/// `on 2/1/3 5000 ms`: keepalive on, idle/interval/count, user timeout; a
/// `-` where the policy leaves the socket's own value.
pub fn describe(c: &Config) -> String {
    let dash = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
    format!(
        "on {}/{}/{} {}",
        dash(c.idle.map(|d| d.as_secs())),
        dash(c.interval.map(|d| d.as_secs())),
        dash(c.count.map(u64::from)),
        c.user_timeout
            .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()))
    )
}

/// `dead after 5 s idle, 5 s busy`, by the kernel's rule, with this
/// namespace's defaults where the policy leaves a value.
fn dead_after(c: &Config) -> String {
    let d = keepalive::system_defaults().unwrap_or_default();
    let s = Settings::new(
        true,
        c.idle.or(d.idle).unwrap_or(Duration::from_secs(7200)),
        c.interval.or(d.interval).unwrap_or(Duration::from_secs(75)),
        c.count.or(d.count).unwrap_or(9),
        c.user_timeout.unwrap_or(Duration::ZERO),
    );
    let secs = |d: Duration| {
        if d.subsec_millis() == 0 {
            format!("{} s", d.as_secs())
        } else {
            format!("{:.3} s", d.as_secs_f64())
        }
    };
    let busy = match s.dead_after_busy() {
        Some(d) => format!("{} busy", secs(d)),
        None => "busy by tcp_retries2".into(),
    };
    format!("dead after {} idle, {busy}", secs(s.dead_after()))
}

fn enforce_words(enforce: bool) -> &'static str {
    if enforce {
        "enforced: the programs' own keepalive calls are rewritten to it"
    } else {
        "not enforced: a program that sets its own keepalive keeps it"
    }
}

fn print_attach(r: &AttachReport) {
    say!(
        "{} (cgroup id {}): policy {} ({}), {}",
        r.cgroup.display(),
        r.cgroup_id,
        describe(&r.policy),
        dead_after(&r.policy),
        enforce_words(r.enforce)
    );
    if let Some((old, old_enforce)) = &r.replaced {
        say!(
            "  replaced the policy {}{}",
            describe(old),
            if *old_enforce { " (enforced)" } else { "" }
        );
    }
    let programs = if r.enforce {
        "sockops, setsockopt"
    } else {
        "sockops"
    };
    say!("  attached: {programs}; pinned in {}", r.pins.display());
    let e = &r.existing;
    say!(
        "  existing connections: {} retuned, {} kept their own keepalive, by {} over {} processes",
        e.retuned,
        e.kept,
        e.method,
        e.processes
    );
    for p in &e.problems {
        say!("  existing connections: not retuned: {p}");
    }
}

fn print_detach(r: &DetachReport) {
    say!(
        "{}: detached the policy {}{}; it had tuned {} sockets, kept {} values of their own, \
         rewritten {} calls, {} refused",
        r.cgroup.display(),
        describe(&r.policy),
        if r.enforce { " (enforced)" } else { "" },
        r.stats.tuned,
        r.stats.kept,
        r.stats.rewritten,
        r.stats.failed
    );
    for path in &r.removed {
        say!("  removed {}", path.display());
    }
    say!("  connections keep the values they were given; new ones get none");
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(v: Option<u64>) -> String {
    v.map_or("null".into(), |n| n.to_string())
}

/// One JSON array of objects: cgroup (null once removed), cgroup_id, idle,
/// interval, count, user_timeout_ms (null where the policy leaves the
/// value), enforce, tuned, kept, rewritten, failed, pins.
pub fn list_json(all: &[Attachment]) -> String {
    let rows: Vec<String> = all
        .iter()
        .map(|a| {
            format!(
                "{{\"cgroup\":{},\"cgroup_id\":{},\"idle\":{},\"interval\":{},\"count\":{},\
                 \"user_timeout_ms\":{},\"enforce\":{},\"tuned\":{},\"kept\":{},\"rewritten\":{},\
                 \"failed\":{},\"pins\":{}}}",
                a.cgroup
                    .as_ref()
                    .map_or("null".into(), |p| json_str(&p.to_string_lossy())),
                a.cgroup_id,
                json_opt(a.policy.idle.map(|d| d.as_secs())),
                json_opt(a.policy.interval.map(|d| d.as_secs())),
                json_opt(a.policy.count.map(u64::from)),
                json_opt(a.policy.user_timeout.map(|d| d.as_millis() as u64)),
                a.enforce,
                a.stats.tuned,
                a.stats.kept,
                a.stats.rewritten,
                a.stats.failed,
                json_str(&a.pins.to_string_lossy())
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

fn print_list(all: &[Attachment]) {
    if all.is_empty() {
        say!("no keepalive policy is attached to any cgroup");
        return;
    }
    let name = |a: &Attachment| {
        a.cgroup.as_ref().map_or_else(
            || format!("(cgroup {} removed; its pins removed now)", a.cgroup_id),
            |p| p.display().to_string(),
        )
    };
    let width = all.iter().map(|a| name(a).len()).max().unwrap_or(6).max(6);
    say!(
        "{:<width$}  {:<18} {:<8} {:>7} {:>6} {:>9} {:>6}",
        "CGROUP",
        "POLICY",
        "ENFORCE",
        "TUNED",
        "KEPT",
        "REWRITTEN",
        "FAILED"
    );
    for a in all {
        say!(
            "{:<width$}  {:<18} {:<8} {:>7} {:>6} {:>9} {:>6}",
            name(a),
            describe(&a.policy),
            if a.enforce { "yes" } else { "no" },
            a.stats.tuned,
            a.stats.kept,
            a.stats.rewritten,
            a.stats.failed
        );
    }
}

/// Runs `keepalive cgroup ARGS...` (the arguments after `cgroup`) and says
/// how it ended: 0 done, 1 refused by the system, 2 usage.
pub fn run<I: IntoIterator<Item = String>>(args: I) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    let command = match parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("keepalive cgroup: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (verb, result) = match command {
        Command::Help => {
            say!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Attach {
            cgroup,
            policy,
            enforce,
        } => (
            "attach",
            crate::attach(&cgroup, &policy, enforce).map(|r| print_attach(&r)),
        ),
        Command::Detach { cgroup } => ("detach", crate::detach(&cgroup).map(|r| print_detach(&r))),
        Command::List { json } => (
            "list",
            crate::list().map(|all| {
                if json {
                    say!("{}", list_json(&all));
                } else {
                    print_list(&all);
                }
            }),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keepalive cgroup {verb}: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn attach(s: &str) -> (Config, bool) {
        match parse(&args(s)).unwrap() {
            Command::Attach {
                policy, enforce, ..
            } => (policy, enforce),
            other => panic!("{other:?}"),
        }
    }

    fn usage(s: &str) -> String {
        parse(&args(s)).unwrap_err()
    }

    #[test]
    fn the_deadline_is_the_core_s_split() {
        let (c, enforce) = attach("attach /cg -D 5");
        assert_eq!(c, Deadline::new(Duration::from_secs(5)).config().unwrap());
        assert!(!enforce);
        assert_eq!(describe(&c), "on 2/1/3 5000 ms");
        let (c, enforce) = attach("attach --deadline=60 --probes 5 /cg --enforce");
        assert_eq!(c.count, Some(5));
        assert!(enforce);
    }

    #[test]
    fn single_values_leave_the_others() {
        let (c, _) = attach("attach /cg -d 600 -u 30000");
        assert_eq!(c.idle, Some(Duration::from_secs(600)));
        assert_eq!(c.interval, None);
        assert_eq!(describe(&c), "on 600/-/- 30000 ms");
        let (c, _) = attach("attach /cg");
        assert_eq!(c, Config::new());
        assert_eq!(describe(&c), "on -/-/- -");
    }

    #[test]
    fn bad_input_is_a_usage_error_that_says_why() {
        assert_eq!(
            usage("attach /cg -D 1"),
            "deadline must be 2..131068 seconds, got 1"
        );
        assert_eq!(
            usage("attach /cg -d 0"),
            "idle must be 1..32767 seconds, got 0"
        );
        assert_eq!(
            usage("attach /cg -i 40000"),
            "interval must be 1..32767 seconds, got 40000"
        );
        assert_eq!(
            usage("attach /cg -c 128"),
            "count must be 1..127 probes, got 128"
        );
        assert_eq!(
            usage("attach /cg -u -1"),
            "user_timeout must be 0..2147483647 milliseconds, got -1"
        );
        assert_eq!(
            usage("attach /cg -d 99999999999999999999"),
            "idle must be 1..32767 seconds, got 99999999999999999999"
        );
        assert_eq!(usage("attach /cg -d ten"), "-d: not a whole number: 'ten'");
        assert_eq!(usage("attach /cg -d"), "-d needs a value");
        assert!(usage("attach /cg -D 5 -d 3").starts_with("-D SECONDS sets"));
        assert_eq!(
            usage("attach /cg -d 3 --probes 2"),
            "--probes goes with -D/--deadline"
        );
        assert_eq!(
            usage("attach /cg -D 4 --probes 4"),
            "probes must be 1..3 probes for this deadline, got 4"
        );
        assert_eq!(usage("attach -D 5"), "attach: missing CGROUP");
        assert_eq!(
            usage("attach /a /b"),
            "attach takes one CGROUP; '/b' is a second one"
        );
        assert_eq!(
            usage("attach /cg --force"),
            "attach: unknown option '--force'"
        );
        assert_eq!(usage("detach"), "detach: missing CGROUP");
        assert_eq!(usage("detach /a /b"), "detach takes one CGROUP, got: /a /b");
        assert_eq!(usage("list --all"), "list: unexpected argument '--all'");
        assert_eq!(
            usage("show"),
            "unknown command 'show': attach, detach or list"
        );
        assert_eq!(usage(""), "missing command: attach, detach or list");
    }

    #[test]
    fn json_names_every_field() {
        let a = Attachment {
            cgroup: Some(PathBuf::from("/sys/fs/cgroup/a \"b\"")),
            cgroup_id: 7,
            policy: Config::new().idle(Duration::from_secs(600)),
            enforce: true,
            stats: crate::Stats {
                tuned: 3,
                ..Default::default()
            },
            pins: PathBuf::from("/sys/fs/bpf/keepalive/cgroup-7"),
        };
        assert_eq!(
            list_json(&[a]),
            "[{\"cgroup\":\"/sys/fs/cgroup/a \\\"b\\\"\",\"cgroup_id\":7,\"idle\":600,\
             \"interval\":null,\"count\":null,\"user_timeout_ms\":null,\"enforce\":true,\
             \"tuned\":3,\"kept\":0,\"rewritten\":0,\"failed\":0,\
             \"pins\":\"/sys/fs/bpf/keepalive/cgroup-7\"}]"
        );
        assert_eq!(list_json(&[]), "[]");
    }
}
