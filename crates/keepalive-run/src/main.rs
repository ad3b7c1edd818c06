//! `keepalive-run`: runs a program with `libkeepalive-preload.so` preloaded,
//! so that every TCP socket it creates gets keepalive.
//!
//! ```text
//! keepalive-run [-d IDLE] [-i INTVL] [-c CNT] [-u USER_TIMEOUT_MS] -- PROGRAM [ARGS...]
//! ```
//!
//! The library is found at `../lib/libkeepalive-preload.so` relative to this
//! executable, appended to any `LD_PRELOAD` already set, and the given values
//! are passed as `KEEPIDLE`, `KEEPINTVL`, `KEEPCNT` and
//! `KEEPALIVE_USER_TIMEOUT_MS`. Then PROGRAM replaces this process (same
//! pid, so signals and the exit status are PROGRAM's own).
//!
//! Exit status: PROGRAM's; 2 with a usage message for bad arguments; 125
//! when the library cannot be found; 126 when PROGRAM cannot be executed;
//! 127 when it is not found (the conventions of `env(1)` and the shell).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str =
    "usage: keepalive-run [-d IDLE] [-i INTVL] [-c CNT] [-u USER_TIMEOUT_MS] -- PROGRAM [ARGS...]";

const HELP: &str = "\
Runs PROGRAM with TCP keepalive turned on for every TCP socket it creates
(IPv4 and IPv6), through the LD_PRELOAD library libkeepalive-preload.so.

Options (each left at the system default when not given):
  -d, --idle IDLE              seconds idle before the first probe (TCP_KEEPIDLE), 1..32767
  -i, --interval INTVL         seconds between unanswered probes (TCP_KEEPINTVL), 1..32767
  -c, --count CNT              unanswered probes before the peer is dead (TCP_KEEPCNT), 1..127
  -u, --user-timeout MS        milliseconds sent data may stay unacknowledged
                               (TCP_USER_TIMEOUT), 0..2147483647
  -h, --help                   this text
  -V, --version                the version

The values reach the library as KEEPIDLE, KEEPINTVL, KEEPCNT and
KEEPALIVE_USER_TIMEOUT_MS; the library is appended to LD_PRELOAD.

Exit status: PROGRAM's; 2 for bad arguments; 125 when the library is
missing; 126 when PROGRAM cannot be executed; 127 when it is not found.

Example:
  keepalive-run -d 60 -i 10 -c 5 -- ssh host.example.org";

/// The preload library's file name, in `../lib` relative to this program.
const LIBRARY: &str = "libkeepalive-preload.so";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// Run a program with these variables set.
    Run {
        /// `(variable, value)` pairs, values validated by the core.
        vars: Vec<(&'static str, String)>,
        program: OsString,
        args: Vec<OsString>,
    },
    Help,
    Version,
}

