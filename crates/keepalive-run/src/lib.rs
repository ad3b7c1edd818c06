//! `keepalive-run`: runs a program with `libkeepalive-preload.so` preloaded,
//! so that every TCP socket it creates gets keepalive.
//!
//! ```text
//! keepalive-run [-d IDLE] [-i INTVL] [-c CNT] [-u USER_TIMEOUT_MS] [-D DEADLINE [--max-idle T]] [--enforce] -- PROGRAM [ARGS...]
//! ```
//!
//! The one implementation behind the `keepalive-run` binary and any other
//! front door (`keepalive run ...`): [`main`] takes the name to use in
//! messages and the arguments after it.
//!
//! The library is found at `../lib/libkeepalive-preload.so` relative to the
//! running executable, checked to be a loadable shared object, appended to
//! any `LD_PRELOAD` already set, and the given values are passed as
//! `KEEPIDLE`, `KEEPINTVL`, `KEEPCNT`, `KEEPALIVE_USER_TIMEOUT_MS` and
//! `KEEPALIVE_DEADLINE` (`-D`) and `KEEPALIVE_MAX_IDLE` (`--max-idle`), with
//! `KEEPALIVE=on` and `KEEPALIVE_ENFORCE` (`1` with `--enforce`: the
//! program's own keepalive `setsockopt` calls get the configured values; `0`
//! without: they win, and the library names each one that overrides a
//! configured value, once): what is given here wins
//! over the same variables inherited from the environment (and over those it
//! replaces: a deadline over inherited values, values over an inherited
//! deadline). PROGRAM (found through `PATH` as `execvp` does) is
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

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

// The variables the preload library reads: the core's one list.
use keepalive::env::{
    DEADLINE, ENFORCE, KEEPALIVE, KEEPCNT, KEEPIDLE, KEEPINTVL, MAX_IDLE, USER_TIMEOUT,
};
use keepalive::Field;

mod elf;

/// The preload library's file name, in `../lib` relative to this program.
const LIBRARY: &str = "libkeepalive-preload.so";

/// Where to turn when no preload library can help.
const CGROUP_HINT: &str =
    "without a preload library, `keepalive cgroup attach CGROUP -d IDLE ...` \
     (the operator's tool) configures the TCP sockets of every process in a cgroup through BPF, \
     static and setuid programs included";

/// Exit status for bad arguments.
const USAGE_ERROR: u8 = 2;
/// Exit status when the preload cannot do its job (env(1)'s "cannot run").
const CANNOT_PRELOAD: u8 = 125;

fn usage(name: &str) -> String {
    format!(
        "usage: {name} [-d IDLE] [-i INTVL] [-c CNT] [-u USER_TIMEOUT_MS] [-D DEADLINE [--max-idle T]] [--enforce] -- PROGRAM [ARGS...]"
    )
}

