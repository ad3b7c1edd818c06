//! The command line: what keepalive-run is asked to do. The options are
//! the shared definitions (keepalive-flags), read with lexopt; what was
//! typed becomes the core's [`keepalive::Request`] at once, and the
//! environment PROGRAM gets is the core's ([`keepalive::env::assignments`]),
//! which checks the request first.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use keepalive::env::{self, Assignments};
use keepalive_flags::{
    by_long, by_short, prefixed, take, Flag, COUNT, DEADLINE, ENFORCE, IDLE, INTERVAL, MAX_IDLE,
    PROBES, USER_TIMEOUT,
};

/// keepalive-run's options: the tuning values (the values a deadline sets
/// first, as its usage line has them), then `--enforce`.
pub(crate) const FLAGS: [&Flag; 8] = [
    &IDLE,
    &INTERVAL,
    &COUNT,
    &USER_TIMEOUT,
    &DEADLINE,
    &PROBES,
    &MAX_IDLE,
    &ENFORCE,
];

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Run a program in this environment.
    Run {
        /// The variables to set and to remove: the core's assignments for
        /// the request typed.
        env: Assignments,
        program: OsString,
        args: Vec<OsString>,
    },
    Help,
    Version,
}

/// Parses the arguments (without the program name). Values and the rules
/// between them are the core's, worded with the flag at fault in front
/// (`-c: count must be 1..127 probes, got 500`). Everything from PROGRAM on
/// is PROGRAM's, even arguments that look like options.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, String> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut request = keepalive::Request::new();
    let mut enforce = false;
    let program = loop {
        let Some(arg) = parser.next().map_err(|e| e.to_string())? else {
            break None;
        };
        let flag = match arg {
            Short('h') | Long("help") => return Ok(Request::Help),
            Short('V') | Long("version") => return Ok(Request::Version),
            Value(program) => break Some(program),
            Short(c) => by_short(&FLAGS, c),
            Long(name) => by_long(&FLAGS, name),
        };
        match flag {
            Some(flag) if flag.takes_value() => {
                let text = parser.value().map_err(|e| e.to_string())?;
                take(&mut request, flag, text.as_bytes()).map_err(|e| prefixed(&FLAGS, &e))?;
            }
            Some(_) => enforce = true,
            None => return Err(arg.unexpected().to_string()),
        }
    };
    let env = env::assignments(&request, enforce).map_err(|e| prefixed(&FLAGS, &e))?;
    let program = program.ok_or("missing PROGRAM")?;
    let args = parser.raw_args().map_err(|e| e.to_string())?.collect();
    Ok(Request::Run { env, program, args })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalive::env;

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
        let Ok(Request::Run {
            env: Assignments { set: vars, .. },
            ..
        }) = run(&["-D", "5", "--enforce", "--", "prog"])
        else {
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
        let Ok(Request::Run {
            env: Assignments { set: vars, .. },
            args,
            ..
        }) = run(&["prog", "--enforce"])
        else {
            panic!()
        };
        assert_eq!(vars.last(), Some(&quiet()));
        assert_eq!(args, [OsString::from("--enforce")]);
        assert!(run(&["--enforce=1", "prog"]).is_err());
    }

    /// The environment the core assigns for these values.
    fn env_for(values: &[(keepalive::Field, i64)], enforce: bool) -> Assignments {
        let mut request = keepalive::Request::new();
        for (field, value) in values {
            request.set(*field, *value).unwrap();
        }
        env::assignments(&request, enforce).unwrap()
    }

    /// What was typed, by any spelling, is the request whose environment
    /// PROGRAM gets.
    #[test]
    fn values_become_variables() {
        use keepalive::Field::*;
        type Typed<'a> = (&'a [&'a str], &'a [(keepalive::Field, i64)]);
        let cases: &[Typed] = &[
            (
                &["-d", "60", "-i", "10", "-c", "5", "-u", "7000", "--"],
                &[(Idle, 60), (Interval, 10), (Count, 5), (UserTimeout, 7000)],
            ),
            (
                &["--idle=30", "-i5", "--count", "3", "--user-timeout=0"],
                &[(Idle, 30), (Interval, 5), (Count, 3), (UserTimeout, 0)],
            ),
            (
                &["-D", "60", "--probes=2", "--max-idle", "40"],
                &[(Deadline, 60), (Probes, 2), (MaxIdle, 40)],
            ),
        ];
        for (typed, values) in cases {
            let list: Vec<&str> = typed.iter().chain(&["prog", "a"]).copied().collect();
            assert_eq!(
                run(&list),
                Ok(Request::Run {
                    env: env_for(values, false),
                    program: "prog".into(),
                    args: args(&["a"]),
                }),
                "{typed:?}"
            );
        }
        let Ok(Request::Run { env: e, .. }) = run(&["-d", "60", "prog"]) else {
            panic!()
        };
        assert_eq!(e.set, [on(), ("KEEPIDLE", "60".into()), quiet()]);
    }

    #[test]
    fn program_arguments_are_not_ours() {
        let r = run(&["-d", "9", "curl", "-d", "x", "--help", "--"]);
        assert_eq!(
            r,
            Ok(Request::Run {
                env: Assignments {
                    set: vec![on(), ("KEEPIDLE", "9".into()), quiet()],
                    unset: vec![
                        "KEEPALIVE_DEADLINE",
                        "KEEPALIVE_PROBES",
                        "KEEPALIVE_MAX_IDLE"
                    ],
                },
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
                env: Assignments {
                    set: vec![on(), quiet()],
                    unset: vec![
                        "KEEPALIVE_DEADLINE",
                        "KEEPALIVE_PROBES",
                        "KEEPALIVE_MAX_IDLE"
                    ],
                },
                program: "prog".into(),
                args: vec![]
            })
        );
    }

    /// -D passes the deadline and drops the values it replaces; the values
    /// drop an inherited deadline (which would win over them): the core's
    /// assignments, for what was typed.
    #[test]
    fn a_deadline_replaces_the_values() {
        let Ok(Request::Run { env: e, .. }) = run(&["-D", "60", "--max-idle", "20", "--", "prog"])
        else {
            panic!()
        };
        let mut request = keepalive::Request::new();
        (request.deadline, request.max_idle) = (Some(60), Some(20));
        assert_eq!(e, env::assignments(&request, false).unwrap());
        assert!(e.unset.contains(&"KEEPIDLE"), "{e:?}");
        let Ok(Request::Run { env: e, .. }) = run(&["--deadline=5", "--probes", "2", "prog"])
        else {
            panic!()
        };
        assert_eq!(
            e.set[1..3],
            [
                ("KEEPALIVE_DEADLINE", "5".into()),
                ("KEEPALIVE_PROBES", "2".into())
            ]
        );
    }

    /// Bad values and the rules between them are the core's, with the
    /// keepalive-run flag at fault in front; lexopt words the rest. (Each
    /// flag's range is keepalive-flags' test.)
    #[test]
    fn bad_arguments_say_why() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-d", "0", "--", "p"],
                "-d: idle must be 1..32767 seconds, got 0",
            ),
            (
                &["-c", "1.5", "p"],
                "-c: count must be 1..127 probes, got \"1.5\"",
            ),
            (
                &["-c", "", "p"],
                "-c: count must be 1..127 probes, got \"\"",
            ),
            (
                &["-D", "5s", "p"],
                "-D: deadline must be 2..131068 seconds, got \"5s\"",
            ),
            (&["-x", "p"], "invalid option '-x'"),
            (&["--bogus", "p"], "invalid option '--bogus'"),
            (&["-d"], "missing argument for option '-d'"),
            (&[], "missing PROGRAM"),
            (&["-d", "5"], "missing PROGRAM"),
            (&["--"], "missing PROGRAM"),
            (
                &["-D", "100000", "--max-idle", "60", "p"],
                "--max-idle: max_idle must be at least",
            ),
            (
                &["-D", "4", "--probes", "9", "p"],
                "--probes: probes must be 1..3 probes for this deadline, got 9",
            ),
            (
                &["--max-idle", "60", "p"],
                "--max-idle: max_idle goes with deadline: give deadline too",
            ),
            (
                &["--probes", "2", "p"],
                "--probes: probes goes with deadline: give deadline too",
            ),
            (
                &["-D", "5", "-d", "2", "p"],
                "-d: idle cannot be given with deadline: deadline sets",
            ),
            (
                &["-u", "100", "-D", "5", "p"],
                "-u: user_timeout cannot be given with deadline",
            ),
        ];
        for (list, expected) in cases {
            match run(list) {
                Err(message) => assert!(
                    message.starts_with(expected),
                    "{list:?}: {message:?} should start with {expected:?}"
                ),
                Ok(r) => panic!("{list:?} accepted: {r:?}"),
            }
        }
    }

    /// Every option reaches the core through the shared definitions, by
    /// either spelling: out of range (or too large for any integer), the
    /// core's range with the flag in front.
    #[test]
    fn every_value_is_the_core_s_with_the_flag_in_front() {
        for flag in FLAGS {
            let Some(field) = flag.field else { continue };
            for given in [(field.max() + 1).to_string(), "99999999999999999999".into()] {
                let want = format!(
                    "{}: {} must be {}, got {given}",
                    flag.name(),
                    field.name(),
                    field.range_text()
                );
                let long = format!("--{}", flag.long);
                let short = flag.short.map(|c| format!("-{c}"));
                for spelling in [Some(long), short].into_iter().flatten() {
                    assert_eq!(run(&[&spelling, &given, "p"]), Err(want.clone()));
                }
            }
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(Request::Help));
        assert_eq!(run(&["-h", "prog"]), Ok(Request::Help));
        assert_eq!(run(&["-V"]), Ok(Request::Version));
    }
}
