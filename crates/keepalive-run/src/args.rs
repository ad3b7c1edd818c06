//! The command line: what keepalive-run is asked to do, parsed with lexopt,
//! every value checked by the core.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

// The variables the preload library reads: the core's one list.
use keepalive::env::{
    DEADLINE, ENFORCE, KEEPALIVE, KEEPCNT, KEEPIDLE, KEEPINTVL, MAX_IDLE, USER_TIMEOUT,
};
use keepalive::Field;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request {
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

/// Parses the arguments (without the program name). Option values are
/// checked by the core crate, so the ranges live in one place. Everything
/// from PROGRAM on is PROGRAM's, even arguments that look like options.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