fn main() -> ExitCode {
    let request = match parse(std::env::args_os().skip(1)) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("keepalive-run: {message}\n{USAGE}\nTry 'keepalive-run --help' for more.");
            return ExitCode::from(2);
        }
    };
    let (vars, program, args) = match request {
        Request::Help => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Request::Version => {
            println!("keepalive-run {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Request::Run {
            vars,
            program,
            args,
        } => (vars, program, args),
    };
    let library = match library() {
        Ok(path) => path,
        Err(message) => {
            eprintln!("keepalive-run: {message}");
            return ExitCode::from(125);
        }
    };
    let preload = ld_preload(std::env::var_os("LD_PRELOAD"), &library);
    let err = Command::new(&program)
        .args(&args)
        .env("LD_PRELOAD", preload)
        .envs(vars)
        .exec();
    // exec returns only on failure.
    eprintln!("keepalive-run: {}: {err}", program.to_string_lossy());
    ExitCode::from(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// Parses the arguments (without the program name). Option values are
/// checked by the core crate, so the ranges live in one place. Everything
/// from PROGRAM on is PROGRAM's, even arguments that look like options.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, String> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let (mut idle, mut interval, mut count, mut user_timeout) = (None, None, None, None);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('d') | Long("idle") => idle = Some(integer(&mut parser, "-d")?),
            Short('i') | Long("interval") => interval = Some(integer(&mut parser, "-i")?),
            Short('c') | Long("count") => count = Some(integer(&mut parser, "-c")?),
            Short('u') | Long("user-timeout") => {
                user_timeout = Some(integer(&mut parser, "-u")?);
            }
            Short('h') | Long("help") => return Ok(Request::Help),
            Short('V') | Long("version") => return Ok(Request::Version),
            Value(program) => {
                let args = parser.raw_args().map_err(|e| e.to_string())?.collect();
                let config = keepalive::Config::from_secs(idle, interval, count)
                    .map_err(|e| e.to_string())?;
                let mut vars = Vec::new();
                let secs = |d: std::time::Duration| d.as_secs().to_string();
                if let Some(d) = config.idle {
                    vars.push(("KEEPIDLE", secs(d)));
                }
                if let Some(d) = config.interval {
                    vars.push(("KEEPINTVL", secs(d)));
                }
                if let Some(n) = config.count {
                    vars.push(("KEEPCNT", n.to_string()));
                }
                if let Some(ms) = user_timeout {
                    let t = keepalive::user_timeout_from_millis(ms).map_err(|e| e.to_string())?;
                    vars.push(("KEEPALIVE_USER_TIMEOUT_MS", t.as_millis().to_string()));
                }
                return Ok(Request::Run {
                    vars,
                    program,
                    args,
                });
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    // Values are checked even without a program, so the message names the
    // first real problem.
    keepalive::Config::from_secs(idle, interval, count).map_err(|e| e.to_string())?;
    if let Some(ms) = user_timeout {
        keepalive::user_timeout_from_millis(ms).map_err(|e| e.to_string())?;
    }
    Err("missing PROGRAM".into())
}

/// The value of option `flag` as an integer (the range is the core's to check).
fn integer(parser: &mut lexopt::Parser, flag: &str) -> Result<i64, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .to_str()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("{flag}: not a whole number: {:?}", value))
}

/// `../lib/libkeepalive-preload.so` relative to this executable, checked to
/// exist and to be listable in `LD_PRELOAD`.
fn library() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where keepalive-run is installed: {e}"))?;
    let prefix = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
    let lib = prefix.join("lib").join(LIBRARY);
    match std::fs::metadata(&lib) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{} is not a file", lib.display())),
        Err(e) => {
            return Err(format!(
                "cannot find the preload library {} ({e}); it is installed in lib/ beside bin/keepalive-run",
                lib.display()
            ))
        }
    }
    // ld.so splits LD_PRELOAD at spaces and colons.
    if lib
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|b| *b == b' ' || *b == b':')
    {
        return Err(format!(
            "{} contains a space or a colon, so it cannot be listed in LD_PRELOAD",
            lib.display()
        ));
    }
    Ok(lib)
}