/// The help text `--help` prints, naming the program `name`: the one
/// description of the options, which the operator's tool also turns into
/// the keepalive-run(1) manual page.
pub fn help_text(name: &str) -> String {
    format!(
        "\
{usage}

Runs PROGRAM with TCP keepalive turned on for every TCP socket it creates
(IPv4 and IPv6, TCP and MPTCP), through the LD_PRELOAD library
libkeepalive-preload.so.

Options (each left at the system default when not given):
  -d, --idle IDLE              seconds idle before the first probe (TCP_KEEPIDLE), 1..32767
  -i, --interval INTVL         seconds between unanswered probes (TCP_KEEPINTVL), 1..32767
  -c, --count CNT              unanswered probes before the peer is dead (TCP_KEEPCNT), 1..127
  -u, --user-timeout MS        milliseconds sent data may stay unacknowledged
                               (TCP_USER_TIMEOUT), 0..2147483647
  -D, --deadline SECONDS       the dead-peer deadline: a peer silent this long is
                               declared dead, idle or busy (sets idle, interval,
                               count and the user timeout together), 2..131068;
                               not with -d/-i/-c/-u
      --max-idle T             with -D: the silence a NAT, firewall or load
                               balancer on the path tolerates (AWS NLB 350,
                               Azure LB 240): a healthy connection is never
                               silent that long, even with one probe lost,
                               and the deadline still holds; 5..4294967295
      --enforce                the program's own keepalive setsockopt calls
                               (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT,
                               TCP_USER_TIMEOUT) get the values given here
                               instead; without it they win, and the first
                               that overrides each value is named on stderr
  -h, --help                   this text
  -V, --version                the version

The values reach the library as KEEPIDLE, KEEPINTVL, KEEPCNT,
KEEPALIVE_USER_TIMEOUT_MS, KEEPALIVE_DEADLINE and KEEPALIVE_MAX_IDLE, with KEEPALIVE=on and
KEEPALIVE_ENFORCE=1 (--enforce) or 0: they
win over the same variables inherited from the environment (an inherited
KEEPALIVE=off included; -D also drops inherited KEEPIDLE, KEEPINTVL,
KEEPCNT and KEEPALIVE_USER_TIMEOUT_MS, and -d/-i/-c/-u an inherited
KEEPALIVE_DEADLINE and KEEPALIVE_MAX_IDLE). The library is appended to LD_PRELOAD.

Exit status: PROGRAM's; 2 for bad arguments; 125 when the library is
missing or cannot be loaded, or PROGRAM is statically linked or setuid
(no preload library reaches those: see `keepalive cgroup`); 126 when
PROGRAM cannot be executed; 127 when it is not found.

Examples:
  {name} -D 60 -- ssh host.example.org
  {name} -D 900 --max-idle 350 -- psql -h db.example.org
  {name} -D 10 --enforce -- curl https://example.org/  (curl sets 60 s itself)
  {name} -d 60 -i 10 -c 5 -- ssh host.example.org",
        usage = usage(name)
    )
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// Run a program with these variables set.
    Run {
        /// `(variable, value)` pairs, values validated by the core.
        vars: Vec<(&'static str, String)>,
        /// Inherited variables to remove: those the given options replace.
        unset: Vec<&'static str>,
        program: OsString,
        args: Vec<OsString>,
    },
    Help,
    Version,
}

/// Runs `keepalive-run` with `args` (the arguments after the program name),
/// naming itself `program_name` in every message (`"keepalive-run"`, or
/// `"keepalive run"` for the operator's tool). Returns only when PROGRAM was
/// not started: the exit status to give (0 after `--help`, 2, 125, 126,
/// 127); once PROGRAM runs, it has replaced this process.
pub fn main(program_name: &str, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let (vars, unset, program, args) = match parse(args) {
        Ok(Request::Run {
            vars,
            unset,
            program,
            args,
        }) => (vars, unset, program, args),
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
    for name in unset {
        command.env_remove(name);
    }
    let err = command
        .args(&args)
        .env("LD_PRELOAD", preload)
        .envs(vars)
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

/// Parses the arguments (without the program name). Option values are
/// checked by the core crate, so the ranges live in one place. Everything
/// from PROGRAM on is PROGRAM's, even arguments that look like options.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, String> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let (mut idle, mut interval, mut count, mut user_timeout) = (None, None, None, None);
    let (mut deadline, mut max_idle) = (None, None);
    let mut enforce = false;
    let program = loop {
        let Some(arg) = parser.next().map_err(|e| e.to_string())? else {
            break None;
        };
        match arg {
            Short('d') | Long("idle") => idle = Some(value(&mut parser, "-d", Field::Idle)?),
            Short('i') | Long("interval") => {
                interval = Some(value(&mut parser, "-i", Field::Interval)?);
            }
            Short('c') | Long("count") => count = Some(value(&mut parser, "-c", Field::Count)?),
            Short('u') | Long("user-timeout") => {
                user_timeout = Some(value(&mut parser, "-u", Field::UserTimeout)?);
            }
            Short('D') | Long("deadline") => {
                deadline = Some(value(&mut parser, "-D", Field::Deadline)?);
            }
            Long("max-idle") => {
                max_idle = Some(value(&mut parser, "--max-idle", Field::MaxIdle)?);
            }
            Long("enforce") => enforce = true,
            Short('h') | Long("help") => return Ok(Request::Help),
            Short('V') | Long("version") => return Ok(Request::Version),
            Value(program) => break Some(program),
            other => return Err(other.unexpected().to_string()),
        }
    };
    let mut vars = vec![(KEEPALIVE, "on".to_string())];
    let knobs = [
        idle.is_some(),
        interval.is_some(),
        count.is_some(),
        user_timeout.is_some(),
    ];
    let unset = if let Some(d) = deadline {
        if knobs.iter().any(|given| *given) {
            return Err(
                "-D sets idle, interval, count and the user timeout together: \
                        give either -D or -d/-i/-c/-u"
                    .into(),
            );
        }
        vars.push((DEADLINE, d.to_string()));
        let mut unset = vec![KEEPIDLE, KEEPINTVL, KEEPCNT, USER_TIMEOUT];
        match max_idle {
            // Checked with the deadline here, so that one it cannot keep is
            // a usage error, not a warning from the library.
            Some(t) => {
                keepalive::Deadline::from_secs(d, None)
                    .and_then(|dl| dl.max_idle_from_secs(t))
                    .map_err(|e| format!("--max-idle: {e}"))?;
                vars.push((MAX_IDLE, t.to_string()));
            }
            None => unset.push(MAX_IDLE),
        }
        // The deadline replaces whatever values were inherited.
        unset
    } else if max_idle.is_some() {
        return Err("--max-idle shapes a deadline: give it with -D".into());
    } else {
        // Values given here replace an inherited deadline, which would
        // otherwise win over them in the library.
        vec![DEADLINE, MAX_IDLE]
    };
    for (name, value) in [
        (KEEPIDLE, idle),
        (KEEPINTVL, interval),
        (KEEPCNT, count),
        (USER_TIMEOUT, user_timeout),
    ] {
        vars.extend(value.map(|n| (name, n.to_string())));
    }
    vars.push((ENFORCE, if enforce { "1" } else { "0" }.to_string()));
    let program = program.ok_or("missing PROGRAM")?;
    let args = parser.raw_args().map_err(|e| e.to_string())?.collect();
    Ok(Request::Run {
        vars,
        unset,
        program,
        args,
    })
}

/// The value of option `flag`, parsed and checked by the core (one syntax,
/// one range, one message for every front door).
fn value(parser: &mut lexopt::Parser, flag: &str, field: Field) -> Result<i64, String> {
    let text = parser.value().map_err(|e| e.to_string())?;
    field
        .parse(text.as_bytes())
        .map_err(|e| format!("{flag}: {e}"))
}

/// `../lib/libkeepalive-preload.so` relative to this executable, checked to
/// be a shared object this process's loader can load (readable, ELF, a
/// shared object of the same class, byte order and machine as this program)
/// and to be listable in `LD_PRELOAD`.
fn library() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this program is installed: {e}"))?;
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
                "cannot find the preload library {} ({e}); it is installed in lib/ beside bin/",
                lib.display()
            ))
        }
    }
    check_library(&lib, std::env::current_exe().ok().as_deref())?;
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

/// Checks that `lib` is a shared object the loader of `this` (a program of
/// the same build, when known) can load. The loader would otherwise print
/// a line and run the program without keepalive, exit status 0.
fn check_library(lib: &Path, this: Option<&Path>) -> Result<(), String> {
    let cannot = |why: String| {
        format!(
            "cannot use the preload library {}: {why}; reinstall it (make install)",
            lib.display()
        )
    };
    let header = match elf::read(lib) {
        Ok(elf::Kind::Elf(h)) => h,
        Ok(_) => return Err(cannot("not an ELF file".into())),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(cannot(format!("a damaged ELF file ({e})")))
        }
        Err(e) => return Err(cannot(format!("cannot read it ({e})"))),
    };
    if header.kind != elf::ET_DYN {
        return Err(cannot(format!(
            "not a shared object (ELF type {})",
            header.kind
        )));
    }
    if let Some(Ok(elf::Kind::Elf(ours))) = this.map(elf::read) {
        if !header.same_abi(&ours) {
            return Err(cannot(format!(
                "built for {}, this program for {}",
                header.describe(),
                ours.describe()
            )));
        }
    }
    Ok(())
}

/// The file `exec` will run for `program`: a name with a slash as is, else
/// the first executable regular file named so in `path` (the `PATH` value;
/// unset: `/bin:/usr/bin`, as glibc's `execvp`; an empty entry is the
/// current directory). `None` when there is none (exec then says why).
fn find_program(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    let path = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    path.as_bytes().split(|b| *b == b':').find_map(|dir| {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        let is_file = std::fs::metadata(&candidate).is_ok_and(|m| m.is_file());
        (is_file && executable(&candidate)).then_some(candidate)
    })
}