/// `LD_PRELOAD` with `lib` appended: after the libraries already listed, with
/// the separator they use (space unless only colons are used), and not twice.
fn ld_preload(existing: Option<OsString>, lib: &Path) -> OsString {
    let lib = lib.as_os_str();
    let existing = match existing {
        Some(e) if !e.as_bytes().iter().all(|b| *b == b' ' || *b == b':') => e,
        _ => return lib.to_owned(),
    };
    let bytes = existing.as_bytes();
    let listed = bytes
        .split(|b| *b == b' ' || *b == b':')
        .any(|entry| entry == lib.as_bytes());
    if listed {
        return existing;
    }
    let sep = if bytes.contains(&b':') && !bytes.contains(&b' ') {
        ":"
    } else {
        " "
    };
    let mut out = existing.clone();
    out.push(OsStr::new(sep));
    out.push(lib);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> Result<Request, String> {
        parse(args(list))
    }

    #[test]
    fn values_become_variables() {
        let r = run(&[
            "-d", "60", "-i", "10", "-c", "5", "-u", "7000", "--", "prog", "a",
        ]);
        assert_eq!(
            r,
            Ok(Request::Run {
                vars: vec![
                    ("KEEPIDLE", "60".into()),
                    ("KEEPINTVL", "10".into()),
                    ("KEEPCNT", "5".into()),
                    ("KEEPALIVE_USER_TIMEOUT_MS", "7000".into()),
                ],
                program: "prog".into(),
                args: args(&["a"]),
            })
        );
    }

    #[test]
    fn long_forms_and_attached_values() {
        let r = run(&[
            "--idle=30",
            "-i5",
            "--count",
            "3",
            "--user-timeout=0",
            "prog",
        ]);
        let Ok(Request::Run { vars, .. }) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            vars,
            vec![
                ("KEEPIDLE", "30".to_string()),
                ("KEEPINTVL", "5".into()),
                ("KEEPCNT", "3".into()),
                ("KEEPALIVE_USER_TIMEOUT_MS", "0".into()),
            ]
        );
    }

    #[test]
    fn program_arguments_are_not_ours() {
        let r = run(&["-d", "9", "curl", "-d", "x", "--help", "--"]);
        assert_eq!(
            r,
            Ok(Request::Run {
                vars: vec![("KEEPIDLE", "9".into())],
                program: "curl".into(),
                args: args(&["-d", "x", "--help", "--"]),
            })
        );
    }

    #[test]
    fn no_options_sets_no_variable() {
        let r = run(&["--", "prog"]);
        assert_eq!(
            r,
            Ok(Request::Run {
                vars: vec![],
                program: "prog".into(),
                args: vec![]
            })
        );
    }

    #[test]
    fn bad_arguments_say_why() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-d", "0", "--", "p"],
                "idle must be 1..32767 seconds, got 0",
            ),
            (
                &["-d", "40000", "p"],
                "idle must be 1..32767 seconds, got 40000",
            ),
            (
                &["-i", "-3", "p"],
                "interval must be 1..32767 seconds, got -3",
            ),
            (&["-c", "128", "p"], "count must be 1..127 probes, got 128"),
            (
                &["-u", "-1", "p"],
                "user_timeout must be 0..2147483647 milliseconds, got -1",
            ),
            (&["-d", "abc", "p"], "-d: not a whole number: \"abc\""),
            (&["-c", "1.5", "p"], "-c: not a whole number: \"1.5\""),
            (&["-x", "p"], "invalid option '-x'"),
            (&["--bogus", "p"], "invalid option '--bogus'"),
            (&["-d"], "missing argument for option '-d'"),
            (&[], "missing PROGRAM"),
            (&["-d", "5"], "missing PROGRAM"),
            (&["-d", "0"], "idle must be 1..32767 seconds, got 0"),
            (&["--"], "missing PROGRAM"),
        ];
        for (list, expected) in cases {
            match run(list) {
                Err(message) => assert!(
                    message.contains(expected),
                    "{list:?}: {message:?} should contain {expected:?}"
                ),
                Ok(r) => panic!("{list:?} accepted: {r:?}"),
            }
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(Request::Help));
        assert_eq!(run(&["-h", "prog"]), Ok(Request::Help));
        assert_eq!(run(&["-V"]), Ok(Request::Version));
    }

    #[test]
    fn ld_preload_is_appended_once_with_the_same_separator() {
        let lib = Path::new("/p/lib/libkeepalive-preload.so");
        let got = |e: Option<&str>| ld_preload(e.map(OsString::from), lib);
        assert_eq!(got(None), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some("")), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some(" : ")), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some("/a.so")), "/a.so /p/lib/libkeepalive-preload.so");
        assert_eq!(
            got(Some("/a.so /b.so")),
            "/a.so /b.so /p/lib/libkeepalive-preload.so"
        );
        assert_eq!(
            got(Some("/a.so:/b.so")),
            "/a.so:/b.so:/p/lib/libkeepalive-preload.so"
        );
        assert_eq!(
            got(Some("/a.so:/p/lib/libkeepalive-preload.so")),
            "/a.so:/p/lib/libkeepalive-preload.so"
        );
    }
}