/// Whether this process may execute `path` (access(2) with X_OK).
fn executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access only reads it.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Whether a preload library (`lib`) can reach the program in `path`; if
/// not, why not. Only what is certain is refused: a file that cannot be
/// read or is of no known kind is left to exec. `depth` follows a script's
/// `#!` interpreter once.
fn reachable(path: &Path, lib: &Path, depth: u8) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if let Some(why) = secure_execution(path, &meta) {
        return Err(format!(
            "{why}: the loader runs it in secure-execution mode, where LD_PRELOAD \
             libraries outside the system's library directories are ignored, so no \
             preload library can reach it"
        ));
    }
    match elf::read(path) {
        Ok(elf::Kind::Elf(h)) if (h.kind == elf::ET_EXEC || h.kind == elf::ET_DYN) => {
            if !h.has_interpreter {
                return Err(
                    "statically linked (no PT_INTERP): no dynamic loader runs for \
                            it, so no LD_PRELOAD library can reach it"
                        .into(),
                );
            }
            if let Ok(elf::Kind::Elf(ours)) = elf::read(lib) {
                if !h.same_abi(&ours) {
                    return Err(format!(
                        "a program for {}, while the preload library is for {}: the loader \
                         would skip the library",
                        h.describe(),
                        ours.describe()
                    ));
                }
            }
            Ok(())
        }
        Ok(elf::Kind::Script(interpreter)) if depth == 0 && interpreter.starts_with(b"/") => {
            let interpreter = PathBuf::from(OsStr::from_bytes(&interpreter));
            reachable(&interpreter, lib, 1).map_err(|why| {
                format!(
                    "a script whose interpreter {} is {why}",
                    interpreter.display()
                )
            })
        }
        _ => Ok(()),
    }
}

/// Why the kernel would run `path` in secure-execution mode (`AT_SECURE`)
/// for this process, if it would: a set-user-ID bit that changes the
/// effective user, a set-group-ID bit that changes the effective group, or
/// file capabilities granted to a non-root caller; none of them on a file
/// system mounted `nosuid`.
fn secure_execution(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let mode = meta.mode();
    // SAFETY: these getters cannot fail.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    let setuid = mode & libc::S_ISUID != 0 && meta.uid() != uid;
    let setgid = mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0 && meta.gid() != gid;
    let caps = euid != 0 && has_file_capabilities(path);
    if !(setuid || setgid || caps) || mounted_nosuid(path) {
        return None;
    }
    Some(if setuid {
        format!("set-user-ID (owner uid {})", meta.uid())
    } else if setgid {
        format!("set-group-ID (group gid {})", meta.gid())
    } else {
        "granted file capabilities".into()
    })
}

fn has_file_capabilities(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated strings; a zero-size query writes nothing.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            b"security.capability\0".as_ptr().cast(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

fn mounted_nosuid(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: plain data filled by statvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a live statvfs buffer.
    unsafe { libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_NOSUID != 0 }
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
    use std::os::unix::fs::PermissionsExt;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> Result<Request, String> {
        parse(args(list))
    }

    fn on() -> (&'static str, String) {
        ("KEEPALIVE", "on".into())
    }

    /// Without --enforce: the program's own calls win, and the library says so.
    fn quiet() -> (&'static str, String) {
        ("KEEPALIVE_ENFORCE", "0".into())
    }

    #[test]
    fn enforce_becomes_keepalive_enforce_1() {
        let Ok(Request::Run { vars, .. }) = run(&["-D", "5", "--enforce", "--", "prog"]) else {
            panic!()
        };
        assert_eq!(
            vars,
            vec![
                on(),
                ("KEEPALIVE_DEADLINE", "5".into()),
                ("KEEPALIVE_ENFORCE", "1".into())
            ]
        );
        // After PROGRAM it is PROGRAM's.
        let Ok(Request::Run { vars, args, .. }) = run(&["prog", "--enforce"]) else {
            panic!()
        };
        assert_eq!(vars.last(), Some(&quiet()));
        assert_eq!(args, [OsString::from("--enforce")]);
        assert!(run(&["--enforce=1", "prog"]).is_err());
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
                    on(),
                    ("KEEPIDLE", "60".into()),
                    ("KEEPINTVL", "10".into()),
                    ("KEEPCNT", "5".into()),
                    ("KEEPALIVE_USER_TIMEOUT_MS", "7000".into()),
                    quiet(),
                ],
                unset: vec!["KEEPALIVE_DEADLINE", "KEEPALIVE_MAX_IDLE"],
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
                on(),
                ("KEEPIDLE", "30".to_string()),
                ("KEEPINTVL", "5".into()),
                ("KEEPCNT", "3".into()),
                ("KEEPALIVE_USER_TIMEOUT_MS", "0".into()),
                quiet(),
            ]
        );
    }

    #[test]
    fn program_arguments_are_not_ours() {
        let r = run(&["-d", "9", "curl", "-d", "x", "--help", "--"]);
        assert_eq!(
            r,
            Ok(Request::Run {
                vars: vec![on(), ("KEEPIDLE", "9".into()), quiet()],
                unset: vec!["KEEPALIVE_DEADLINE", "KEEPALIVE_MAX_IDLE"],
                program: "curl".into(),
                args: args(&["-d", "x", "--help", "--"]),
            })
        );
    }

    /// Running keepalive-run asks for keepalive: KEEPALIVE=on always, so an
    /// inherited KEEPALIVE=off cannot silently turn the given values off.
    #[test]
    fn keepalive_is_turned_on_even_with_no_option() {
        let r = run(&["--", "prog"]);
        assert_eq!(
            r,
            Ok(Request::Run {
                vars: vec![on(), quiet()],
                unset: vec!["KEEPALIVE_DEADLINE", "KEEPALIVE_MAX_IDLE"],
                program: "prog".into(),
                args: vec![]
            })
        );
    }

    /// -D passes the deadline and drops the values it replaces; the values
    /// drop an inherited deadline (which would win over them).
    #[test]
    fn a_deadline_replaces_the_values() {
        assert_eq!(
            run(&["-D", "60", "--", "prog"]),
            Ok(Request::Run {
                vars: vec![on(), ("KEEPALIVE_DEADLINE", "60".into()), quiet()],
                unset: vec![
                    "KEEPIDLE",
                    "KEEPINTVL",
                    "KEEPCNT",
                    "KEEPALIVE_USER_TIMEOUT_MS",
                    "KEEPALIVE_MAX_IDLE"
                ],
                program: "prog".into(),
                args: vec![]
            })
        );
        assert_eq!(
            run(&["-D", "60", "--max-idle", "20", "--", "prog"]),
            Ok(Request::Run {
                vars: vec![
                    on(),
                    ("KEEPALIVE_DEADLINE", "60".into()),
                    ("KEEPALIVE_MAX_IDLE", "20".into()),
                    quiet()
                ],
                unset: vec![
                    "KEEPIDLE",
                    "KEEPINTVL",
                    "KEEPCNT",
                    "KEEPALIVE_USER_TIMEOUT_MS"
                ],
                program: "prog".into(),
                args: vec![]
            })
        );
        let Ok(Request::Run { vars, .. }) = run(&["--deadline=5", "prog"]) else {
            panic!()
        };
        assert_eq!(vars[1], ("KEEPALIVE_DEADLINE", "5".into()));
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
            (
                &["-d", "abc", "p"],
                "-d: idle must be 1..32767 seconds, got \"abc\"",
            ),
            (
                &["-c", "1.5", "p"],
                "-c: count must be 1..127 probes, got \"1.5\"",
            ),
            (
                &["-c", "+", "p"],
                "-c: count must be 1..127 probes, got \"+\"",
            ),
            (
                &["-c", "", "p"],
                "-c: count must be 1..127 probes, got \"\"",
            ),
            (&["-x", "p"], "invalid option '-x'"),
            (&["--bogus", "p"], "invalid option '--bogus'"),
            (&["-d"], "missing argument for option '-d'"),
            (&[], "missing PROGRAM"),
            (&["-d", "5"], "missing PROGRAM"),
            (&["-d", "0"], "idle must be 1..32767 seconds, got 0"),
            (&["--"], "missing PROGRAM"),
            (
                &["-D", "1", "p"],
                "deadline must be 2..131068 seconds, got 1",
            ),
            (
                &["-D", "60", "--max-idle", "4", "p"],
                "--max-idle: max_idle must be 5..4294967295 seconds, got 4",
            ),
            (
                &["-D", "100000", "--max-idle", "60", "p"],
                "--max-idle: max_idle must be at least",
            ),
            (
                &["--max-idle", "60", "p"],
                "--max-idle shapes a deadline: give it with -D",
            ),
            (
                &["-D", "0", "p"],
                "deadline must be 2..131068 seconds, got 0",
            ),
            (
                &["-D", "-5", "p"],
                "deadline must be 2..131068 seconds, got -5",
            ),
            (
                &["-D", "131069", "p"],
                "deadline must be 2..131068 seconds, got 131069",
            ),
            (
                &["-D", "99999999999999999999", "p"],
                "deadline must be 2..131068 seconds, got 99999999999999999999",
            ),
            (
                &["-D", "5s", "p"],
                "-D: deadline must be 2..131068 seconds, got \"5s\"",
            ),
            (
                &["-D", "5", "-d", "2", "p"],
                "give either -D or -d/-i/-c/-u",
            ),
            (
                &["-u", "100", "-D", "5", "p"],
                "give either -D or -d/-i/-c/-u",
            ),
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

    /// A number too large for i64 is out of range, not "not a whole
    /// number": the message gives the range and what was given.
    #[test]
    fn huge_numbers_are_out_of_range_with_the_text_given() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-u", "99999999999999999999", "p"],
                "-u: user_timeout must be 0..2147483647 milliseconds, got 99999999999999999999",
            ),
            (
                &["-d", "99999999999999999999", "p"],
                "-d: idle must be 1..32767 seconds, got 99999999999999999999",
            ),
            (
                &["-i", "-99999999999999999999", "p"],
                "-i: interval must be 1..32767 seconds, got -99999999999999999999",
            ),
            (
                &["-c", "+18446744073709551616", "p"],
                "-c: count must be 1..127 probes, got +18446744073709551616",
            ),
            (
                &["-c", "9223372036854775807", "p"],
                "-c: count must be 1..127 probes, got 9223372036854775807",
            ),
        ];
        for (list, expected) in cases {
            assert_eq!(run(list), Err(expected.to_string()), "{list:?}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(Request::Help));
        assert_eq!(run(&["-h", "prog"]), Ok(Request::Help));
        assert_eq!(run(&["-V"]), Ok(Request::Version));
        let text = help_text("keepalive run");
        assert!(text.starts_with("usage: keepalive run [-d IDLE]"), "{text}");
        assert!(text.contains("  keepalive run -d 60"), "{text}");
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

    /// A directory of its own under the temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("ka-run-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn programs_are_found_as_execvp_finds_them() {
        let s = Scratch::new("path");
        std::fs::create_dir_all(s.0.join("a")).unwrap();
        std::fs::create_dir_all(s.0.join("b")).unwrap();
        s.file("a/tool", b"not executable", 0o644);
        let b_tool = s.file("b/tool", b"#!/bin/sh\n", 0o755);
        let path = OsString::from(format!(
            "{}:{}",
            s.0.join("a").display(),
            s.0.join("b").display()
        ));
        assert_eq!(find_program("tool".as_ref(), Some(&path)), Some(b_tool));
        assert_eq!(find_program("missing".as_ref(), Some(&path)), None);
        assert_eq!(
            find_program("./rel/prog".as_ref(), Some(&path)),
            Some(PathBuf::from("./rel/prog"))
        );
        assert_eq!(find_program("".as_ref(), Some(&path)), None);
        assert_eq!(
            find_program("sh".as_ref(), None),
            Some(PathBuf::from("/bin/sh"))
        );
    }

    #[test]
    fn the_preload_library_must_be_a_loadable_shared_object() {
        let s = Scratch::new("lib");
        let me = std::env::current_exe().unwrap();
        let ours = match elf::read(&me).unwrap() {
            elf::Kind::Elf(h) => h,
            other => panic!("{other:?}"),
        };
        let lib = |name, bytes: &[u8], mode| s.file(name, bytes, mode);
        let good = lib(
            "good.so",
            &elf::tests::elf64(elf::ET_DYN, ours.machine, &[]),
            0o644,
        );
        assert_eq!(check_library(&good, Some(&me)), Ok(()));
        let cases = [
            (lib("text.so", b"just text\n", 0o644), "not an ELF file"),
            (lib("empty.so", b"", 0o644), "not an ELF file"),
            (
                lib(
                    "exec.so",
                    &elf::tests::elf64(elf::ET_EXEC, ours.machine, &[]),
                    0o644,
                ),
                "not a shared object (ELF type 2)",
            ),
            (
                lib(
                    "other.so",
                    &elf::tests::elf64(elf::ET_DYN, 4242, &[]),
                    0o644,
                ),
                "built for 64-bit little-endian, ELF machine 4242",
            ),
            (
                lib("cut.so", b"\x7fELF\x02\x01\x01", 0o644),
                "damaged ELF file",
            ),
        ];
        for (path, why) in &cases {
            let err = check_library(path, Some(&me)).unwrap_err();
            assert!(err.contains(why), "{}: {err}", path.display());
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
        // Unreadable: root reads anything, so only checked for others.
        // SAFETY: a getter that cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            let hidden = lib(
                "hidden.so",
                &elf::tests::elf64(elf::ET_DYN, ours.machine, &[]),
                0o000,
            );
            let err = check_library(&hidden, Some(&me)).unwrap_err();
            assert!(err.contains("cannot read it"), "{err}");
        }
    }

    #[test]
    fn programs_no_preload_can_reach_are_told() {
        let s = Scratch::new("prog");
        let me = std::env::current_exe().unwrap();
        let machine = match elf::read(&me).unwrap() {
            elf::Kind::Elf(h) => h.machine,
            other => panic!("{other:?}"),
        };
        let lib = s.file(
            "lib.so",
            &elf::tests::elf64(elf::ET_DYN, machine, &[]),
            0o644,
        );
        // This (dynamically linked) test program, a script of a dynamic
        // interpreter, a file of no known kind: reachable.
        assert_eq!(reachable(&me, &lib, 0), Ok(()));
        let script = s.file("script", b"#!/bin/sh\n", 0o755);
        assert_eq!(reachable(&script, &lib, 0), Ok(()));
        let other = s.file("other", b"MZ", 0o755);
        assert_eq!(reachable(&other, &lib, 0), Ok(()));
        assert_eq!(reachable(&s.0.join("missing"), &lib, 0), Ok(()));

        let fixed = s.file(
            "static",
            &elf::tests::elf64(elf::ET_EXEC, machine, &[1, 4]),
            0o755,
        );
        let pie = s.file(
            "static-pie",
            &elf::tests::elf64(elf::ET_DYN, machine, &[1]),
            0o755,
        );
        for p in [&fixed, &pie] {
            let err = reachable(p, &lib, 0).unwrap_err();
            assert!(err.starts_with("statically linked (no PT_INTERP)"), "{err}");
        }
        let via = s.file(
            "via-static",
            format!("#! {} -x\n", fixed.display()).as_bytes(),
            0o755,
        );
        let err = reachable(&via, &lib, 0).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "a script whose interpreter {} is statically linked",
                fixed.display()
            )),
            "{err}"
        );
        let foreign = s.file(
            "foreign",
            &elf::tests::elf64(elf::ET_DYN, 4242, &[3]),
            0o755,
        );
        let err = reachable(&foreign, &lib, 0).unwrap_err();
        assert!(err.contains("ELF machine 4242"), "{err}");
    }
}
